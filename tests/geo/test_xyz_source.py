"""Imagery kept as XYZ tiles (a folder or an MBTiles file) is searched like any raster."""

from __future__ import annotations

from pathlib import Path

import mercantile
import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine

from ocgnet_geo.errors import TileSourceError
from ocgnet_geo.geo.grid import xyz_grid
from ocgnet_geo.geo.raster import open_raster, read_tile
from tests.geo.rasters import pattern, write_raster

ZOOM = 19
_ZURICH = mercantile.tile(8.4884, 47.3767, ZOOM)
TOP_LEFT = mercantile.Tile(
    _ZURICH.x - _ZURICH.x % 4, _ZURICH.y - _ZURICH.y % 4, ZOOM
)  # a 1024-px model tile corner


@pytest.fixture
def pyramid_raster(tmp_path: Path) -> Path:
    """A Web-Mercator GeoTIFF of 3 x 2 XYZ tiles exactly on the zoom-19 pyramid."""
    left, _, _, top = mercantile.xy_bounds(TOP_LEFT)
    res = 2 * np.pi * 6378137.0 / (256 * 2**ZOOM)
    return write_raster(
        tmp_path / "pyramid.tif", "EPSG:3857", Affine(res, 0, left, 0, -res, top), 768, 512
    )


def _write_xyz_folder(
    raster: Path, root: Path, scheme: str = "xyz", skip: tuple[int, int] | None = None
) -> Path:
    data = pattern(512, 768)
    for dx in range(3):
        for dy in range(2):
            if (dx, dy) == skip:
                continue
            x, y = TOP_LEFT.x + dx, TOP_LEFT.y + dy
            name_y = y if scheme == "xyz" else 2**ZOOM - 1 - y
            (root / str(ZOOM) / str(x)).mkdir(parents=True, exist_ok=True)
            with rasterio.open(
                root / str(ZOOM) / str(x) / f"{name_y}.png",
                "w",
                driver="PNG",
                width=256,
                height=256,
                count=3,
                dtype="uint8",
            ) as dst:
                dst.write(data[:, dy * 256 : (dy + 1) * 256, dx * 256 : (dx + 1) * 256])
    return root


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_xyz_folder_reads_like_the_raster(pyramid_raster: Path, tmp_path: Path) -> None:
    folder = _write_xyz_folder(pyramid_raster, tmp_path / "tiles", skip=(2, 1))
    info = open_raster(folder)
    assert info.crs.to_epsg() == 3857 and (info.width, info.height) == (768, 512)
    assert info.transform.almost_equals(open_raster(pyramid_raster).transform, precision=1e-6)
    tile = xyz_grid(mercantile.bounds(TOP_LEFT), ZOOM, tile_px=1024)[0]
    from_folder, valid = read_tile(info, tile)
    from_tiff, valid_tiff = read_tile(pyramid_raster, tile)
    both = valid & valid_tiff
    assert both.sum() == 768 * 512 - 256 * 256  # one XYZ tile is missing: masked, not black data
    np.testing.assert_array_equal(from_folder[both], from_tiff[both])
    assert not valid[256:512, 512:768].any()


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_tms_folder(pyramid_raster: Path, tmp_path: Path) -> None:
    from ocgnet_geo.geo.xyz_source import xyz_folder_to_vrt

    folder = _write_xyz_folder(pyramid_raster, tmp_path / "tms", scheme="tms")
    info = open_raster(xyz_folder_to_vrt(folder, scheme="tms"))
    assert info.transform.almost_equals(open_raster(pyramid_raster).transform, precision=1e-6)


def test_mbtiles_file(pyramid_raster: Path, tmp_path: Path) -> None:
    mbtiles = tmp_path / "z.mbtiles"
    rasterio.shutil.copy(pyramid_raster, mbtiles, driver="MBTiles")
    info = open_raster(mbtiles)
    assert info.crs.to_epsg() == 3857
    tile = xyz_grid(mercantile.bounds(TOP_LEFT), ZOOM, tile_px=1024)[0]
    rgb, valid = read_tile(info, tile)
    ref, ref_valid = read_tile(pyramid_raster, tile)
    assert valid.sum() == ref_valid.sum() == 768 * 512
    assert (
        np.abs(rgb[valid].astype(int) - ref[valid]).mean() < 3
    )  # PNG tiles: lossless, up to resampling


def test_empty_zoom_folder(tmp_path: Path) -> None:
    (tmp_path / "t" / "19" / "5").mkdir(parents=True)
    with pytest.raises(TileSourceError, match=r"no .* tiles"):
        open_raster(tmp_path / "t")


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_lower_zoom_levels_serve_as_overviews(pyramid_raster: Path, tmp_path: Path) -> None:
    folder = _write_xyz_folder(pyramid_raster, tmp_path / "tiles")
    grey = np.full((3, 256, 256), 77, np.uint8)  # zoom 18 tiles with their own, distinct content
    for dx in range(2):
        x, y = TOP_LEFT.x // 2 + dx, TOP_LEFT.y // 2
        (folder / str(ZOOM - 1) / str(x)).mkdir(parents=True, exist_ok=True)
        with rasterio.open(
            folder / str(ZOOM - 1) / str(x) / f"{y}.png",
            "w",
            driver="PNG",
            width=256,
            height=256,
            count=3,
            dtype="uint8",
        ) as dst:
            dst.write(grey)
    info = open_raster(folder)
    assert info.overview_factors == (2,)
    native = xyz_grid(mercantile.bounds(TOP_LEFT), ZOOM, tile_px=1024)[0]
    halved = xyz_grid(mercantile.bounds(TOP_LEFT), ZOOM - 1, tile_px=512)[0]
    rgb, valid = read_tile(info, native)
    assert rgb[valid].mean() != pytest.approx(77, abs=1)  # full resolution: the zoom-19 pattern
    rgb, valid = read_tile(info, halved)
    assert valid.any() and np.all(rgb[valid] == 77)  # downsampled: read from the zoom-18 tiles
