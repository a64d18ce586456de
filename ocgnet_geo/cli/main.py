"""The ``ocgnet-geo`` command line.

argparse (standard library) rather than click/typer: no extra dependency in the worker's
environment, and subcommands, exit codes and help texts are all we need.

Exit status: 0 success, 2 bad input (one line on stderr naming the input), 1 internal error.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from ocgnet_geo import __version__
from ocgnet_geo.errors import InputError

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2
#: Default of --batch-mb (= ``ocgnet_geo.locate.DEFAULT_BATCH_BYTES``, not imported: the
#: parser must not import the pipeline).
DEFAULT_BATCH_MB = 256


class CommandError(InputError):
    """A command-line argument that is missing or malformed."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_OK
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning  # restored on exit
        return _run(args)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line for people: ``ocgnet-geo: warning: <message>``."""
    print(f"ocgnet-geo: warning: {message}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    """Run the command; map bad input to exit 2 (one line) and bugs to exit 1."""
    try:
        return args.run(args)
    except InputError as err:
        print(f"ocgnet-geo: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("ocgnet-geo: interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug, not a user mistake: keep the traceback for the report
        import traceback

        traceback.print_exc()
        print(
            "ocgnet-geo: internal error (the traceback above helps a bug report)", file=sys.stderr
        )
        return EXIT_INTERNAL


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as one line plus a hint, not the usage block first."""

    def error(self, message: str) -> NoReturn:
        self.exit(
            EXIT_BAD_INPUT,
            f"{self.prog}: error: {message}\n(see '{self.prog} --help')\n",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ocgnet-geo",
        description="Find an object clicked in a drone or street photo in a georeferenced raster (OCGNet).",
    )
    parser.add_argument("--version", action="version", version=f"ocgnet-geo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "locate", help="locate one clicked object", description="Locate one clicked object."
    )
    _add_search_args(p)
    p.add_argument("--query", required=True, help="the photo (JPEG, PNG, TIFF)")
    p.add_argument(
        "--click", required=True, help="X,Y of the object in photo pixels (x right, y down)"
    )
    p.add_argument("--out", help="write candidates: .geojson (EPSG:4326) or .gpkg (raster CRS)")
    p.add_argument(
        "--overlay", help="write an overlay PNG (photo + click | tile + boxes + attention)"
    )
    p.set_defaults(run=cmd_locate)

    p = sub.add_parser(
        "locate-batch",
        help="locate the clicks of a CSV (query,click_x,click_y[,view,id])",
        description="Locate every row of a CSV with columns query,click_x,click_y and optional view,id. "
        "Bad rows are reported and skipped.",
    )
    p.add_argument("csv", metavar="QUERIES.csv")
    _add_search_args(p)
    p.add_argument("--out", required=True, help="GeoPackage with all candidates and their query id")
    p.set_defaults(run=cmd_locate_batch)

    p = sub.add_parser("convert-weights", help="official .pth.tar -> our .safetensors + .json")
    p.add_argument(
        "--from", dest="src", required=True, help="official OCGNet/DetGeo checkpoint (.pth.tar)"
    )
    p.add_argument(
        "--to",
        dest="dst",
        required=True,
        help="output .safetensors (the .json config is written beside it)",
    )
    p.add_argument("--arch", choices=["ocgnet", "detgeo"], help="default: detected from the keys")
    p.add_argument(
        "--view",
        choices=["drone", "ground"],
        default="drone",
        help="the view the checkpoint was trained for",
    )
    p.add_argument(
        "--sigma",
        type=float,
        default=None,
        help="click-map sigma it was trained with (default 0.10)",
    )
    p.add_argument("--json", action="store_true", help="print the config as JSON")
    p.set_defaults(run=cmd_convert)

    p = sub.add_parser(
        "demo",
        help="run the bundled model on the bundled photo and raster (no download)",
        description="Locate the clicked apartment block of the bundled drone view in the bundled "
        "Zürich orthophoto crop with the bundled demo model; write result.geojson, result.gpkg, "
        "overlay.png and truth.geojson.",
    )
    p.add_argument("--out", default="demo-output", help="output folder (default demo-output)")
    p.add_argument("--top-k", type=int, default=5, help="candidates to return (default 5)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser(
        "info",
        help="versions, threads, device, models found; or a photo's metadata (--photo)",
    )
    p.add_argument(
        "--photo",
        metavar="PHOTO",
        help="print what the photo's EXIF/XMP says (GPS, altitude, camera, heading) instead",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_info)

    p = sub.add_parser("worker", help="JSON-lines server on stdin/stdout (used by the QGIS plugin)")
    p.add_argument("--weights", help="load these weights at start")
    p.add_argument("--view", choices=["drone", "ground"])
    p.add_argument("--device", default="cpu")
    _add_speed_args(p)
    p.set_defaults(run=cmd_worker)

    from ocgnet_geo.cli.train import add_commands

    add_commands(sub)
    return parser


def _add_search_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--raster", required=True, help="georeferenced raster, XYZ tile folder or .mbtiles"
    )
    p.add_argument(
        "--weights",
        help="our .safetensors or an official .pth.tar (default: the bundled matcher, "
        "drone/aerial photos)",
    )
    p.add_argument("--view", choices=["drone", "ground"], help="photo type (default: the model's)")
    p.add_argument("--bbox", help="search area minx,miny,maxx,maxy (default: whole raster)")
    p.add_argument(
        "--bbox-crs", default="EPSG:4326", help="CRS of --bbox, x first (default EPSG:4326 lon,lat)"
    )
    p.add_argument("--top-k", type=int, default=5, help="candidates to return (default 5)")
    p.add_argument(
        "--heading",
        metavar="DEG[±TOL]",
        help="direction the photo's top faces, degrees clockwise from north, with a tolerance "
        "(default ±30): narrows the matcher's rotation search (e.g. 45 or 45±60)",
    )
    p.add_argument(
        "--priors",
        default="auto",
        metavar="{auto,off}",
        help="use the photo's GPS, altitude, focal length and yaw (EXIF/XMP) to narrow the search "
        "area (without --bbox), scale and heading (without --heading); the search is repeated "
        "without them when nothing verifies (default auto)",
    )
    p.add_argument(
        "--register",
        default="auto",
        metavar="{auto,sift,xfeat,off}",
        help="register the whole photo to the raster with local features (SIFT and XFeat: "
        "auto, the default; or one of them) and carry the click and the object's outline "
        "through the homography; off: the template search only",
    )
    p.add_argument(
        "--outline",
        default="both",
        metavar="{photo,raster,both}",
        help="a registered object's outline: cut out of the raster at the registered click, "
        "sized by the photo's outline carried through the homography (both, the default); "
        "the photo's outline alone (photo); or the raster cut sized by the footprint (raster)",
    )
    p.add_argument(
        "--refine",
        metavar="{geometric,none}",
        help="verify the best candidates with local features and a robust homography "
        "(default: geometric for the matcher, none for OCGNet weights)",
    )
    p.add_argument(
        "--max-tiles",
        type=int,
        metavar="N",
        help="refuse searches of more tiles (default without --bbox: 4096; none with --bbox)",
    )
    p.add_argument(
        "--gsd",
        type=float,
        help="ground resolution the model expects, m/px (default: from the weights)",
    )
    p.add_argument("--sigma", type=float, help="click-map sigma of official weights (default 0.10)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    _add_speed_args(p)
    p.add_argument("--cache-dir", help="keep encoded tiles on disk here, for later runs")
    p.add_argument("--json", action="store_true", help="machine-readable output, no progress bars")


def _add_speed_args(p: argparse.ArgumentParser) -> None:
    """--precision, --threads, --batch-mb (validated by the library: bad values exit 2)."""
    p.add_argument(
        "--precision",
        default="auto",
        metavar="{auto,fp32,bf16}",
        help="arithmetic of the satellite branch: auto (default: bf16 where the CPU has native "
        "bf16, else fp32), fp32 or bf16; `ocgnet-geo info` shows what auto picks",
    )
    p.add_argument("--threads", metavar="N", help="PyTorch threads (default: the physical cores)")
    p.add_argument(
        "--batch-mb",
        type=float,
        default=DEFAULT_BATCH_MB,
        metavar="MB",
        help=f"activation memory of one encoding forward; tiles are batched up to it "
        f"(default {DEFAULT_BATCH_MB:g})",
    )


# --- commands ----------------------------------------------------------------------------------


def cmd_locate(args: argparse.Namespace) -> int:
    from ocgnet_geo.cli.outputs import staged_outputs
    from ocgnet_geo.geo.crs import crs_label
    from ocgnet_geo.geo.export import check_output_path
    from ocgnet_geo.locate.overlay import format_score

    if args.out:
        check_output_path(args.out, (".geojson", ".json", ".gpkg"))
    if args.overlay:
        check_output_path(args.overlay, (".png",))
    locator = _locator(args)
    with _progress_bar(args, "locate") as progress:
        result = locator.locate(
            args.query,
            args.click,
            args.raster,
            view=args.view,
            top_k=_top_k(args),
            bbox=_bbox(args),
            bbox_crs=args.bbox_crs,
            progress=progress,
            heading=args.heading,
            refine=args.refine,
            max_tiles=args.max_tiles,
            priors=args.priors,
            register=args.register,
            outline=args.outline,
        )
    with staged_outputs() as staged:  # both outputs or neither
        if args.out:
            write = result.to_gpkg if args.out.lower().endswith(".gpkg") else result.to_geojson
            write(staged.path(args.out))
        if args.overlay:
            result.overlay(staged.path(args.overlay))
    if args.json:
        print(
            json.dumps(
                {
                    "candidates": result.geojson(),
                    "status": result.status,
                    "confident": result.confident,
                    "photo_footprint": result.footprint_geojson(),
                    "tiles_searched": result.tiles_searched,
                    "seconds": round(result.seconds, 3),
                    "precision": result.precision,
                    "priors": result.priors.metadata() if result.priors is not None else None,
                }
            )
        )
    else:
        if result.priors is not None and result.priors.mode != "off":
            print(f"priors: {result.priors.summary()}")
        print(
            f"{len(result.candidates)} candidates ({result.tiles_searched} tiles, {result.seconds:.1f} s, "
            f"{result.precision}):"
        )
        for c in result.candidates:
            x, y = c.polygon.centroid.coords[0]
            how = f"registered by {c.method}, {c.inliers} inliers" if c.registered else c.method
            print(
                f"  #{c.rank}  score {format_score(c.score)}  centre ({x:.2f}, {y:.2f}) {crs_label(result.crs)}  ({how})"
            )
        print(_status_line(result))
        for path in filter(None, (args.out, args.overlay)):
            print(f"wrote {path}")
    return EXIT_OK


def cmd_locate_batch(args: argparse.Namespace) -> int:
    from ocgnet_geo.geo.export import check_output_path, write_gpkg

    check_output_path(args.out, (".gpkg",))
    rows = _read_queries(Path(args.csv))
    locator = _locator(args)
    from tqdm import tqdm

    polygons, records, failed = [], [], []
    footprints, footprint_records = [], []  # the registered photos' outlines on the ground
    crs = None

    def say(message: str) -> None:  # above the bar, never glued to it
        tqdm.write(message, file=sys.stderr)

    with tqdm(  # closed before any error line, also when a row raises a bug
        total=len(rows),
        desc="locate-batch",
        unit="row",
        file=sys.stderr,
        disable=args.json,
        delay=1.0,
        leave=False,
    ) as bar:
        for n, row in enumerate(rows, start=2):  # line 1 is the header
            bar.update(1)
            query_id = row.get("id") or str(n - 1)
            try:
                query = _resolve(row["query"], Path(args.csv).parent)
                result = locator.locate(
                    query,
                    (row["click_x"], row["click_y"]),
                    args.raster,
                    view=row.get("view") or args.view,
                    top_k=_top_k(args),
                    bbox=_bbox(args),
                    bbox_crs=args.bbox_crs,
                    max_tiles=args.max_tiles,
                    heading=row.get("heading") or args.heading,
                    refine=args.refine,
                    priors=args.priors,
                    register=args.register,
                    outline=args.outline,
                )
            except InputError as err:
                failed.append(query_id)
                say(f"ocgnet-geo: {args.csv} line {n} (id {query_id}): skipped: {err}")
                continue
            crs = result.crs
            polygons.extend(result.polygons)
            records.extend({**r, "query_id": query_id} for r in result.records())
            if result.photo_footprint is not None:
                footprints.append(result.photo_footprint)
                footprint_records.append({**result.footprint_record(), "query_id": query_id})
            if not args.json:
                say(
                    f"line {n} (id {query_id}): best score {result.candidates[0].score:.3f} "
                    f"({result.status.replace('_', ' ')})"
                )
    if not records:
        raise CommandError(
            f"{args.csv}: no row could be located ({len(failed)} skipped); nothing written"
        )
    extra = {"photo_footprint": (footprints, footprint_records)} if footprints else None
    write_gpkg(args.out, polygons, records, crs, extra_layers=extra)
    summary = {
        "out": args.out,
        "rows": len(rows),
        "located": len(rows) - len(failed),
        "skipped": failed,
        "precision": locator.precision,
    }
    print(
        json.dumps(summary)
        if args.json
        else f"wrote {args.out}: {summary['located']} of {len(rows)} rows located"
    )
    return EXIT_OK


def cmd_convert(args: argparse.Namespace) -> int:
    from ocgnet_geo.models.ocgnet import convert_official

    if not args.dst.endswith(".safetensors"):
        raise CommandError(f"--to {args.dst!r}: must end with .safetensors")
    if not Path(args.dst).resolve().parent.is_dir():
        raise CommandError(f"--to {args.dst!r}: folder does not exist")
    kwargs: dict[str, Any] = {"arch": args.arch, "view": args.view}
    if args.sigma is not None:
        kwargs["sigma"] = args.sigma
    config = convert_official(args.src, args.dst, **kwargs)
    print(
        config.to_json()
        if args.json
        else f"wrote {args.dst} and {Path(args.dst).with_suffix('.json')} ({config.arch}, {config.view}, sigma {config.sigma})"
    )
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from ocgnet_geo.cli.demo import run_demo
    from ocgnet_geo.geo.crs import crs_label
    from ocgnet_geo.locate import Locator
    from ocgnet_geo.locate.overlay import format_score

    locator = Locator.demo()
    run = run_demo(args.out, top_k=_top_k(args), locator=locator)
    result = run.result
    if args.json:
        print(
            json.dumps(
                {
                    "candidates": result.geojson(),
                    "iou_with_truth": [round(v, 4) for v in run.ious],
                    "files": {k: str(v) for k, v in run.files.items()},
                    "seconds": round(result.seconds, 3),
                }
            )
        )
        return EXIT_OK
    print(f"ocgnet-geo demo: {run.case.name}")
    print(f"  photo  {run.case.query.name}, click {run.case.click}")
    print(f"  raster {run.case.raster.name} ({crs_label(result.crs)}, {result.gsd_m:g} m/px)")
    print(f"  model  {result.model}; {result.tiles_searched} tiles in {result.seconds:.1f} s")
    print("ranked candidates (box IoU with the hand-digitised true outline):")
    for c, iou in zip(result.candidates, run.ious, strict=True):
        x, y = c.polygon.centroid.coords[0]
        w = c.polygon.bounds[2] - c.polygon.bounds[0]
        h = c.polygon.bounds[3] - c.polygon.bounds[1]
        check = f"verified, {c.inliers} inliers" if c.refined else "not verified"
        print(
            f"  #{c.rank}  score {format_score(c.score)}  IoU {iou:.2f}  centre E {x:.1f} N {y:.1f}  "
            f"{w:.0f} x {h:.0f} m  ({check})"
        )
    for path in run.files.values():
        print(f"wrote {path}")
    print(run.case.credit)
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    if args.photo:
        return _photo_info(args)
    facts = collect_info()
    if args.json:
        print(json.dumps(facts, indent=2))
    else:
        for key, value in facts.items():
            print(f"{key:>16}: {value}")
    return EXIT_OK


def _photo_info(args: argparse.Namespace) -> int:
    """``info --photo``: the photo's :class:`~ocgnet_geo.geo.photo_pose.PhotoPose`."""
    from ocgnet_geo.geo.photo_pose import read_pose

    pose = read_pose(args.photo)
    doc = pose.as_dict()
    if args.json:
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    print(f"photo {pose.path}")
    for key, item in doc.items():
        if isinstance(item, dict):
            print(f"{key:>20}: {item['value']}  ({item['source']})")
    derived = {
        "heading (shown top)": pose.heading(),
        "off-nadir angle": pose.off_nadir_deg(),
        "height above ground": pose.height_above_ground_m(),
        "focal length px": pose.focal_px(),
    }
    for key, value in derived.items():
        text = "absent" if value is None else f"{value[0]:.6g}  (from {value[1]})"
        print(f"{key:>20}: {text}")
    for problem in pose.problems:
        print(f"{'not used':>20}: {problem}")
    if len(doc) == 2 and not pose.problems:
        print("no metadata")
    return EXIT_OK


def cmd_worker(args: argparse.Namespace) -> int:
    from ocgnet_geo.cli.worker import run_worker
    from ocgnet_geo.locate.limits import check_device
    from ocgnet_geo.locate.precision import resolve_precision, resolve_threads

    check_device(args.device)  # bad values: exit 2 before serving
    resolve_precision(args.precision, args.device)
    threads = resolve_threads(args.threads) if args.threads is not None else None
    return run_worker(
        args.weights,
        view=args.view,
        device=args.device,
        precision=args.precision,
        threads=threads,
        batch_mb=args.batch_mb,
    )


# --- helpers -------------------------------------------------------------------------------------


def collect_info() -> dict[str, Any]:
    """Versions, threads, device and the models this installation can find."""
    import os

    import numpy
    import pyproj
    import rasterio
    import shapely
    import torch

    from ocgnet_geo.locate.bundled import bundled_models
    from ocgnet_geo.locate.precision import cpu_report

    return {
        "ocgnet-geo": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "rasterio": rasterio.__version__,
        "GDAL": rasterio.__gdal_version__,
        "pyproj": pyproj.__version__,
        "PROJ": pyproj.proj_version_str,
        "shapely": shapely.__version__,
        "torch threads": torch.get_num_threads(),
        "CPU cores": os.cpu_count(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        **cpu_report(),
        "bundled models": [str(p) for p in bundled_models()] or "none yet",
    }


def _locator(args: argparse.Namespace):
    from ocgnet_geo.locate import Locator

    _check_flags(args)
    weights = args.weights
    if not weights:
        from ocgnet_geo.locate.bundled import default_model

        weights = default_model()
    locator = Locator.from_weights(
        weights,
        device=args.device,
        view=args.view,
        sigma=args.sigma,
        gsd_m=args.gsd,
        cache_dir=args.cache_dir,
        precision=args.precision,
        threads=args.threads,
        batch_bytes=_batch_bytes(args),
    )
    if not args.weights and not args.json:
        from ocgnet_geo.locate.bundled import DEFAULT_MODEL_LABEL

        print(f"no --weights: using the {DEFAULT_MODEL_LABEL} ({weights.name})", file=sys.stderr)
    return locator


def _status_line(result) -> str:
    """One line saying whether the answer can be trusted."""
    best = result.candidates[0]
    if result.status == "registered":
        return (
            f"found: the photo registered to the raster ({best.method}, {best.inliers} inliers); "
            f"the object's outline is candidate #1"
        )
    if result.status == "unverified":
        return "unverified: the best candidate is confident but the photo did not register"
    return (
        "no confident match in this raster: the photo did not register and the template "
        "evidence is weak; the candidates are guesses"
    )


def _check_flags(args: argparse.Namespace) -> None:
    """Malformed --heading / --refine values fail before any model is loaded."""
    from ocgnet_geo.locate.matcher_model import parse_heading
    from ocgnet_geo.locate.priors import check_priors
    from ocgnet_geo.locate.refine import check_mode
    from ocgnet_geo.locate.registration_stage import check_outline, check_register

    parse_heading(args.heading)
    check_priors(args.priors)
    check_register(getattr(args, "register", None))
    check_outline(getattr(args, "outline", None))
    if args.refine is not None:
        check_mode(args.refine)


def _batch_bytes(args: argparse.Namespace) -> int:
    if not args.batch_mb > 0:
        raise CommandError(f"--batch-mb {args.batch_mb:g}: must be more than 0")
    return int(args.batch_mb * (1 << 20))


def _top_k(args: argparse.Namespace) -> int:
    if args.top_k < 1:
        raise CommandError(f"--top-k {args.top_k}: must be at least 1")
    return args.top_k


def _bbox(args: argparse.Namespace) -> tuple[float, ...] | None:
    if not args.bbox:
        return None
    try:
        values = tuple(float(v) for v in args.bbox.split(","))
    except ValueError:
        raise CommandError(
            f"--bbox {args.bbox!r}: expected four numbers minx,miny,maxx,maxy"
        ) from None
    if len(values) != 4:
        raise CommandError(f"--bbox {args.bbox!r}: expected four numbers minx,miny,maxx,maxy")
    return values


def _read_queries(path: Path) -> list[dict[str, str]]:
    if path.is_dir():
        raise CommandError(f"{path}: is a folder, not a CSV file")
    if not path.is_file():
        raise CommandError(f"{path}: file not found")
    reader = csv.DictReader(io.StringIO(_csv_text(path), newline=""))
    columns = set(reader.fieldnames or [])
    missing = {"query", "click_x", "click_y"} - columns
    if missing:
        raise CommandError(
            f"{path}: missing column(s) {', '.join(sorted(missing))} (need query,click_x,click_y)"
        )
    rows = list(reader)
    if not rows:
        raise CommandError(f"{path}: no rows")
    return rows


def _csv_text(path: Path) -> str:
    """The text of a CSV: UTF-8 (with or without BOM) or UTF-16 with a BOM (Excel's
    "Unicode text"); anything else is a one-line error naming the first bad byte."""
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise CommandError(
            f"{path}: not UTF-8 text (byte 0x{data[err.start]:02x} on line {line}); "
            "save the CSV as UTF-8"
        ) from None


def _resolve(query: str, base: Path) -> str:
    p = Path(query)
    return str(p if p.is_absolute() else base / p)


class _progress_bar:
    """A tqdm bar fed by the pipeline's ``progress(fraction, message)``; silent with --json."""

    def __init__(self, args: argparse.Namespace, label: str) -> None:
        self.enabled = not args.json
        self.label = label
        self.bar = None

    def __enter__(self):
        if not self.enabled:
            return None
        from tqdm import tqdm

        self.bar = tqdm(
            total=100,
            desc=self.label,
            unit="%",
            file=sys.stderr,
            leave=False,
            mininterval=0.5,
            delay=1.0,
        )

        def update(fraction: float, message: str) -> None:
            self.bar.n = round(100 * fraction)
            self.bar.set_postfix_str(message, refresh=False)
            self.bar.refresh()

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
