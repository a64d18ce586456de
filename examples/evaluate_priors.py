"""Leave-one-place-out with and without the photo-metadata priors on the synthetic views of
``make matcher-data`` (which carry EXIF/XMP metadata); writes JSON + the Markdown table.

Usage: python examples/evaluate_priors.py [--data runs/matcher-data] [--every 3]
       [--out runs/priors-report]   (about 10 min on 2 cores with --every 3)
"""

import argparse
import json
import platform
from pathlib import Path

from ocgnet_geo.locate.bundled import default_model
from ocgnet_geo.train.priors_eval import evaluate_priors, markdown


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="runs/matcher-data")
    p.add_argument("--every", type=int, default=3)
    p.add_argument("--out", default="runs/priors-report")
    args = p.parse_args()
    import torch

    from ocgnet_geo.locate.precision import cpu_report

    report = evaluate_priors(default_model(), Path(args.data), every=args.every)
    report["machine"] = {
        "cpu": cpu_report(),
        "platform": platform.platform(),
        "torch_threads": torch.get_num_threads(),
        "precision": "fp32",
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1, default=float))
    table = markdown(report)
    out.with_suffix(".md").write_text(table)
    print(json.dumps(report["machine"]))
    print(table)


if __name__ == "__main__":
    main()
