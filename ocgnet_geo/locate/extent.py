"""How large the clicked object is in the photo: a colour segmentation around the click.

The matcher sizes a candidate's box from the matched scale and a length in photo pixels.
The photo's width alone assumes every clicked object spans the same share of its photo; a
house filling a close-up and a shed in a wide view differ by a factor of three or more. This
module measures the object instead: OpenCV's GrabCut (colour models of object and
background, graph cut) on a copy of the photo reduced to :data:`SEGMENT_PX` px, seeded with
a small disc around the click as object, a wider disc as probably object, the border as
background, the rest as probably background. The object's size is the square root of the
area of the segment holding the click, in photo px of the array passed in; its shape is the
segment's convex hull (:class:`Segment`), which the matcher maps into the tile to give the box
its proportions (:func:`~ocgnet_geo.locate.matcher_model.shaped_boxes`).

It is a cue, not a truth (a roof of the same colour as the street leaks into it), so the
matcher blends it with the photo width (:class:`~ocgnet_geo.models.matcher.MatcherConfig`
``extent_weight``; measured in ``docs/matcher-report.md``). OpenCV is imported lazily; the
segmentation is deterministic (OpenCV's RNG is seeded for its k-means initialisation).
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
    if not (0 <= cx < sw and 0 <= cy < sh) or small.reshape(-1, 3).std(axis=0).max() < 1.0:
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
    segment = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8)
    _, labels = cv2.connectedComponents(segment)
    label = labels[int(cy), int(cx)]
    if label == 0:
        return None
    inside = labels == label
    area = float(inside.sum())
    if area < MIN_AREA_SHARE * sh * sw:
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
