from __future__ import annotations

from pathlib import Path

import mercantile
import numpy as np
import pytest
import shapely
from affine import Affine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocgnet_geo.errors import (
    BBoxAxisOrderError,
    BBoxOutsideRasterError,
    InvalidBBoxError,
    ResolutionOutOfRangeError,
    UnknownCRSError,
)
from ocgnet_geo.geo.boxes import reproject_geometries
from ocgnet_geo.geo.grid import search_area, tile_grid, xyz_grid
from ocgnet_geo.geo.raster import open_raster
from tests.geo.rasters import UTM_ORIGIN, rotated, write_raster


def _check_cover(tiles, area, tile_px: int, overlap_px: int, footprint) -> None:
    union = shapely.union_all([t.polygon for t in tiles])
    res = abs(tiles[0].transform.a)
    # complete cover of the search area (up to float noise)
    assert area.difference(union.buffer(1e-6 * res)).area <= 1e-9 * max(area.area, 1)
    # the requested overlap between horizontal and vertical neighbours
    by_pos = {(t.row, t.col): t for t in tiles}
    for (r, c), t in by_pos.items():
        if (r, c + 1) in by_pos:
            right = by_pos[(r, c + 1)]
            assert (t.bounds[2] - right.bounds[0]) / res == pytest.approx(overlap_px, abs=1e-6)
        if (r + 1, c) in by_pos:
            below = by_pos[(r + 1, c)]
            assert (below.bounds[3] - t.bounds[1]) / abs(t.transform.e) == pytest.approx(
                overlap_px, abs=1e-6
            )
    # every tile touches the raster, and the grid overshoots the area by less than one tile
    size = tile_px * res
    for t in tiles:
        assert shapely.distance(t.polygon, footprint) <= 1e-6
    (ux0, uy0, ux1, uy1), (ax0, ay0, ax1, ay1) = union.bounds, area.bounds
    assert max(ax0 - ux0, uy1 - ay1, ux1 - ax1, ay0 - uy0) < size
    for t in tiles:
        assert (t.width, t.height) == (tile_px, tile_px)


@pytest.mark.parametrize(
    "fixture",
    [
        "utm_raster",
        "lv95_raster",
        "merc_raster",
        "lonlat_raster",
        "rotated_raster",
        "nonsquare_raster",
    ],
)
def test_grid_covers_each_kind_of_raster(fixture: str, request: pytest.FixtureRequest) -> None:
    info = open_raster(request.getfixturevalue(fixture))
    tiles = tile_grid(info, 0.3, tile_px=128, overlap_px=32)
    footprint = reproject_geometries(np.array([info.footprint]), info.crs, tiles[0].crs)[0]
    _check_cover(tiles, footprint, 128, 32, footprint)
    assert len({t.id for t in tiles}) == len(tiles)
    if info.crs.is_geographic:
        assert tiles[0].crs.to_epsg() == 32636  # Kampala, just north of the equator: UTM 36N
    else:
        assert tiles[0].crs == info.crs


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    gsd=st.floats(0.1, 2.0),
    tile_px=st.sampled_from([64, 100, 256]),
    overlap_frac=st.floats(0.0, 0.5),
    angle=st.sampled_from([0.0, 17.0, 45.0]),
    bbox_frac=st.tuples(
        st.floats(0, 0.8), st.floats(0, 0.8), st.floats(0.05, 1.0), st.floats(0.05, 1.0)
    ),
)
def test_grid_covers_search_area_property(
    tmp_path_factory, gsd, tile_px, overlap_frac, angle, bbox_frac
) -> None:
    path = tmp_path_factory.getbasetemp() / f"prop_{angle}.tif"
    if not path.exists():
        write_raster(path, "EPSG:32632", rotated(*UTM_ORIGIN, 0.5, angle), 300, 200)
    info = open_raster(path)
    minx, miny, maxx, maxy = info.bounds
    fx, fy, fw, fh = bbox_frac
    x0, y0 = minx + fx * (maxx - minx), miny + fy * (maxy - miny)
    bbox = (x0, y0, min(maxx, x0 + fw * (maxx - minx)), min(maxy, y0 + fh * (maxy - miny)))
    if (
        not shapely.intersects(shapely.box(*bbox), info.footprint)
        or shapely.box(*bbox).intersection(info.footprint).area < 1e-6
    ):
        return
    overlap_px = int(overlap_frac * tile_px)
    tiles = tile_grid(
        info, gsd, tile_px=tile_px, overlap_px=overlap_px, bbox=bbox, bbox_crs="EPSG:32632"
    )
    area = search_area(info, tiles[0].crs, bbox, "EPSG:32632")
    _check_cover(tiles, area, tile_px, overlap_px, info.footprint)


def test_tiles_at_native_resolution_align_with_raster_pixels(utm_raster: Path) -> None:
    info = open_raster(utm_raster)
    for tile in tile_grid(info, info.gsd_m, tile_px=64, overlap_px=16):
        col, row = ~info.transform @ (tile.transform.c, tile.transform.f)
        assert col == pytest.approx(round(col), abs=1e-3) and row == pytest.approx(
            round(row), abs=1e-3
        )
        assert tile.transform.a == pytest.approx(info.transform.a, rel=1e-3)


@pytest.mark.parametrize(
    "transform",
    [
        Affine(0.5, 0, UTM_ORIGIN[0], 0, -0.5, UTM_ORIGIN[1]),
        Affine(0.5, 0, 524210.7, 0, -0.5, 5247000.0),  # easting crosses 2**19 m: float noise
        Affine(0.3, 0, 465000.15, 0, -0.3, 5247000.45),  # 0.3 has no exact float
    ],
    ids=["utm", "binade", "inexact-size"],
)
def test_native_tiles_are_whole_pixel_windows(tmp_path: Path, transform: Affine) -> None:
    """At the raster's own resolution a tile is the raster's transform moved by whole pixels,
    and the reader sees it as a 1:1 window at whole-pixel offsets (float noise snapped)."""
    from ocgnet_geo.geo.raster import _window_of

    info = open_raster(write_raster(tmp_path / "r.tif", "EPSG:32632", transform, 700, 600))
    tiles = tile_grid(info, info.gsd_m, tile_px=128, overlap_px=32)
    for tile in tiles:
        col, row = ~info.transform @ (tile.transform.c, tile.transform.f)
        assert tile.transform == info.transform @ Affine.translation(round(col), round(row))
        window = _window_of(info, tile)
        assert window is not None and (window.scale_x, window.scale_y) == (1, 1)
        assert (window.col_off, window.row_off) == (round(col), round(row))


def test_small_area_gets_one_centred_tile(utm_raster: Path) -> None:
    info = open_raster(utm_raster)
    x, y = UTM_ORIGIN[0] + 75, UTM_ORIGIN[1] - 50
    tiles = tile_grid(
        info,
        0.5,
        tile_px=256,
        overlap_px=64,
        bbox=(x - 5, y - 5, x + 5, y + 5),
        bbox_crs="EPSG:32632",
    )
    assert len(tiles) == 1
    cx = (tiles[0].bounds[0] + tiles[0].bounds[2]) / 2
    cy = (tiles[0].bounds[1] + tiles[0].bounds[3]) / 2
    assert abs(cx - x) <= 0.5 and abs(cy - y) <= 0.5


def test_bbox_in_lonlat(utm_raster: Path) -> None:
    info = open_raster(utm_raster)
    lonlat = reproject_geometries(
        np.array([info.footprint.centroid.buffer(10)]), info.crs, "EPSG:4326"
    )[0]
    tiles = tile_grid(info, 0.5, tile_px=64, overlap_px=0, bbox=lonlat.bounds)
    assert 1 <= len(tiles) <= 4


def test_bbox_with_swapped_lat_lon_is_detected(utm_raster: Path) -> None:
    info = open_raster(utm_raster)
    lon_min, lat_min, lon_max, lat_max = reproject_geometries(
        np.array([info.footprint]), info.crs, "EPSG:4326"
    )[0].bounds
    with pytest.raises(BBoxAxisOrderError, match="swapped"):
        tile_grid(info, 0.5, bbox=(lat_min, lon_min, lat_max, lon_max))


def test_bbox_with_latitude_beyond_90_is_detected() -> None:
    from ocgnet_geo.geo.grid import validate_bbox

    with pytest.raises(BBoxAxisOrderError):
        validate_bbox((30.0, 150.1, 30.1, 150.2), "EPSG:4326")


def test_projected_bbox_past_the_area_of_use() -> None:
    """UTM 32N's area of use ends near easting 834 km (at the equator): a bbox reaching a
    little past it warns naming the axis; one reaching more than a zone's width past it is
    an error naming the component (a wrong CRS, not a search area)."""
    import warnings

    from ocgnet_geo.geo.grid import validate_bbox

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_bbox((400_000, 5_200_000, 410_000, 5_210_000), "EPSG:32632")  # inside: silent
    with pytest.warns(UserWarning, match=r"maxx 900000 lies past the x \(easting\) end"):
        validate_bbox((830_000, 5_200_000, 900_000, 5_210_000), "EPSG:32632")
    with pytest.raises(InvalidBBoxError, match=r"maxx 3000000 lies .* beyond the x \(easting\)"):
        validate_bbox((830_000, 5_200_000, 3_000_000, 5_210_000), "EPSG:32632")
    with pytest.raises(InvalidBBoxError, match=r"miny -20000000 lies .* y \(northing\) start 0 "):
        validate_bbox((400_000, -20_000_000, 410_000, 5_210_000), "EPSG:32632")


def test_projected_bbox_with_swapped_axes(lv95_raster: Path) -> None:
    # LV95 easting ~2.68e6, northing ~1.25e6: swapped they leave the CRS's area of use
    with pytest.raises(BBoxAxisOrderError):
        tile_grid(
            open_raster(lv95_raster),
            0.5,
            bbox=(1247950, 2679010, 1247990, 2679050),
            bbox_crs="EPSG:2056",
        )


@pytest.mark.parametrize(
    "bbox",
    [(1, 2, 1, 3), (1, 2, 3, 2), (3, 2, 1, 4), (float("nan"), 0, 1, 1), (1, 2, 3), ("a", 1, 2, 3)],
)
def test_empty_or_malformed_bbox(utm_raster: Path, bbox) -> None:
    with pytest.raises(InvalidBBoxError) as err:
        tile_grid(utm_raster, 0.5, bbox=bbox, bbox_crs="EPSG:32632")
    assert "\n" not in str(err.value) and "bbox" in str(err.value)


def test_bbox_outside_raster(utm_raster: Path) -> None:
    with pytest.raises(BBoxOutsideRasterError, match="does not intersect"):
        tile_grid(utm_raster, 0.5, bbox=(8.0, 46.0, 8.01, 46.01))


def test_unknown_bbox_crs(utm_raster: Path) -> None:
    with pytest.raises(UnknownCRSError, match="EPSG:999999"):
        tile_grid(utm_raster, 0.5, bbox=(0, 0, 1, 1), bbox_crs="EPSG:999999")


def test_upsampling_more_than_8x_is_refused(utm_raster: Path) -> None:
    tile_grid(utm_raster, 0.5 / 7.9, tile_px=512, overlap_px=0)
    with pytest.raises(ResolutionOutOfRangeError, match="finer"):
        tile_grid(utm_raster, 0.5 / 8.5)
    with pytest.raises(ResolutionOutOfRangeError):
        tile_grid(utm_raster, -1.0)


def test_xyz_grid_aligns_with_the_web_mercator_pyramid() -> None:
    bbox = (8.480, 47.370, 8.492, 47.380)
    tiles = xyz_grid(bbox, 18, tile_px=1024)
    assert tiles
    for tile in tiles:
        z, x, y = (int(v) for v in tile.id.split("/"))
        assert z == 18 and x % 4 == 0 and y % 4 == 0
        left, bottom, _, _ = mercantile.xy_bounds(x, y + 3, z)
        _, _, right, top = mercantile.xy_bounds(x + 3, y, z)
        assert tile.bounds == pytest.approx((left, bottom, right, top), abs=1e-6)
        assert tile.gsd_m == pytest.approx(0.597 * np.cos(np.radians(47.375)), rel=2e-3)
    union = shapely.union_all([t.polygon for t in tiles])
    area = reproject_geometries(np.array([shapely.box(*bbox)]), "EPSG:4326", "EPSG:3857")[0]
    assert union.buffer(1e-6).contains(area)


def test_grid_on_geographic_raster_uses_square_metre_pixels(lonlat_raster: Path) -> None:
    tiles = tile_grid(lonlat_raster, 0.5, tile_px=64, overlap_px=0)
    t = tiles[0].transform
    assert t.a == pytest.approx(-t.e, rel=1e-2) and t.a == pytest.approx(0.5, rel=2e-3)
    assert Affine(*t[:6]).is_rectilinear


def test_near_native_resolution_snaps_to_the_raster_pixels(tmp_path: Path) -> None:
    """0.5 UTM metres are 0.5002 ground metres 35 km off the central meridian: asking for 0.5 m
    must not add a row and a column of tiles for that 0.04 %."""
    path = write_raster(
        tmp_path / "r.tif",
        "EPSG:32632",
        Affine(0.5, 0, 465000, 0, -0.5, 5260000),
        4096,
        4096,
        count=1,
    )
    info = open_raster(path)
    assert info.gsd_m > 0.5001
    tiles = tile_grid(info, 0.5, tile_px=1024, overlap_px=256)
    assert len(tiles) == 25
    assert tiles[0].transform.a == 0.5 and tiles[0].transform.e == -0.5
    assert len(tile_grid(info, 0.45, tile_px=1024, overlap_px=256)) > 25  # 10 % finer: not snapped
