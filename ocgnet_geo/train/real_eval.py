"""Evaluation on real photos: ``ocgnet-geo evaluate --real DIR``.

``DIR/objects.json`` lists labelled objects (the development set's format, see
``docs/real-photos.md``): ``{id, place, name, photo, click: [col, row], raster,
box_px: [x0, y0, x1, y1], capture}``; photos and rasters are paths relative to ``DIR``.

For every method (``matcher``: the template search alone, ``sift``/``xfeat``: registration
with one feature family, ``both``: both families, the default pipeline) each object is
located once; a row records the top-1 candidate's box IoU with the true box (both as
axis-aligned boxes in the raster's CRS), whether its centre lies in the box (a point hit),
the centre error in metres, its score and status. Summaries: acc@0.5, acc@0.25, point hits,
median centre error, confident answers and how many of them are right.

Negatives: every photo searched in the raster of every *other* place of the set, and in any
extra rasters given: a confident top-1 there is a false answer.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from ocgnet_geo.errors import InputError

METHODS = {"matcher": "off", "sift": "sift", "xfeat": "xfeat", "both": "auto"}


class RealSetError(InputError):
    """A real-photo set folder or objects.json that cannot be used."""


@dataclass(frozen=True)
class RealObject:
    id: str
    place: str
    name: str
    photo: Path
    click: tuple[float, float]
    raster: Path
    box_px: tuple[float, float, float, float]


def read_objects(folder: str | Path) -> list[RealObject]:
    """The labelled objects of ``folder/objects.json`` (:class:`RealSetError` naming the
    file and the entry when one is malformed or names a missing file)."""
    root = Path(folder)
    path = root / "objects.json"
    if not path.is_file():
        raise RealSetError(f"--real {str(folder)!r}: no objects.json in that folder")
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise RealSetError(f"{path}: not readable JSON ({err})") from None
    if not isinstance(entries, list) or not entries:
        raise RealSetError(f"{path}: expected a non-empty list of objects")
    objects = []
    for n, e in enumerate(entries):
        try:
            obj = RealObject(
                id=str(e["id"]),
                place=str(e["place"]),
                name=str(e.get("name", "")),
                photo=root / str(e["photo"]),
                click=(float(e["click"][0]), float(e["click"][1])),
                raster=root / str(e["raster"]),
                box_px=tuple(float(v) for v in e["box_px"][:4]),  # type: ignore[arg-type]
            )
        except (KeyError, TypeError, ValueError, IndexError):
            raise RealSetError(
                f"{path}: entry {n} needs id, place, photo, click [x, y], raster and box_px"
            ) from None
        for what in (obj.photo, obj.raster):
            if not what.is_file():
                raise RealSetError(f"{path}: entry {obj.id}: file {str(what)!r} is missing")
        objects.append(obj)
    return objects


def truth_box(obj: RealObject) -> tuple[shapely.Polygon, float]:
    """The object's true box as an axis-aligned box in the raster's CRS, and the raster
    CRS's metres per unit."""
    from ocgnet_geo.geo.raster import open_raster

    info = open_raster(obj.raster)
    x0, y0, x1, y1 = obj.box_px
    corners = np.array([info.transform @ (c, r) for c in (x0, x1) for r in (y0, y1)])
    box = shapely.box(*corners.min(axis=0), *corners.max(axis=0))
    # metres per CRS unit (per degree: the equator's, for the centre error only)
    unit = 111_320.0 if info.crs.is_geographic else info.crs.axis_info[0].unit_conversion_factor
    return box, unit


def score_candidate(polygon: shapely.Polygon, truth: shapely.Polygon, unit_m: float) -> dict:
    """IoU of the polygon's envelope with the true box, the point hit and the centre error."""
    envelope = shapely.box(*polygon.bounds)
    union = shapely.union(envelope, truth).area
    iou = shapely.intersection(envelope, truth).area / union if union > 0 else 0.0
    centre = envelope.centroid
    return {
        "iou": round(float(iou), 4),
        "point_hit": bool(truth.covers(centre)),
        "centre_error_m": round(float(centre.distance(truth.centroid)) * unit_m, 2),
    }


def evaluate_real(
    folder: str | Path,
    locator: Any,
    methods: Sequence[str] = tuple(METHODS),
    outline: str = "both",
    negatives: bool = True,
    extra_rasters: Sequence[str | Path] = (),
    say: Callable[[str], None] = lambda line: None,
) -> dict:
    """The report dict of module docstring (rows, summaries, negatives)."""
    objects = read_objects(folder)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise RealSetError(f"--methods {unknown[0]!r}: expected some of {', '.join(METHODS)}")
    rows = []
    for method in methods:
        for obj in objects:
            truth, unit = truth_box(obj)
            start = time.perf_counter()
            result = locator.locate(
                obj.photo, obj.click, obj.raster, register=METHODS[method], outline=outline
            )
            best = result.candidates[0]
            row = {
                "id": obj.id,
                "place": obj.place,
                "method": method,
                **score_candidate(best.polygon, truth, unit),
                "click_hit": registered_click_hit(result, truth),
                "score": round(float(best.score), 4),
                "status": result.status,
                "registered": bool(best.registered),
                "inliers": int(best.inliers),
                "outline": best.outline_source,
                "seconds": round(time.perf_counter() - start, 2),
            }
            rows.append(row)
            say(_row_line(row))
    report = {
        "set": str(folder),
        "outline": outline,
        "rows": rows,
        "summary": {m: summarise([r for r in rows if r["method"] == m]) for m in methods},
    }
    if negatives:
        report["negatives"] = negative_runs(objects, locator, extra_rasters, say)
    return report


def registered_click_hit(result: Any, truth: shapely.Polygon) -> bool | None:
    """Whether the registered click (the photo click through the homography) lies in the
    true box (raster CRS); None when nothing registered."""
    from ocgnet_geo.geo.boxes import reproject_geometries

    reg, window = getattr(result, "registration", None), result.best_tile
    if reg is None or window is None:
        return None
    point = shapely.Point(window.transform @ reg.click)
    point = reproject_geometries(np.array([point]), window.crs, result.crs)[0]
    return bool(truth.covers(point))


def summarise(rows: list[dict]) -> dict:
    """acc@0.5, acc@0.25, point hits, median centre error, confident answers (and right)."""
    n = len(rows)
    if n == 0:
        return {"objects": 0}
    confident = [r for r in rows if r["score"] >= 0.5]
    return {
        "objects": n,
        "acc@0.5": round(sum(r["iou"] > 0.5 for r in rows) / n, 3),
        "acc@0.25": round(sum(r["iou"] > 0.25 for r in rows) / n, 3),
        "point_hits": sum(r["point_hit"] for r in rows),
        "registered_click_hits": sum(bool(r.get("click_hit")) for r in rows),
        "median_centre_error_m": round(float(np.median([r["centre_error_m"] for r in rows])), 1),
        "confident": len(confident),
        "confident_point_hits": sum(r["point_hit"] for r in confident),
        "mean_score": round(float(np.mean([r["score"] for r in rows])), 3),
        "median_seconds": round(float(np.median([r["seconds"] for r in rows])), 2),
    }


def negative_runs(
    objects: list[RealObject],
    locator: Any,
    extra_rasters: Sequence[str | Path],
    say: Callable[[str], None],
) -> dict:
    """Each photo (its first labelled click) against every other place's raster and the
    extra rasters; a confident top-1 is a false answer."""
    photos: dict[Path, RealObject] = {}
    for obj in objects:
        photos.setdefault(obj.photo, obj)
    place_rasters = {obj.raster: obj.place for obj in objects}
    runs = []
    for photo, obj in photos.items():
        targets = [r for r, place in place_rasters.items() if place != obj.place]
        targets += [Path(r) for r in extra_rasters]
        for raster in targets:
            try:
                result = locator.locate(photo, obj.click, raster, register="auto")
            except InputError as err:
                say(f"negative {photo.name} in {Path(raster).name}: skipped ({err})")
                continue
            best = result.candidates[0]
            run = {
                "photo": photo.name,
                "raster": Path(raster).name,
                "score": round(float(best.score), 4),
                "status": result.status,
                "registered": bool(best.registered),
            }
            runs.append(run)
            say(f"negative {run['photo']} in {run['raster']}: {run['status']} {run['score']:.3f}")
    confident = sum(r["score"] >= 0.5 for r in runs)
    return {
        "runs": runs,
        "searches": len(runs),
        "confident": confident,
        "confident_rate": round(confident / len(runs), 3) if runs else math.nan,
    }


def _row_line(row: dict) -> str:
    return (
        f"{row['method']:8s} {row['id']:16s} IoU {row['iou']:.2f}  "
        f"{'hit ' if row['point_hit'] else 'miss'}  {row['centre_error_m']:7.1f} m  "
        f"score {row['score']:.3f}  {row['status']}  {row['seconds']:.1f} s"
    )


def markdown(report: dict) -> str:
    """The report as Markdown: per-object rows, one summary table, the negatives."""
    lines = [f"Set: `{report['set']}` (outline source: {report['outline']})", ""]
    lines += [
        "| method | objects | acc@0.5 | acc@0.25 | point hits | registered click in the box | "
        "median centre error (m) | confident (right) | median s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for method, s in report["summary"].items():
        lines.append(
            f"| {method} | {s['objects']} | {s['acc@0.5']:.2f} | {s['acc@0.25']:.2f} | "
            f"{s['point_hits']} / {s['objects']} | {s['registered_click_hits']} / {s['objects']} | "
            f"{s['median_centre_error_m']:.1f} | "
            f"{s['confident']} ({s['confident_point_hits']}) | {s['median_seconds']:.1f} |"
        )
    lines += ["", "| method | object | IoU | point hit | centre error (m) | score | status |"]
    lines.append("|---|---|---|---|---|---|---|")
    for r in report["rows"]:
        lines.append(
            f"| {r['method']} | {r['id']} | {r['iou']:.2f} | {'yes' if r['point_hit'] else 'no'} | "
            f"{r['centre_error_m']:.1f} | {r['score']:.3f} | {r['status']} |"
        )
    neg = report.get("negatives")
    if neg:
        lines += [
            "",
            f"Negatives: {neg['searches']} searches of a photo in another place's raster; "
            f"confident top-1: {neg['confident']} ({100 * neg['confident_rate']:.1f} %).",
        ]
    return "\n".join(lines) + "\n"
