"""Candidates only where the search looked (issue 14, item 2): a box whose centre lies on
nodata, outside the raster or outside the bbox is never an answer. The test double's decoy
box sits in every tile's top-left corner, which these rasters leave outside / on nodata;
before the fix it came back as a ranked candidate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
import shapely

from ocgnet_geo.locate import Locator
from tests.doubles import BrightSpotModel
from tests.geo.rasters import write_raster
from tests.locate.conftest import RASTERS


def _spot_raster(path: Path, width: int, height: int, nodata_left: int = 0) -> Path:
    crs, transform = RASTERS["utm"]
    rng = np.random.default_rng(3)
    data = rng.integers(20, 120, (3, height, width), dtype=np.uint8)
    data[:, height // 2 - 4 : height // 2 + 4, width - 20 : width - 12] = 250  # the object
    data[:, :, :nodata_left] = 0
    return write_raster(path, crs, transform, width, height, data=data, nodata=0)


def _centres(result) -> np.ndarray:
    return np.array([c.polygon.centroid.coords[0] for c in result.candidates])


def test_raster_smaller_than_one_tile(tmp_path: Path, photo: Path) -> None:
    raster = _spot_raster(tmp_path / "small.tif", 40, 30)  # 20 x 15 m, tile 64 m
    result = Locator(BrightSpotModel()).locate(photo, (10, 10), raster, top_k=5)
    with rasterio.open(raster) as ds:
        footprint = shapely.box(*ds.bounds)
    assert len(result.candidates) == 1  # the object; the decoy lies outside the raster
    assert all(footprint.contains(shapely.Point(c)) for c in _centres(result))


def test_raster_whose_left_half_is_nodata(tmp_path: Path, photo: Path) -> None:
    raster = _spot_raster(tmp_path / "half.tif", 320, 240, nodata_left=160)
    result = Locator(BrightSpotModel()).locate(photo, (10, 10), raster, top_k=5)
    with rasterio.open(raster) as ds:
        x_mid = (ds.transform @ (160, 0))[0]
    assert len(result.candidates) >= 1
    assert np.all(_centres(result)[:, 0] >= x_mid)  # no decoy on the nodata half


def test_bbox_in_the_middle_of_a_tile(tmp_path: Path, photo: Path) -> None:
    raster = _spot_raster(tmp_path / "r.tif", 320, 240)
    with rasterio.open(raster) as ds:
        x, y = ds.transform @ (320 - 16, 120)  # the object's centre
    bbox = (x - 10, y - 10, x + 10, y + 10)  # 20 m inside one 64 m tile
    result = Locator(BrightSpotModel()).locate(
        photo, (10, 10), raster, top_k=5, bbox=bbox, bbox_crs=RASTERS["utm"][0]
    )
    area = shapely.box(*bbox)
    assert len(result.candidates) == 1
    assert all(area.contains(shapely.Point(c)) for c in _centres(result))
