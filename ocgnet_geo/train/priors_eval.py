"""Leave-one-place-out evaluation of the photo-metadata priors (:mod:`ocgnet_geo.locate.priors`).

The synthetic views carry EXIF/XMP metadata (``ocgnet-geo synth``: GPS 5-15 m off, yaw with
noise and 3 % flipped by 180°, altitude above take-off within 10 %). Each view is searched in
its dataset tile twice in the same run, as :func:`~ocgnet_geo.train.matcher_eval.collect`
does (the matcher's peaks, the best three verified):

* **without priors**: every heading, the matcher's whole scale range, the whole tile;
* **with priors**: the scale and heading searches around the priors and peaks kept only inside
  the prior area (the circle around the GPS position, transformed from EPSG:4326 to the
  tile's UTM CRS); when no kept peak verifies, the search is repeated over the whole tile
  with the scale and heading priors (when the area prior was used), then, still nothing
  verified, without priors, as the pipeline falls back; the time of every search counted.

Times are warm clicks: the tile is encoded before the clock starts (the pipeline caches tile
features); they include the template building, correlation and verification.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import shapely
from PIL import Image
from pyproj import CRS
from tqdm import tqdm

from ocgnet_geo.data.records import load_split, parse_satellite_name, split_path
from ocgnet_geo.train.matcher_eval import PEAKS, Runs, verify_peaks

#: Peaks asked for before those outside the prior area are dropped.
PEAKS_BEFORE_AREA = 20


def _search(model, query, click, features, tile, area_px):
    """(response, peaks kept, verified flags, verified centres/scales/maps, inliers)."""
    from ocgnet_geo.locate.matcher_model import Peaks, peak_logits

    k = PEAKS if area_px is None else PEAKS_BEFORE_AREA
    response, peaks = model.peaks(query, click, features, k)
    if area_px is not None and len(peaks.scales):
        keep = shapely.contains_xy(area_px, peaks.centres[:, 0], peaks.centres[:, 1])
        keep &= np.cumsum(keep) <= PEAKS
        idx = np.nonzero(keep)[0]
        peaks = Peaks(
            peaks.centres[idx],
            peaks.scales[idx],
            peaks.headings_deg[idx],
            [peaks.cells[i] for i in idx],
        )
    logits, log_partition = peak_logits(response, peaks, model.config.temperature)
    probs = np.exp(logits - log_partition)  # the calibrated scores: verify as the pipeline
    return (response, peaks, *verify_peaks(query, click, tile, peaks, probs=probs))


def collect_pair(model, folder: Path, place: str, every: int = 1, progress: bool = True, only=None):
    """(runs without priors, runs with priors, per-sample facts) on every ``every``-th test
    sample of ``folder`` (or the samples whose query is in ``only``); both searched in this
    run, timed as warm clicks."""
    from ocgnet_geo.geo.photo_pose import read_pose
    from ocgnet_geo.locate.extent import clicked_segment
    from ocgnet_geo.locate.priors import plan_priors

    records = load_split(split_path(folder.parent, folder.name, "test"))
    records = [r for r in records if r.query_name in only] if only else records[:: max(1, every)]
    off, on, facts = Runs(), Runs(), []
    for rec in tqdm(records, desc=f"priors {place}/{folder.parent.name}", disable=not progress):
        qpath = folder / "query" / rec.query_name
        query = np.asarray(Image.open(qpath).convert("RGB"))
        tile = np.asarray(Image.open(folder / "satellite" / rec.satellite_name).convert("RGB"))
        geo = parse_satellite_name(rec.satellite_name)
        gsd = geo.extent_m / tile.shape[1]
        model.gsd_m = gsd
        features = model.encode(tile)
        # without priors
        model.heading, model.photo_gsd_range = None, None
        t0 = time.perf_counter()
        base = _search(model, query, rec.click_xy, features, tile, None)
        t_off = time.perf_counter() - t0
        # with priors (reading the metadata is part of the click)
        t0 = time.perf_counter()
        pose = read_pose(qpath)
        crs = CRS.from_epsg(geo.epsg)
        half = geo.extent_m / 2
        footprint = shapely.box(
            geo.easting - half, geo.northing - half, geo.easting + half, geo.northing + half
        )
        plan = plan_priors(
            pose,
            "auto",
            footprint=footprint,
            grid_crs=crs,
            click_shown=rec.click_xy,
            shown_size=(query.shape[1], query.shape[0]),
            working_long_side=max(query.shape[:2]),
            has_bbox=False,
            has_heading=False,
        )
        area_px = None
        if plan.area is not None:
            area_px = shapely.affinity.affine_transform(
                plan.area, [1 / gsd, 0, 0, -1 / gsd, half / gsd - geo.easting / gsd,
                            half / gsd + geo.northing / gsd]
            )  # fmt: skip
        model.heading, model.photo_gsd_range = plan.heading, plan.photo_gsd_range_m
        narrow = _search(model, query, rec.click_xy, features, tile, area_px)
        fell_back_any = not (len(narrow[2]) and narrow[2].any())
        fallback = plan.narrowed and not (len(narrow[2]) and narrow[2].any())
        if fallback and area_px is not None and (plan.heading or plan.photo_gsd_range_m):
            # the pipeline's first fallback: the whole tile, scale and heading priors kept
            narrow = _search(model, query, rec.click_xy, features, tile, None)
            fallback = not (len(narrow[2]) and narrow[2].any())
        if fallback:
            model.heading, model.photo_gsd_range = None, None
            narrow = _search(model, query, rec.click_xy, features, tile, None)
        t_on = time.perf_counter() - t0
        model.heading, model.photo_gsd_range = None, None
        segment = clicked_segment(model.net, query, rec.click_xy)  # the same with and without
        for runs, found, seconds in ((off, base, t_off), (on, narrow, t_on)):
            runs.add(place, rec, query, tile, gsd, found, segment, seconds)
        facts.append(
            {
                "place": place,
                "fallback": bool(plan.narrowed and fell_back_any),
                "full_fallback": bool(fallback),
                "query": rec.query_name,
                "priors": plan.summary(),
                "hit_off": _hit(base, rec),
                "hit_on": _hit(narrow, rec),
            }
        )
    return off, on, facts


def _hit(found, rec) -> bool:
    """Whether the best (verified if any) peak's centre lies in the true box (a quick check;
    the table's IoU metrics come from the calibrated boxes)."""
    _, peaks, verified, v_centres, _, _, _ = found
    if not len(peaks.scales):
        return False
    i = int(np.argmax(verified)) if verified.any() else 0
    x, y = (v_centres if verified.any() else peaks.centres)[i]
    x0, y0, x1, y1 = rec.bbox
    return bool(x0 <= x <= x1 and y0 <= y <= y1)


def flipped_views(weights: Path, root: Path, progress: bool = False) -> list[dict]:
    """Every view whose written yaw is off by 180° (``poses.json``), searched with and
    without priors: whether the prior search fell back and whether each found the object."""
    import json

    from ocgnet_geo.locate.matcher_model import MatcherTileModel
    from ocgnet_geo.locate.tile_model import weights_id
    from ocgnet_geo.models.matcher import load_matcher
    from ocgnet_geo.train.matcher_eval import dataset_folders

    model = MatcherTileModel(load_matcher(weights), weights_id(Path(weights)))
    out = []
    for place, folders in dataset_folders(root).items():
        for folder in folders:
            poses = json.loads((folder / "poses.json").read_text())
            only = {q for q, p in poses.items() if p["yaw_flipped"]}
            if only:
                out.extend(collect_pair(model, folder, place, progress=progress, only=only)[2])
    return out


def evaluate_priors(weights: Path, root: Path, every: int = 3, progress: bool = True) -> dict:
    """Leave-one-place-out with and without priors on every place under ``root`` (each
    ``every``-th test sample), calibration fitted on the other places (per setting)."""
    from ocgnet_geo.locate.matcher_model import MatcherTileModel
    from ocgnet_geo.locate.tile_model import weights_id
    from ocgnet_geo.models.matcher import load_matcher
    from ocgnet_geo.train.matcher_eval import dataset_folders, leave_one_place_out

    model = MatcherTileModel(load_matcher(weights), weights_id(Path(weights)))
    off, on, facts = Runs(), Runs(), []
    for place, folders in dataset_folders(root).items():
        for folder in folders:
            a, b, f = collect_pair(model, folder, place, every, progress)
            off.extend(a)
            on.extend(b)
            facts.extend(f)
    report: dict = {"places": {}, "every": every}
    for name, runs in (("without priors", off), ("with priors", on)):
        lopo = leave_one_place_out(runs)
        for place, res in lopo.items():
            held = np.array(runs.place) == place
            report["places"].setdefault(place, {})[name] = {
                **res["summary"],
                "median_s": float(np.median(np.asarray(runs.seconds)[held])),
            }
        report.setdefault("overall", {})[name] = {
            "median_s": float(np.median(runs.seconds)),
            "acc50": float(np.mean(np.concatenate([r["arrays"]["hit50"] for r in lopo.values()]))),
            "n": len(runs),
        }
    for place in report["places"]:
        flags = [f["fallback"] for f in facts if f["place"] == place]
        report["places"][place]["fallback_share"] = float(np.mean(flags))
    report["overall"]["fallback_share"] = float(np.mean([f["fallback"] for f in facts]))
    return report


def markdown(report: dict) -> str:
    """The with/without table: per place acc@0.5, acc@0.25, median warm click seconds."""
    lines = [
        "| place | n | acc@0.5 without | acc@0.5 with | acc@0.25 without | acc@0.25 with | "
        "median s without | median s with | speed-up | fallback searches |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for place, r in sorted(report["places"].items()):
        a, b = r["without priors"], r["with priors"]
        lines.append(
            f"| {place} | {a['n']} | {a['acc50']:.2f} | {b['acc50']:.2f} | {a['acc25']:.2f} | "
            f"{b['acc25']:.2f} | {a['median_s']:.3f} | {b['median_s']:.3f} | "
            f"{a['median_s'] / b['median_s']:.1f}x | {r['fallback_share']:.0%} |"
        )
    o = report["overall"]
    a, b = o["without priors"], o["with priors"]
    lines.append(
        f"| overall | {a['n']} | {a['acc50']:.2f} | {b['acc50']:.2f} | | | {a['median_s']:.3f} | "
        f"{b['median_s']:.3f} | {a['median_s'] / b['median_s']:.1f}x | {o['fallback_share']:.0%} |"
    )
    return "\n".join(lines) + "\n"
