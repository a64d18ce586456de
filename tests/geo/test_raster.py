from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.enums import ColorInterp, Resampling
from rasterio.errors import NotGeoreferencedWarning

from ocgnet_geo.errors import InputError, NotARasterError, NotGeoreferencedError, RasterFileError
from ocgnet_geo.geo.grid import TileSpec, tile_grid
from ocgnet_geo.geo.raster import open_raster, read_tile
from tests.geo.rasters import (
    UTM_ORIGIN,
    bright_spot_raster,
    pattern,
    rotated,
    spot_centre_in_tile,
    write_raster,
)


def test_projected_raster_metadata(utm_raster: Path) -> None:
    info = open_raster(utm_raster)
    assert info.crs.to_epsg() == 32632
    assert (info.width, info.height, info.count, info.dtype) == (300, 200, 3, "uint8")
    assert info.bounds == pytest.approx(
        (UTM_ORIGIN[0], UTM_ORIGIN[1] - 100, UTM_ORIGIN[0] + 150, UTM_ORIGIN[1])
    )
    # UTM grid metres are 0.9996..1.0004 ground metres
    assert info.gsd_m == pytest.approx(0.5, rel=1e-3)
    assert info.rgb_bands == (1, 2, 3) and info.alpha_band is None and info.nodata is None


def test_geographic_raster_gsd_is_in_metres(lonlat_raster: Path) -> None:
    info = open_raster(lonlat_raster)
    assert info.crs.is_geographic
    # 0.5 / 111320 degrees at the equator: 0.5 m east-west, about 0.4966 m north-south
    assert info.pixel_size_m[0] == pytest.approx(0.5, rel=2e-3)
    assert info.pixel_size_m[1] == pytest.approx(0.5 * 110574 / 111320, rel=2e-3)


def test_web_mercator_gsd_is_true_ground_distance(merc_raster: Path) -> None:
    info = open_raster(merc_raster)
    lat = math.degrees(2 * math.atan(math.exp(6005000 / 6378137.0)) - math.pi / 2)
    # 0.6 Web-Mercator metres shrink by about cos(latitude) on the ground (47 degrees N)
    assert info.pixel_size_m[0] == pytest.approx(0.6 * math.cos(math.radians(lat)), rel=5e-3)


def test_rotated_raster_bounds_and_gsd(rotated_raster: Path) -> None:
    info = open_raster(rotated_raster)
    assert info.is_rotated
    assert info.gsd_m == pytest.approx(0.5, rel=1e-3)
    corners = info.corners
    assert info.bounds == pytest.approx(
        (corners[:, 0].min(), corners[:, 1].min(), corners[:, 0].max(), corners[:, 1].max())
    )
    assert info.footprint.area == pytest.approx(150 * 100)


def test_nonsquare_pixels(nonsquare_raster: Path) -> None:
    info = open_raster(nonsquare_raster)
    assert info.pixel_size_m == pytest.approx((0.5, 0.75), rel=1e-3)


def test_open_accepts_dataset_and_info(utm_raster: Path) -> None:
    with rasterio.open(utm_raster) as src:
        info = open_raster(src)
    assert open_raster(info) is info
    assert info.width == 300


def _aligned_tile(info, col_off: int, row_off: int, size: int = 64) -> TileSpec:
    t = info.transform
    return TileSpec("t", info.crs, t @ Affine.translation(col_off, row_off), size, size, info.gsd_m)


def test_read_tile_at_native_alignment_returns_the_pixels(utm_raster: Path) -> None:
    info = open_raster(utm_raster)
    rgb, valid = read_tile(info, _aligned_tile(info, 40, 30))
    expected = pattern(200, 300)[:, 30:94, 40:104].transpose(1, 2, 0)
    assert rgb.dtype == np.uint8 and rgb.shape == (64, 64, 3)
    assert valid.all()
    np.testing.assert_array_equal(rgb, expected)


def test_read_tile_masks_outside_of_raster(utm_raster: Path) -> None:
    info = open_raster(utm_raster)
    rgb, valid = read_tile(info, _aligned_tile(info, 270, 180))  # 30 x 20 px inside, rest outside
    assert valid[:20, :30].all() and not valid[:, 31:].any() and not valid[21:, :].any()
    assert (rgb[~valid] == 0).all()


def test_read_tile_masks_nodata(nodata_raster: Path) -> None:
    info = open_raster(nodata_raster)
    assert info.nodata == 0
    rgb, valid = read_tile(info, _aligned_tile(info, 118, 10))  # straddles column 150
    assert valid[:, :32].all() and not valid[:, 32:].any()
    assert (rgb[:, :32] > 0).any(axis=-1).all()


def test_uint16_four_band_becomes_stretched_rgb(uint16_4band_raster: Path) -> None:
    info = open_raster(uint16_4band_raster)
    assert info.dtype == "uint16" and info.count == 4
    assert info.rgb_bands == (1, 2, 3)  # unlabelled bands: the first three
    assert info.stretch is not None and len(info.stretch) == 3
    rgb_a, _ = read_tile(info, _aligned_tile(info, 0, 0, 128))
    rgb_b, _ = read_tile(info, _aligned_tile(info, 150, 60, 128))
    for rgb in (rgb_a, rgb_b):
        assert rgb.dtype == np.uint8
        assert rgb.min() == 0 and rgb.max() == 255  # 2-98 % stretch saturates the tails
    # one stretch for the whole raster: the same source value maps to the same output everywhere
    raw = pattern(200, 300, 4, "uint16")
    lo, hi = info.stretch[0]
    value = raw[0, 60, 150]
    expected = np.clip(np.rint((value - lo) * 255 / (hi - lo)), 0, 255)
    assert rgb_b[0, 0, 0] == expected


def test_band_order_follows_colour_interpretation(tmp_path: Path) -> None:
    data = np.stack([np.full((50, 60), v, np.uint8) for v in (10, 20, 30)])  # stored B, G, R
    path = write_raster(
        tmp_path / "bgr.tif",
        "EPSG:32632",
        Affine(0.5, 0, UTM_ORIGIN[0], 0, -0.5, UTM_ORIGIN[1]),
        60,
        50,
        data=data,
        photometric="MINISBLACK",
        colorinterp=[ColorInterp.blue, ColorInterp.green, ColorInterp.red],
    )
    info = open_raster(path)
    assert info.rgb_bands == (3, 2, 1)
    rgb, _ = read_tile(info, _aligned_tile(info, 0, 0, 16))
    assert tuple(rgb[5, 5]) == (30, 20, 10)


def test_single_band_is_grey(tmp_path: Path) -> None:
    path = write_raster(
        tmp_path / "grey.tif",
        "EPSG:32632",
        Affine(0.5, 0, UTM_ORIGIN[0], 0, -0.5, UTM_ORIGIN[1]),
        60,
        50,
        count=1,
    )
    rgb, _ = read_tile(open_raster(path), _aligned_tile(open_raster(path), 0, 0, 16))
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()


def test_alpha_band_masks(tmp_path: Path) -> None:
    data = np.concatenate([pattern(50, 60), np.full((1, 50, 60), 255, np.uint8)])
    data[3, :, 30:] = 0
    path = write_raster(
        tmp_path / "rgba.tif",
        "EPSG:32632",
        Affine(0.5, 0, UTM_ORIGIN[0], 0, -0.5, UTM_ORIGIN[1]),
        60,
        50,
        count=4,
        data=data,
        photometric="RGB",
        alpha="YES",
    )
    info = open_raster(path)
    assert info.alpha_band == 4
    _, valid = read_tile(info, _aligned_tile(info, 0, 0, 40))
    assert valid[:, :30].all() and not valid[:, 30:].any()


def test_downsampled_read_uses_overviews(tmp_path: Path) -> None:
    path = write_raster(
        tmp_path / "ovr.tif",
        "EPSG:32632",
        Affine(0.5, 0, UTM_ORIGIN[0], 0, -0.5, UTM_ORIGIN[1]),
        256,
        256,
        tiled=True,
    )
    with rasterio.open(path, "r+") as dst:
        dst.build_overviews([2, 4], Resampling.average)
    with rasterio.open(
        path, "r+"
    ) as dst:  # make the full resolution differ from its (now stale) overviews
        dst.write(np.zeros((3, 256, 256), np.uint8))
    info = open_raster(path)
    assert info.overview_factors == (2, 4)
    tile = TileSpec("half", info.crs, info.transform @ Affine.scale(2), 128, 128, 2 * info.gsd_m)
    rgb, valid = read_tile(info, tile)
    assert valid.all()
    assert rgb.mean() > 50  # overview content, not the zeroed full resolution
    full, _ = read_tile(info, _aligned_tile(info, 0, 0, 128))
    assert full.max() == 0


@pytest.mark.parametrize(
    ("crs", "transform"),
    [
        ("EPSG:32632", Affine(0.5, 0, UTM_ORIGIN[0], 0, -0.5, UTM_ORIGIN[1])),
        ("EPSG:32632", rotated(*UTM_ORIGIN, 0.5, 30.0)),
        ("EPSG:32632", Affine(0.5, 0, UTM_ORIGIN[0], 0, -0.75, UTM_ORIGIN[1])),
        ("EPSG:3857", Affine(0.6, 0, 944000.0, 0, -0.6, 6005000.0)),
        ("EPSG:2056", Affine(0.5, 0, 2679000.0, 0, -0.5, 1248000.0)),
        ("EPSG:4326", Affine(0.5 / 111320, 0, 32.594, 0, -0.5 / 111320, 0.352)),
    ],
    ids=["utm", "rotated", "nonsquare", "webmercator", "lv95", "lonlat"],
)
def test_a_ground_point_lands_where_the_tile_transform_says(
    tmp_path: Path, crs: str, transform: Affine
) -> None:
    """A white square at a known raster pixel must appear in the tile at the tile pixel that
    the tile's own transform (in the grid CRS, maybe UTM) gives for the same ground point."""
    spot = (137, 83)
    path = bright_spot_raster(tmp_path / "spot.tif", crs, transform, spot, size=6)
    info = open_raster(path)
    tiles = tile_grid(info, 0.4, tile_px=256, overlap_px=0)
    from ocgnet_geo.geo.crs import transformer

    x, y = transform @ (spot[0] + 3, spot[1] + 3)  # spot centre in the raster CRS
    gx, gy = transformer(info.crs, tiles[0].crs).transform(x, y)
    for tile in tiles:
        col, row = ~tile.transform @ (gx, gy)
        if 8 <= col <= tile.width - 8 and 8 <= row <= tile.height - 8:
            rgb, _ = read_tile(info, tile)
            found = spot_centre_in_tile(rgb)
            assert found == pytest.approx((col, row), abs=0.35), tile
            return
    pytest.fail("no tile holds the spot well inside it")


# --- bad input -----------------------------------------------------------------------------


def _one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RasterFileError) as err:
        open_raster(tmp_path / "nope.tif")
    assert "nope.tif" in _one_line(err) and "not found" in str(err.value)


def test_folder_that_is_not_a_tile_folder(tmp_path: Path) -> None:
    with pytest.raises(RasterFileError, match="folder"):
        open_raster(tmp_path)


def test_not_a_raster(tmp_path: Path) -> None:
    path = tmp_path / "notes.tif"
    path.write_text("hello, not an image\n")
    with pytest.raises(NotARasterError) as err:
        open_raster(path)
    assert "notes.tif" in _one_line(err)


def test_raster_without_crs(tmp_path: Path) -> None:
    path = write_raster(tmp_path / "nocrs.tif", None, Affine(0.5, 0, 100, 0, -0.5, 200), 20, 20)
    with pytest.raises(NotGeoreferencedError, match="coordinate reference system") as err:
        open_raster(path)
    assert "nocrs.tif" in _one_line(err)


def test_raster_with_identity_transform(tmp_path: Path) -> None:
    with pytest.warns(NotGeoreferencedWarning):
        path = write_raster(tmp_path / "pixels.tif", "EPSG:32632", Affine.identity(), 20, 20)
    with pytest.raises(NotGeoreferencedError, match="geotransform"):
        open_raster(path)


def test_all_input_errors_share_the_base_class() -> None:
    assert issubclass(RasterFileError, InputError) and issubclass(InputError, ValueError)


def test_tiles_with_data_drops_nodata_tiles(nodata_raster: Path) -> None:
    from ocgnet_geo.geo.raster import tiles_with_data

    info = open_raster(nodata_raster)
    tiles = tile_grid(info, 0.5, tile_px=64, overlap_px=0)
    kept = tiles_with_data(info, tiles)
    assert 0 < len(kept) < len(tiles)
    assert all(t.bounds[0] < UTM_ORIGIN[0] + 75 for t in kept)  # the west half holds the data


def test_search_area_with_only_nodata(nodata_raster: Path) -> None:
    from ocgnet_geo.errors import EmptySearchAreaError
    from ocgnet_geo.geo.raster import tiles_with_data

    east = (UTM_ORIGIN[0] + 100, UTM_ORIGIN[1] - 90, UTM_ORIGIN[0] + 140, UTM_ORIGIN[1] - 10)
    tiles = tile_grid(
        nodata_raster, 0.5, tile_px=32, overlap_px=0, bbox=east, bbox_crs="EPSG:32632"
    )
    with pytest.raises(EmptySearchAreaError, match="only nodata") as err:
        tiles_with_data(nodata_raster, tiles)
    assert "nodata.tif" in str(err.value)


@pytest.mark.parametrize("scale", [1.0, 1.37, 2.0])
def test_window_reader_agrees_with_the_warper(nodata_raster: Path, scale: float) -> None:
    """The fast windowed path and GDAL's warper give the same tile (up to resampling detail)."""
    from ocgnet_geo.geo.raster import _read_warped, _read_window, _window_of

    info = open_raster(nodata_raster)
    tile = TileSpec(
        "s",
        info.crs,
        info.transform @ Affine.translation(-7, 20) @ Affine.scale(scale),
        96,
        96,
        info.gsd_m * scale,
    )
    window = _window_of(info, tile)
    assert window is not None
    bands = [1, 2, 3]
    fast, fast_valid = _read_window(info, tile, window, bands, Resampling.bilinear)
    slow, slow_valid = _read_warped(info, tile, bands, Resampling.bilinear, None)
    both = fast_valid & slow_valid
    assert (fast_valid != slow_valid).mean() < 0.03  # differences only along the edges
    west = math.ceil(7 / scale)  # tile columns that start west of the raster
    assert not fast_valid[:, :west].any() and fast_valid[30:60, west].all()
    diff = np.abs(fast.astype(int) - slow.astype(int))[:, both]
    if scale == 1.0:
        assert diff.max() == 0
    else:
        assert np.median(diff) <= 8


def test_paletted_raster_uses_its_colour_table(tmp_path: Path) -> None:
    data = np.zeros((1, 50, 60), np.uint8)
    data[0, :, 20:40] = 1
    data[0, :, 40:] = 2
    path = write_raster(
        tmp_path / "classes.tif",
        "EPSG:32632",
        Affine(0.5, 0, UTM_ORIGIN[0], 0, -0.5, UTM_ORIGIN[1]),
        60,
        50,
        count=1,
        data=data,
        photometric="PALETTE",
        nodata=0,
    )
    with rasterio.open(path, "r+") as dst:  # (TIFF colour tables carry no alpha: nodata masks)
        dst.write_colormap(1, {0: (0, 0, 0, 255), 1: (255, 0, 0, 255), 2: (0, 128, 255, 255)})
    info = open_raster(path)
    assert info.palette is not None
    rgb, valid = read_tile(info, _aligned_tile(info, 0, 0, 60))
    assert not valid[:, :20].any() and valid[:50, 20:60].all()  # index 0 is nodata
    assert tuple(rgb[10, 30]) == (255, 0, 0) and tuple(rgb[10, 50]) == (0, 128, 255)
    half = TileSpec("h", info.crs, info.transform @ Affine.scale(1.5), 40, 30, info.gsd_m * 1.5)
    colours = {tuple(c) for c in read_tile(info, half)[0].reshape(-1, 3)}
    assert colours <= {(0, 0, 0), (255, 0, 0), (0, 128, 255)}  # nearest: no blended colours
