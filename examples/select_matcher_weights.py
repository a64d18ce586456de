"""How the matcher's extent and shape weights were chosen, from the stored runs.

Prints, for a grid of (extent weight, shape weight): the leave-one-place-out acc@0.5 per
place and overall on footprint objects (the weights chosen on all places, as the report's
constants are), then the stricter protocol: for each held-out place the pair that scores best
on the *other* places, and the held-out place's figures under it. Object sizes come from the
segmentation head of each fold (``--colour`` for the colour segmentation instead).

Needs the runs and heads that ``make matcher-model`` caches (it searches nothing itself).
Usage: python examples/select_matcher_weights.py [--data runs/matcher-data]
  [--runs runs/matcher-runs] [--every 1] [--colour]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

EXTENT = (0.5, 0.75, 1.0)
SHAPE = (0.0, 0.5, 1.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="runs/matcher-data")
    parser.add_argument("--runs", default="runs/matcher-runs")
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--colour", action="store_true")
    args = parser.parse_args()

    from ocgnet_geo.train import matcher_eval as me
    from ocgnet_geo.train.segment_folds import attach_fold_segments, fold_segments

    runs_dir, data = Path(args.runs), Path(args.data)
    cache = runs_dir / "segment-heads"
    heads = {p.stem: p for p in cache.glob(f"head_*_every{args.every}_*.safetensors")}
    if not heads:
        print(f"{cache}: no segmentation heads; run make matcher-model first", file=sys.stderr)
        return 2
    runs = me.load_cached_runs(data, runs_dir, {}, args.every)
    if not args.colour:
        runs = attach_fold_segments(runs, fold_segments({}, data, cache, args.every))
    b = me.buildings_only(runs)
    places = np.array(b.place)
    grid = list(itertools.product(EXTENT, SHAPE))
    print("| extent | shape | " + " | ".join(sorted(set(places))) + " | overall | top-3 |")
    for ew, sw in grid:
        lopo = me.leave_one_place_out(b, True, ew, sw)
        hit = np.concatenate([v["arrays"]["hit50"] for v in lopo.values()])
        top3 = np.concatenate([v["arrays"]["top3"] for v in lopo.values()])
        cells = " | ".join(f"{v['summary']['acc50']:.2f}" for v in lopo.values())
        print(f"| {ew} | {sw} | {cells} | {hit.mean():.3f} | {top3.mean():.3f} |", flush=True)
    print("\nweights chosen on the other places:")
    hits = []
    for place in sorted(set(places)):
        held = places == place
        fold = b.for_fold(place)
        train = fold.subset(~held)

        def train_acc(g, train=train):
            cal = me.fit(train, True, *g)
            acc, _ = me.score(train, cal["box_factor"], cal["temperature"], True, *g)
            return acc.summary()["acc50"]

        best = max(grid, key=train_acc)
        cal = me.fit(train, True, *best)
        acc, _ = me.score(fold.subset(held), cal["box_factor"], cal["temperature"], True, *best)
        hits.append(acc.arrays()["hit50"])
        s = acc.summary()
        print(f"{place}: chosen {best}, acc@0.5 {s['acc50']:.2f}, top-3 {s['top3']:.2f}")
    print(f"overall acc@0.5 {np.concatenate(hits).mean():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
