"""Matcher benchmark: warm and cold clicks of the bundled matcher beside official-size OCGNet,
timed in the same run. Prints figures; asserts nothing about time.

Raster: the bundled Zürich crop (0.5 m/px, EPSG:2056) mirror-tiled to 2000 x 2000 px = 1 km²,
so every tile holds real texture; photo and click: the bundled demo query.

* warm click: a 300 x 300 m bbox (tiles cached), full heading search, a click moved by a
  pixel or more each time, each path on its own row (so the photo's templates are built
  again, as for a new click: interleaved paths once shared them);
  with and without the geometric refinement (the default refines the best 3 candidates);
* cold search: the whole 1 km² (cache emptied before each run);
* the same two for OCGNet at official size (DarkNet-53 + ResNet-18, random weights: speed does
  not depend on them) in its shipped precision (``auto``).

Median of ``--runs`` (default 5) after one warm-up, paths interleaved round by round.
Run: ``.venv/bin/python benchmarks/matcher_bench.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import rasterio

sys.path.insert(0, str(Path(__file__).parent))
from locate_bench import OUT, make_model
from machine import machine_line
from model_bench import timed_interleaved

from ocgnet_geo.cli.demo import demo_case


def mirrored_raster(path: Path, size: int = 2000) -> Path:
    """The demo crop mirror-tiled to ``size`` px square (same CRS and resolution)."""
    if path.exists():
        return path
    case = demo_case()
    with rasterio.open(case.raster) as src:
        data, profile, t = src.read(), src.profile, src.transform
    h, w = data.shape[1:]
    reps = (int(np.ceil(size / h)) + 1, int(np.ceil(size / w)) + 1)
    row = np.concatenate([data, data[:, :, ::-1]] * ((reps[1] + 1) // 2), axis=2)
    full = np.concatenate([row, row[:, ::-1, :]] * ((reps[0] + 1) // 2), axis=1)[:, :size, :size]
    profile.update(width=size, height=size, tiled=True, blockxsize=256, blockysize=256)
    profile.update(transform=rasterio.Affine(t.a, 0, t.c, 0, t.e, t.f), compress="deflate")
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(full)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from ocgnet_geo.locate import Locator

    torch.set_num_threads(args.threads)
    case = demo_case()
    raster = mirrored_raster(OUT / "zurich-mirrored-1km2.tif")
    with rasterio.open(raster) as ds:
        b = ds.bounds
    cx, cy = (b.left + b.right) / 2, (b.bottom + b.top) / 2
    bbox300 = (cx - 150, cy - 150, cx + 150, cy + 150)
    matcher = Locator.demo(threads=args.threads)
    ocgnet = Locator.from_weights(make_model("official"), threads=args.threads)
    click = case.click

    def warm(loc, refine=None, row=0):
        clicks = iter(range(10**6))

        def run():  # a new click each time: the photo's templates are built again (each
            dx = next(clicks) % 7 - 3  # path its own row: no path reuses another's templates)
            return loc.locate(
                case.query,
                (click[0] + dx, click[1] + row),
                raster,
                bbox=bbox300,
                bbox_crs="EPSG:2056",
                refine=refine,
            )

        return run

    def cold(loc):
        def run():
            loc.cache.clear()
            loc._masks.clear()
            return loc.locate(case.query, click, raster, refine="none")

        return run

    print(machine_line())
    print(
        f"matcher fp32, OCGNet {ocgnet.precision} ({getattr(ocgnet.model, 'precision_reason', '')})"
    )
    for loc in (matcher, ocgnet):  # fill the caches of the 300 m area
        warm(loc, "none")()
    times = timed_interleaved(
        {
            "matcher warm, refine geometric": warm(matcher),
            "matcher warm, refine none": warm(matcher, "none", row=1),
            "OCGNet-official warm": warm(ocgnet, "none", row=2),
        },
        args.runs,
    )
    cold_runs = max(1, min(args.runs, 3))
    times |= timed_interleaved(
        {"matcher cold 1 km²": cold(matcher), "OCGNet-official cold 1 km²": cold(ocgnet)},
        cold_runs,
        warmup=False,
    )
    med = {k: statistics.median(v) for k, v in times.items()}
    tiles = {
        name: loc.locate(case.query, click, raster, refine="none").tiles_searched
        for name, loc in (("matcher", matcher), ("ocgnet", ocgnet))
    }
    print(
        f"1 km² = {tiles['matcher']} matcher tiles (512 px at 0.5 m) / "
        f"{tiles['ocgnet']} OCGNet tiles (1024 px at 0.5 m); warm: 300 x 300 m bbox"
    )
    print(f"{'path':34s} {'median s':>9s} {'runs':>5s}  ratio vs OCGNet-official (same run)")
    for name, value in med.items():
        base = med["OCGNet-official cold 1 km²" if "cold" in name else "OCGNet-official warm"]
        print(f"{name:34s} {value:9.3f} {len(times[name]):5d}  {value / base:.2f}")


if __name__ == "__main__":
    main()
