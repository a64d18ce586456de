"""Fixture builders shared by tests/data and tests/train (no file from /work/shared).

``make_scene`` writes a georeferenced RGB GeoTIFF (UTM 33N, 0.1 m) of a grey textured ground
with solid-coloured rectangular "buildings", plus their footprints as GeoJSON in EPSG:4326.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from affine import Affine

CRS = "EPSG:32633"
ORIGIN = (500000.0, 5000000.0)  # top-left, metres
COLOURS = [
    (220, 30, 30),
    (30, 200, 40),
    (40, 60, 230),
    (240, 220, 20),
    (230, 30, 220),
    (20, 220, 230),
]


def make_scene(
    folder: Path, size_px: int = 1600, gsd: float = 0.1, seed: int = 0
) -> tuple[Path, Path, list]:
    """Returns (raster path, footprints GeoJSON path, [(polygon in CRS, colour), ...])."""
    rng = np.random.default_rng(seed)
    img = (110 + rng.normal(0, 12, (size_px, size_px, 3))).clip(0, 255).astype(np.uint8)
    x0, y0 = ORIGIN
    objects = []
    step = size_px // 4
    k = 0
    for j in range(4):
        for i in range(4):
            w, h = rng.integers(60, 110, size=2)
            c0 = i * step + int(rng.integers(20, step - w - 20))
            r0 = j * step + int(rng.integers(20, step - h - 20))
            colour = COLOURS[k % len(COLOURS)]
            img[r0 : r0 + h, c0 : c0 + w] = colour
            poly = shapely.box(
                x0 + c0 * gsd, y0 - (r0 + h) * gsd, x0 + (c0 + w) * gsd, y0 - r0 * gsd
            )
            objects.append((poly, colour))
            k += 1
    path = folder / "scene.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=size_px,
        height=size_px,
        count=3,
        dtype="uint8",
        crs=CRS,
        transform=Affine(gsd, 0, x0, 0, -gsd, y0),
    ) as dst:
        dst.write(img.transpose(2, 0, 1))
    gdf = gpd.GeoDataFrame(
        {"building": ["house"] * len(objects)}, geometry=[p for p, _ in objects], crs=CRS
    ).to_crs("EPSG:4326")
    vec = folder / "buildings.geojson"
    gdf.to_file(vec, driver="GeoJSON")
    return path, vec, objects
