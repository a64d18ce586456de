"""Register a whole photo to a north-up raster window: the photo -> window homography.

For each feature family (:mod:`.features`) and each hypothesis of that family (SIFT: the
photo as is; XFeat: the photo turned by right angles and reduced by a short scale ladder,
because learned features are neither rotation- nor scale-invariant), point pairs are matched,
a homography is estimated with MAGSAC++ and checked by
:func:`~ocgnet_geo.locate.verify.assess` (enough inliers, not degenerate, not mirrored,
anisotropy, the click inside the window, inliers spread over the photo, the click near
them). Every plausible hypothesis gets a calibrated probability of being right
(:mod:`.confidence`); the best one is kept. Hypotheses stop early once one is
:data:`STOP_PROBABILITY` sure.

All homographies map *photo px of the array passed in* to *window px* (continuous
coordinates, see :mod:`.verify`); the rotation and scale of a hypothesis are composed into
it, so callers never see them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: A hypothesis this probable ends the search.
STOP_PROBABILITY = 0.95
#: XFeat's photo scale ladder (factors applied to the photo as passed in), without a prior.
XFEAT_SCALES = (1.0, 0.5, 0.25)
#: Smallest photo side (px) a hypothesis may reduce the photo to.
MIN_PHOTO_SIDE = 96
#: The plausibility checks of a whole-photo registration (see :func:`.verify.assess`).
MIN_INLIERS = 15
MAX_ANISOTROPY = 4.0
MIN_SPREAD = 0.05
#: The click may lie this share of the photo's long side outside the inliers' hull (a whole
#: photo is registered, so clicks near its edge are normal).
HULL_MARGIN = 0.25
REPROJ_THRESHOLD_PX = 4.0


@dataclass(frozen=True)
class Registration:
    """A plausible photo -> window homography and its evidence.

    ``homography`` maps photo px (the array given to :func:`register`) to window px;
    ``inliers``/``matches`` count MAGSAC's inliers and the putative pairs; ``method`` is the
    feature family (``sift``/``xfeat``); ``reprojection_px`` the median inlier reprojection
    error (window px); ``spread`` the share of the photo area covered by the inliers' hull;
    ``rotation_deg`` the right-angle turn (clockwise) and ``photo_scale`` the reduction of
    the photo the hypothesis used; ``probability`` the calibrated probability that the
    registration is right (:func:`.confidence.registration_probability`)."""

    homography: np.ndarray = field(compare=False)
    inliers: int
    matches: int
    method: str
    reprojection_px: float
    spread: float
    rotation_deg: int
    photo_scale: float
    probability: float
    click: tuple[float, float]

    def map_points(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) photo px -> (N, 2) window px."""
        from ocgnet_geo.locate.verify import _apply

        return _apply(self.homography, np.asarray(xy, dtype=np.float64).reshape(-1, 2))


@dataclass
class Attempt:
    """One hypothesis tried (diagnostics): family, rotation, scale, pairs, inliers, reason
    ("" when plausible) and probability (0 when not plausible)."""

    method: str
    rotation_deg: int
    photo_scale: float
    matches: int
    inliers: int
    reason: str
    probability: float = 0.0


def hypotheses(
    method: str,
    rotations: Sequence[int] | None = None,
    scales: Sequence[float] | None = None,
) -> list[tuple[int, float]]:
    """(rotation_deg, photo_scale) pairs to try for a family: SIFT one (0, 1); XFeat every
    rotation (default the four right angles) at every scale (default :data:`XFEAT_SCALES`),
    scale-major so that the likeliest scale is tried at all rotations first."""
    if method == "sift":
        return [(0, 1.0)]
    rotations = list(rotations) if rotations else [0, 90, 180, 270]
    scales = list(scales) if scales else list(XFEAT_SCALES)
    return [(r, s) for s in scales for r in rotations]


def rotations_for_heading(heading: tuple[float, float] | None) -> list[int]:
    """The right-angle turns (degrees clockwise) that bring a photo whose top faces
    ``heading`` = (centre, tolerance) degrees clockwise from north closest to north-up,
    nearest first; all four without a heading."""
    if heading is None:
        return [0, 90, 180, 270]
    centre, tol = heading

    # turning the photo clockwise by r makes its top face centre + r
    def miss(r: int) -> float:
        d = (centre + r) % 360.0
        return min(d, 360.0 - d)

    ordered = sorted((0, 90, 180, 270), key=miss)
    keep = [r for r in ordered if miss(r) <= tol + 45.0]
    return keep or ordered[:1]


def register(
    photo_rgb: np.ndarray,
    click: tuple[float, float],
    window_rgb: np.ndarray,
    window_features: Callable[[Any], Any],
    families: Sequence[Any],
    *,
    rotations: Sequence[int] | None = None,
    scales: Sequence[float] | None = None,
    cancel: Callable[[], bool] | None = None,
    attempts: list[Attempt] | None = None,
) -> Registration | None:
    """The most probable plausible registration of ``photo_rgb`` (uint8 (H, W, 3)) to
    ``window_rgb`` over the families' hypotheses, or None when none is plausible.

    ``window_features(family)`` returns the family's features of this window (the caller
    caches them); ``rotations``/``scales`` narrow XFeat's hypotheses (priors); ``attempts``,
    when given, receives one :class:`Attempt` per hypothesis tried."""
    best: Registration | None = None
    for family in families:
        for rotation, scale in hypotheses(family.name, rotations, scales):
            if cancel is not None and cancel():
                return best
            found, attempt = _try(
                photo_rgb, click, window_rgb, window_features, family, rotation, scale
            )
            if attempts is not None:
                attempts.append(attempt)
            if found is not None and (best is None or found.probability > best.probability):
                best = found
            if best is not None and best.probability >= STOP_PROBABILITY:
                return best
    return best


def _try(photo_rgb, click, window_rgb, window_features, family, rotation: int, scale: float):
    """One hypothesis: the photo turned by ``rotation`` (clockwise) and reduced by ``scale``,
    matched against the window; (Registration or None, Attempt)."""
    from ocgnet_geo.locate.confidence import registration_probability
    from ocgnet_geo.locate.verify import _estimate, assess, hull_share

    h, w = photo_rgb.shape[:2]
    if min(h, w) * scale < MIN_PHOTO_SIDE and scale < 1.0:
        return None, Attempt(family.name, rotation, scale, 0, 0, "photo too small at this scale")
    image, to_image = turned_and_scaled(photo_rgb, rotation, scale)
    pairs = family.match(family.photo_features(image), window_features(family))
    attempt = Attempt(family.name, rotation, scale, len(pairs), 0, "")
    if len(pairs) < MIN_INLIERS:
        attempt.reason = f"{len(pairs)} matches < {MIN_INLIERS}"
        return None, attempt
    src = _apply_affine(np.linalg.inv(to_image), pairs.src)  # back to the photo's own px
    homography, mask = _estimate(src, pairs.dst, REPROJ_THRESHOLD_PX)
    if homography is None:
        attempt.reason = "no homography found"
        return None, attempt
    check = assess(
        homography,
        src[mask],
        click,
        photo_size=(w, h),
        window_size=(window_rgb.shape[1], window_rgb.shape[0]),
        matches=len(pairs),
        min_inliers=MIN_INLIERS,
        max_anisotropy=MAX_ANISOTROPY,
        min_spread=MIN_SPREAD,
        hull_margin=HULL_MARGIN,
    )
    attempt.inliers, attempt.reason = check.inliers, check.reason
    if not check.plausible:
        return None, attempt
    error = _reprojection(check.homography, src[mask], pairs.dst[mask])
    spread = hull_share(src[mask], (w, h))
    probability = registration_probability(check.inliers, len(pairs), spread, error)
    attempt.probability = probability
    return (
        Registration(
            homography=check.homography,
            inliers=check.inliers,
            matches=len(pairs),
            method=family.name,
            reprojection_px=error,
            spread=spread,
            rotation_deg=rotation,
            photo_scale=scale,
            probability=probability,
            click=check.click,
        ),
        attempt,
    )


def turned_and_scaled(
    rgb: np.ndarray, rotation: int, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """The image reduced by ``scale`` (area averaging) and turned clockwise by ``rotation``
    (a multiple of 90) degrees, and the 3x3 affine map of continuous px of ``rgb`` to px of
    the result."""
    import cv2

    if rotation % 90:
        raise ValueError(f"rotation {rotation}: a multiple of 90 degrees expected")
    h, w = rgb.shape[:2]
    image = rgb
    a = np.eye(3)
    if scale != 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        a = np.diag([size[0] / w, size[1] / h, 1.0])
    quarter_turns = (rotation // 90) % 4
    for _ in range(quarter_turns):
        sh = image.shape[0]
        image = np.rot90(image, k=-1)  # clockwise: (x, y) -> (H - y, x)
        a = np.array([[0.0, -1.0, sh], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]) @ a
    return np.ascontiguousarray(image), a


def _apply_affine(a: np.ndarray, xy: np.ndarray) -> np.ndarray:
    return xy @ a[:2, :2].T + a[:2, 2]


def _reprojection(homography: np.ndarray, src: np.ndarray, dst: np.ndarray) -> float:
    """Median distance (window px) between the inliers' window points and their photo points
    mapped through the homography."""
    from ocgnet_geo.locate.verify import _apply

    if len(src) == 0:
        return math.inf
    return float(np.median(np.linalg.norm(_apply(homography, src) - dst, axis=1)))
