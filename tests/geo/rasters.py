"""Writers of tiny synthetic GeoTIFFs and helpers to find things in tiles (used by the fixtures and tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import ColorInterp


def pattern(height: int, width: int, count: int = 3, dtype: str = "uint8") -> np.ndarray:
    """A deterministic, non-periodic test image: gradients plus a hashed texture per band."""
    rows, cols = np.mgrid[0:height, 0:width]
    bands = []
    for b in range(count):
        texture = ((cols * 7919 + rows * 104729 + b * 1299709) % 251).astype(float)
        bands.append((cols * 97 + rows * 31 + b * 50) % 256 * 0.5 + texture * 0.5)
    data = np.stack(bands)
    if dtype == "uint16":
        return (data * 40 + 1000).astype(np.uint16)
    return data.astype(dtype)


def write_raster(
    path: Path,
    crs: str | None,
    transform: Affine,
    width: int,
    height: int,
    count: int = 3,
    dtype: str = "uint8",
    nodata: float | None = None,
    data: np.ndarray | None = None,
    colorinterp: list[ColorInterp] | None = None,
    **profile: object,
) -> Path:
    if data is None:
        data = pattern(height, width, count, dtype)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=count,
        dtype=dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
        **profile,
    ) as dst:
        dst.write(data)
        if colorinterp:
            dst.colorinterp = colorinterp
    return path


def rotated(origin_x: float, origin_y: float, size: float, degrees: float) -> Affine:
    """A north-up transform of ``size`` CRS units per pixel rotated by ``degrees`` (counter-clockwise)."""
    return (
        Affine.translation(origin_x, origin_y)
        @ Affine.rotation(degrees)
        @ Affine.scale(size, -size)
    )


# Places used by the fixtures (all real land): Zürich-Altstetten and Kampala.
UTM_ORIGIN = (465000.0, 5247000.0)  # EPSG:32632, Zürich
LV95_ORIGIN = (2679000.0, 1248000.0)  # EPSG:2056, Zürich
MERC_ORIGIN = (944000.0, 6005000.0)  # EPSG:3857, Zürich
LONLAT_ORIGIN = (32.594, 0.352)  # EPSG:4326, Kampala


def bright_spot_raster(
    path: Path, crs: str, transform: Affine, spot: tuple[int, int], size: int = 4
) -> Path:
    """A dark raster with one white ``size`` x ``size`` square whose top-left pixel is ``spot`` (col, row)."""
    data = np.full((3, 200, 300), 20, dtype=np.uint8)
    col, row = spot
    data[:, row : row + size, col : col + size] = 255
    return write_raster(path, crs, transform, 300, 200, data=data)


def spot_centre_in_tile(rgb: np.ndarray) -> tuple[float, float]:
    """(x, y) pixel coordinates (edges convention) of the bright square's centre in a tile."""
    rows, cols = np.nonzero(rgb[..., 0] > 137)
    weights = rgb[rows, cols, 0].astype(float) - 20
    return float(np.average(cols + 0.5, weights=weights)), float(
        np.average(rows + 0.5, weights=weights)
    )
