"""Raster read errors are one-line InputErrors naming the file; NaN pixels are invalid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from ocgnet_geo.errors import InputError, NotARasterError, RasterFileError
from ocgnet_geo.geo.grid import tile_grid
from ocgnet_geo.geo.raster import open_raster, read_tile

TRANSFORM = Affine(0.5, 0, 500000, 0, -0.5, 5200000)


def _write(path: Path, data: np.ndarray, **profile) -> Path:
    count, height, width = data.shape
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=count,
        dtype=data.dtype,
        crs="EPSG:32632",
        transform=TRANSFORM,
        **profile,
    ) as dst:
        dst.write(data)
    return path


def test_truncated_geotiff_is_a_read_error_naming_the_file(tmp_path: Path) -> None:
    full = _write(
        tmp_path / "full.tif",
        np.random.default_rng(0).integers(0, 255, (3, 600, 600), dtype=np.uint8),
    )
    truncated = tmp_path / "truncated.tif"
    truncated.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    info = open_raster(truncated)  # the header is intact
    tiles = tile_grid(info, 0.5, tile_px=256, overlap_px=0)
    with pytest.raises(RasterFileError) as caught:
        for tile in tiles:
            read_tile(info, tile)
    message = str(caught.value)
    assert "truncated.tif" in message and "read failed" in message and "\n" not in message
    assert "See previous exception" not in message


def test_vrt_with_a_missing_source_names_it(tmp_path: Path) -> None:
    bands = "".join(
        f'<VRTRasterBand dataType="Byte" band="{b}"><SimpleSource><SourceFilename '
        f'relativeToVRT="1">gone.tif</SourceFilename><SourceBand>{b}</SourceBand></SimpleSource>'
        "</VRTRasterBand>"
        for b in (1, 2, 3)
    )
    vrt = tmp_path / "mosaic.vrt"
    vrt.write_text(
        '<VRTDataset rasterXSize="600" rasterYSize="600"><SRS>EPSG:32632</SRS>'
        f"<GeoTransform>500000, 0.5, 0, 5200000, 0, -0.5</GeoTransform>{bands}</VRTDataset>"
    )
    with pytest.raises(RasterFileError, match=r"VRT source 'gone\.tif' is missing"):
        open_raster(vrt)


def test_complex_rasters_are_refused_at_open(tmp_path: Path) -> None:
    path = _write(tmp_path / "sar.tif", np.ones((1, 64, 64), np.complex64))
    with pytest.raises(NotARasterError, match="complex64 pixels"):
        open_raster(path)


def test_nan_pixels_are_invalid_without_declared_nodata(tmp_path: Path) -> None:
    data = np.random.default_rng(1).random((3, 512, 512)).astype(np.float32)
    data[:, :, :150] = np.nan
    info = open_raster(_write(tmp_path / "half_nan.tif", data))
    assert info.nodata is None
    tile = tile_grid(info, 0.5, tile_px=256, overlap_px=0)[0]
    _, valid = read_tile(info, tile)
    assert not valid[:, :150].any() and valid[:, 150:256].all()


def test_all_nan_raster_is_an_empty_search_area(tmp_path: Path) -> None:
    from ocgnet_geo.errors import EmptySearchAreaError
    from ocgnet_geo.locate import Locator
    from tests.doubles import BrightSpotModel

    path = _write(tmp_path / "nan.tif", np.full((3, 300, 300), np.nan, np.float32))
    from PIL import Image

    photo = tmp_path / "p.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(photo)
    with pytest.raises(EmptySearchAreaError, match="only nodata"):
        Locator(BrightSpotModel()).locate(photo, (5, 5), path)
    assert issubclass(EmptySearchAreaError, InputError)
