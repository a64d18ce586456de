"""Locate-pipeline benchmark. Prints figures; asserts nothing about time.

1. A generated 4096 x 4096 px raster at the model's ground resolution (25 tiles of 1024 px
   with 256 px overlap): cold search (every tile encoded; median of --runs runs, the cache
   emptied before each) and second click on the same area (median of 5), with their ratio
   (target: second click >= 20x faster).
2. Peak RSS of a search over a 1 km² bbox inside a 30,000 x 30,000 px tiled raster, in a
   fresh process (target: under 2 GB).

The model is the full-size OCGNet (DarkNet-53 + ResNet-18) with random weights, 2 threads
(``--model light`` uses the MobileNetV2 variant). Run: ``.venv/bin/python benchmarks/locate_bench.py``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from machine import machine_line
from PIL import Image

OUT = Path(__file__).parent / "out"
ORIGIN = (465000.0, 5260000.0)  # EPSG:32632


def make_model(kind: str) -> Path:
    import torch

    from ocgnet_geo.models.ocgnet import ModelConfig, OCGNet, save_model

    path = OUT / f"bench-{kind}.safetensors"
    if not path.exists():
        torch.manual_seed(0)
        config = ModelConfig.official() if kind == "official" else ModelConfig.light(tile_size=1024)
        config = ModelConfig.from_dict({**config.to_dict(), "tile_gsd_m": 0.5})
        save_model(OCGNet(config).eval(), path)
    return path


def make_raster(path: Path, size: int, painted: tuple[int, int, int, int] | None = None) -> Path:
    """A tiled GeoTIFF at 0.5 m/px; only ``painted`` (col0, row0, col1, row1) holds texture
    when given (the rest stays sparse), else everything."""
    if path.exists():
        return path
    col0, row0, col1, row1 = painted or (0, 0, size, size)
    rng = np.random.default_rng(0)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=size,
        height=size,
        count=3,
        dtype="uint8",
        crs="EPSG:32632",
        transform=Affine(0.5, 0, ORIGIN[0], 0, -0.5, ORIGIN[1]),
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="deflate",
        sparse_ok=True,
    ) as dst:
        block = 1024
        for r in range(row0, row1, block):
            for c in range(col0, col1, block):
                h, w = min(block, row1 - r), min(block, col1 - c)
                dst.write(
                    rng.integers(0, 255, (3, h, w), dtype=np.uint8), window=((r, r + h), (c, c + w))
                )
    return path


def make_photo(path: Path) -> Path:
    if not path.exists():
        Image.fromarray(
            np.random.default_rng(1).integers(0, 255, (480, 640, 3), dtype=np.uint8)
        ).save(path)
    return path


def bench_clicks(weights: Path, photo: Path, runs: int) -> None:
    from ocgnet_geo.locate import Locator

    raster = make_raster(OUT / "locate_4096.tif", 4096)
    locator = Locator.from_weights(weights)
    cold, warm = [], []
    for _ in range(runs):
        locator.cache.clear()
        start = time.perf_counter()
        result = locator.locate(photo, (320, 240), raster)
        cold.append(time.perf_counter() - start)
    for i in range(5):
        start = time.perf_counter()
        locator.locate(photo, (100 + 50 * i, 200), raster)
        warm.append(time.perf_counter() - start)
    c, w = statistics.median(cold), statistics.median(warm)
    print(
        f"4096 x 4096 px at 0.5 m/px, {result.tiles_searched} tiles of {locator.model.tile_px} px ({locator.model.model_id})"
    )
    print(f"  cold search   {c:7.2f} s (median of {runs}: {', '.join(f'{v:.1f}' for v in cold)})")
    print(f"  second click  {w:7.3f} s (median of 5)")
    print(f"  ratio         {c / w:7.1f}x faster (target >= 20x)")


# Peak RSS from /proc (VmHWM): ru_maxrss survives fork+exec and would report the parent's peak.
CHILD = r"""
import json, sys, time
from ocgnet_geo.locate import Locator
weights, photo, raster, bbox = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
locator = Locator.from_weights(weights)
start = time.perf_counter()
result = locator.locate(photo, (320, 240), raster, bbox=bbox, bbox_crs="EPSG:32632")
print(json.dumps({"tiles": result.tiles_searched, "seconds": time.perf_counter() - start,
                  "max_rss_mb": int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024}))
"""


def bench_memory(weights: Path, photo: Path) -> None:
    size = 30_000
    start_px = 14_000  # a 1 km² (2000 x 2000 px) search area in the middle, painted with texture
    raster = make_raster(
        OUT / "locate_30000.tif",
        size,
        painted=(start_px - 512, start_px - 512, start_px + 2512, start_px + 2512),
    )
    x0, y1 = ORIGIN[0] + start_px * 0.5, ORIGIN[1] - start_px * 0.5
    bbox = [x0, y1 - 1000.0, x0 + 1000.0, y1]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(weights), str(photo), str(raster), json.dumps(bbox)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"1 km² search inside a {size:,} x {size:,} px raster ({raster.stat().st_size / 1e6:.0f} MB on disk):"
    )
    print(
        f"  {figures['tiles']} tiles, {figures['seconds']:.1f} s, peak RSS {figures['max_rss_mb']:.0f} MB (target < 2048 MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=["official", "light"], default="official")
    parser.add_argument("--runs", type=int, default=3, help="cold runs (each encodes every tile)")
    args = parser.parse_args()
    print(machine_line())
    import torch

    torch.set_num_threads(2)
    OUT.mkdir(exist_ok=True)
    weights = make_model(args.model)
    photo = make_photo(OUT / "photo.png")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.model} model")
    bench_clicks(weights, photo, args.runs)
    bench_memory(weights, photo)
    print(
        f"(this process: peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)"
    )


if __name__ == "__main__":
    main()
