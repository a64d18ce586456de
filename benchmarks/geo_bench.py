"""Geo-layer benchmarks. Prints figures; asserts nothing about time.

1. ``read_tile`` throughput (tiles/s, median of 5 runs) for 1024-px tiles from a generated
   20,000 x 20,000 px tiled GeoTIFF with overviews, at native resolution and at 2x
   downsampling.
2. 100,000 boxes -> polygons -> EPSG:4326 -> GeoJSON text with the vectorised code, against
   a per-feature Python loop (shapely box, pyproj per feature, json) in the same run.

Run: ``make bench`` or ``.venv/bin/python benchmarks/geo_bench.py [--size 20000]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from machine import machine_line
from pyproj import CRS, Transformer
from rasterio.enums import Resampling
from shapely import box
from shapely.geometry import mapping

from ocgnet_geo.geo.boxes import boxes_to_polygons
from ocgnet_geo.geo.export import geojson_feature_collection
from ocgnet_geo.geo.grid import TileSpec, tile_grid
from ocgnet_geo.geo.raster import open_raster, read_tile

OUT = Path(__file__).parent / "out"
RUNS = 5


def make_big_raster(path: Path, size: int) -> Path:
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp.tif")
    block = 1024
    rows, cols = np.mgrid[0:block, 0:block]
    with rasterio.open(
        tmp,
        "w",
        driver="GTiff",
        width=size,
        height=size,
        count=3,
        dtype="uint8",
        crs="EPSG:32632",
        transform=Affine(0.3, 0, 465000, 0, -0.3, 5260000),
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="deflate",
    ) as dst:
        for r0 in range(0, size, block):
            for c0 in range(0, size, block):
                h, w = min(block, size - r0), min(block, size - c0)
                texture = ((cols + c0) * 7 + (rows + r0) * 13) % 256
                data = np.stack([texture, texture[::-1], texture.T])[:, :h, :w].astype(np.uint8)
                dst.write(data, window=((r0, r0 + h), (c0, c0 + w)))
        dst.build_overviews([2, 4, 8, 16], Resampling.average)
    tmp.rename(path)
    return path


def bench_read_tile(path: Path) -> None:
    info = open_raster(path)
    print(
        f"raster: {info.width} x {info.height} px, {path.stat().st_size / 1e6:.0f} MB on disk, overviews {info.overview_factors}"
    )
    for label, factor in (("native", 1), ("2x downsampled", 2)):
        tiles = tile_grid(info, info.gsd_m * factor, tile_px=1024, overlap_px=256)
        sample = tiles[len(tiles) // 3 : len(tiles) // 3 + 8]
        read_tile(info, sample[0])  # warm-up
        rates = []
        for _ in range(RUNS):
            start = time.perf_counter()
            for tile in sample:
                read_tile(info, tile)
            rates.append(len(sample) / (time.perf_counter() - start))
        print(
            f"read_tile 1024 px, {label:15s}: {statistics.median(rates):6.1f} tiles/s (median of {RUNS} runs of {len(sample)} tiles)"
        )


def per_feature_loop(boxes: np.ndarray, tile: TileSpec) -> str:
    to_wgs84 = Transformer.from_crs(tile.crs, CRS.from_epsg(4326), always_xy=True)
    features = []
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        (ax, ay), (bx, by) = tile.transform @ (x0, y0), tile.transform @ (x1, y1)
        polygon = box(min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))
        lon, lat = to_wgs84.transform(*polygon.exterior.xy)
        ring = [[round(x, 7), round(y, 7)] for x, y in zip(lon, lat, strict=True)]
        geometry = mapping(box(0, 0, 1, 1))
        geometry["coordinates"] = [ring]
        features.append({"type": "Feature", "properties": {"rank": i + 1}, "geometry": geometry})
    return json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":"))


def vectorised(boxes: np.ndarray, tile: TileSpec) -> str:
    polygons = boxes_to_polygons(boxes, tile)
    doc = geojson_feature_collection(
        polygons, [{"rank": i + 1} for i in range(len(boxes))], tile.crs
    )
    return json.dumps(doc, separators=(",", ":"))


def bench_geojson(n: int) -> None:
    rng = np.random.default_rng(0)
    tile = TileSpec(
        "t", CRS.from_epsg(32632), Affine(0.3, 0, 465000, 0, -0.3, 5260000), 1024, 1024, 0.3
    )
    xy = rng.uniform(0, 1000, (n, 2))
    boxes = np.column_stack([xy, xy + rng.uniform(5, 60, (n, 2))])
    times_vec, times_loop = [], []
    for _ in range(RUNS):
        start = time.perf_counter()
        text = vectorised(boxes, tile)
        times_vec.append(time.perf_counter() - start)
    for _ in range(3):
        start = time.perf_counter()
        per_feature_loop(boxes, tile)
        times_loop.append(time.perf_counter() - start)
    vec, loop = statistics.median(times_vec), statistics.median(times_loop)
    print(f"{n:,} boxes -> polygons -> EPSG:4326 -> GeoJSON text ({len(text) / 1e6:.0f} MB):")
    print(f"  vectorised        {vec:6.2f} s (median of {RUNS})   target < 1 s")
    print(f"  per-feature loop  {loop:6.2f} s (median of 3)")
    print(f"  speed-up          {loop / vec:6.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=20_000, help="raster side in pixels")
    parser.add_argument("--boxes", type=int, default=100_000)
    args = parser.parse_args()
    print(machine_line())
    OUT.mkdir(exist_ok=True)
    start = time.perf_counter()
    path = make_big_raster(OUT / f"bench_{args.size}.tif", args.size)
    print(f"(test raster ready in {time.perf_counter() - start:.0f} s)")
    bench_read_tile(path)
    bench_geojson(args.boxes)


if __name__ == "__main__":
    main()
