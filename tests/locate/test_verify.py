"""Geometric verification: photos rendered from the committed orthophoto by known homographies.

A "photo" is made from a satellite "window" with ``cv2.warpPerspective`` through a known
photo -> window homography, so the true click in the window, the true local scale and the
true geometry are known exactly. Coordinates are continuous px ((0, 0) = top-left corner of
the top-left pixel), as in the module under test.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from ocgnet_geo.locate.verify import Verification, assess, photo_keypoints, verify

REPO = Path(__file__).resolve().parents[2]
ORTHO = REPO / "ocgnet_geo" / "assets" / "demo" / "zurich_heldout_0.5m_epsg2056.tif"
WINDOW = 256  # side of the test windows, px
#: OpenCV's pixel-centre convention -> continuous coordinates (+0.5 px).
HALF = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])


@pytest.fixture(scope="module")
def ortho() -> np.ndarray:
    """The 259 x 561 px, 0.5 m RGB orthophoto crop (Zürich) shipped with the package."""
    return np.asarray(Image.open(ORTHO).convert("RGB"))


@pytest.fixture(scope="module")
def window(ortho: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(ortho[:WINDOW, :WINDOW])


@pytest.fixture(scope="module")
def other_window(ortho: np.ndarray) -> np.ndarray:
    """A crop of a different, non-overlapping area of the same orthophoto."""
    return np.ascontiguousarray(ortho[300 : 300 + WINDOW, :WINDOW])


# --- helpers -------------------------------------------------------------------------------


def homography(
    theta_deg: float,
    scale: float,
    photo_side: int,
    perspective: tuple[float, float] = (0.0, 0.0),
    window_side: int = WINDOW,
) -> np.ndarray:
    """Photo px -> window px: photo centre to window centre, rotation, scale (window px per
    photo px at the centre) and a perspective term (per photo px, around the centre)."""
    c, s = np.cos(np.radians(theta_deg)), np.sin(np.radians(theta_deg))
    centre_photo = np.array([[1, 0, -photo_side / 2], [0, 1, -photo_side / 2], [0, 0, 1]])
    tilt = np.array([[1, 0, 0], [0, 1, 0], [perspective[0], perspective[1], 1]])
    rotate = np.array([[scale * c, -scale * s, 0], [scale * s, scale * c, 0], [0, 0, 1]])
    centre_window = np.array([[1, 0, window_side / 2], [0, 1, window_side / 2], [0, 0, 1]])
    return centre_window @ rotate @ tilt @ centre_photo


def render(window: np.ndarray, h: np.ndarray, side: int) -> np.ndarray:
    """The side x side photo whose pixel at photo px p shows the window at ``h(p)``."""
    photo_cv_to_window_cv = np.linalg.inv(HALF) @ h @ HALF
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpPerspective(window, photo_cv_to_window_cv, (side, side), flags=flags)


def apply(h: np.ndarray, xy: tuple[float, float]) -> np.ndarray:
    p = h @ np.array([xy[0], xy[1], 1.0])
    return p[:2] / p[2]


def local_scale(h: np.ndarray, xy: tuple[float, float], eps: float = 1e-3) -> float:
    """sqrt(|det J|) of ``h`` at ``xy`` by central differences (independent of the module)."""
    x, y = xy
    dx = (apply(h, (x + eps, y)) - apply(h, (x - eps, y))) / (2 * eps)
    dy = (apply(h, (x, y + eps)) - apply(h, (x, y - eps))) / (2 * eps)
    return float(np.sqrt(abs(np.linalg.det(np.column_stack([dx, dy])))))


def degrade(rgb: np.ndarray, seed: int) -> np.ndarray:
    """Another sensor and season: contrast, brightness, colour cast, blur, noise, JPEG."""
    rng = np.random.default_rng(seed)
    f = rgb.astype(np.float32) * 0.75 + 35
    f *= np.array([1.05, 0.95, 0.85], dtype=np.float32)
    f = cv2.GaussianBlur(f, (0, 0), 0.8)
    f += rng.normal(0, 4, f.shape).astype(np.float32)
    buf = io.BytesIO()
    Image.fromarray(np.clip(f, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=70)
    return np.asarray(Image.open(buf).convert("RGB"))


def blobs(side: int, seed: int) -> np.ndarray:
    """Random coloured rectangles, slightly blurred: structured but unrelated to the ortho."""
    rng = np.random.default_rng(seed)
    img = np.full((side, side, 3), 128, dtype=np.uint8)
    for _ in range(300):
        x, y = (int(v) for v in rng.integers(0, side, 2))
        w, h = (int(v) for v in rng.integers(3, 30, 2))
        cv2.rectangle(img, (x, y), (x + w, y + h), rng.integers(0, 256, 3).tolist(), -1)
    return cv2.GaussianBlur(img, (0, 0), 1.0)


def photo_of(window: np.ndarray, theta: float, scale: float, **kw: object):
    """A photo whose footprint covers the central 60 % of the window, and its homography."""
    side = round(0.6 * WINDOW / scale)
    h = homography(theta, scale, side, **kw)  # type: ignore[arg-type]
    return render(window, h, side), h, side


# --- recovery of a known homography --------------------------------------------------------


def test_photo_keypoints_detected_once_give_the_same_result(window: np.ndarray) -> None:
    photo, _, side = photo_of(window, 37, 0.8, perspective=(1e-4, 0.0))
    click = (0.5 * side, 0.4 * side)
    other = np.ascontiguousarray(np.rot90(window))  # a second window, as refine verifies three

    keypoints = photo_keypoints(photo)

    for target in (window, other):
        fresh = verify(photo, click, target)
        reused = verify(photo, click, target, photo_keypoints=keypoints)
        assert reused == fresh
        assert reused.homography is None or np.array_equal(reused.homography, fresh.homography)
    assert verify(photo, click, window, photo_keypoints=keypoints).plausible


@pytest.mark.parametrize(
    ("theta", "scale"),
    [(0, 1.0), (37, 0.5), (90, 2.0), (180, 1.0), (181, 0.7), (270, 1.5), (333, 1.2)],
)
def test_known_homography_is_recovered(window: np.ndarray, theta: float, scale: float) -> None:
    photo, h, side = photo_of(window, theta, scale, perspective=(2e-4 / scale, -1e-4 / scale))
    click = (0.45 * side, 0.55 * side)

    v = verify(photo, click, window)

    assert v.plausible, v.reason
    assert v.reason == ""
    assert v.inliers >= 15 and v.matches >= v.inliers
    # Measured < 0.1 px; 0.5 px also catches a half-pixel convention slip (~1.4 px at 180°).
    assert np.hypot(*(np.array(v.click) - apply(h, click))) < 0.5
    assert v.scale == pytest.approx(local_scale(h, click), rel=0.03)
    assert 1.0 <= v.anisotropy < 1.1
    assert v.homography.shape == (3, 3) and v.homography.dtype == np.float64


@pytest.mark.parametrize(("theta", "scale", "seed"), [(20, 0.7, 0), (135, 1.0, 1), (250, 1.3, 2)])
def test_photometric_change_still_verifies(
    window: np.ndarray, theta: float, scale: float, seed: int
) -> None:
    photo, h, side = photo_of(window, theta, scale, perspective=(1e-4, -2e-4))
    click = (0.4 * side, 0.6 * side)

    v = verify(degrade(photo, seed), click, window)

    assert v.plausible, v.reason
    assert np.hypot(*(np.array(v.click) - apply(h, click))) < 1.5
    assert v.scale == pytest.approx(local_scale(h, click), rel=0.1)


def test_large_non_square_window(ortho: np.ndarray) -> None:
    """512 px tall window (SIFT at its own resolution) and a 425 px photo (partly doubled)."""
    window = np.ascontiguousarray(ortho[:512])  # 259 wide x 512 tall
    side = 425
    h = homography(120, 0.4, side, perspective=(1e-4, 5e-5), window_side=0)
    h = np.array([[1, 0, 129.5], [0, 1, 300.0], [0, 0, 1]]) @ h  # photo centre -> (129.5, 300)
    click = (0.6 * side, 0.35 * side)

    v = verify(render(window, h, side), click, window)

    assert v.plausible, v.reason
    assert np.hypot(*(np.array(v.click) - apply(h, click))) < 0.5
    assert v.scale == pytest.approx(local_scale(h, click), rel=0.03)


def test_window_upsample_reports_original_window_px(window: np.ndarray) -> None:
    photo, h, side = photo_of(window, 40, 0.5)  # photo 2x finer than the window
    coarse = cv2.resize(window, (WINDOW // 2, WINDOW // 2), interpolation=cv2.INTER_AREA)
    h_coarse = np.diag([0.5, 0.5, 1.0]) @ h  # continuous px: resizing is a pure scaling
    click = (0.5 * side, 0.45 * side)

    v = verify(photo, click, coarse, window_upsample=2.0)

    assert v.plausible, v.reason
    assert np.hypot(*(np.array(v.click) - apply(h_coarse, click))) < 0.5
    assert v.scale == pytest.approx(local_scale(h_coarse, click), rel=0.03)


# --- what must not verify ------------------------------------------------------------------


@pytest.mark.parametrize("case", ["other area", "other area rotated", "blobs", "blobs window"])
def test_unrelated_images_are_not_plausible(
    window: np.ndarray, other_window: np.ndarray, case: str
) -> None:
    photo, target = {
        "other area": (other_window, window),
        "other area rotated": (photo_of(other_window, 30, 1.0)[0], window),
        "blobs": (blobs(200, 1), window),
        "blobs window": (photo_of(window, 30, 1.0)[0], blobs(WINDOW, 2)),
    }[case]

    v = verify(photo, (100.0, 100.0), target)

    assert not v.plausible
    assert v.reason


@pytest.mark.parametrize(
    "case", ["one colour", "one colour window", "tiny", "tiny window", "single spot"]
)
def test_featureless_or_tiny_images_are_not_plausible(window: np.ndarray, case: str) -> None:
    spot = np.zeros((128, 128, 3), dtype=np.uint8)
    cv2.circle(spot, (64, 64), 10, (255, 255, 255), -1)
    photo, target = {
        "one colour": (np.full((200, 200, 3), 90, dtype=np.uint8), window),
        "one colour window": (window[:200, :200].copy(), np.full((256, 256, 3), 90, np.uint8)),
        "tiny": (window[:20, :20].copy(), window),
        "tiny window": (window[:200, :200].copy(), window[:31, :100].copy()),
        "single spot": (spot, window),
    }[case]

    v = verify(photo, (10.0, 10.0), target)

    assert not v.plausible
    assert v.reason
    assert v.inliers < 15


def test_tiny_and_uniform_give_no_model(window: np.ndarray) -> None:
    tiny = verify(window[:20, :20].copy(), (5.0, 5.0), window)
    uniform = verify(np.full((200, 200, 3), 7, dtype=np.uint8), (5.0, 5.0), window)
    for v in (tiny, uniform):
        assert v.homography is None and v.click is None and v.inliers == 0
        assert v.scale is None and v.anisotropy is None
    assert "small" in tiny.reason
    assert "keypoints" in uniform.reason


def test_mirrored_photo_is_not_plausible(window: np.ndarray) -> None:
    photo, _, side = photo_of(window, 20, 1.0)
    assert verify(photo, (side / 2, side / 2), window).plausible  # control

    v = verify(np.ascontiguousarray(photo[:, ::-1]), (side / 2, side / 2), window)

    assert not v.plausible


def test_expected_scale_far_from_the_true_one_is_not_plausible(window: np.ndarray) -> None:
    photo, h, side = photo_of(window, 30, 1.0)
    click = (side / 2, side / 2)
    true = local_scale(h, click)
    assert verify(photo, click, window, expected_scale=1.5 * true).plausible  # control

    v = verify(photo, click, window, expected_scale=5.0 * true)

    assert not v.plausible
    assert "scale" in v.reason
    assert v.scale == pytest.approx(true, rel=0.03)  # still reported, for diagnostics


def test_click_far_outside_the_inlier_hull_is_not_plausible(window: np.ndarray) -> None:
    photo, h, side = photo_of(window, 30, 1.0)
    photo = photo.copy()
    photo[:, int(0.55 * side) :] = 128  # no texture, hence no inliers, on the right
    near, far = (0.5 * side, 0.5 * side), (0.95 * side, 0.5 * side)
    assert verify(photo, near, window).plausible  # control

    v = verify(photo, far, window)

    assert not v.plausible
    assert "hull" in v.reason
    assert np.hypot(*(np.array(v.click) - apply(h, far))) < 0.5  # model fine, coverage not


# --- the plausibility checks one by one, on exact geometry ----------------------------------


def _grid(side: float, n: int = 6) -> np.ndarray:
    """An n x n grid of photo points spread over the central 80 % of a side x side photo."""
    g = np.linspace(0.1 * side, 0.9 * side, n)
    return np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)


@pytest.mark.parametrize(
    ("h", "words"),
    [
        (np.array([[-1.0, 0, 200], [0, 1, 0], [0, 0, 1]]), "mirror"),
        (np.array([[1.0, 1, 0], [1, 1, 0], [0, 0, 1]]), "degenerate"),
        (np.array([[1.0, 0, 0], [0, 1, 0], [-0.01, 0, 1]]), "horizon"),
        (np.array([[3.0, 0, 0], [0, 0.5, 0], [0, 0, 1]]), "anisotropy"),
        (np.array([[1.0, 0, 300], [0, 1, 0], [0, 0, 1]]), "outside the window"),
    ],
    ids=["mirror", "rank-deficient", "horizon", "anisotropy", "click outside window"],
)
def test_each_check_rejects_its_case(h: np.ndarray, words: str) -> None:
    kw = {"photo_size": (200, 200), "window_size": (256, 256)}
    good = assess(np.eye(3), _grid(200), (100.0, 100.0), **kw)
    assert good.plausible, good.reason  # control: same inliers and click, identity model

    v = assess(h, _grid(200), (100.0, 100.0), **kw)

    assert not v.plausible
    assert words in v.reason


def test_assess_counts_spread_and_scale() -> None:
    kw = {"photo_size": (200, 200), "window_size": (256, 256)}
    assert assess(np.eye(3), _grid(200, 3), (100.0, 100.0), **kw).reason == "9 inliers < 15"
    clustered = _grid(20) + 90  # 36 inliers within a 16 x 16 px patch
    assert "hull covers" in assess(np.eye(3), clustered, (100.0, 100.0), **kw).reason
    v = assess(np.diag([2.0, 2.0, 1.0]), _grid(200), (60.0, 60.0), expected_scale=0.4, **kw)
    assert v.reason == "scale 2 outside [0.1, 1.6] (expected 0.4)"
    assert (v.scale, v.anisotropy, v.click) == (pytest.approx(2.0), pytest.approx(1.0), (120, 120))


# --- the result object ---------------------------------------------------------------------


def test_map_points_is_consistent_with_click(window: np.ndarray) -> None:
    photo, h, side = photo_of(window, 200, 0.8, perspective=(2e-4, 1e-4))
    click = (0.3 * side, 0.6 * side)
    v = verify(photo, click, window)
    assert v.plausible, v.reason

    pts = np.array([click, (0.5 * side, 0.5 * side), (0.7 * side, 0.2 * side)])
    mapped = v.map_points(pts)

    assert mapped.shape == (3, 2) and mapped.dtype == np.float64
    np.testing.assert_allclose(mapped[0], v.click, atol=1e-9)
    truth = np.array([apply(h, tuple(p)) for p in pts])
    np.testing.assert_allclose(mapped, truth, atol=0.5)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        v.map_points(np.zeros(2))
    with pytest.raises(ValueError, match="no homography"):
        verify(np.full((64, 64, 3), 3, np.uint8), (1, 1), window).map_points(pts)


def test_deterministic(window: np.ndarray) -> None:
    photo, _, side = photo_of(window, 75, 1.1, perspective=(1e-4, 1e-4))
    photo = degrade(photo, 3)  # noisy matches, so the robust estimator has work to do
    click = (side / 2, side / 2)

    first = verify(photo, click, window)
    cv2.setRNGSeed(12345)  # disturb OpenCV's global RNG between the calls
    cv2.randu(np.zeros(100, np.float32), 0, 1)
    second = verify(photo, click, window)

    assert first.homography is not None
    np.testing.assert_array_equal(first.homography, second.homography)
    assert first == second


def test_result_is_read_only_and_hashable(window: np.ndarray) -> None:
    photo, _, side = photo_of(window, 10, 1.0)
    v = verify(photo, (side / 2, side / 2), window)
    assert isinstance(v, Verification)
    with pytest.raises(ValueError, match="read-only"):
        v.homography[0, 0] = 5.0
    assert hash(v) == hash(v)


# --- input validation and import hygiene ---------------------------------------------------


@pytest.mark.parametrize(
    ("photo", "click", "kwargs", "message"),
    [
        (np.zeros((64, 64, 3), np.float32), (1, 1), {}, "uint8"),
        (np.zeros((64, 64), np.uint8), (1, 1), {}, "RGB"),
        (np.zeros((64, 64, 4), np.uint8), (1, 1), {}, "RGB"),
        ([[0, 0, 0]], (1, 1), {}, "numpy array"),
        (np.zeros((64, 64, 3), np.uint8), (1, float("nan")), {}, "click"),
        (np.zeros((64, 64, 3), np.uint8), (1, 2, 3), {}, "click"),
        (np.zeros((64, 64, 3), np.uint8), (1, 1), {"ratio": 1.5}, "ratio"),
        (np.zeros((64, 64, 3), np.uint8), (1, 1), {"expected_scale": 0.0}, "expected_scale"),
        (np.zeros((64, 64, 3), np.uint8), (1, 1), {"min_inliers": 3}, "min_inliers"),
    ],
)
def test_bad_arguments_raise_value_error(
    window: np.ndarray, photo: object, click: object, kwargs: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        verify(photo, click, window, **kwargs)  # type: ignore[arg-type]


def test_import_loads_neither_cv2_nor_torch_nor_rasterio() -> None:
    code = (
        "import sys, ocgnet_geo.locate.verify; "
        "print([m for m in ('cv2', 'torch', 'rasterio') if m in sys.modules])"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "[]"
