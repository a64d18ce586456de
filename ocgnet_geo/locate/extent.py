"""How large the clicked object is in the photo, and its shape: a segment around the click.

The matcher sizes a candidate's box from the matched scale and a length in photo pixels.
The photo's width alone assumes every clicked object spans the same share of its photo; a
house filling a close-up and a shed in a wide view differ by a factor of three or more. This
module measures the object instead, in one of two ways (:func:`clicked_segment`):

* the matcher's learned segmentation head (:mod:`ocgnet_geo.models.matcher.segment_head`),
  where the model has one (the bundled model does): the cells of probability >=
  :data:`HEAD_THRESHOLD` connected to the click;
* otherwise OpenCV's GrabCut (colour models of object and background, graph cut) on a copy
  of the photo reduced to :data:`SEGMENT_PX` px, seeded with a small disc around the click as
  object, a wider disc as probably object, the border as background, the rest as probably
  background (:func:`object_segment`). It cuts dense blocks of adjoining roofs short.

The object's size is the square root of the area of the segment holding the click, in photo
px of the array passed in; its shape is the segment's convex hull (:class:`Segment`), which
the matcher maps into the tile to give the box its proportions
(:func:`~ocgnet_geo.locate.matcher_model.shaped_boxes`).

It is a cue, not a truth, so the matcher can blend it with the photo width
(:class:`~ocgnet_geo.models.matcher.MatcherConfig` ``extent_weight``; measured in
``docs/matcher-report.md``). OpenCV is imported lazily; both ways are deterministic (OpenCV's
RNG is seeded for GrabCut's k-means initialisation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Long side (px) of the copy the segmentation runs on (64 ms on one core for 128 px).
SEGMENT_PX = 128
#: Disc radii around the click, as fractions of the long side: certainly the object, and
#: probably the object.
SURE_RADIUS = 0.04
LIKELY_RADIUS = 0.15
#: GrabCut iterations.
ITERATIONS = 3
#: Segments smaller than this share of the photo area are no measurement (a failed cut).
MIN_AREA_SHARE = 0.002
#: Probability from which a cell of the learned head's output belongs to the object.
HEAD_THRESHOLD = 0.5


@dataclass(frozen=True)
class Segment:
    """The clicked object in the photo: ``area_px`` its area (photo px²) and ``hull`` (N, 2)
    its convex hull's corners (continuous photo px, x right, y down)."""

    area_px: float
    hull: np.ndarray = field(compare=False)

    @property
    def size_px(self) -> float:
        """Square root of the area (photo px)."""
        return math.sqrt(self.area_px)


def object_extent_px(photo_rgb: np.ndarray, click: tuple[float, float]) -> float | None:
    """Square root of the clicked object's area in ``photo_rgb`` px (:func:`object_segment`),
    or None when the segmentation finds nothing."""
    segment = object_segment(photo_rgb, click)
    return None if segment is None else segment.size_px


def clicked_segment(net, photo_rgb: np.ndarray, click: tuple[float, float]) -> Segment | None:
    """The clicked object's segment as the matcher ``net`` measures it: its learned
    segmentation head where it has one (cells of probability >= :data:`HEAD_THRESHOLD`),
    else the colour segmentation :func:`object_segment`; None on a uniform photo or a click
    outside it."""
    if getattr(net, "segment_head", None) is None:
        return object_segment(photo_rgb, click)
    h, w = photo_rgb.shape[:2]
    if not (0 <= click[0] < w and 0 <= click[1] < h) or _uniform(photo_rgb):
        return None
    prob, cell_px = net.object_probability(photo_rgb, click)
    return segment_from_mask(
        prob >= HEAD_THRESHOLD, (click[0] / cell_px, click[1] / cell_px), 1 / cell_px, 1 / cell_px
    )


def _uniform(photo_rgb: np.ndarray) -> bool:
    """True when no channel of the photo varies by a grey level (nothing to segment)."""
    step = max(1, max(photo_rgb.shape[:2]) // 128)
    return bool(photo_rgb[::step, ::step].reshape(-1, 3).std(axis=0).max() < 1.0)


def object_segment(photo_rgb: np.ndarray, click: tuple[float, float]) -> Segment | None:
    """The clicked object's segment in ``photo_rgb`` (uint8 (H, W, 3) RGB; ``click`` (x, y) in
    its continuous px), or None when the segmentation finds nothing (a uniform photo, a click
    on the border, a segment below :data:`MIN_AREA_SHARE` of the photo)."""
    import cv2

    from ocgnet_geo.locate.verify import seeded_rng

    h, w = photo_rgb.shape[:2]
    factor = min(1.0, SEGMENT_PX / max(h, w))
    size = (max(8, round(w * factor)), max(8, round(h * factor)))
    small = cv2.resize(photo_rgb, size, interpolation=cv2.INTER_AREA) if factor < 1 else photo_rgb
    fx, fy = size[0] / w, size[1] / h
    cx, cy = click[0] * fx, click[1] * fy
    sh, sw = small.shape[:2]
    if not (0 <= cx < sw and 0 <= cy < sh) or _uniform(small):
        return None
    mask = _seed_mask(sh, sw, (cx, cy))
    background, foreground = np.zeros((1, 65)), np.zeros((1, 65))
    with seeded_rng(0):
        try:
            cv2.grabCut(
                np.ascontiguousarray(small[:, :, ::-1]),
                mask,
                None,
                background,
                foreground,
                ITERATIONS,
                cv2.GC_INIT_WITH_MASK,
            )
        except cv2.error:
            return None
    segment = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    return segment_from_mask(segment, (cx, cy), fx, fy)


def segment_from_mask(
    mask: np.ndarray, click: tuple[float, float], fx: float, fy: float
) -> Segment | None:
    """The :class:`Segment` of a boolean object mask (h, w) whose cells are ``1 / fx`` x
    ``1 / fy`` photo px: its connected part holding ``click`` (x, y in mask cells), in photo
    px; None when the click's cell is not in the mask or the part is smaller than
    :data:`MIN_AREA_SHARE` of the mask."""
    import cv2

    h, w = mask.shape
    col, row = min(w - 1, max(0, int(click[0]))), min(h - 1, max(0, int(click[1])))
    _, labels = cv2.connectedComponents(mask.astype(np.uint8))
    label = labels[row, col]
    if label == 0 or not mask[row, col]:
        return None
    inside = labels == label
    area = float(inside.sum())
    if area < MIN_AREA_SHARE * h * w:
        return None
    return Segment(area / (fx * fy), _hull(inside, fx, fy))


def _hull(inside: np.ndarray, fx: float, fy: float) -> np.ndarray:
    """Convex hull (N, 2) of a boolean mask's pixels' outer corners, scaled back to photo px
    by the reduction factors ``fx``, ``fy``."""
    import cv2

    rows, cols = np.nonzero(inside)
    corners = np.concatenate(
        [np.stack([cols + dx, rows + dy], axis=1) for dx in (0, 1) for dy in (0, 1)]
    ).astype(np.float32)
    hull = cv2.convexHull(corners).reshape(-1, 2).astype(np.float64)
    return hull / np.array([fx, fy])


def _seed_mask(h: int, w: int, click: tuple[float, float]) -> np.ndarray:
    """GrabCut's initial labels (module docstring) for an (h, w) image."""
    import cv2

    long_side = max(h, w)
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot(xx + 0.5 - click[0], yy + 0.5 - click[1])
    mask = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
    mask[r < LIKELY_RADIUS * long_side] = cv2.GC_PR_FGD
    mask[r < SURE_RADIUS * long_side] = cv2.GC_FGD
    b = max(2, long_side // 64)
    mask[:b] = cv2.GC_BGD
    mask[-b:] = cv2.GC_BGD
    mask[:, :b] = cv2.GC_BGD
    mask[:, -b:] = cv2.GC_BGD
    return mask
