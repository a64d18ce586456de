"""Fixtures for the locate pipeline: photos and rasters with one bright square."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from PIL import Image

from tests.geo.rasters import LONLAT_ORIGIN, MERC_ORIGIN, UTM_ORIGIN, write_raster

#: The bright square: top-left raster pixel (col, row) and size in pixels.
SPOT = (150, 90)
SPOT_PX = 8

RASTERS = {
    "utm": ("EPSG:32632", Affine(0.5, 0, UTM_ORIGIN[0], 0, -0.5, UTM_ORIGIN[1])),
    # 0.5 ground metres at 47 N are 0.74 Web-Mercator metres
    "webmercator": ("EPSG:3857", Affine(0.74, 0, MERC_ORIGIN[0], 0, -0.74, MERC_ORIGIN[1])),
    "lonlat": (
        "EPSG:4326",
        Affine(0.5 / 111320, 0, LONLAT_ORIGIN[0], 0, -0.5 / 110574, LONLAT_ORIGIN[1]),
    ),
}


def spot_raster(
    path: Path, crs: str, transform: Affine, size: tuple[int, int] = (320, 240)
) -> Path:
    width, height = size
    rng = np.random.default_rng(7)
    data = rng.integers(20, 120, (3, height, width), dtype=np.uint8)
    col, row = SPOT
    data[:, row : row + SPOT_PX, col : col + SPOT_PX] = 250
    return write_raster(path, crs, transform, width, height, data=data)


@pytest.fixture(params=sorted(RASTERS))
def any_spot_raster(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    crs, transform = RASTERS[request.param]
    return spot_raster(tmp_path / f"spot_{request.param}.tif", crs, transform)


@pytest.fixture
def utm_spot_raster(tmp_path: Path) -> Path:
    return spot_raster(tmp_path / "spot_utm.tif", *RASTERS["utm"])


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    path = tmp_path / "photo.jpg"
    Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(path, quality=90)
    return path


@pytest.fixture(scope="session")
def light_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real OCGNet (MobileNetV2 pair, 256-px tiles at 0.5 m/px) with random weights, saved
    in our safetensors format."""
    import torch

    from ocgnet_geo.models.ocgnet import ModelConfig, OCGNet, save_model

    torch.manual_seed(0)
    config = ModelConfig.from_dict(
        {**ModelConfig.light(tile_size=256).to_dict(), "tile_gsd_m": 0.5}
    )
    path = tmp_path_factory.mktemp("weights") / "light-random.safetensors"
    save_model(OCGNet(config).eval(), path)
    return path
