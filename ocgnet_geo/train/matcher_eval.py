"""Evaluating the matcher on CVOGL-layout sets, and fitting its calibrated numbers.

The search is run once per sample (:func:`collect`); what it finds does not depend on the
two fitted numbers (the box factor and the softmax temperature), so :func:`score` can
re-score stored runs under any calibration, and leave-one-place-out evaluation
(:func:`leave_one_place_out`) fits on the other places and tests on the held-out one
without searching again. Metrics are the project's (:func:`~ocgnet_geo.train.metrics.
ranked_box_metrics`, as for the baselines), on the dataset's own tiles.

Runs of several settings serve the ablations: ``rotation_search`` / ``scale_search`` off,
no geometric verification (the same runs, verification ignored) and SIFT alone
(:func:`sift_alone`: a homography between the photo and the whole tile, the click mapped).
Verification in these runs uses the dataset tile itself as the window (upsampled 2x by the
verifier), where the pipeline reads a finer window from the raster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ocgnet_geo.data.records import dataset_folders, load_split, parse_satellite_name, split_path
from ocgnet_geo.train.metrics import MetricAccumulator, ranked_box_metrics
from ocgnet_geo.train.segment_folds import segment_values

#: Peaks kept per sample, and how many of them geometric verification checks (as the pipeline).
PEAKS = 5
VERIFIED = 3
BOX_FACTORS = np.round(np.arange(0.1, 1.601, 0.02), 3)
#: Weight of the clicked object's measured size in the box length (``MatcherConfig.
#: extent_weight``): 1, the object's size alone (the best of 0.5, 0.75, 1 over all places
#: with the segmentation head, and the choice on the other places for 3 of 4 held-out places;
#: ``examples/select_matcher_weights.py``, docs/matcher-report.md).
EXTENT_WEIGHT = 1.0
#: Weight of the clicked object's proportions, mapped into the tile, in the box's sides
#: (``MatcherConfig.shape_weight``): 1, chosen likewise from 0, 0.5, 1.
SHAPE_WEIGHT = 1.0
#: Version of the stored runs' fields (a cache of another version is searched again).
RUNS_VERSION = 2
TEMPERATURES = np.round(np.geomspace(0.004, 1.0, 19), 5)


@dataclass
class Runs:
    """Stored search results of many samples (arrays stacked over samples)."""

    place: list[str] = field(default_factory=list)
    class_name: list[str] = field(default_factory=list)
    gt: list[np.ndarray] = field(default_factory=list)  # (4,) tile px
    gsd: list[float] = field(default_factory=list)  # tile m/px
    width: list[int] = field(default_factory=list)  # working photo width, px
    extent: list[float] = field(default_factory=list)  # clicked object's size, photo px (0: none)
    hull: list[np.ndarray] = field(default_factory=list)  # (n, 2) its hull - click, photo px
    tile_px: list[int] = field(default_factory=list)
    response: list[np.ndarray] = field(default_factory=list)  # (h*w,)
    centres: list[np.ndarray] = field(default_factory=list)  # (k, 2)
    scales: list[np.ndarray] = field(default_factory=list)  # (k,)
    headings: list[np.ndarray] = field(default_factory=list)  # (k,) degrees
    cells: list[list[np.ndarray]] = field(default_factory=list)
    verified: list[np.ndarray] = field(default_factory=list)  # (k,) bool
    v_centres: list[np.ndarray] = field(default_factory=list)  # (k, 2)
    v_scales: list[np.ndarray] = field(default_factory=list)  # (k,)
    v_maps: list[np.ndarray] = field(default_factory=list)  # (k, 2, 2) photo -> tile px at click
    inliers: list[np.ndarray] = field(default_factory=list)  # (k,)
    seconds: list[float] = field(default_factory=list)
    #: Per sample, the clicked object's (size, hull) measured by each leave-one-place-out
    #: fold's segmentation head, by held-out place (:func:`attach_fold_segments`; not saved
    #: with the runs, empty until attached).
    folds: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.place)

    def subset(self, keep: np.ndarray) -> Runs:
        out = Runs()
        for name in self.__dataclass_fields__:
            values = getattr(self, name)
            if name == "folds" and not values:
                continue
            setattr(out, name, [v for v, k in zip(values, keep, strict=True) if k])
        return out

    def for_fold(self, place: str) -> Runs:
        """These runs with the object sizes and hulls that the fold holding ``place`` out
        measured (the runs as they are when no fold segments are attached)."""
        if not self.folds:
            return self
        out = Runs(**{name: list(getattr(self, name)) for name in self.__dataclass_fields__})
        out.extent = [f[place][0] for f in self.folds]
        out.hull = [f[place][1] for f in self.folds]
        return out

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            name: [_jsonable(v) for v in getattr(self, name)]
            for name in self.__dataclass_fields__
            if name != "folds"
        }
        path.write_text(json.dumps(doc), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Runs:
        doc = json.loads(path.read_text(encoding="utf-8"))
        out = cls()
        for name, values in doc.items():
            if name == "cells":
                values = [[np.asarray(c, dtype=np.int64) for c in v] for v in values]
            elif name == "hull":
                values = [np.asarray(v, dtype=np.float64).reshape(-1, 2) for v in values]
            elif name not in (
                "place",
                "class_name",
                "gsd",
                "width",
                "extent",
                "tile_px",
                "seconds",
            ):
                values = [np.asarray(v) for v in values]
            setattr(out, name, values)
        return out

    def add(
        self,
        place: str,
        rec,
        query: np.ndarray,
        tile: np.ndarray,
        gsd: float,
        found: tuple,
        segment,
        seconds: float,
    ) -> None:
        """Append one sample: its record ``rec``, photo and tile arrays, the tile's m/px,
        ``found`` = (response, peaks, verified, v_centres, v_scales, v_maps, inliers) of its
        search, the clicked object's :class:`~ocgnet_geo.locate.extent.Segment` (None when
        not measured) and the search's seconds."""
        response, peaks, verified, v_centres, v_scales, v_maps, inliers = found
        self.seconds.append(seconds)
        self.place.append(place)
        self.class_name.append(rec.class_name)
        self.gt.append(np.asarray(rec.bbox, float))
        self.gsd.append(gsd)
        self.width.append(query.shape[1])
        self.add_segment(segment, rec.click_xy)
        self.tile_px.append(tile.shape[1])
        self.response.append(response.astype(np.float32).ravel())
        self.centres.append(peaks.centres)
        self.scales.append(peaks.scales)
        self.headings.append(peaks.headings_deg)
        self.cells.append(peaks.cells)
        self.verified.append(verified)
        self.v_centres.append(v_centres)
        self.v_scales.append(v_scales)
        self.v_maps.append(v_maps)
        self.inliers.append(inliers)

    def add_segment(self, segment, click: tuple[float, float]) -> None:
        """Append a sample's clicked-object size and hull relative to ``click`` (photo px)
        from its :class:`~ocgnet_geo.locate.extent.Segment` (0 and no hull for None)."""
        size, hull = segment_values(segment, click)
        self.extent.append(size)
        self.hull.append(hull)

    def extend(self, other: Runs) -> None:
        for name in self.__dataclass_fields__:
            getattr(self, name).extend(getattr(other, name))


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def collect(
    model,
    folder: Path,
    place: str,
    verify: bool = True,
    every: int = 1,
    progress: bool = True,
) -> Runs:
    """Run ``model`` (a :class:`~ocgnet_geo.locate.matcher_model.MatcherTileModel`) on every
    ``every``-th test sample of the CVOGL-layout ``folder``; verify its best peaks."""
    import time

    from ocgnet_geo.locate.extent import object_segment

    records = load_split(split_path(folder.parent, folder.name, "test"))[:: max(1, every)]
    runs = Runs()
    for rec in tqdm(records, desc=f"{place}/{folder.parent.name}", disable=not progress):
        query = np.asarray(Image.open(folder / "query" / rec.query_name).convert("RGB"))
        tile = np.asarray(Image.open(folder / "satellite" / rec.satellite_name).convert("RGB"))
        geo = parse_satellite_name(rec.satellite_name)
        gsd = geo.extent_m / tile.shape[1] if geo is not None else model.gsd_m
        model.gsd_m = gsd
        start = time.perf_counter()
        response, peaks = model.peaks(query, rec.click_xy, model.encode(tile), PEAKS)
        checked = verify_peaks(query, rec.click_xy, tile, peaks, VERIFIED if verify else 0)
        seconds = time.perf_counter() - start
        found = (response, peaks, *checked)
        segment = object_segment(query, rec.click_xy)
        runs.add(place, rec, query, tile, gsd, found, segment, seconds)
    return runs


def verify_peaks(
    query: np.ndarray,
    click: tuple[float, float],
    tile: np.ndarray,
    peaks,
    count: int = VERIFIED,
    probs: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Geometric verification of the best ``count`` peaks against the dataset tile itself
    (upsampled 2x by the verifier): (verified flags, centres, scales, linear maps at the
    click, inliers) per peak, the peaks' own centres, scales and template maps where not
    verified. With the peaks' calibrated ``probs`` (a calibrated model), verification stops
    as the pipeline's does (:func:`~ocgnet_geo.locate.refine.worth_verifying`)."""
    from ocgnet_geo.locate.matcher_model import linear_maps
    from ocgnet_geo.locate.refine import MIN_INLIERS, likelihood_ratio, worth_verifying
    from ocgnet_geo.locate.verify import verify as verify_geometry

    k = len(peaks.scales)
    verified, v_centres = np.zeros(k, bool), peaks.centres.copy()
    v_scales, inliers = peaks.scales.copy(), np.zeros(k, int)
    v_maps = linear_maps(peaks.scales, peaks.headings_deg)
    best = 0.0
    for n in range(min(k, count)):
        if probs is not None and not worth_verifying(float(probs[n]), best):
            break
        v = verify_geometry(
            query,
            click,
            tile,
            expected_scale=float(peaks.scales[n]),
            min_inliers=MIN_INLIERS,
            window_upsample=2.0,
        )
        inliers[n] = v.inliers
        if v.plausible:
            verified[n], v_centres[n], v_scales[n] = True, v.click, v.scale
            v_maps[n] = v.jacobian(click)
            if probs is not None:
                best = max(best, float(probs[n] * likelihood_ratio(np.array(v.inliers))))
    return verified, v_centres, v_scales, v_maps, inliers


def ranked_boxes(
    runs: Runs,
    box_factor: float,
    temperature: float,
    use_verification: bool = True,
    extent_weight: float = EXTENT_WEIGHT,
    shape_weight: float = SHAPE_WEIGHT,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Per sample the ranked boxes (k, 4) and the top-1 score under a calibration, with the
    pipeline's own box length (:func:`~ocgnet_geo.locate.matcher_model.blended_length`),
    re-ranking and merging (:func:`~ocgnet_geo.locate.refine.rerank_arrays`)."""
    from ocgnet_geo.locate.matcher_model import (
        Peaks,
        blended_length,
        linear_maps,
        peak_logits,
        shaped_boxes,
    )
    from ocgnet_geo.locate.refine import rerank_arrays

    out, top = [], []
    for i in range(len(runs)):
        k = len(runs.scales[i])
        if k == 0:
            out.append(np.zeros((1, 4)))
            top.append(0.0)
            continue
        peaks = Peaks(runs.centres[i], runs.scales[i], np.zeros(k), runs.cells[i])
        logits, lp = peak_logits(runs.response[i].astype(np.float64), peaks, temperature)
        probs = np.exp(logits - lp)
        use = _verified_as_pipeline(probs, runs.verified[i], runs.inliers[i]) & use_verification
        centres = np.where(use[:, None], runs.v_centres[i], runs.centres[i])
        scales = np.where(use, runs.v_scales[i], runs.scales[i])
        maps = linear_maps(runs.scales[i], runs.headings[i])
        maps = np.where(use[:, None, None], runs.v_maps[i], maps)
        length = blended_length(runs.width[i], runs.extent[i] or None, extent_weight)
        sides = box_factor * length * scales
        boxes = shaped_boxes(centres, sides, maps, runs.hull[i], shape_weight)
        if use_verification:
            order, scores = rerank_arrays(probs, boxes, use, runs.inliers[i])
        else:
            order = np.argsort(-probs, kind="stable")
            scores = probs[order]
        out.append(boxes[order])
        top.append(float(scores[0]))
    return out, np.asarray(top)


def _verified_as_pipeline(probs: np.ndarray, verified: np.ndarray, inliers: np.ndarray):
    """The verified flags the pipeline would have: it verifies the best candidates in order
    of score and stops once none can overtake a verified one
    (:func:`~ocgnet_geo.locate.refine.worth_verifying`)."""
    from ocgnet_geo.locate.refine import likelihood_ratio, worth_verifying

    use = np.zeros_like(verified)
    best = 0.0
    for n in np.argsort(-probs, kind="stable")[:VERIFIED]:
        if not worth_verifying(float(probs[n]), best):
            break
        if verified[n]:
            use[n] = True
            best = max(best, float(probs[n] * likelihood_ratio(np.array(inliers[n]))))
    return use


def score(
    runs: Runs,
    box_factor: float,
    temperature: float,
    use_verification: bool = True,
    extent_weight: float = EXTENT_WEIGHT,
    shape_weight: float = SHAPE_WEIGHT,
):
    """(metrics, top-1 scores) of stored runs under a calibration."""
    boxes, top = ranked_boxes(
        runs, box_factor, temperature, use_verification, extent_weight, shape_weight
    )
    acc = MetricAccumulator()
    ranked = [np.stack([b[min(r, len(b) - 1)] for b in boxes]) for r in range(3)]
    acc.add(ranked_box_metrics(np.stack(runs.gt), ranked, np.asarray(runs.gsd)), runs.class_name)
    return acc, top


def fit(
    runs: Runs,
    use_verification: bool = True,
    extent_weight: float = EXTENT_WEIGHT,
    shape_weight: float = SHAPE_WEIGHT,
) -> dict[str, float]:
    """Box factor maximising acc@0.5, then the temperature minimising the Brier score of the
    top-1 score against top-1 correctness (IoU > 0.5), on ``runs``."""
    t0 = float(TEMPERATURES[len(TEMPERATURES) // 2])
    accs = [
        score(runs, c, t0, use_verification, extent_weight, shape_weight)[0].summary()["acc50"]
        for c in BOX_FACTORS
    ]
    box_factor = float(BOX_FACTORS[int(np.argmax(accs))])
    best = (np.inf, t0)
    for t in TEMPERATURES:
        acc, top = score(runs, box_factor, float(t), use_verification, extent_weight, shape_weight)
        hit = acc.arrays()["hit50"]
        brier = float(np.mean((top - hit) ** 2))
        best = min(best, (brier, float(t)))
    return {"box_factor": box_factor, "temperature": best[1], "brier": best[0]}


def leave_one_place_out(
    runs: Runs,
    use_verification: bool = True,
    extent_weight: float = EXTENT_WEIGHT,
    shape_weight: float = SHAPE_WEIGHT,
) -> dict[str, dict]:
    """Per place: the calibration fitted on every other place, and that place's metrics under
    it (``summary``), plus the top-1 scores' mean (``mean_top1_score``, for calibration).
    With fold segments attached (:func:`attach_fold_segments`), both use the object sizes
    measured by the segmentation head trained without that place."""
    places = sorted(set(runs.place))
    out = {}
    for place in places:
        held = np.array([p == place for p in runs.place])
        fold = runs.for_fold(place)
        calibration = fit(fold.subset(~held), use_verification, extent_weight, shape_weight)
        acc, top = score(
            fold.subset(held),
            calibration["box_factor"],
            calibration["temperature"],
            use_verification,
            extent_weight,
            shape_weight,
        )
        out[place] = {
            "calibration": calibration,
            "summary": acc.summary(),
            "mean_top1_score": float(np.mean(top)),
            "arrays": acc.arrays(),
        }
    return out


def sift_alone(folder: Path, place: str, box_factor: float, every: int = 1) -> Runs:
    """SIFT + robust homography between the photo and the whole tile (upsampled 2x), the click
    mapped (box side ``box_factor`` x the matcher's box length x measured scale); the tile
    centre when the geometry is not plausible. Stored as runs with one peak (score 1)."""
    from ocgnet_geo.locate.extent import object_segment
    from ocgnet_geo.locate.refine import MIN_INLIERS
    from ocgnet_geo.locate.verify import verify as verify_geometry

    records = load_split(split_path(folder.parent, folder.name, "test"))[:: max(1, every)]
    runs = Runs()
    for rec in tqdm(records, desc=f"sift {place}/{folder.parent.name}", leave=False):
        query = np.asarray(Image.open(folder / "query" / rec.query_name).convert("RGB"))
        tile = np.asarray(Image.open(folder / "satellite" / rec.satellite_name).convert("RGB"))
        geo = parse_satellite_name(rec.satellite_name)
        v = verify_geometry(query, rec.click_xy, tile, min_inliers=MIN_INLIERS, window_upsample=2.0)
        centre = np.array([v.click if v.plausible else (tile.shape[1] / 2, tile.shape[0] / 2)])
        scale = np.array([v.scale if v.plausible else 1.0])
        linear = v.jacobian(rec.click_xy) if v.plausible else np.eye(2)
        segment = object_segment(query, rec.click_xy)
        runs.place.append(place)
        runs.class_name.append(rec.class_name)
        runs.gt.append(np.asarray(rec.bbox, float))
        runs.gsd.append(geo.extent_m / tile.shape[1] if geo is not None else np.nan)
        runs.width.append(query.shape[1])
        runs.add_segment(segment, rec.click_xy)
        runs.tile_px.append(tile.shape[1])
        runs.response.append(np.zeros(1, np.float32))
        runs.centres.append(centre)
        runs.scales.append(scale)
        runs.headings.append(np.degrees([np.arctan2(linear[1, 0], linear[0, 0])]))
        runs.cells.append([np.array([0])])
        runs.verified.append(np.zeros(1, bool))
        runs.v_centres.append(centre)
        runs.v_scales.append(scale)
        runs.v_maps.append(linear[None])
        runs.inliers.append(np.array([v.inliers]))
        runs.seconds.append(0.0)
    return runs


#: The ablations of the leave-one-place-out report: (name, model switches, use verification,
#: extent weight, shape weight, object measured by the learned head (else by the colour
#: segmentation)).
ABLATIONS = (
    ("matcher", {}, True, EXTENT_WEIGHT, SHAPE_WEIGHT, True),
    ("colour segmentation, no learned head", {}, True, 0.5, 0.5, False),
    ("no geometric verification", {}, False, EXTENT_WEIGHT, SHAPE_WEIGHT, True),
    ("square boxes (no object shape)", {}, True, EXTENT_WEIGHT, 0.0, True),
    ("box from the photo width only", {}, True, 0.0, 0.0, True),
    ("no rotation search", {"rotation_search": False}, True, EXTENT_WEIGHT, SHAPE_WEIGHT, True),
    ("no scale search", {"scale_search": False}, True, EXTENT_WEIGHT, SHAPE_WEIGHT, True),
)


def collect_all(
    weights: Path,
    root: Path,
    runs_dir: Path,
    settings: dict,
    every: int = 1,
    progress: bool = True,
) -> Runs:
    """Runs of the matcher in ``weights`` with ``settings`` (model switches) on every place
    under ``root``, cached per dataset folder as JSON under ``runs_dir``."""
    from ocgnet_geo.locate.matcher_model import MatcherTileModel
    from ocgnet_geo.locate.tile_model import weights_id
    from ocgnet_geo.models.matcher import load_matcher

    model = MatcherTileModel(load_matcher(weights), weights_id(Path(weights)), **settings)
    runs = Runs()
    for place, folder, cache in _run_caches(root, runs_dir, settings, every):
        if cache.is_file():
            part = Runs.load(cache)
        else:
            part = collect(model, folder, place, every=every, progress=progress)
            part.save(cache)
        runs.extend(part)
    return runs


def load_cached_runs(root: Path, runs_dir: Path, settings: dict, every: int = 1) -> Runs:
    """The runs :func:`collect_all` stored, without a model (a missing cache is an error)."""
    runs = Runs()
    for _, _, cache in _run_caches(root, runs_dir, settings, every):
        if not cache.is_file():
            raise FileNotFoundError(f"{cache}: no stored runs; run make matcher-model first")
        runs.extend(Runs.load(cache))
    return runs


def _run_caches(root: Path, runs_dir: Path, settings: dict, every: int):
    """(place, dataset folder, cache file) of every set under ``root``."""
    tag = "-".join(f"{k}={v}" for k, v in sorted(settings.items())) or "full"
    for place, folders in dataset_folders(root).items():
        for folder in folders:
            name = "_".join(folder.relative_to(root).parts[:-1])
            yield place, folder, runs_dir / tag / f"{name}_every{every}_v{RUNS_VERSION}.json"


def fold_measurements(weights: Path, root: Path, runs_dir: Path, every: int = 1) -> list[dict]:
    """The clicked objects measured by each fold's segmentation head (fitted first where not
    cached under ``runs_dir/segment-heads``; :mod:`ocgnet_geo.train.segment_folds`)."""
    from ocgnet_geo.train.segment_folds import fold_heads, fold_segments

    cache = runs_dir / "segment-heads"
    return fold_segments(fold_heads(weights, root, cache, every), root, cache, every)


def buildings_only(runs: Runs) -> Runs:
    """The samples whose object is a footprint (any class but ``region``, the class of
    synthetic random regions)."""
    return runs.subset(np.array([c != "region" for c in runs.class_name]))


def evaluate_places(
    weights: Path,
    root: Path,
    runs_dir: Path,
    every: int = 1,
    ablations: bool = True,
    progress: bool = True,
) -> dict:
    """The leave-one-place-out report: per place and overall, for footprint objects and for
    all objects, the matcher, its ablations, SIFT alone and both baselines."""
    from ocgnet_geo.train.baselines import median_size_m, run_baselines
    from ocgnet_geo.train.segment_folds import attach_fold_segments

    report: dict = {"places": {}, "methods": [], "calibration": {}}
    todo = ABLATIONS if ablations else ABLATIONS[:1]
    segments = fold_measurements(weights, root, runs_dir, every)
    for name, settings, use_verification, extent_weight, shape_weight, head in todo:
        runs = collect_all(weights, root, runs_dir, settings, every, progress)
        if head:
            runs = attach_fold_segments(runs, segments)
        for subset, part in (("buildings", buildings_only(runs)), ("all", runs)):
            if not len(part):
                continue
            lopo = leave_one_place_out(part, use_verification, extent_weight, shape_weight)
            _add(report, name, subset, lopo, part)
            if name == "matcher" and subset == "buildings":
                report["calibration"] = {p: v["calibration"] for p, v in lopo.items()}
                report["seconds_per_query"] = float(np.median(runs.seconds))
    if ablations:
        factor = float(np.median([c["box_factor"] for c in report["calibration"].values()]))
        sift = Runs()
        for place, folders in dataset_folders(root).items():
            for folder in folders:
                sift.extend(sift_alone(folder, place, factor, every))
        sift = attach_fold_segments(sift, segments)
        for subset, part in (("buildings", buildings_only(sift)), ("all", sift)):
            if not len(part):
                continue
            places = np.array(part.place)
            per = {}
            for p in sorted(set(part.place)):
                held = part.for_fold(p).subset(places == p)  # sized by the fold's head
                acc, _ = score(held, factor, 0.02, use_verification=False)
                per[p] = {"summary": acc.summary(), "arrays": acc.arrays()}
            _add(report, "SIFT alone", subset, per, part)
    full = collect_all(weights, root, runs_dir, {}, every, progress)
    for subset, part in (("buildings", buildings_only(full)), ("all", full)):
        if not len(part):
            continue
        places = np.array(part.place)
        per = {}
        for place in sorted(set(part.place)):
            held = places == place
            gt, gsd = np.stack(part.gt), np.asarray(part.gsd)
            size = median_size_m(gt[~held], gsd[~held])
            tile = int(np.median(part.tile_px))
            anchors = _anchors(tile)
            accs = run_baselines(
                gt[held], gsd[held], list(np.array(part.class_name)[held]), tile, anchors, size
            )
            for bname, acc in accs.items():
                per.setdefault(bname, {})[place] = {
                    "summary": acc.summary(),
                    "arrays": acc.arrays(),
                }
        for bname, res in per.items():
            _add(report, f"baseline: {bname}", subset, res, part)
    return report


def _anchors(tile_px: int) -> list[tuple[float, float]]:
    """OCGNet's 9 official anchors scaled from a 1024-px tile to ``tile_px``."""
    from ocgnet_geo.models.ocgnet.config import OFFICIAL_ANCHORS

    return [(w * tile_px / 1024, h * tile_px / 1024) for w, h in OFFICIAL_ANCHORS]


def _add(report: dict, method: str, subset: str, per_place: dict, runs: Runs) -> None:
    from ocgnet_geo.train.metrics import summarize

    if not per_place:
        return
    if method not in report["methods"]:
        report["methods"].append(method)
    for place, res in per_place.items():
        report["places"].setdefault(subset, {}).setdefault(place, {})[method] = res["summary"]
    arrays = [res["arrays"] for res in per_place.values()]
    merged = {k: np.concatenate([a[k] for a in arrays]) for k in arrays[0]}
    report["places"][subset].setdefault("overall", {})[method] = summarize(merged)


def markdown(report: dict) -> str:
    """The report as Markdown tables (one per subset: acc@0.5, acc@0.25, top-3@0.5, median
    centre error in metres, samples)."""
    lines = []
    for subset, places in report["places"].items():
        title = (
            "footprint objects (buildings)"
            if subset == "buildings"
            else "all objects (buildings and random regions)"
        )
        lines += [
            f"### {title}",
            "",
            "| place | method | n | acc@0.5 | acc@0.25 | top-3@0.5 | median error m |",
            "|---|---|---|---|---|---|---|",
        ]
        for place in [p for p in places if p != "overall"] + ["overall"]:
            for method in report["methods"]:
                s = places[place].get(method)
                if s is None:
                    continue
                lines.append(
                    f"| {place} | {method} | {s['n']} | {s['acc50']:.2f} | {s['acc25']:.2f} | "
                    f"{s['top3']:.2f} | {s['median_err_m']:.1f} |"
                )
        lines.append("")
    cal = report.get("calibration", {})
    if cal:
        lines += [
            "### calibration fitted on the other places",
            "",
            "| held-out place | box factor | temperature |",
            "|---|---|---|",
        ]
        lines += [
            f"| {p} | {c['box_factor']:.2f} | {c['temperature']:.4f} |" for p, c in cal.items()
        ]
    return "\n".join(lines) + "\n"
