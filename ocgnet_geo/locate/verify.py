"""Geometric verification of a candidate: SIFT matches and a robust photo -> window homography.

Template matching proposes a candidate; this stage checks it with geometry and, when the
geometry is plausible, maps the click from the photo into the satellite window.

Coordinate frames. All pixel coordinates are *continuous*: x to the right, y down, (0, 0) the
top-left corner of the top-left pixel, so the centre of pixel (row i, col j) is (j + 0.5,
i + 0.5). "Photo px" are pixels of the query photo as passed in (its working size), "window
px" pixels of the north-up satellite window as passed in (never of the internally upsampled
copy, see ``window_upsample``). The homography ``H`` maps photo px to window px in these
coordinates (OpenCV's own convention puts pixel centres at integers; keypoints are shifted by
half a pixel on the way in, so ``H`` is *not* OpenCV's convention).

Geometry is never trusted blindly: parallax, season and sensor change produce wrong models
with many "inliers". :func:`verify` therefore runs every check of :func:`assess` and reports
the first one that fails; a result that is not plausible should change nothing downstream.

Only numpy and OpenCV are used (no torch, no rasterio); OpenCV is imported lazily inside the
functions, so importing this module does not load it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Images smaller than this (either side, pixels) are not verified.
MIN_SIDE_PX = 32
#: Long side (px) up to which SIFT's first octave is twice the image (see :func:`verify`).
SIFT_BASE_PX = 512
#: A homography needs at least this many point pairs.
MIN_MATCHES = 4
#: Reprojection threshold of the robust estimator, in window px.
REPROJ_THRESHOLD_PX = 4.0
#: Confidence and iteration cap of the robust estimator.
CONFIDENCE = 0.999
MAX_ITERS = 5000
#: Seed of OpenCV's RNG during the robust estimation (reproducible results).
RNG_SEED = 0
#: Convex hull of the photo inliers must cover at least this fraction of the photo area.
MIN_SPREAD = 0.05
#: The click may lie outside the photo inliers' convex hull by at most this fraction of the
#: photo's long side (beyond it the homography extrapolates).
HULL_MARGIN = 0.1
#: ``|w|`` (the homogeneous denominator, relative to its value at the click) below this at
#: an inlier means the horizon line of ``H`` runs through the matched area.
MIN_DENOMINATOR = 1e-3
#: Smallest singular value of the Jacobian at the click below this (window px per photo px)
#: means the homography collapses the neighbourhood of the click.
MIN_SINGULAR = 1e-6


@dataclass(frozen=True)
class Verification:
    """Outcome of :func:`verify` for one candidate window.

    ``plausible`` is True only when every check of :func:`assess` passed; otherwise
    ``reason`` is a short phrase naming the first failed check ("" when plausible).
    ``inliers`` counts the robust estimator's inliers (0 without a model), ``matches`` the
    putative matches after the ratio test. ``homography`` is a read-only 3x3 float64 mapping
    photo px to window px (continuous coordinates, see the module docstring), normalised to
    ``H[2, 2] == 1`` when possible; None when no model was estimated. ``click`` is the photo
    click mapped into window px, ``scale`` the local scale at the click in window px per photo
    px (``sqrt(|det J|)``, J the 2x2 Jacobian of ``H`` at the click), ``anisotropy`` the ratio
    of J's singular values (>= 1). These three are None without a model and are reported even
    when the result is not plausible (diagnostics only, then).
    """

    plausible: bool
    inliers: int
    matches: int
    homography: np.ndarray | None = field(compare=False)
    click: tuple[float, float] | None
    scale: float | None
    anisotropy: float | None
    reason: str

    def map_points(self, xy: np.ndarray) -> np.ndarray:
        """Map (N, 2) photo px to (N, 2) window px through ``homography`` (float64).

        Points on the homography's horizon line map to inf/nan. Raises ValueError when there
        is no homography or ``xy`` is not (N, 2).
        """
        if self.homography is None:
            raise ValueError(f"no homography to map points with ({self.reason})")
        return _apply(self.homography, xy)

    def jacobian(self, xy: tuple[float, float]) -> np.ndarray:
        """2x2 Jacobian d(window px) / d(photo px) of ``homography`` at photo px ``xy``: the
        linear map of the photo's neighbourhood of ``xy`` into the window. Raises ValueError
        when there is no homography."""
        if self.homography is None:
            raise ValueError(f"no homography to differentiate ({self.reason})")
        return _jacobian(self.homography, np.asarray(xy, dtype=np.float64))


@dataclass(frozen=True)
class Keypoints:
    """SIFT keypoints of one image: ``pts`` (N, 2) continuous px of the image as passed in,
    ``desc`` their (N, 128) float32 descriptors (None without keypoints)."""

    pts: np.ndarray = field(compare=False)
    desc: np.ndarray | None = field(compare=False)


def photo_keypoints(
    photo_rgb: np.ndarray, *, max_features: int = 4000, sift_base_px: int = SIFT_BASE_PX
) -> Keypoints:
    """The photo's keypoints as :func:`verify` computes them (step 1), to pass to several
    :func:`verify` calls with the same photo and parameters (``photo_keypoints=``)."""
    pts, desc = _features(_check_rgb(photo_rgb, "photo_rgb"), max_features, 1.0, sift_base_px)
    return Keypoints(pts, desc)


def verify(
    photo_rgb: np.ndarray,
    click: tuple[float, float],
    window_rgb: np.ndarray,
    *,
    expected_scale: float | None = None,
    scale_tolerance: float = 4.0,
    min_inliers: int = 15,
    max_anisotropy: float = 4.0,
    ratio: float = 0.8,
    max_features: int = 4000,
    window_upsample: float = 1.0,
    sift_base_px: int = SIFT_BASE_PX,
    reproj_threshold: float = REPROJ_THRESHOLD_PX,
    min_spread: float = MIN_SPREAD,
    hull_margin: float = HULL_MARGIN,
    photo_keypoints: Keypoints | None = None,
) -> Verification:
    """Verify a candidate window against the photo and map the click into it.

    ``photo_rgb`` and ``window_rgb`` are uint8 (H, W, 3) RGB arrays; ``click`` is (x, y) in
    photo px (continuous, see the module docstring); the window is north-up.

    Steps:

    1. SIFT keypoints and descriptors (at most ``max_features`` per image) on the grey photo
       and the grey window, the window first upsampled by ``window_upsample`` (bicubic).
       SIFT doubles its input for its first octave, which quadruples the cost and only adds
       the finest-scale features; so the first octave is twice the image's long side (the
       window's after ``window_upsample``) up to ``sift_base_px`` (512) px, but never less
       than the image itself: a 256-px image is
       doubled as usual, a 512-px or larger one is detected at its own resolution (halved
       with area averaging before SIFT doubles it back), sizes in between get what fits.
       Keypoints are always returned in the original photo / window px.
    2. Brute-force L2 2-nearest-neighbour matching photo -> window with Lowe's ratio test
       ``ratio``, keeping the best photo keypoint per window keypoint (one-to-one, so
       repeated matches cannot inflate the inlier count).
    3. A homography photo -> window by MAGSAC++ (``cv2.USAC_MAGSAC``, ``cv2.RANSAC`` in
       builds without USAC), reprojection threshold ``reproj_threshold`` (4) window px,
       confidence 0.999, at most 5000 iterations. OpenCV's RNG is seeded with 0 for the
       estimation, so repeated calls give the same homography; afterwards it is reseeded
       with a value drawn from the caller's stream before (OpenCV exposes no state to
       restore). (OpenCV 4.14's estimators happen to be deterministic without the seed; the
       seed keeps it so for builds that draw from the global RNG.)
    4. :func:`assess` runs the plausibility checks (listed there, with their thresholds).

    ``photo_keypoints``, when given, are step 1's photo keypoints from
    :func:`photo_keypoints` of this same ``photo_rgb`` with the same ``max_features`` and
    ``sift_base_px`` (verifying several windows against one photo detects them once).

    Never raises on ordinary images: uniform, tiny (< 32 px a side), featureless or
    unrelated images give ``plausible=False`` with a reason. Raises ValueError for arrays that
    are not (H, W, 3) uint8, a click that is not two finite numbers, or invalid parameters.
    """
    photo = _check_rgb(photo_rgb, "photo_rgb")
    window = _check_rgb(window_rgb, "window_rgb")
    xy = _check_click(click)
    _check_parameters(
        expected_scale=expected_scale,
        scale_tolerance=scale_tolerance,
        min_inliers=min_inliers,
        max_anisotropy=max_anisotropy,
        ratio=ratio,
        max_features=max_features,
        window_upsample=window_upsample,
        sift_base_px=sift_base_px,
        reproj_threshold=reproj_threshold,
        min_spread=min_spread,
        hull_margin=hull_margin,
    )
    for name, image in (("photo", photo), ("window", window)):
        if min(image.shape[:2]) < MIN_SIDE_PX:
            h, w = image.shape[:2]
            return _failure(f"{name} too small ({w}x{h} px < {MIN_SIDE_PX} a side)")

    if photo_keypoints is None:
        photo_pts, photo_desc = _features(photo, max_features, 1.0, sift_base_px)
    else:
        photo_pts, photo_desc = photo_keypoints.pts, photo_keypoints.desc
    if photo_desc is None:
        return _failure("no keypoints in the photo")
    window_pts, window_desc = _features(window, max_features, window_upsample, sift_base_px)
    if window_desc is None:
        return _failure("no keypoints in the window")

    pairs = _match(photo_desc, window_desc, ratio)
    if len(pairs) < MIN_MATCHES:
        return _failure(f"{len(pairs)} matches < {MIN_MATCHES}", matches=len(pairs))
    src, dst = photo_pts[pairs[:, 0]], window_pts[pairs[:, 1]]

    homography, inlier_mask = _estimate(src, dst, reproj_threshold)
    if homography is None:
        return _failure("no homography found", matches=len(pairs))
    return assess(
        homography,
        src[inlier_mask],
        xy,
        photo_size=(photo.shape[1], photo.shape[0]),
        window_size=(window.shape[1], window.shape[0]),
        matches=len(pairs),
        expected_scale=expected_scale,
        scale_tolerance=scale_tolerance,
        min_inliers=min_inliers,
        max_anisotropy=max_anisotropy,
        min_spread=min_spread,
        hull_margin=hull_margin,
    )


def assess(
    homography: np.ndarray,
    photo_inliers: np.ndarray,
    click: tuple[float, float],
    *,
    photo_size: tuple[int, int],
    window_size: tuple[int, int],
    matches: int | None = None,
    expected_scale: float | None = None,
    scale_tolerance: float = 4.0,
    min_inliers: int = 15,
    max_anisotropy: float = 4.0,
    min_spread: float = MIN_SPREAD,
    hull_margin: float = HULL_MARGIN,
) -> Verification:
    """Plausibility checks of a photo -> window homography (the last stage of :func:`verify`).

    ``homography`` maps photo px to window px; ``photo_inliers`` are the (N, 2) photo px of
    the estimator's inliers; ``click`` is in photo px; ``photo_size`` and ``window_size`` are
    (width, height) in px; ``matches`` is reported as is (default: the inlier count).

    The checks, in order; the first that fails is the ``reason``:

    1. at least ``min_inliers`` inliers (default 15: a homography has 8 degrees of freedom,
       and unrelated image pairs in the tests reach 4-9 "inliers" from chance matches);
    2. ``H`` finite; the homogeneous denominator ``w`` has the same sign at the click and at
       every inlier and ``|w| >= 1e-3 |w(click)|`` (the horizon line of ``H`` does not run
       through the matched area); the Jacobian J at the click has a smallest singular value
       >= 1e-6 (not collapsed);
    3. orientation preserved: ``det J > 0`` at the click (a photo is never the mirror image
       of the ground);
    4. with ``expected_scale`` (window px per photo px): the local scale ``sqrt(det J)`` lies
       in ``[expected_scale / scale_tolerance, expected_scale * scale_tolerance]``;
    5. anisotropy (largest / smallest singular value of J) <= ``max_anisotropy`` (default 4,
       i.e. a view at least ~15 degrees above the horizon for a level plane);
    6. the mapped click lies inside the window (``0 <= x <= width``, ``0 <= y <= height``);
    7. spread: the convex hull of the photo inliers covers >= ``min_spread`` (5 %) of the
       photo area. The hull, not the bounding box, so that inliers along a line (a street
       edge) or in two distant clusters do not count as spread out, and a cluster of
       self-similar matches on one roof does not pass;
    8. coverage: the click lies inside that hull or at most ``hull_margin`` (10 %) of the
       photo's long side outside it; farther out the homography extrapolates.
    """
    h = np.array(homography, dtype=np.float64)
    if h.shape != (3, 3):
        raise ValueError(f"homography must be 3x3, got shape {h.shape}")
    pts = np.asarray(photo_inliers, dtype=np.float64).reshape(-1, 2)
    inliers = len(pts)
    matches = inliers if matches is None else int(matches)
    if not np.all(np.isfinite(h)):
        return _failure("homography not finite", matches=matches, inliers=inliers)
    if abs(h[2, 2]) > 1e-12:
        h /= h[2, 2]
    h.setflags(write=False)

    xy = _check_click(click)
    jac = _jacobian(h, xy)
    mapped = _apply(h, xy[None])[0]
    singular = np.linalg.svd(jac, compute_uv=False) if np.all(np.isfinite(jac)) else None
    det = float(np.linalg.det(jac)) if singular is not None else float("nan")
    scale = float(np.sqrt(abs(det))) if singular is not None else None
    anisotropy = _anisotropy(singular)
    click_out = (float(mapped[0]), float(mapped[1])) if np.all(np.isfinite(mapped)) else None

    reason = _first_failure(
        [
            lambda: _check_count(inliers, min_inliers),
            lambda: _check_degenerate(h, xy, pts, singular),
            lambda: "" if det > 0 else f"mirrored (Jacobian determinant {det:.3g} <= 0 at click)",
            lambda: _check_scale(scale, expected_scale, scale_tolerance),
            lambda: _check_anisotropy(anisotropy, max_anisotropy),
            lambda: _check_inside(click_out, window_size),
            lambda: _check_spread(pts, photo_size, min_spread),
            lambda: _check_coverage(pts, xy, photo_size, hull_margin),
        ]
    )
    return Verification(
        plausible=reason == "",
        inliers=inliers,
        matches=matches,
        homography=h,
        click=click_out,
        scale=scale,
        anisotropy=anisotropy,
        reason=reason,
    )


# --- input checks --------------------------------------------------------------------------


def _check_rgb(image: Any, name: str) -> np.ndarray:
    """The array itself (C-contiguous) if it is (H, W, 3) uint8, else ValueError."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name} must be (H, W, 3) RGB, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8, got {image.dtype}")
    return np.ascontiguousarray(image)


def _check_click(click: Any) -> np.ndarray:
    """The click as a float64 (2,) array, or ValueError when it is not two finite numbers."""
    try:
        xy = np.asarray(click, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"click must be two numbers (x, y), got {click!r}") from None
    if xy.shape != (2,) or not np.all(np.isfinite(xy)):
        raise ValueError(f"click must be two finite numbers (x, y), got {click!r}")
    return xy


def _check_parameters(
    *,
    expected_scale: float | None,
    scale_tolerance: float,
    min_inliers: int,
    max_anisotropy: float,
    ratio: float,
    max_features: int,
    window_upsample: float,
    sift_base_px: int,
    reproj_threshold: float,
    min_spread: float,
    hull_margin: float,
) -> None:
    """ValueError naming the first parameter outside its valid range."""
    rules = [
        ("expected_scale", expected_scale, expected_scale is None or expected_scale > 0, "> 0"),
        ("scale_tolerance", scale_tolerance, scale_tolerance >= 1, ">= 1"),
        ("min_inliers", min_inliers, min_inliers >= MIN_MATCHES, f">= {MIN_MATCHES}"),
        ("max_anisotropy", max_anisotropy, max_anisotropy >= 1, ">= 1"),
        ("ratio", ratio, 0 < ratio <= 1, "in (0, 1]"),
        ("max_features", max_features, max_features >= MIN_MATCHES, f">= {MIN_MATCHES}"),
        ("window_upsample", window_upsample, 0 < window_upsample <= 8, "in (0, 8]"),
        ("sift_base_px", sift_base_px, sift_base_px >= 2 * MIN_SIDE_PX, f">= {2 * MIN_SIDE_PX}"),
        ("reproj_threshold", reproj_threshold, reproj_threshold > 0, "> 0"),
        ("min_spread", min_spread, 0 <= min_spread <= 1, "in [0, 1]"),
        ("hull_margin", hull_margin, hull_margin >= 0, ">= 0"),
    ]
    for name, value, ok, rule in rules:
        if not ok:
            raise ValueError(f"{name} must be {rule}, got {value!r}")


# --- features, matching, estimation --------------------------------------------------------


def _features(
    rgb: np.ndarray, max_features: int, upsample: float, base_px: int
) -> tuple[np.ndarray, Any]:
    """SIFT keypoints as (N, 2) continuous px of ``rgb`` and their (N, 128) descriptors.

    The image is first resized by ``upsample`` (bicubic); SIFT's first octave is then
    ``_detection_factor`` times that size (see :func:`verify`). Whatever the resizing,
    keypoints are returned in ``rgb``'s own px. Descriptors are None without keypoints.
    """
    import cv2

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    factor = upsample * _detection_factor(max(h, w) * upsample, base_px)
    fx = fy = 1.0
    if factor != 1.0:
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        interpolation = cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA
        gray = cv2.resize(gray, size, interpolation=interpolation)
        fx, fy = size[0] / w, size[1] / h
    # SIFT doubles its input for the first octave; the default doubling shifts keypoints by
    # a quarter pixel (measured: up to 1 window px of click error at 180 degrees rotation),
    # the precise one does not (< 0.1 px).
    sift = cv2.SIFT_create(nfeatures=max_features, enable_precise_upscale=True)
    keypoints, desc = sift.detectAndCompute(gray, None)
    if desc is None or len(keypoints) == 0:
        return np.empty((0, 2)), None
    # OpenCV puts pixel centres at integers; continuous coordinates at +0.5. In continuous
    # coordinates cv2.resize is a pure scaling.
    pts = np.array([kp.pt for kp in keypoints], dtype=np.float64) + 0.5
    return pts / (fx, fy), desc


def _detection_factor(long_side: float, base_px: int) -> float:
    """Resize factor before SIFT so that its (doubled) first octave has a long side of
    ``2 * long_side`` capped at ``base_px`` but never below ``long_side`` (factor in [0.5, 1])."""
    base = max(long_side, min(2 * long_side, base_px))
    return base / (2 * long_side)


def _match(photo_desc: np.ndarray, window_desc: np.ndarray, ratio: float) -> np.ndarray:
    """(K, 2) int index pairs (photo, window) that pass Lowe's ratio test, one-to-one.

    Each photo descriptor's two nearest window descriptors (L2) are compared; a pair is kept
    when the nearest is closer than ``ratio`` times the second. Of several photo keypoints
    matched to the same window keypoint only the closest is kept.
    """
    import cv2

    if len(window_desc) < 2:
        return np.empty((0, 2), dtype=np.intp)
    knn = cv2.BFMatcher(cv2.NORM_L2).knnMatch(photo_desc, window_desc, k=2)
    good = [
        (m[0].distance, m[0].queryIdx, m[0].trainIdx)
        for m in knn
        if len(m) == 2 and m[0].distance < ratio * m[1].distance
    ]
    best: dict[int, tuple[float, int]] = {}
    for dist, query, train in good:
        if train not in best or dist < best[train][0]:
            best[train] = (dist, query)
    pairs = sorted((query, train) for train, (_, query) in best.items())
    return np.array(pairs, dtype=np.intp).reshape(-1, 2)


def _estimate(
    src: np.ndarray, dst: np.ndarray, threshold: float
) -> tuple[np.ndarray | None, np.ndarray]:
    """Robust homography src -> dst (MAGSAC++, RANSAC without USAC) and its inlier mask."""
    import cv2

    method = getattr(cv2, "USAC_MAGSAC", cv2.RANSAC)
    with seeded_rng(RNG_SEED):
        try:
            homography, mask = cv2.findHomography(
                src.astype(np.float32),
                dst.astype(np.float32),
                method,
                threshold,
                maxIters=MAX_ITERS,
                confidence=CONFIDENCE,
            )
        except cv2.error:
            homography, mask = None, None
    if homography is None or mask is None:
        return None, np.zeros(len(src), dtype=bool)
    return homography, mask.reshape(-1).astype(bool)


@contextmanager
def seeded_rng(seed: int) -> Iterator[None]:
    """Seed OpenCV's (per-thread) RNG with ``seed`` for the block.

    OpenCV cannot report its RNG state, so it cannot be restored exactly; instead a value is
    drawn from the caller's stream before and used as the seed afterwards, so the caller's
    later draws still depend on its own earlier state and not on ``seed``.
    """
    import cv2

    carry = cv2.randu(np.zeros(1, dtype=np.int32), 0, np.iinfo(np.int32).max)
    cv2.setRNGSeed(seed)
    try:
        yield
    finally:
        cv2.setRNGSeed(int(carry[0]))


# --- geometry ------------------------------------------------------------------------------


def _apply(homography: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """(N, 2) points through a 3x3 homography, float64 (inf/nan on its horizon line)."""
    pts = np.asarray(xy, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points must be (N, 2), got shape {pts.shape}")
    homogeneous = pts @ homography[:, :2].T + homography[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        return homogeneous[:, :2] / homogeneous[:, 2:]


def _jacobian(homography: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """2x2 Jacobian d(window px) / d(photo px) of the homography at ``xy`` (photo px)."""
    h = homography
    x, y = xy
    w = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / w
        v = (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / w
        return (h[:2, :2] - np.outer((u, v), h[2, :2])) / w


def _anisotropy(singular: np.ndarray | None) -> float | None:
    """Largest over smallest singular value (inf when the smallest is 0)."""
    if singular is None:
        return None
    if singular[-1] <= 0:
        return float("inf")
    return float(singular[0] / singular[-1])


def _hull(pts: np.ndarray) -> np.ndarray:
    """Convex hull of (N, 2) points as an OpenCV float32 contour."""
    import cv2

    return cv2.convexHull(pts.astype(np.float32).reshape(-1, 1, 2))


# --- the checks: each returns "" when it passes, else the reason ---------------------------


def _first_failure(checks: list[Any]) -> str:
    """The first non-empty reason of the (lazily run) checks, "" when all pass."""
    for check in checks:
        reason = check()
        if reason:
            return reason
    return ""


def _check_count(inliers: int, min_inliers: int) -> str:
    return "" if inliers >= min_inliers else f"{inliers} inliers < {min_inliers}"


def _check_degenerate(
    h: np.ndarray, xy: np.ndarray, pts: np.ndarray, singular: np.ndarray | None
) -> str:
    w_click = h[2, 0] * xy[0] + h[2, 1] * xy[1] + h[2, 2]
    w_pts = pts @ h[2, :2] + h[2, 2]
    if not np.isfinite(w_click) or abs(w_click) < 1e-12:
        return "homography degenerate: click on its horizon line"
    if np.any(w_pts / w_click < MIN_DENOMINATOR):
        return "homography degenerate: horizon line crosses the inliers"
    if singular is None or singular[-1] < MIN_SINGULAR:
        return "homography degenerate at the click"
    return ""


def _check_scale(scale: float | None, expected: float | None, tolerance: float) -> str:
    if expected is None or scale is None:
        return ""
    low, high = expected / tolerance, expected * tolerance
    if low <= scale <= high:
        return ""
    return f"scale {scale:.4g} outside [{low:.4g}, {high:.4g}] (expected {expected:.4g})"


def _check_anisotropy(anisotropy: float | None, max_anisotropy: float) -> str:
    if anisotropy is None:
        return "anisotropy undefined"
    if anisotropy <= max_anisotropy:
        return ""
    return f"anisotropy {anisotropy:.3g} > {max_anisotropy:.3g}"


def _check_inside(click: tuple[float, float] | None, window_size: tuple[int, int]) -> str:
    if click is not None and 0 <= click[0] <= window_size[0] and 0 <= click[1] <= window_size[1]:
        return ""
    where = "nowhere" if click is None else f"({click[0]:.1f}, {click[1]:.1f})"
    return f"click maps outside the window, to {where}"


def hull_share(pts: np.ndarray, photo_size: tuple[int, int]) -> float:
    """Share of the photo area (``photo_size`` = (width, height) px) covered by the convex
    hull of the (N, 2) photo px ``pts`` (0 for fewer than three points)."""
    import cv2

    area = float(cv2.contourArea(_hull(pts))) if len(pts) >= 3 else 0.0
    return area / (photo_size[0] * photo_size[1])


def _check_spread(pts: np.ndarray, photo_size: tuple[int, int], min_spread: float) -> str:
    fraction = hull_share(pts, photo_size)
    if fraction >= min_spread:
        return ""
    return f"inlier hull covers {100 * fraction:.1f} % of the photo < {100 * min_spread:.0f} %"


def _check_coverage(
    pts: np.ndarray, xy: np.ndarray, photo_size: tuple[int, int], margin: float
) -> str:
    import cv2

    # Signed distance in photo px: positive inside the hull, negative outside.
    inside = cv2.pointPolygonTest(_hull(pts), (float(xy[0]), float(xy[1])), True)
    limit = margin * max(photo_size)
    if -inside <= limit:
        return ""
    return f"click {-inside:.0f} px outside the inlier hull > {limit:.0f} px"


def _failure(reason: str, *, matches: int = 0, inliers: int = 0) -> Verification:
    """A not-plausible result without a model."""
    return Verification(
        plausible=False,
        inliers=inliers,
        matches=matches,
        homography=None,
        click=None,
        scale=None,
        anisotropy=None,
        reason=reason,
    )
