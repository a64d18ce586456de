"""The clicked object in the photo (GrabCut around the click): its size and shape, the box
length and the box proportions it gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocgnet_geo.locate.extent import object_extent_px, object_segment
from ocgnet_geo.locate.matcher_model import (
    blended_length,
    box_length,
    linear_maps,
    shaped_boxes,
)

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


def test_the_segment_hull_has_the_object_s_proportions() -> None:
    photo = scene(512, (200, 80))
    segment = object_segment(photo, (256.0, 256.0))

    assert segment is not None
    span = segment.hull.max(axis=0) - segment.hull.min(axis=0)
    assert span == pytest.approx([200, 80], rel=0.2)
    assert segment.size_px == pytest.approx(object_extent_px(photo, (256.0, 256.0)))


def test_linear_maps_rotate_x_right_y_down() -> None:
    maps = linear_maps(np.array([2.0, 1.0]), np.array([90.0, 0.0]))
    # at heading 90 the photo's +x runs along the tile's +y (south), scaled by 2
    assert maps[0] @ [1.0, 0.0] == pytest.approx([0.0, 2.0])
    assert maps[1] == pytest.approx(np.eye(2))


def test_shaped_boxes_keep_the_area_and_take_the_mapped_proportions() -> None:
    hull = np.array([[-40.0, -10.0], [40.0, -10.0], [40.0, 10.0], [-40.0, 10.0]])  # 4:1
    centres = np.array([[100.0, 100.0], [50.0, 60.0]])
    sides = np.array([20.0, 20.0])
    maps = linear_maps(np.array([1.0, 1.0]), np.array([0.0, 90.0]))

    boxes = shaped_boxes(centres, sides, maps, hull, 1.0)

    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    assert w * h == pytest.approx(sides**2)
    assert w / h == pytest.approx([4.0, 0.25])  # heading 90: the long side runs north-south
    assert (boxes[:, :2] + boxes[:, 2:]) / 2 == pytest.approx(centres)
    half = shaped_boxes(centres, sides, maps, hull, 0.5)
    assert (half[0, 2] - half[0, 0]) / (half[0, 3] - half[0, 1]) == pytest.approx(2.0)
    squares = np.array([[90.0, 90.0, 110.0, 110.0], [40.0, 50.0, 60.0, 70.0]])
    assert shaped_boxes(centres, sides, maps, hull, 0.0) == pytest.approx(squares)
    assert shaped_boxes(centres, sides, maps, None, 1.0) == pytest.approx(squares)
