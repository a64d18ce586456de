"""Worst content offset of tiles against their declared transforms (issue 14). Prints it.

The raster read is a *ramp twin*: a float64 GeoTIFF with the georeferencing (CRS, transform,
size) of the raster under test whose band 1 / band 2 values are the raster pixel column /
row of each pixel centre. A tile read from it holds, in every pixel, the raster pixel
coordinate it was sampled at; the coordinate it should have been sampled at follows from the
tile transform, pyproj and the raster transform alone (no GDAL). Their largest difference over
every tile of the grid, in raster pixels, is printed (bilinear reproduces a ramp exactly, so
at the raster's own resolution it measures the geometry only). Pixels within 2 px of the
raster edge are left out.

Default: a 3000 x 2500 px UTM raster (EPSG:32632) at 0.5 m whose easting crosses 2**19 m,
tiled at its own 0.5 m (the GSD snap active) with 1024-px tiles and 256 px overlap.
``--raster PATH`` measures a ramp twin of that raster instead (at its own resolution unless
``--gsd`` says otherwise).

Run: ``.venv/bin/python benchmarks/tile_offset.py [--raster PATH] [--gsd M] [--tile-px N]``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from machine import machine_line
from pyproj import CRS, Transformer

from ocgnet_geo.geo.grid import tile_grid
from ocgnet_geo.geo.raster import _read_bands, open_raster

DEFAULT_CRS = "EPSG:32632"
DEFAULT_TRANSFORM = Affine(0.5, 0.0, 524210.7, 0.0, -0.5, 5247000.0)
DEFAULT_SIZE = (3000, 2500)  # width, height
EDGE_PX = 2.0


def write_ramp_twin(path: Path, crs: object, transform: Affine, width: int, height: int) -> Path:
    """The ramp twin (see the module docstring) of a raster with this georeferencing."""
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=3,
        dtype="float64",
        crs=crs,
        transform=transform,
        tiled=True,
        blockxsize=256,
        blockysize=256,
    ) as dst:
        for row0 in range(0, height, 256):
            rows = min(256, height - row0)
            r, c = np.mgrid[row0 : row0 + rows, 0:width].astype(float)
            window = rasterio.windows.Window(0, row0, width, rows)
            dst.write(np.stack([c + 0.5, r + 0.5, np.zeros_like(c)]), window=window)
    return path


def worst_offset(
    path: Path, gsd_m: float | None, tile_px: int, overlap_px: int
) -> tuple[float, int]:
    """(largest |content - expected| in raster pixels over all tiles, number of tiles)."""
    info = open_raster(path)
    tiles = tile_grid(info, gsd_m or info.gsd_m, tile_px=tile_px, overlap_px=overlap_px)
    worst = 0.0
    for tile in tiles:
        data, valid = _read_bands(info, tile, [1, 2])
        cols, rows = np.meshgrid(np.arange(tile.width) + 0.5, np.arange(tile.height) + 0.5)
        x, y = tile.transform @ (cols, rows)
        if CRS.from_user_input(tile.crs) != CRS.from_user_input(info.crs):
            x, y = Transformer.from_crs(tile.crs, info.crs, always_xy=True).transform(x, y)
        ec, er = ~info.transform @ (np.asarray(x), np.asarray(y))
        inside = (
            valid
            & (ec > EDGE_PX)
            & (ec < info.width - EDGE_PX)
            & (er > EDGE_PX)
            & (er < info.height - EDGE_PX)
        )
        if inside.any():
            err = np.maximum(np.abs(data[0] - ec), np.abs(data[1] - er))[inside]
            worst = max(worst, float(err.max()))
    return worst, len(tiles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raster", type=Path, help="measure a ramp twin of this raster")
    parser.add_argument("--gsd", type=float, help="tile ground resolution, m (default: native)")
    parser.add_argument("--tile-px", type=int, default=1024)
    parser.add_argument("--overlap-px", type=int, default=256)
    args = parser.parse_args()
    print(machine_line())
    with tempfile.TemporaryDirectory() as tmp:
        if args.raster:
            with rasterio.open(args.raster) as src:
                crs, transform, size = src.crs, src.transform, (src.width, src.height)
            label = args.raster.name
        else:
            crs, transform, size = DEFAULT_CRS, DEFAULT_TRANSFORM, DEFAULT_SIZE
            label = "synthetic UTM raster"
        twin = write_ramp_twin(Path(tmp) / "twin.tif", crs, transform, *size)
        info = open_raster(twin)
        worst, n = worst_offset(twin, args.gsd, args.tile_px, args.overlap_px)
    print(
        f"{label}: {info.crs.to_string()}, {size[0]} x {size[1]} px at "
        f"{info.gsd_m:.4g} m; {n} tiles of {args.tile_px} px at "
        f"{args.gsd or info.gsd_m:.4g} m\n"
        f"worst content offset against the tile transform: {worst:.3g} raster px"
    )


if __name__ == "__main__":
    main()
