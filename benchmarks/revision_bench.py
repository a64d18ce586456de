"""This checkout against another one (e.g. a worktree of an older commit): cold tile and warm
click of official-size OCGNet, timed in the same run, rounds interleaved. Prints figures.

Each round runs one child process per checkout (``PYTHONPATH`` pointing at it); the child
loads the model, searches a 1024 x 1024 px raster at 0.5 m/px (one tile) with the cache
emptied (cold) ``--cold`` times and with it full (warm) ``--warm`` times, and reports its
medians; the figures are the medians over rounds. Only the timed calls count, not process
start or model loading.

Run: ``git worktree add /tmp/base 8966590`` then
``.venv/bin/python benchmarks/revision_bench.py --baseline /tmp/base``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from machine import machine_line

HERE = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, statistics, sys, time
import numpy as np, rasterio, torch
from affine import Affine
from PIL import Image
torch.set_num_threads(2)
out = sys.argv[1]
from ocgnet_geo.locate import Locator
rng = np.random.default_rng(0)
raster = out + "/r.tif"
with rasterio.open(raster, "w", driver="GTiff", width=1024, height=1024, count=3, dtype="uint8",
                   crs="EPSG:32632", transform=Affine(0.5, 0, 465000, 0, -0.5, 5260000)) as ds:
    ds.write(rng.integers(0, 255, (3, 1024, 1024), dtype=np.uint8))
Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(out + "/q.png")
loc = Locator.from_weights(sys.argv[2], precision=sys.argv[3], threads=2)
def run():
    return loc.locate(out + "/q.png", (128, 128), raster)
run()
cold, warm = [], []
for _ in range(int(sys.argv[4])):
    loc.cache.clear()
    getattr(loc, "_masks", {}).clear()
    t = time.perf_counter(); run(); cold.append(time.perf_counter() - t)
for _ in range(int(sys.argv[5])):
    t = time.perf_counter(); run(); warm.append(time.perf_counter() - t)
print(json.dumps({"cold": statistics.median(cold), "warm": statistics.median(warm)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="the other checkout's folder")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cold", type=int, default=3)
    parser.add_argument("--warm", type=int, default=5)
    parser.add_argument("--precision", default="fp32")
    args = parser.parse_args()
    print(machine_line())

    sys.path.insert(0, str(Path(__file__).parent))
    from locate_bench import OUT, make_model

    OUT.mkdir(parents=True, exist_ok=True)
    weights = make_model("official")
    trees = {"baseline": Path(args.baseline).resolve(), "this checkout": HERE}
    figures: dict[str, dict[str, list[float]]] = {k: {"cold": [], "warm": []} for k in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            env = {**os.environ, "PYTHONPATH": str(tree)}
            work = OUT / f"rev-{name.replace(' ', '-')}"
            work.mkdir(parents=True, exist_ok=True)
            done = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    CHILD,
                    str(work),
                    str(weights),
                    args.precision,
                    str(args.cold),
                    str(args.warm),
                ],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                cwd=tree,
            )
            result = json.loads(done.stdout.strip().splitlines()[-1])
            for k in ("cold", "warm"):
                figures[name][k].append(result[k])
    print(
        f"official-size OCGNet, 1 tile of 1024 px, {args.precision}, 2 threads; "
        f"median of {args.rounds} rounds (each: median of {args.cold} cold, {args.warm} warm)"
    )
    base = {k: statistics.median(v) for k, v in figures["baseline"].items()}
    for name, values in figures.items():
        med = {k: statistics.median(v) for k, v in values.items()}
        print(
            f"{name:14s} cold {med['cold']:.3f} s ({med['cold'] / base['cold']:.3f}x)  "
            f"warm {med['warm']:.3f} s ({med['warm'] / base['warm']:.3f}x)"
        )


if __name__ == "__main__":
    main()
