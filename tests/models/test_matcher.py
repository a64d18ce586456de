"""The matcher family: config, weights file, templates, peaks, and the heading convention."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from ocgnet_geo.locate.bundled import DEFAULT_MODEL
from ocgnet_geo.locate.matcher_model import (
    HeadingError,
    MatcherTileModel,
    find_peaks,
    parse_heading,
    peaks_to_hits,
)
from ocgnet_geo.models.errors import ModelConfigError, WeightsError
from ocgnet_geo.models.matcher import (
    ClickTemplateMatcher,
    MatcherConfig,
    build_from_torchvision,
    family_of,
    load_matcher,
    save_matcher,
)


def test_config_search_grid_and_bad_values() -> None:
    cfg = MatcherConfig()
    gsds = cfg.photo_gsds_m()
    assert gsds[0] == pytest.approx(0.04) and gsds[-1] <= 1.0 + 1e-9
    assert all(b / a == pytest.approx(math.sqrt(2)) for a, b in itertools.pairwise(gsds))
    assert cfg.headings_deg() == [20.0 * i for i in range(18)]
    assert MatcherConfig.from_json(cfg.to_json()) == cfg
    for bad in ({"template_cells": 8}, {"view": "ground"}, {"temperature": 0}):
        with pytest.raises(ModelConfigError):
            MatcherConfig(**bad)
    with pytest.raises(ModelConfigError, match="unknown"):
        MatcherConfig.from_dict({"nope": 1})


def test_bundled_weights_round_trip_and_size(tmp_path) -> None:
    assert family_of(DEFAULT_MODEL) == "matcher"
    assert DEFAULT_MODEL.stat().st_size < 5_000_000
    net = load_matcher(DEFAULT_MODEL)
    path = save_matcher(net, tmp_path / "m.safetensors", dtype=torch.float32)
    again = load_matcher(path)
    for (k, a), (_, b) in zip(net.state_dict().items(), again.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    assert load_matcher(path, tile_gsd_m=0.3).config.tile_gsd_m == 0.3


def test_weights_errors_are_one_line(tmp_path) -> None:
    garbage = tmp_path / "x.safetensors"
    garbage.write_bytes(b"not a file")
    with pytest.raises(WeightsError, match=r"x\.safetensors"):
        load_matcher(garbage)
    state = ClickTemplateMatcher(MatcherConfig()).trunk.state_dict()
    torch.save({k: v for k, v in list(state.items())[:-1]}, tmp_path / "partial.pth")
    with pytest.raises(WeightsError, match="MobileNetV2"):
        build_from_torchvision(tmp_path / "partial.pth")
    torch.save(dict(state), tmp_path / "full.pth")
    assert isinstance(build_from_torchvision(tmp_path / "full.pth"), ClickTemplateMatcher)


@pytest.mark.parametrize(
    ("text", "want"),
    [("45", (45.0, 30.0)), ("45±60", (45.0, 60.0)), ("-10+-5", (350.0, 5.0)), (370, (10.0, 30.0))],
)
def test_parse_heading(text, want) -> None:
    assert parse_heading(text) == want


@pytest.mark.parametrize("bad", ["north", "45±", "45±200", "nan", [1, 2, 3], True])
def test_parse_heading_refuses_in_one_line(bad) -> None:
    with pytest.raises(HeadingError) as err:
        parse_heading(bad)
    assert "\n" not in str(err.value)


def test_templates_drop_pairs_outside_the_photo() -> None:
    net = load_matcher(DEFAULT_MODEL)
    photo = torch.randint(0, 255, (1, 3, 64, 64)).float()
    with torch.inference_mode():
        t = net.templates(photo, (32.0, 32.0), [0.05, 1.0], [0.0, 90.0])
    assert t.weights.shape[1:] == (32, 9, 9)
    assert set(t.scales.tolist()) == {1.0}  # at 0.05 the template covers 20x the photo
    sums = t.weights.norm(dim=1).flatten(1).sum(1)
    assert torch.allclose(sums, torch.ones_like(sums), atol=1e-4)  # weighted mean cosine


def test_peaks_claim_disjoint_cells_and_scores_sum_below_one() -> None:
    rng = np.random.default_rng(0)
    response = rng.uniform(-0.2, 0.2, (32, 32))
    response[10, 12], response[25, 5] = 0.9, 0.7
    index = np.zeros((32, 32), int)
    scores = response[None]
    peaks = find_peaks(response, index, scores, np.array([1.0]), np.array([0.0]), 5, 8, 3)
    assert np.allclose(peaks.centres[0], (12.5 * 8, 10.5 * 8), atol=4)
    cells = np.concatenate(peaks.cells)
    assert len(cells) == len(set(cells.tolist()))
    hits = peaks_to_hits(response, peaks, temperature=0.05, box_side_per_scale=40.0)
    probs = np.exp(hits.logits - hits.log_partition)
    assert probs[0] > probs[1] and probs.sum() <= 1 + 1e-9
    assert np.allclose(hits.boxes[0, 2] - hits.boxes[0, 0], 40.0)


def test_one_colour_photo_gives_low_scores_without_error() -> None:
    model = MatcherTileModel(load_matcher(DEFAULT_MODEL), "m")
    tile = np.random.default_rng(1).integers(0, 255, (256, 256, 3), dtype=np.uint8)
    flat = np.full((200, 300, 3), 127, np.uint8)
    hits = model.find(flat, (150.0, 100.0), model.encode(tile), 5)
    probs = np.exp(hits.logits - hits.log_partition)
    assert len(hits.boxes) and np.all(np.isfinite(hits.boxes)) and probs.max() < 0.06
