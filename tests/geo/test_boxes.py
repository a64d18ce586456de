from __future__ import annotations

import numpy as np
import pytest
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Geod

from ocgnet_geo.geo.boxes import boxes_to_polygons, nms_geo, polygons_to_boxes, reproject_geometries
from ocgnet_geo.geo.grid import TileSpec
from tests.geo.rasters import UTM_ORIGIN, rotated

TILES = {
    "utm": TileSpec(
        "utm",
        CRS.from_epsg(32632),
        Affine(0.3, 0, UTM_ORIGIN[0], 0, -0.3, UTM_ORIGIN[1]),
        1024,
        1024,
        0.3,
    ),
    "rotated": TileSpec(
        "rot", CRS.from_epsg(32632), rotated(*UTM_ORIGIN, 0.3, 23.0), 1024, 1024, 0.3
    ),
    "nonsquare": TileSpec(
        "ns",
        CRS.from_epsg(32632),
        Affine(0.3, 0, UTM_ORIGIN[0], 0, -0.45, UTM_ORIGIN[1]),
        1024,
        1024,
        0.3,
    ),
    "webmercator": TileSpec(
        "wm", CRS.from_epsg(3857), Affine(0.44, 0, 944000.0, 0, -0.44, 6005000.0), 1024, 1024, 0.3
    ),
    "lv95": TileSpec(
        "lv95", CRS.from_epsg(2056), Affine(0.3, 0, 2679000.0, 0, -0.3, 1248000.0), 1024, 1024, 0.3
    ),
    "southern_utm": TileSpec(
        "s", CRS.from_epsg(32736), Affine(0.3, 0, 455000.0, 0, -0.3, 9961000.0), 1024, 1024, 0.3
    ),
}

box_strategy = st.tuples(
    st.floats(-100, 1100), st.floats(-100, 1100), st.floats(0.5, 400), st.floats(0.5, 400)
).map(lambda b: (b[0], b[1], b[0] + b[2], b[1] + b[3]))


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(TILES)), boxes=st.lists(box_strategy, min_size=1, max_size=20))
def test_pixel_to_crs_to_pixel_round_trip(name: str, boxes: list) -> None:
    tile = TILES[name]
    boxes_px = np.array(boxes)
    polygons = boxes_to_polygons(boxes_px, tile)
    back = polygons_to_boxes(polygons, tile)
    np.testing.assert_allclose(back, boxes_px, atol=1e-6, rtol=0)


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(TILES)), box=box_strategy)
def test_box_to_wgs84_and_back_within_a_centimetre(name: str, box: tuple) -> None:
    tile = TILES[name]
    polygon = boxes_to_polygons(np.array([box]), tile)
    lonlat = reproject_geometries(polygon, tile.crs, "EPSG:4326")
    back = reproject_geometries(lonlat, "EPSG:4326", tile.crs, densify=False)
    # the densified ring's vertices, returned to the tile CRS, must all lie on the original box
    # (within 1 cm on the ground) and its corners must come back exactly where they were
    assert shapely.hausdorff_distance(back[0], polygon[0]) < 0.01 * tile.transform.a / tile.gsd_m
    corners = shapely.get_coordinates(polygon)[:4]
    ground = Geod(ellps="WGS84")
    a = shapely.get_coordinates(
        reproject_geometries(shapely.points(corners), tile.crs, "EPSG:4326")
    )
    b = shapely.get_coordinates(
        reproject_geometries(shapely.points(corners), tile.crs, "EPSG:4326")
    )
    returned = shapely.get_coordinates(back[0])
    nearest = [returned[np.argmin(np.hypot(*(returned - c).T))] for c in corners]
    b = shapely.get_coordinates(
        reproject_geometries(shapely.points(np.array(nearest)), tile.crs, "EPSG:4326")
    )
    _, _, dist = ground.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    assert np.max(dist) < 0.01


def test_corners_are_in_the_expected_place() -> None:
    tile = TILES["utm"]
    polygon = boxes_to_polygons(np.array([[0, 0, 10, 20]]), tile)[0]
    assert polygon.bounds == pytest.approx(
        (UTM_ORIGIN[0], UTM_ORIGIN[1] - 6, UTM_ORIGIN[0] + 3, UTM_ORIGIN[1])
    )


def test_densified_reprojection_follows_the_projection() -> None:
    """A 20 km UTM box reprojected to Web Mercator bends; without densification the edge
    midpoint would be off by metres, with it by millimetres."""
    crs = CRS.from_epsg(32632)
    big = shapely.box(400000, 5200000, 420000, 5220000)
    midpoint = shapely.Point(410000, 5200000)  # middle of the southern edge
    exact = reproject_geometries(np.array([midpoint]), crs, "EPSG:3857")[0]
    dense = reproject_geometries(np.array([big]), crs, "EPSG:3857")[0]
    coarse = reproject_geometries(np.array([big]), crs, "EPSG:3857", densify=False)[0]
    assert dense.exterior.distance(exact) < 0.01
    assert coarse.exterior.distance(exact) > 0.05


def test_nms_merges_overlapping_candidates_from_two_tiles() -> None:
    a = TILES["utm"]
    b = TileSpec(
        "b", a.crs, a.transform @ Affine.translation(768, 0), 1024, 1024, 0.3
    )  # 256 px overlap
    # the same object seen from both tiles (slightly different boxes), plus two distinct ones
    polys = np.concatenate(
        [
            boxes_to_polygons(np.array([[800, 100, 900, 200], [100, 100, 150, 150]]), a),
            boxes_to_polygons(np.array([[34, 102, 134, 201], [500, 500, 560, 560]]), b),
        ]
    )
    scores = np.array([0.6, 0.3, 0.9, 0.5])
    keep = nms_geo(polys, scores, iou=0.5, crs=a.crs)
    assert keep.tolist() == [2, 3, 1]


def test_nms_in_degrees_uses_a_metric_crs() -> None:
    tile = TILES["utm"]
    polys = reproject_geometries(
        boxes_to_polygons(np.array([[0, 0, 100, 100], [10, 0, 110, 100]]), tile),
        tile.crs,
        "EPSG:4326",
    )
    assert nms_geo(polys, np.array([0.5, 0.7]), iou=0.5, crs="EPSG:4326").tolist() == [1]
    assert nms_geo(polys, np.array([0.5, 0.7]), iou=0.95, crs="EPSG:4326").tolist() == [1, 0]


def test_nms_empty_and_mismatch() -> None:
    assert nms_geo(np.array([], dtype=object), np.array([])).tolist() == []
    with pytest.raises(ValueError, match="scores"):
        nms_geo(np.array([shapely.box(0, 0, 1, 1)]), np.array([0.1, 0.2]))
