"""The matcher's segmentation head: its inputs, its output's frame, its place in the weights
file, and the fallback to the colour segmentation without it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from ocgnet_geo.locate.bundled import DEFAULT_MODEL
from ocgnet_geo.locate.extent import clicked_segment, object_segment
from ocgnet_geo.models.errors import WeightsError
from ocgnet_geo.models.matcher import (
    ClickTemplateMatcher,
    MatcherConfig,
    load_matcher,
    save_matcher,
    with_segment_head,
)
from ocgnet_geo.models.matcher.segment_head import SEGMENT_PX, head_inputs, segment_copy


def _scene(h: int, w: int, box: tuple[int, int, int, int]) -> np.ndarray:
    rng = np.random.default_rng(0)
    photo = rng.integers(90, 130, size=(h, w, 3)).astype(np.uint8)
    x0, y0, x1, y1 = box
    photo[y0:y1, x0:x1] = (200, 40, 40)
    return photo


@pytest.fixture(scope="module")
def net():
    return with_segment_head(load_matcher(DEFAULT_MODEL), 8).prepare()


def test_inputs_are_cells_of_4_px_with_the_click_at_its_cell(net) -> None:
    photo = _scene(120, 200, (80, 40, 120, 80))
    x = head_inputs(net.encode, photo, (100.0, 60.0))
    assert x.shape == (32 + 7, 30, 50)  # trunk stride 8 on the photo enlarged 2x
    gauss = x[35]
    row, col = np.unravel_index(int(gauss.argmax()), gauss.shape)
    assert (row, col) in {(14, 24), (14, 25), (15, 24), (15, 25)}
    assert float(x[36, row, col]) == pytest.approx(1.0, abs=0.05)  # cosine with itself
    assert float(x[38].min()) < 0.02  # distance to the click


def test_large_photos_are_reduced_and_the_output_maps_back_to_photo_px(net) -> None:
    photo = _scene(768, 1024, (400, 300, 600, 450))
    copy, factor = segment_copy(photo)
    assert max(copy.shape[:2]) == SEGMENT_PX and factor == pytest.approx(SEGMENT_PX / 1024)
    prob, cell = net.object_probability(photo, (500.0, 375.0))
    assert prob.shape == (48, 64) and cell == pytest.approx(16.0)
    assert ((prob >= 0) & (prob <= 1)).all()
    small = _scene(100, 100, (40, 40, 60, 60))
    assert segment_copy(small)[1] == 1.0  # never enlarged


def test_uniform_photos_and_clicks_off_the_photo_measure_nothing(net) -> None:
    uniform = np.full((128, 128, 3), 77, np.uint8)
    assert clicked_segment(net, uniform, (64.0, 64.0)) is None
    photo = _scene(128, 128, (40, 40, 80, 80))
    assert clicked_segment(net, photo, (-3.0, 64.0)) is None
    assert clicked_segment(net, photo, (64.0, 128.0)) is None


def test_without_a_head_the_colour_segmentation_measures() -> None:
    plain = ClickTemplateMatcher(MatcherConfig())
    assert plain.segment_head is None
    photo = _scene(128, 128, (40, 40, 90, 90))
    assert clicked_segment(plain, photo, (64.0, 64.0)) == object_segment(photo, (64.0, 64.0))
    with pytest.raises(ValueError, match="segmentation head"):
        plain.object_probability(photo, (64.0, 64.0))


def test_the_head_travels_in_the_weights_file(tmp_path) -> None:
    net = with_segment_head(load_matcher(DEFAULT_MODEL), 8)
    torch.nn.init.normal_(net.segment_head.layers[0].weight)
    path = save_matcher(net, tmp_path / "m.safetensors", dtype=torch.float32)
    again = load_matcher(path)
    assert again.config.segment_width == 8
    for (k, a), (_, b) in zip(
        net.segment_head.state_dict().items(), again.segment_head.state_dict().items(), strict=True
    ):
        assert torch.equal(a.float(), b.float()), k
    # a file whose config promises a head it does not hold is refused in one line
    tensors = {k: v for k, v in load_file(str(path)).items() if not k.startswith("segment_head")}
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    save_file(tensors, str(tmp_path / "headless.safetensors"), metadata=meta)
    with pytest.raises(WeightsError, match=r"headless\.safetensors.*missing"):
        load_matcher(tmp_path / "headless.safetensors")


def test_the_bundled_matcher_has_its_head() -> None:
    net = load_matcher(DEFAULT_MODEL)
    assert net.config.segment_width > 0 and net.segment_head is not None
