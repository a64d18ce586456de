from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from affine import Affine
from pyproj import CRS

from ocgnet_geo.geo.boxes import boxes_to_polygons
from ocgnet_geo.geo.export import (
    RESULT_FIELDS,
    OutputPathError,
    geojson_feature_collection,
    write_geojson,
    write_gpkg,
)
from ocgnet_geo.geo.grid import TileSpec
from tests.geo.rasters import LV95_ORIGIN

TILE = TileSpec(
    "r0c0",
    CRS.from_epsg(2056),
    Affine(0.5, 0, LV95_ORIGIN[0], 0, -0.5, LV95_ORIGIN[1]),
    1024,
    1024,
    0.5,
)
BOXES = np.array([[100.0, 200.0, 180.0, 260.0], [500.0, 500.0, 540.0, 530.5]])


def records(n: int = 2) -> list[dict]:
    return [
        {
            "rank": i + 1,
            "score": 0.9 / (i + 1),
            "view": "drone",
            "model": "test",
            "query": "photo.jpg",
            "click_x": 128.0,
            "click_y": 100.5,
            "raster": "ortho.tif",
            "gsd_m": 0.5,
            "tile": "r0c0",
            "px_xmin": float(BOXES[i, 0]),
            "px_ymin": float(BOXES[i, 1]),
            "px_xmax": float(BOXES[i, 2]),
            "px_ymax": float(BOXES[i, 3]),
            "refined": i == 0,
            "inliers": 40 if i == 0 else 3,
            "registered": i == 0,
            "method": "xfeat" if i == 0 else "template",
            "reprojection_px": 1.5 if i == 0 else None,
        }
        for i in range(n)
    ]


def test_geojson_is_rfc7946(tmp_path: Path) -> None:
    polygons = boxes_to_polygons(BOXES, TILE)
    out = write_geojson(tmp_path / "r.geojson", polygons, records(), TILE.crs)
    doc = json.loads(out.read_text())
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    assert len(doc["features"]) == 2
    for feature in doc["features"]:
        assert list(feature["properties"]) == list(RESULT_FIELDS)
        ring = np.array(feature["geometry"]["coordinates"][0])
        lon, lat = ring[:, 0], ring[:, 1]
        assert (
            (8.3 < lon).all() and (lon < 8.7).all() and (47.2 < lat).all() and (lat < 47.5).all()
        )  # Zürich, lon first
        assert shapely.Polygon(ring).exterior.is_ccw
        assert np.array_equal(ring[0], ring[-1])
        assert np.allclose(
            ring * 1e7, np.round(ring * 1e7), atol=1e-4, rtol=0
        )  # 1e-7 degrees: ~1 cm


def test_geojson_polygon_matches_the_box_within_a_centimetre() -> None:
    polygons = boxes_to_polygons(BOXES[:1], TILE)
    doc = geojson_feature_collection(polygons, records(1), TILE.crs)
    from ocgnet_geo.geo.boxes import reproject_geometries

    ring = shapely.Polygon(doc["features"][0]["geometry"]["coordinates"][0])
    back = reproject_geometries(np.array([ring]), "EPSG:4326", TILE.crs, densify=False)[0]
    assert shapely.hausdorff_distance(back, polygons[0]) < 0.01


def test_gpkg_keeps_raster_crs_fields_and_geometry(tmp_path: Path) -> None:
    polygons = boxes_to_polygons(BOXES, TILE)
    out = write_gpkg(tmp_path / "r.gpkg", polygons, records(), TILE.crs)
    info = pyogrio.read_info(out, layer="candidates")
    assert CRS.from_user_input(info["crs"]).to_epsg() == 2056
    assert list(info["fields"]) == list(RESULT_FIELDS)
    types = dict(zip(info["fields"], info["dtypes"], strict=True))
    assert types["rank"] == "int64" and types["score"] == "float64" and types["view"] == "object"
    assert types["refined"] == "bool" and types["inliers"] == "int64"
    assert types["registered"] == "bool" and types["reprojection_px"] == "float64"
    frame = pyogrio.read_dataframe(out)
    assert frame["rank"].tolist() == [1, 2]
    for got, want in zip(frame.geometry, polygons, strict=True):
        assert shapely.equals_exact(shapely.normalize(got), shapely.normalize(want), tolerance=1e-6)


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    bad = records()
    bad[0]["view"] = object()  # not serialisable
    with pytest.raises(TypeError):
        write_geojson(tmp_path / "r.geojson", boxes_to_polygons(BOXES, TILE), bad, TILE.crs)
    assert list(tmp_path.iterdir()) == []


def test_existing_file_is_replaced_whole(tmp_path: Path) -> None:
    out = tmp_path / "r.gpkg"
    write_gpkg(out, boxes_to_polygons(BOXES, TILE), records(), TILE.crs)
    write_gpkg(out, boxes_to_polygons(BOXES[:1], TILE), records(1), TILE.crs)
    assert len(pyogrio.read_dataframe(out)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.gpkg"]


@pytest.mark.parametrize(
    ("name", "message"), [("missing/r.geojson", "does not exist"), ("r.shp", "unknown extension")]
)
def test_bad_output_paths(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(OutputPathError, match=message):
        write_geojson(tmp_path / name, boxes_to_polygons(BOXES, TILE), records(), TILE.crs)


# --- the antimeridian (RFC 7946 section 3.1.9) ----------------------------------------------


@pytest.mark.parametrize(
    ("crs", "lonlat"),
    [
        ("EPSG:32660", (180.0, 65.5)),  # UTM 60N over Chukotka (central meridian 177 E)
        ("EPSG:3832", (180.0, -16.8)),  # PDC Mercator over Taveuni, Fiji
    ],
    ids=["utm60n", "pdc-mercator"],
)
def test_geojson_polygons_crossing_the_antimeridian_are_split(
    tmp_path: Path, crs: str, lonlat: tuple[float, float]
) -> None:
    """Candidate boxes on a raster spanning 180 deg: the ones across it become MultiPolygons
    whose parts lie each on one side (touching +180 / -180), the others stay Polygons; no
    polygon wraps around the globe (the geodesic area of every feature is its box's)."""
    from pyproj import Geod, Proj, Transformer

    from ocgnet_geo.geo.grid import tile_grid
    from tests.geo.rasters import write_raster

    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(*lonlat)
    raster = write_raster(
        tmp_path / "dateline.tif", crs, Affine(0.5, 0, x - 150.0, 0, -0.5, y + 100.0), 400, 300
    )
    tile = tile_grid(raster, 0.5, tile_px=512, overlap_px=0)[0]
    col, row = ~tile.transform @ (x, y)  # the antimeridian point in tile pixels
    boxes = np.array(
        [
            [col - 20, row - 10, col + 20, row + 10],  # across 180
            [col - 60, row + 40, col + 30, row + 80],  # across 180, longer on the west side
            [col - 90, row - 40, col - 50, row - 20],  # west of it only
            [col + 10, row - 40, col + 50, row - 20],  # east of it only
        ]
    )
    polygons = boxes_to_polygons(boxes, tile)
    doc = geojson_feature_collection(polygons, records(2) * 2, tile.crs)
    geod = Geod(ellps="WGS84")
    areal_scale = Proj(crs).get_factors(*lonlat).areal_scale
    kinds = []
    for feature, polygon in zip(doc["features"], polygons, strict=True):
        geometry = feature["geometry"]
        kinds.append(geometry["type"])
        parts = (
            [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        )
        area = 0.0
        sides = set()
        for part in parts:
            ring = np.array(part[0])
            lon = ring[:, 0]
            assert (lon >= -180).all() and (lon <= 180).all()
            assert lon.max() - lon.min() < 1.0, "a part wraps around the globe"
            assert (lon >= 0).all() or (lon <= 0).all(), "a part lies on both sides"
            sides.add(1 if lon.mean() > 0 else -1)
            assert shapely.Polygon(ring).exterior.is_ccw
            area += abs(geod.polygon_area_perimeter(lon, ring[:, 1])[0])
        assert len(sides) == len(parts)
        if geometry["type"] == "MultiPolygon":
            east, west = sorted(parts, key=lambda p: -np.array(p[0])[:, 0].mean())
            assert np.array(east[0])[:, 0].max() == 180.0
            assert np.array(west[0])[:, 0].min() == -180.0
        # the ground area of the box: its area in the CRS over the CRS's areal scale there
        assert area == pytest.approx(polygon.area / areal_scale, rel=1e-3)
    assert kinds == ["MultiPolygon", "MultiPolygon", "Polygon", "Polygon"]
