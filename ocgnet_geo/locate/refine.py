"""Geometric refinement: a stage after ranking that verifies the best candidates with local
features and a robust homography (:mod:`ocgnet_geo.locate.verify`) and, where the geometry
is plausible, moves each one to exactly where the click maps.

For each of the :data:`REFINE_TOP` best candidates a window of the raster is read around it,
north-up in the search grid's CRS, at up to twice the search tiles' resolution (the raster's
own resolution when that is coarser), wide enough to hold the ground the photo shows. The
photo (at its working size) is matched against the window:

* plausible geometry: the box is re-centred on the mapped click and, when the model reported
  the scale it matched, resized by the measured over the matched scale; when the model gave
  the clicked object's shape (the matcher's ``box_shape``), the box keeps its area and takes
  the proportions of that shape mapped through the homography; ``refined`` is True and
  ``inliers`` counts the homography's inliers;
* implausible geometry changes nothing (``refined`` False): a failed verification never
  overrides a good template match.

Re-ranking: a verified candidate's probability ``p`` is multiplied by the likelihood ratio
``(inliers / min_inliers) ** INLIER_POWER`` (capped at :data:`MAX_LIKELIHOOD_RATIO`) and all
scores renormalised together with the probability mass of everything not listed, so scores
still sum to at most 1 and an unverified candidate keeps its relative standing.

Verification stops early (:func:`worth_verifying`) once a verified candidate's weighted
score is beyond what the next one could reach even with the largest likelihood ratio: the
ranking cannot change any more, and each verification costs a window read and SIFT.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from affine import Affine

from ocgnet_geo.errors import InputError
from ocgnet_geo.geo.boxes import boxes_to_polygons, reproject_geometries
from ocgnet_geo.geo.raster import RasterInfo, read_tile
from ocgnet_geo.geo.tile import TileSpec

MODES = ("geometric", "none")
#: Candidates verified per search (the rest keep their template scores).
REFINE_TOP = 3
#: Window side in photo footprints (the ground the working photo shows at the matched scale).
WINDOW_FOOTPRINTS = 1.5
#: Window side at least this many candidate box sides (models that report no scale).
WINDOW_BOXES = 4.0
#: Largest window side in pixels (the window's resolution coarsens to fit).
MAX_WINDOW_PX = 512
#: Windows are read at up to this many times the search tiles' resolution.
MAX_UPSAMPLE = 2.0
MIN_INLIERS = 15
INLIER_POWER = 2.0
MAX_LIKELIHOOD_RATIO = 100.0
#: Candidates that end up overlapping more than this are one object.
MERGE_IOU = 0.5


class RefineError(InputError):
    """A refinement mode that is not one of :data:`MODES`."""


def check_mode(mode: object) -> str:
    """``mode`` if it is one of :data:`MODES`, else a one-line :class:`RefineError`."""
    if mode not in MODES:
        raise RefineError(f"refine {mode!r}: expected one of {', '.join(MODES)}")
    return str(mode)


def refine_candidates(
    candidates: list[Any],
    photo_rgb: np.ndarray,
    click: tuple[float, float],
    info: RasterInfo,
    cancel: Callable[[], bool] | None = None,
    shape: tuple[np.ndarray | None, float] = (None, 0.0),
) -> list[Any]:
    """Verify the best :data:`REFINE_TOP` of ``candidates`` (ranked
    :class:`~ocgnet_geo.locate.locator.Candidate` objects, polygons in ``info``'s CRS) against
    the photo (working size, ``click`` in its pixels); returns them re-ranked. ``shape``:
    (the clicked object's hull relative to the click, photo px; its weight) that a verified
    box takes its proportions from (module docstring; nothing without a hull)."""
    from ocgnet_geo.locate.verify import photo_keypoints, verify

    out = list(candidates)
    keypoints = None  # the photo's, detected once for all candidates
    best = 0.0  # the best weighted score of a verified candidate so far
    for n, cand in enumerate(candidates[:REFINE_TOP]):
        if (cancel is not None and cancel()) or not worth_verifying(cand.score, best):
            break
        window = _window(cand, photo_rgb.shape[1], info)
        rgb, valid = read_tile(info, window)
        if valid.mean() < 0.5:
            continue
        tile_gsd = cand.tile_spec.gsd_m
        expected = cand.scale * tile_gsd / window.gsd_m if cand.scale else None
        if keypoints is None:
            keypoints = photo_keypoints(photo_rgb)
        result = verify(
            photo_rgb,
            click,
            rgb,
            expected_scale=expected,
            min_inliers=MIN_INLIERS,
            photo_keypoints=keypoints,
        )
        if not result.plausible:
            out[n] = replace(cand, inliers=result.inliers)
            continue
        linear = result.jacobian(click) if shape[0] is not None else None
        out[n] = _moved(cand, window, result, info, shape, linear)
        best = max(best, cand.score * float(likelihood_ratio(np.array(result.inliers))))
    return rerank(out)


def _window(cand: Any, photo_width: int, info: RasterInfo) -> TileSpec:
    """A north-up window of the search grid around the candidate (see module docstring)."""
    tile = cand.tile_spec
    x0, y0, x1, y1 = cand.box_px
    side_px = max(x1 - x0, y1 - y0) * WINDOW_BOXES
    if cand.scale:
        side_px = max(side_px, WINDOW_FOOTPRINTS * photo_width * cand.scale)
    native = min(info.pixel_size_m) / tile.gsd_m  # raster pixel in tile px
    step = max(1.0 / MAX_UPSAMPLE, native, side_px / MAX_WINDOW_PX)  # tile px per window px
    n = max(32, math.ceil(side_px / step))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    transform = tile.transform @ Affine.translation(cx - n * step / 2, cy - n * step / 2)
    transform = transform @ Affine.scale(step)
    return TileSpec("refine", tile.crs, transform, n, n, tile.gsd_m * step)


def _moved(
    cand: Any,
    window: TileSpec,
    result: Any,
    info: RasterInfo,
    shape: tuple[np.ndarray | None, float],
    linear: np.ndarray | None,
) -> Any:
    """The candidate moved as :func:`moved_box` says, its polygon in the raster's CRS."""
    tile = cand.tile_spec
    to_tile = ~tile.transform @ window.transform
    box, scale = moved_box(cand.box_px, cand.scale, result, to_tile)
    if shape[0] is not None and linear is not None and np.all(np.isfinite(linear)):
        from ocgnet_geo.locate.matcher_model import shaped_boxes

        x0, y0, x1, y1 = box
        side = math.sqrt((x1 - x0) * (y1 - y0))
        centre = np.array([[(x0 + x1) / 2, (y0 + y1) / 2]])
        box = tuple(float(v) for v in shaped_boxes(centre, [side], linear[None], *shape)[0])
    polygon = boxes_to_polygons(np.array([box]), tile)
    polygon = reproject_geometries(polygon, tile.crs, info.crs)[0]
    return replace(
        cand, box_px=box, polygon=polygon, refined=True, inliers=result.inliers, scale=scale
    )


def moved_box(
    box_px: tuple[float, float, float, float],
    scale: float | None,
    result: Any,
    window_to_tile: Affine,
) -> tuple[tuple[float, float, float, float], float | None]:
    """A box (tile px) re-centred on the verified click and, when the model's matched
    ``scale`` (tile px per photo px) is known, resized by the measured over the matched scale.

    ``result`` is a plausible :class:`~ocgnet_geo.locate.verify.Verification` against a window
    whose pixels map to tile pixels by the scaled translation ``window_to_tile``. Returns the
    new box and the measured scale (None when ``scale`` is None)."""
    step = math.sqrt(abs(window_to_tile.determinant))
    cx, cy = window_to_tile @ result.click
    x0, y0, x1, y1 = box_px
    measured = result.scale * step
    resize = measured / scale if scale else 1.0
    hw, hh = (x1 - x0) / 2 * resize, (y1 - y0) / 2 * resize
    return (cx - hw, cy - hh, cx + hw, cy + hh), (measured if scale else None)


def likelihood_ratio(inliers: np.ndarray) -> np.ndarray:
    """A verified candidate's score multiplier for its homography's inliers (module
    docstring)."""
    return np.minimum(MAX_LIKELIHOOD_RATIO, (inliers / MIN_INLIERS) ** INLIER_POWER)


def worth_verifying(score: float, best_verified: float) -> bool:
    """Whether a candidate of (template) ``score`` could still overtake the best verified
    candidate, whose weighted score is ``best_verified`` (0 when none is verified yet)."""
    return score * MAX_LIKELIHOOD_RATIO > best_verified


def rerank(cands: list[Any]) -> list[Any]:
    """Candidates re-scored and merged by :func:`rerank_arrays` (their polygons' envelopes
    stand for the boxes); ranks renumbered."""
    if not cands:
        return []
    boxes = np.array([c.polygon.bounds for c in cands], dtype=np.float64)
    order, scores = rerank_arrays(
        np.array([c.score for c in cands]),
        boxes,
        np.array([c.refined for c in cands]),
        np.array([c.inliers for c in cands]),
    )
    return [
        replace(cands[n], score=float(v), rank=i + 1)
        for i, (n, v) in enumerate(zip(order, scores, strict=True))
    ]


def rerank_arrays(
    scores: np.ndarray, boxes: np.ndarray, refined: np.ndarray, inliers: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Scores renormalised with the verified candidates' likelihood ratios (module
    docstring), then candidates whose boxes (xyxy, any one frame) overlap a better one by
    IoU > :data:`MERGE_IOU` merged into it, their scores summed. Returns the kept indices,
    best first, and their new scores."""
    ratios = np.where(refined, likelihood_ratio(np.asarray(inliers, dtype=np.float64)), 1.0)
    weighted = scores * ratios
    total = weighted.sum() + max(0.0, 1.0 - float(scores.sum()))
    new = weighted / total if total > 0 else weighted
    kept: list[int] = []
    merged: list[float] = []
    for n in np.argsort(-new, kind="stable"):
        ious = _box_iou(boxes[n], boxes[kept]) if kept else np.zeros(0)
        twin = int(np.argmax(ious)) if len(ious) and ious.max() > MERGE_IOU else None
        if twin is None:
            kept.append(int(n))
            merged.append(float(new[n]))
        else:
            merged[twin] += float(new[n])
    return np.array(kept, dtype=int), np.array(merged)


def _box_iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box with each of ``others`` (n, 4)."""
    w = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    h = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    inter = w * h
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-12)
