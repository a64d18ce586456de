"""The object at a point of an orthophoto window (GrabCut on a crop scaled to the size hint):
a distinct roof is outlined, nothing to segment gives None."""

from __future__ import annotations

import numpy as np
import pytest

from ocgnet_geo.locate.raster_outline import object_outline


def scene(side: int, box: tuple[int, int, int, int], seed: int = 0) -> np.ndarray:
    """A ``side`` px window of grey-green blotchy texture with one bright red roof at
    ``box`` (x0, y0, x1, y1) px (mild noise on the roof)."""
    rng = np.random.default_rng(seed)
    coarse = rng.normal(0, 25, (side // 8 + 1, side // 8 + 1, 3))
    texture = np.kron(coarse, np.ones((8, 8, 1)))[:side, :side] + rng.normal(0, 10, (side, side, 3))
    window = np.array([90.0, 110.0, 80.0]) + texture
    x0, y0, x1, y1 = box
    window[y0:y1, x0:x1] = np.array([200.0, 70.0, 50.0]) + rng.normal(0, 6, (y1 - y0, x1 - x0, 3))
    return np.clip(window, 0, 255).astype(np.uint8)


def envelope_iou(outline: np.ndarray, box: tuple[int, int, int, int]) -> float:
    a = (outline[:, 0].min(), outline[:, 1].min(), outline[:, 0].max(), outline[:, 1].max())
    ix = max(0.0, min(a[2], box[2]) - max(a[0], box[0]))
    iy = max(0.0, min(a[3], box[3]) - max(a[1], box[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (box[2] - box[0]) * (box[3] - box[1]) - ix * iy
    return ix * iy / union


@pytest.mark.parametrize(
    ("box", "click", "factor"),
    [
        ((100, 110, 160, 150), (130.0, 130.0), 1.0),  # centred click, exact hint
        ((100, 110, 160, 150), (124.5, 136.2), 0.6),  # off-centre click, small hint
        ((100, 110, 160, 150), (133.0, 127.0), 1.2),  # larger hint
        ((60, 40, 80, 100), (70.5, 70.5), 1.0),  # a narrow roof
    ],
)
def test_a_distinct_roof_is_outlined(box, click, factor) -> None:
    window = scene(256, box)
    size = factor * np.sqrt((box[2] - box[0]) * (box[3] - box[1]))
    outline = object_outline(window, click, size)
    assert outline is not None
    assert outline.ndim == 2 and outline.shape[1] == 2 and len(outline) >= 3
    assert envelope_iou(outline, box) > 0.8


def test_an_oversized_hint_gives_a_coarser_outline() -> None:
    """The cut runs on a crop where the hint spans 24 px: with a hint twice the roof's size,
    a crop pixel is 4 window px and the envelope grows by about one of them a side."""
    box = (100, 110, 160, 150)
    outline = object_outline(scene(256, box), (133.0, 127.0), 2.0 * np.sqrt(60 * 40))
    assert outline is not None
    assert envelope_iou(outline, box) > 0.55


def test_outline_is_in_continuous_window_px() -> None:
    """Pixel (col, row) spans [col, col + 1] x [row, row + 1]: a roof over columns 100..159
    and rows 110..149 reaches x 100..160 and y 110..150."""
    window = scene(256, (100, 110, 160, 150))
    outline = object_outline(window, (130.0, 130.0), 49.0)
    assert outline is not None
    np.testing.assert_allclose(outline.min(axis=0), [100, 110], atol=1.0)
    np.testing.assert_allclose(outline.max(axis=0), [160, 150], atol=1.0)


def test_a_roof_at_the_window_edge_is_cut_at_the_edge() -> None:
    window = scene(128, (90, 20, 128, 60))
    outline = object_outline(window, (110.0, 40.0), 39.0)
    assert outline is not None
    assert envelope_iou(outline, (90, 20, 128, 60)) > 0.8


def test_nothing_to_segment_gives_none() -> None:
    """A uniform window, a click outside the window or on nodata (all-zero) pixels, a size that
    is not a positive number: None (the caller keeps its own fallback)."""
    uniform = np.full((128, 128, 3), 120, np.uint8)
    assert object_outline(uniform, (64.0, 64.0), 20.0) is None
    window = scene(128, (40, 40, 80, 80))
    assert object_outline(window, (-3.0, 64.0), 20.0) is None
    assert object_outline(window, (64.0, 130.0), 20.0) is None
    for size in (0.0, -5.0, float("nan"), float("inf")):
        assert object_outline(window, (60.0, 60.0), size) is None
    window[:, :30] = 0
    assert object_outline(window, (10.0, 64.0), 20.0) is None


def test_nodata_is_background() -> None:
    """Nodata next to the roof is never part of the outline (up to one crop pixel, where the
    hint spans 24 of them)."""
    window = scene(160, (50, 60, 100, 100))
    window[:, 100:] = 0
    outline = object_outline(window, (75.0, 80.0), 70.0)
    assert outline is not None
    assert outline[:, 0].max() <= 100 + 70.0 / 24


def test_it_is_deterministic() -> None:
    window = scene(200, (70, 80, 130, 120), seed=3)
    a = object_outline(window, (101.0, 99.0), 45.0)
    b = object_outline(window, (101.0, 99.0), 45.0)
    np.testing.assert_array_equal(a, b)
