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


def ramp_raster(path: Path, crs: str, transform: Affine, width: int, height: int) -> Path:
    """A float64 raster whose values are the raster pixel coordinates of each pixel centre:
    band 1 = column + 0.5, band 2 = row + 0.5, band 3 = 0 (edges convention, x right, y down).

    Any linear interpolation of it returns the pixel coordinate it was sampled at, so a
    tile's content offset in raster pixels is a value difference (see
    :func:`expected_pixel_coords`).
    """
    rows, cols = np.mgrid[0:height, 0:width].astype(float)
    data = np.stack([cols + 0.5, rows + 0.5, np.zeros_like(cols)])
    return write_raster(path, crs, transform, width, height, dtype="float64", data=data)


def expected_pixel_coords(
    raster_crs: object,
    raster_transform: Affine,
    tile_crs: object,
    tile_transform: Affine,
    width: int,
    height: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Raster pixel coordinates (col, row), each ``(height, width)``, of the centres of a
    tile's pixels: tile pixel -> tile CRS (its transform) -> raster CRS (pyproj, exact,
    x/easting first) -> raster pixel (the inverse of the raster's transform).

    Independent of the library: this is what a tile read exactly at its transform holds on
    a :func:`ramp_raster`.
    """
    from pyproj import CRS, Transformer

    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    x, y = tile_transform @ (cols, rows)
    src, dst = CRS.from_user_input(tile_crs), CRS.from_user_input(raster_crs)
    if src != dst:
        x, y = Transformer.from_crs(src, dst, always_xy=True).transform(x, y)
    return ~raster_transform @ (np.asarray(x), np.asarray(y))
