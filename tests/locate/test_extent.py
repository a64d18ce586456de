"""The clicked object's size in the photo (GrabCut around the click) and the box length."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocgnet_geo.locate.extent import object_extent_px
from ocgnet_geo.locate.matcher_model import blended_length, box_length

REPO = Path(__file__).resolve().parents[2]
ORTHO = REPO / "ocgnet_geo" / "assets" / "demo" / "zurich_heldout_0.5m_epsg2056.tif"


def scene(side: int, box: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A ``side`` px photo of real orthophoto texture (greyed, darkened) with one red-roofed
    object of ``box`` (w, h) px in the middle (mild noise on the roof)."""
    rng = np.random.default_rng(seed)
    ground = np.asarray(Image.open(ORTHO).convert("L").resize((side, side)), dtype=np.float64)
    photo = np.repeat(ground[:, :, None] * 0.6, 3, axis=2)
    w, h = box
    x0, y0 = (side - w) // 2, (side - h) // 2
    roof = np.array([190.0, 60.0, 40.0]) + rng.normal(0, 8, (h, w, 3))
    photo[y0 : y0 + h, x0 : x0 + w] = roof
    return np.clip(photo, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("w", "h"), [(60, 60), (140, 90), (260, 200)])
def test_the_size_of_a_distinct_object_is_measured(w: int, h: int) -> None:
    photo = scene(512, (w, h))

    extent = object_extent_px(photo, (256.0, 256.0))

    assert extent is not None
    assert extent == pytest.approx(np.sqrt(w * h), rel=0.15)


def test_larger_objects_measure_larger_and_repeat_exactly() -> None:
    sizes = [object_extent_px(scene(512, (s, s)), (256.0, 256.0)) for s in (50, 110, 230)]
    assert sizes[0] < sizes[1] < sizes[2]
    assert object_extent_px(scene(512, (110, 110)), (256.0, 256.0)) == sizes[1]


def test_nothing_to_measure_gives_none() -> None:
    uniform = np.full((300, 400, 3), 128, np.uint8)
    assert object_extent_px(uniform, (200.0, 150.0)) is None
    photo = scene(256, (80, 80))
    assert object_extent_px(photo, (-5.0, 10.0)) is None  # click off the photo
    assert object_extent_px(photo, (256.0, 10.0)) is None  # on its right edge


def test_box_length_blends_width_and_extent() -> None:
    assert blended_length(512, 128, 0.5) == pytest.approx(256.0)
    assert blended_length(512, 128, 0.0) == 512
    assert blended_length(512, None, 0.5) == 512
    photo = scene(512, (140, 140))
    assert box_length(photo, (256.0, 256.0), 0.0) == 512
    measured = object_extent_px(photo, (256.0, 256.0))
    assert box_length(photo, (256.0, 256.0), 0.5) == pytest.approx(np.sqrt(512 * measured))
