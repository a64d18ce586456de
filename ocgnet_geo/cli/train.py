"""``ocgnet-geo synth``, ``train`` and ``evaluate`` (registered by :func:`add_commands`).

Heavy imports (torch, rasterio) happen inside the commands, so ``ocgnet-geo --help`` stays
fast and ``import ocgnet_geo`` stays torch-free.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ocgnet_geo.errors import InputError


class TrainArgumentError(InputError):
    """A malformed synth/train/evaluate argument."""


#: ``--gt-boxes`` of ``train`` and ``evaluate`` (the choices are
#: :data:`ocgnet_geo.data.cvogl.GT_BOXES`, spelled out here to keep ``--help`` torch-free).
GT_BOXES_ARG: dict = {
    "choices": ["int", "float"],
    "default": "int",
    "help": "ground-truth boxes: int (default) truncates them to whole pixels of the stored "
    "satellite image as the reference loader does (np.array(bbox, dtype=int)), which is how "
    "the paper's numbers were computed; float uses the exact boxes. evaluate reports both "
    "(report gt_boxes); this one gives the summary, per-class and sweep numbers. train: for "
    "the training targets and validation (default: the config's gt_boxes, int)",
}


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add the three subcommands to the ``ocgnet-geo`` subparsers."""
    p = sub.add_parser(
        "synth",
        help="write a synthetic drone/satellite dataset in CVOGL layout",
        description="Render drone views (never street-level: an orthophoto has no facades) from a "
        "high-resolution orthophoto and satellite tiles from a coarser one, split by area.",
    )
    p.add_argument(
        "--drone", required=True, help="high-resolution georeferenced raster (drone source)"
    )
    p.add_argument(
        "--satellite", help="coarser raster of the same area (default: --drone resampled)"
    )
    p.add_argument("--objects", help="vector file of object footprints (default: random regions)")
    p.add_argument("--out", required=True, help="output root; the dataset goes to OUT/<--dataset>")
    p.add_argument("--dataset", default="CVOGL_DroneAerial")
    p.add_argument("--tile-size", type=int, default=256, help="satellite tile side, pixels")
    p.add_argument("--tile-gsd", type=float, default=0.5, help="satellite tile metres per pixel")
    p.add_argument("--query-size", type=int, default=256, help="drone view side, pixels")
    p.add_argument("--views", type=int, default=1, help="samples per object")
    p.add_argument("--pitch", default="0,60", help="MIN,MAX off-nadir pitch, degrees")
    p.add_argument(
        "--yaw", default="0,360", help="MIN,MAX heading, degrees clockwise from north (e.g. -30,30)"
    )
    p.add_argument(
        "--frame", default="0.2,0.45", help="MIN,MAX object size as a fraction of the view width"
    )
    p.add_argument("--block-factor", type=float, default=2.0, help="split block side / tile side")
    p.add_argument("--class-field", help="column of --objects holding the class name")
    p.add_argument("--class-name", default="object", help="class name when no column gives one")
    p.add_argument("--max-objects", type=int, default=0)
    p.add_argument(
        "--holdout",
        help="SIDE,FRACTION: the SIDE (east/west/north/south) strip is the test split, the rest train",
    )
    p.add_argument(
        "--whole-place",
        action="store_true",
        help="no split: the whole place is one test block (leave-one-place-out evaluation)",
    )
    p.add_argument("--region-size", default="8,25", help="MIN,MAX side of random regions, metres")
    p.add_argument(
        "--regions-per-ha",
        type=float,
        default=0.0,
        help="random regions per hectare (0: 8 per block)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--no-metadata",
        action="store_true",
        help="write the drone views without EXIF GPS/focal length and DJI XMP (default: with, "
        "GPS 5-15 m off, yaw with noise and 3%% flipped by 180°)",
    )
    p.add_argument("--preview", help="also write a contact-sheet PNG of the train split")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(run=cmd_synth)

    p = sub.add_parser(
        "train",
        help="train or fine-tune OCGNet (CPU, CUDA, torchrun DDP)",
        description="CONFIG is a preset (paper, lite-cpu) or a TOML file. Multi-GPU/multi-node: "
        "torchrun --nproc_per_node=N -m ocgnet_geo.cli train CONFIG ...",
    )
    p.add_argument("config", help="preset name or TOML file")
    p.add_argument("--data", help="dataset root (holds DATASET/)")
    p.add_argument("--dataset", help="dataset folder name (default from the config)")
    p.add_argument("--out", help="run folder")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--workers", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--sigma", type=float, help="click-map sigma fraction (sigma sweep)")
    p.add_argument(
        "--ablation",
        action="append",
        choices=["no-mhca", "no-location-enhancement", "detgeo-clickmap"],
        help="switch a component off (repeatable)",
    )
    p.add_argument("--init", help="fine-tune from weights (.safetensors, .pth.tar, checkpoint.pt)")
    p.add_argument(
        "--init-backbone",
        action="append",
        metavar="NAME=PATH",
        help="torchvision ImageNet weights for a backbone (mobilenet_v2=..., resnet18=...)",
    )
    p.add_argument(
        "--freeze-backbones", action="store_true", help="few-shot: freeze both backbones"
    )
    p.add_argument("--gt-boxes", **{**GT_BOXES_ARG, "default": None})
    p.add_argument("--max-steps", type=int, help="steps per epoch (smoke tests)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser(
        "merge", help="merge CVOGL-layout datasets (e.g. synthetic sets of several places)"
    )
    p.add_argument("parts", nargs="+", help="ROOT/DATASET folders to merge")
    p.add_argument("--out", required=True, help="output root")
    p.add_argument("--dataset", default="CVOGL_DroneAerial", help="merged dataset folder name")
    p.set_defaults(run=cmd_merge)

    p = sub.add_parser("evaluate", help="acc@0.25/0.5, mean IoU, per class, top-3, error in metres")
    p.add_argument("--data", help="a CVOGL-layout dataset root (not with --real)")
    p.add_argument(
        "--real",
        metavar="DIR",
        help="real photos: DIR/objects.json (docs/real-photos.md); each method (--methods) "
        "locates every object with the bundled model, then every photo is searched in the "
        "other places' rasters (negatives)",
    )
    p.add_argument(
        "--methods",
        default="matcher,sift,xfeat,both",
        help="--real: comma-separated methods: matcher (template only), sift, xfeat, both",
    )
    p.add_argument(
        "--outline", default="both", help="--real: outline source (photo, raster or both)"
    )
    p.add_argument(
        "--negative-rasters",
        nargs="*",
        default=[],
        help="--real: more rasters of other places to search every photo in",
    )
    p.add_argument("--no-negatives", action="store_true", help="--real: skip the negatives")
    p.add_argument("--dataset", default="CVOGL_DroneAerial")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument(
        "--weights", help=".safetensors, official .pth.tar or checkpoint.pt (not with --real)"
    )
    p.add_argument(
        "--view", default="drone", choices=["drone", "ground"], help="for official .pth.tar"
    )
    p.add_argument(
        "--sigma", type=float, nargs="+", help="click-map sigma fraction(s); several = sweep"
    )
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--report", help="folder for report.json, report.md and PNG plots")
    p.add_argument(
        "--every", type=int, default=1, help="evaluate every N-th sample only (quick checks)"
    )
    p.add_argument(
        "--baselines",
        action="store_true",
        help="also score the tile-centre and random-anchor baselines on the same queries",
    )
    p.add_argument(
        "--leave-one-place-out",
        action="store_true",
        help="matcher weights only: --data holds one folder per place (PLACE/.../DATASET); each "
        "place is scored with the calibration fitted on the others; with --baselines, also the "
        "ablations (no rotation/scale search, no verification, SIFT alone)",
    )
    p.add_argument(
        "--runs-dir",
        help="matcher: keep each set's search results here (re-scoring and refits skip the search)",
    )
    p.add_argument("--gt-boxes", **GT_BOXES_ARG)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_evaluate)


def _pair(text: str, name: str) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in text.split(","))
    except ValueError:
        raise TrainArgumentError(f"{name} {text!r}: expected MIN,MAX") from None
    return a, b


def _holdout(text: str) -> tuple[str, float]:
    try:
        side, fraction = text.split(",")
        return side.strip(), float(fraction)
    except ValueError:
        raise TrainArgumentError(
            f"--holdout {text!r}: expected SIDE,FRACTION (e.g. east,0.3)"
        ) from None


def cmd_synth(args: argparse.Namespace) -> int:
    from ocgnet_geo.data.synth import SynthOptions, generate

    opts = SynthOptions(
        dataset=args.dataset,
        tile_size=args.tile_size,
        tile_gsd_m=args.tile_gsd,
        query_size=args.query_size,
        views_per_object=args.views,
        pitch_deg=_pair(args.pitch, "--pitch"),
        yaw_deg=_pair(args.yaw, "--yaw"),
        frame_fraction=_pair(args.frame, "--frame"),
        block_factor=args.block_factor,
        class_field=args.class_field,
        default_class=args.class_name,
        max_objects=args.max_objects,
        holdout=_holdout(args.holdout) if args.holdout else None,
        whole_place=args.whole_place,
        region_size_m=_pair(args.region_size, "--region-size"),
        regions_per_ha=args.regions_per_ha,
        seed=args.seed,
        metadata=not args.no_metadata,
    )
    summary = generate(
        args.drone, args.out, args.satellite, args.objects, opts, progress=not args.json
    )
    if args.preview:
        from ocgnet_geo.data.preview import contact_sheet

        contact_sheet(args.out, args.dataset, "train", args.preview)
    if args.json:
        print(json.dumps(summary.__dict__))
    else:
        print(
            f"wrote {summary.out}: samples {summary.samples}, objects {summary.objects}, dropped {summary.dropped}"
        )
        print("note: drone views only (street-level views cannot be rendered from an orthophoto)")
    return 0


def _backbones(items: list[str] | None, base: dict[str, str]) -> dict[str, str] | None:
    if not items:
        return None
    out = dict(base)
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or name not in ("mobilenet_v2", "resnet18"):
            raise TrainArgumentError(
                f"--init-backbone {item!r}: expected mobilenet_v2=PATH or resnet18=PATH"
            )
        if not Path(path).is_file():
            raise TrainArgumentError(f"--init-backbone {item!r}: file {path} not found")
        out[name] = path
    return out


def cmd_merge(args: argparse.Namespace) -> int:
    from ocgnet_geo.data.merge import merge_datasets

    parts = []
    for text in args.parts:
        folder = Path(text)
        parts.append((folder.parent, folder.name))
    counts = merge_datasets(parts, args.out, args.dataset)
    print(f"wrote {Path(args.out) / args.dataset}: samples {counts}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from ocgnet_geo.train.config import load_train_config

    cfg = load_train_config(args.config)
    model = dict(cfg.model)
    if args.sigma is not None:
        model["sigma"] = args.sigma
    for ab in args.ablation or []:
        model.update(
            {
                "no-mhca": {"mhca": False},
                "no-location-enhancement": {"location_enhancement": False},
                "detgeo-clickmap": {"clickmap": "detgeo"},
            }[ab]
        )
    cfg = cfg.replace(
        data=args.data,
        dataset=args.dataset,
        out=args.out,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        workers=args.workers,
        seed=args.seed,
        init=args.init,
        max_steps_per_epoch=args.max_steps,
        model=model,
        freeze_backbones=True if args.freeze_backbones else None,
        init_backbones=_backbones(args.init_backbone, cfg.init_backbones),
        gt_boxes=args.gt_boxes,
    )
    if not cfg.data:
        raise TrainArgumentError("--data: no dataset root given (argument or config key 'data')")
    cfg.model_config()
    from ocgnet_geo.train.loop import train

    row = train(cfg, resume=args.resume, progress=not args.no_progress, device=args.device)
    if row:
        print(json.dumps(row))
    return 0


def _baselines(args: argparse.Namespace, config, settings: dict) -> dict:
    """Baseline summaries on the evaluated split; median size from ``train`` when it has samples."""
    from ocgnet_geo.data.records import load_split, split_path
    from ocgnet_geo.train.baselines import median_size_m, run_baselines, tile_boxes

    root, folder = Path(args.data), Path(args.data) / args.dataset
    records = load_split(split_path(root, args.dataset, args.split))[:: max(1, args.every)]
    gt, gsd = tile_boxes(records, folder, config.tile_size, args.gt_boxes)
    size_from = args.split
    ref_path = split_path(root, args.dataset, "train")
    ref = load_split(ref_path) if ref_path.is_file() else []
    if ref:
        size_from = "train"
        size = median_size_m(*tile_boxes(ref, folder, config.tile_size, args.gt_boxes))
    else:
        size = median_size_m(gt, gsd)
    settings["baseline_median_size_m"] = f"{size[0]:.1f} x {size[1]:.1f} (from {size_from})"
    accs = run_baselines(
        gt, gsd, [r.class_name for r in records], config.tile_size, config.anchors, size
    )
    return {name: acc.summary() for name, acc in accs.items()}


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ocgnet_geo.data.cvogl import GT_BOXES, CVOGLDataset
    from ocgnet_geo.train.evaluate import evaluate_boxes, load_weights
    from ocgnet_geo.train.report import build_report, markdown, write_report

    if args.real:
        return _evaluate_real(args)
    for flag in ("data", "weights"):
        if not getattr(args, flag):
            raise TrainArgumentError(
                f"--{flag}: required (or evaluate real photos with --real DIR)"
            )
    if _is_matcher(args.weights):
        return _evaluate_matcher(args)
    if args.leave_one_place_out:
        raise TrainArgumentError(
            "--leave-one-place-out: only for the matcher (its calibration is refitted per place)"
        )
    sigmas = args.sigma or [None]
    runs = []
    for sigma in sigmas:
        model = load_weights(args.weights, sigma=sigma, view=args.view)
        ds = CVOGLDataset(args.data, args.dataset, args.split, model.config)
        if args.every > 1:
            from torch.utils.data import Subset

            ds = Subset(ds, range(0, len(ds), args.every))
        by_mode = evaluate_boxes(
            model,
            ds,
            [f"bbox_{mode}" for mode in GT_BOXES],
            args.batch_size,
            args.device or "cpu",
            args.workers,
            progress=not args.json,
        )
        runs.append((model.config.sigma, {m: by_mode[f"bbox_{m}"] for m in GT_BOXES}))
    sigma0, accs0 = runs[0]
    acc0 = accs0[args.gt_boxes]
    settings = {
        "every": args.every,
        "weights": str(args.weights),
        "dataset": args.dataset,
        "split": args.split,
        "sigma": sigma0,
        "gt_boxes": args.gt_boxes,
    }
    sweep = [{"sigma": s, **a[args.gt_boxes].summary()} for s, a in runs] if len(runs) > 1 else None
    baselines = _baselines(args, model.config, settings) if args.baselines else None
    if args.report:
        report = write_report(Path(args.report), acc0, settings, sweep, baselines, accs0)
    else:
        report = build_report(acc0, settings, baselines, accs0)
        if sweep:
            report["sigma_sweep"] = sweep
    if args.json:
        print(json.dumps(report))
    else:
        sys.stdout.write(markdown(report))
    return 0


def _is_matcher(weights: str) -> bool:
    from ocgnet_geo.models.matcher import family_of

    return str(weights).endswith(".safetensors") and family_of(weights) == "matcher"


def _evaluate_real(args: argparse.Namespace) -> int:
    """``evaluate --real DIR``: per-object rows, per-method summaries, negatives."""
    import json
    import sys

    from ocgnet_geo.locate import Locator
    from ocgnet_geo.train.real_eval import evaluate_real, markdown

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    say = (lambda line: None) if args.json else (lambda line: print(line, file=sys.stderr))
    report = evaluate_real(
        args.real,
        Locator.demo(),
        methods=methods,
        outline=args.outline,
        negatives=not args.no_negatives,
        extra_rasters=args.negative_rasters,
        say=say,
    )
    if args.report:
        from pathlib import Path

        folder = Path(args.report)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "real-report.json").write_text(json.dumps(report, indent=1))
        (folder / "real-report.md").write_text(markdown(report))
    print(json.dumps(report) if args.json else markdown(report))
    return 0


def _evaluate_matcher(args: argparse.Namespace) -> int:
    """``evaluate`` with matcher weights: one set under its own calibration, or every place
    under --data left out in turn (:mod:`ocgnet_geo.train.matcher_eval`)."""
    import tempfile

    from ocgnet_geo.train import matcher_eval as me
    from ocgnet_geo.train.report import build_report, markdown, write_report

    runs_dir = Path(args.runs_dir) if args.runs_dir else Path(tempfile.mkdtemp(prefix="runs-"))
    if args.leave_one_place_out:
        report = me.evaluate_places(
            Path(args.weights),
            Path(args.data),
            runs_dir,
            every=args.every,
            ablations=args.baselines,
            progress=not args.json,
        )
        text = me.markdown(report)
        if args.report:
            out = Path(args.report)
            out.mkdir(parents=True, exist_ok=True)
            (out / "report.json").write_text(json.dumps(report, indent=1, default=float) + "\n")
            (out / "report.md").write_text(text)
        print(json.dumps(report, default=float) if args.json else text, end="")
        return 0
    from ocgnet_geo.locate.matcher_model import MatcherTileModel
    from ocgnet_geo.locate.tile_model import weights_id
    from ocgnet_geo.models.matcher import load_matcher

    net = load_matcher(args.weights)
    model = MatcherTileModel(net, weights_id(Path(args.weights)))
    folder = Path(args.data) / args.dataset
    runs = me.collect(model, folder, folder.parent.name, every=args.every, progress=not args.json)
    acc, _ = me.score(runs, net.config.box_factor, net.config.temperature)
    settings = {
        "every": args.every,
        "weights": str(args.weights),
        "dataset": args.dataset,
        "split": "test",
        "refine": "geometric",
    }
    report = (
        write_report(Path(args.report), acc, settings)
        if args.report
        else build_report(acc, settings)
    )
    print(json.dumps(report) if args.json else markdown(report), end="")
    return 0
