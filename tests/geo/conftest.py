"""Tiny synthetic GeoTIFFs in every CRS situation the geo layer must get right."""

from __future__ import annotations

from pathlib import Path

import pytest
from affine import Affine
from rasterio.enums import ColorInterp

from tests.geo.rasters import (
    LONLAT_ORIGIN,
    LV95_ORIGIN,
    MERC_ORIGIN,
    UTM_ORIGIN,
    pattern,
    rotated,
    write_raster,
)


@pytest.fixture
def utm_raster(tmp_path: Path) -> Path:
    return write_raster(
        tmp_path / "utm.tif",
        "EPSG:32632",
        Affine(0.5, 0, UTM_ORIGIN[0], 0, -0.5, UTM_ORIGIN[1]),
        300,
        200,
    )


@pytest.fixture
def lv95_raster(tmp_path: Path) -> Path:
    return write_raster(
        tmp_path / "lv95.tif",
        "EPSG:2056",
        Affine(0.5, 0, LV95_ORIGIN[0], 0, -0.5, LV95_ORIGIN[1]),
        300,
        200,
    )


@pytest.fixture
def merc_raster(tmp_path: Path) -> Path:
    return write_raster(
        tmp_path / "merc.tif",
        "EPSG:3857",
        Affine(0.6, 0, MERC_ORIGIN[0], 0, -0.6, MERC_ORIGIN[1]),
        300,
        200,
    )


@pytest.fixture
def lonlat_raster(tmp_path: Path) -> Path:
    deg = 0.5 / 111_320.0  # about 0.5 m at the equator
    return write_raster(
        tmp_path / "lonlat.tif",
        "EPSG:4326",
        Affine(deg, 0, LONLAT_ORIGIN[0], 0, -deg, LONLAT_ORIGIN[1]),
        300,
        200,
    )


@pytest.fixture
def rotated_raster(tmp_path: Path) -> Path:
    return write_raster(
        tmp_path / "rotated.tif", "EPSG:32632", rotated(*UTM_ORIGIN, 0.5, 30.0), 300, 200
    )


@pytest.fixture
def nonsquare_raster(tmp_path: Path) -> Path:
    return write_raster(
        tmp_path / "nonsquare.tif",
        "EPSG:32632",
        Affine(0.5, 0, UTM_ORIGIN[0], 0, -0.75, UTM_ORIGIN[1]),
        300,
        200,
    )


@pytest.fixture
def nodata_raster(tmp_path: Path) -> Path:
    data = pattern(200, 300)
    data[data == 0] = 1
    data[:, :, 150:] = 0  # the east half is nodata
    return write_raster(
        tmp_path / "nodata.tif",
        "EPSG:32632",
        Affine(0.5, 0, UTM_ORIGIN[0], 0, -0.5, UTM_ORIGIN[1]),
        300,
        200,
        nodata=0,
        data=data,
    )


@pytest.fixture
def uint16_4band_raster(tmp_path: Path) -> Path:
    return write_raster(
        tmp_path / "rgbn16.tif",
        "EPSG:32632",
        Affine(0.5, 0, UTM_ORIGIN[0], 0, -0.5, UTM_ORIGIN[1]),
        300,
        200,
        count=4,
        dtype="uint16",
        photometric="MINISBLACK",
        colorinterp=[
            ColorInterp.gray,
            ColorInterp.undefined,
            ColorInterp.undefined,
            ColorInterp.undefined,
        ],
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """In the geo tests, a raster silently treated as pixel coordinates is an error. (Set here,
    not in pyproject.toml, so that the QGIS tier never has to import rasterio.)"""
    for item in items:
        if "tests/geo/" in str(item.fspath).replace("\\", "/"):
            # prepended, so that a test's own filterwarnings mark still wins
            item.add_marker(
                pytest.mark.filterwarnings("error::rasterio.errors.NotGeoreferencedWarning"),
                append=False,
            )
