"""Tile content sits exactly at the tile's declared transform (issue 14, item 1).

The rasters here are ramps whose values are their own pixel coordinates
(:func:`tests.geo.rasters.ramp_raster`): a tile read on them holds, in each pixel, the
raster pixel coordinate it was sampled at, and :func:`tests.geo.rasters.expected_pixel_coords`
says (with pyproj and the two transforms only) where each tile pixel centre should have been
sampled. Their difference is the content offset in raster pixels.

Bilinear interpolation reproduces a linear ramp exactly, so for tiles no coarser than the
raster every pixel must be within 0.01 px. When GDAL shrinks, its bilinear and average
kernels widen with the scale and, sampled on whole source pixels, give each tile pixel a
small zero-mean ripple (up to ~0.08 px, the same in GDAL's windowed reader and its warper);
there the systematic offset, the mean over the tile, must be within 0.01 px.

The oracle uses pyproj and the two affine transforms only, no GDAL: an independent read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocgnet_geo.geo.boxes import reproject_geometries
from ocgnet_geo.geo.grid import tile_grid
from ocgnet_geo.geo.raster import RasterInfo, _read_bands, open_raster, read_tile
from ocgnet_geo.geo.tile import TileSpec
from tests.geo.rasters import (
    LONLAT_ORIGIN,
    LV95_ORIGIN,
    MERC_ORIGIN,
    UTM_ORIGIN,
    expected_pixel_coords,
    ramp_raster,
    rotated,
    write_raster,
)

#: The georeferencing of every raster fixture of tests/geo (conftest.py), 300 x 200 px.
KINDS: dict[str, tuple[str, Affine]] = {
    "utm": ("EPSG:32632", Affine(0.5, 0, UTM_ORIGIN[0], 0, -0.5, UTM_ORIGIN[1])),
    "lv95": ("EPSG:2056", Affine(0.5, 0, LV95_ORIGIN[0], 0, -0.5, LV95_ORIGIN[1])),
    "webmercator": ("EPSG:3857", Affine(0.6, 0, MERC_ORIGIN[0], 0, -0.6, MERC_ORIGIN[1])),
    "lonlat": (
        "EPSG:4326",
        Affine(0.5 / 111_320, 0, LONLAT_ORIGIN[0], 0, -0.5 / 111_320, LONLAT_ORIGIN[1]),
    ),
    "rotated": ("EPSG:32632", rotated(*UTM_ORIGIN, 0.5, 30.0)),
    "nonsquare": ("EPSG:32632", Affine(0.5, 0, UTM_ORIGIN[0], 0, -0.75, UTM_ORIGIN[1])),
}
WIDTH, HEIGHT = 300, 200
TOLERANCE_PX = 0.01


@dataclass(frozen=True)
class Offset:
    """Content offset of one tile in raster pixels (tile value minus expected coordinate)."""

    mean_x: float
    mean_y: float
    max_abs: float
    pixels: int

    @property
    def systematic(self) -> float:
        return max(abs(self.mean_x), abs(self.mean_y))


def content_offset(info: RasterInfo, tile: TileSpec, resampling=None) -> Offset:
    """Offset of ``tile`` read from a ramp raster, over the tile pixels whose sample point
    lies well inside the raster (away from the edges, where kernels are clipped)."""
    data, valid = _read_bands(info, tile, [1, 2], resampling)
    cols, rows = expected_pixel_coords(
        info.crs, info.transform, tile.crs, tile.transform, tile.width, tile.height
    )
    margin = 1.0 + max(1.0, _shrink(info, tile))
    inside = (
        valid
        & (cols > margin)
        & (cols < info.width - margin)
        & (rows > margin)
        & (rows < info.height - margin)
    )
    if not inside.any():
        return Offset(0.0, 0.0, 0.0, 0)
    dx, dy = data[0][inside] - cols[inside], data[1][inside] - rows[inside]
    return Offset(
        float(np.mean(dx)),
        float(np.mean(dy)),
        float(max(np.abs(dx).max(), np.abs(dy).max())),
        int(inside.sum()),
    )


def _shrink(info: RasterInfo, tile: TileSpec) -> float:
    """Raster pixels per tile pixel (the coarser axis)."""
    return tile.gsd_m / min(info.pixel_size_m)


def _check(info: RasterInfo, tile: TileSpec, resampling=None) -> Offset:
    offset = content_offset(info, tile, resampling)
    assert offset.systematic <= TOLERANCE_PX, (tile, offset)
    if _shrink(info, tile) <= 1.0 + 1e-9:
        assert offset.max_abs <= TOLERANCE_PX, (tile, offset)
    return offset


@pytest.fixture(scope="module")
def ramps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RasterInfo]:
    folder = tmp_path_factory.mktemp("ramps")
    return {
        kind: open_raster(ramp_raster(folder / f"{kind}.tif", crs, transform, WIDTH, HEIGHT))
        for kind, (crs, transform) in KINDS.items()
    }


def _tile_near_centre(info: RasterInfo, gsd_m: float, tile_px: int) -> TileSpec:
    tiles = tile_grid(info, gsd_m, tile_px=tile_px, overlap_px=0)
    centre = reproject_geometries(np.array([info.footprint.centroid]), info.crs, tiles[0].crs)[0]
    return min(tiles, key=lambda t: t.polygon.centroid.distance(centre))


#: Fractional parts of grid origins: float noise either side of a whole pixel, half a pixel
#: (the worst case for a reader that drops fractions), and anything else.
FRACTIONS = st.one_of(
    st.sampled_from([0.0, 1e-9, -1e-9, 1.0 - 1e-9, 0.5]),
    st.floats(0.0, 1.0, exclude_max=True),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    kind=st.sampled_from(list(KINDS)),
    scale=st.sampled_from([1.0, 0.5, 0.8, 1.37, 2.0, 3.0]),
    k=st.tuples(st.integers(-20, 20), st.integers(-20, 20)),
    frac=st.tuples(FRACTIONS, FRACTIONS),
)
def test_tile_content_is_at_its_transform_property(
    ramps: dict[str, RasterInfo],
    kind: str,
    scale: float,
    k: tuple[int, int],
    frac: tuple[float, float],
) -> None:
    """Grid origins at k +- 1e-9, k + 0.5 and random offsets (in raster pixels where the tile
    shares the raster's CRS and orientation, else in tile pixels), at native (``scale`` 1,
    the GSD snap active) and resampled resolutions, over every fixture CRS and orientation."""
    info = ramps[kind]
    base = _tile_near_centre(info, info.gsd_m * scale, tile_px=48)
    t, r = base.transform, info.transform
    same_grid = base.crs == info.crs and r.b == 0 and r.d == 0
    unit_x, unit_y = (abs(r.a), abs(r.e)) if same_grid else (t.a, -t.e)
    origin_x = t.c + (k[0] + frac[0]) * unit_x
    origin_y = t.f - (k[1] + frac[1]) * unit_y
    tile = TileSpec(
        "p", base.crs, Affine(t.a, 0.0, origin_x, 0.0, t.e, origin_y), 48, 48, base.gsd_m
    )
    offset = _check(info, tile)
    assert offset.pixels > 0


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("scale", [1.0, 0.7, 1.6, 2.5])
def test_every_grid_tile_is_at_its_transform(
    ramps: dict[str, RasterInfo], kind: str, scale: float
) -> None:
    info = ramps[kind]
    tiles = tile_grid(info, info.gsd_m * scale, tile_px=64, overlap_px=16)
    measured = [_check(info, tile) for tile in tiles]
    assert sum(o.pixels for o in measured) > 0


# A UTM raster at 0.5 m whose western edge lies just below 2**19 m of easting: the tile origins
# east of 524288 m round to a coarser float step and come out a hair below whole pixels
# (317.9999999998836 raster pixels), the case of issue 14.
BINADE_TRANSFORM = Affine(0.5, 0, 524210.7, 0, -0.5, 5247000.0)


def test_native_grid_tiles_are_exactly_the_raster_pixels(tmp_path: Path) -> None:
    """At the raster's own resolution every tile is a whole-pixel window of the raster."""
    path = write_raster(tmp_path / "utm.tif", "EPSG:32632", BINADE_TRANSFORM, 700, 600)
    info = open_raster(path)
    with rasterio.open(path) as src:
        pixels = src.read().transpose(1, 2, 0)
    tiles = tile_grid(info, 0.5, tile_px=256, overlap_px=64)
    assert any(
        0 < round(v) - v < 1e-6
        for t in tiles
        for v in (
            (t.transform.c - info.transform.c) / 0.5,
            (t.transform.f - info.transform.f) / -0.5,
        )
    ), "the fixture no longer produces the float-noise offsets it is meant to"
    for tile in tiles:
        rgb, valid = read_tile(info, tile)
        col, row = ~info.transform @ (tile.transform.c, tile.transform.f)
        col, row = round(col), round(row)
        c0, r0 = max(col, 0), max(row, 0)
        c1, r1 = min(col + tile.width, info.width), min(row + tile.height, info.height)
        expected = pixels[r0:r1, c0:c1]
        got = rgb[r0 - row : r1 - row, c0 - col : c1 - col]
        assert valid[r0 - row : r1 - row, c0 - col : c1 - col].all(), tile
        assert np.array_equal(got, expected), (tile, col, row)


def test_worst_offset_on_a_native_utm_grid(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The acceptance figure: worst per-pixel content offset over a whole tile grid of a UTM
    raster at its own 0.5 m resolution (printed; run with ``-s`` to see it)."""
    info = open_raster(ramp_raster(tmp_path / "utm.tif", "EPSG:32632", BINADE_TRANSFORM, 700, 600))
    tiles = tile_grid(info, 0.5, tile_px=256, overlap_px=64)
    assert all(t.transform.a == 0.5 for t in tiles)  # the GSD snap is active
    worst = max(content_offset(info, tile).max_abs for tile in tiles)
    with capsys.disabled():
        print(
            f"\nworst content offset, {len(tiles)} tiles at 0.5 m over EPSG:32632: {worst:.2e} px"
        )
    assert worst <= TOLERANCE_PX
    assert math.isfinite(worst)
