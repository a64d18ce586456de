"""Baselines: exact metrics on hand-made boxes, and the evaluate CLI reporting them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ocgnet_geo.cli import main
from ocgnet_geo.models.ocgnet import ModelConfig, OCGNet, save_model
from ocgnet_geo.train.baselines import BASELINES, median_size_m, run_baselines

ANCHORS = ((10, 10), (20, 20), (40, 40))


def test_centre_baseline_hits_centred_objects_only() -> None:
    gsd = np.full(3, 0.5)
    gt = np.array(
        [
            [54.0, 54.0, 74.0, 74.0],  # 10 x 10 m at the centre of a 128-px tile
            [0.0, 0.0, 20.0, 20.0],  # same size in a corner
            [59.0, 59.0, 69.0, 69.0],  # centred, a quarter of the area
        ]
    )
    assert median_size_m(gt, gsd) == (10.0, 10.0)
    out = run_baselines(gt, gsd, ["a"] * 3, 128, ANCHORS, (10.0, 10.0))
    centre = out[BASELINES[0]].arrays()
    assert centre["iou"] == pytest.approx([1.0, 0.0, 0.25])
    assert list(centre["hit50"]) == [1.0, 0.0, 0.0] and list(centre["hit25"]) == [1.0, 0.0, 0.0]
    assert centre["err_m"] == pytest.approx([0.0, np.hypot(27.0, 27.0), 0.0])


def test_random_anchor_baseline_is_seeded_and_poor() -> None:
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 100, size=(500, 2))
    gt = np.concatenate([xy, xy + 20], axis=1)
    gsd = np.full(500, 0.5)
    a = run_baselines(gt, gsd, ["a"] * 500, 128, ANCHORS, (10.0, 10.0), seed=4)
    b = run_baselines(gt, gsd, ["a"] * 500, 128, ANCHORS, (10.0, 10.0), seed=4)
    sa, sb = a[BASELINES[1]].summary(), b[BASELINES[1]].summary()
    assert sa == sb and sa["n"] == 500
    assert sa["acc50"] < 0.05 and sa["top3"] >= sa["acc50"]


def test_evaluate_reports_baselines(tiny_set, tmp_path, capsys) -> None:
    torch.manual_seed(0)
    w = tmp_path / "m.safetensors"
    save_model(OCGNet(ModelConfig.light(tile_size=128)).eval(), w)
    args = ["evaluate", "--data", str(tiny_set), "--split", "test", "--weights", str(w)]
    assert main([*args, "--baselines", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["baselines"]) == set(BASELINES)
    assert report["baselines"][BASELINES[0]]["n"] == report["summary"]["n"]
    assert "from train" in report["settings"]["baseline_median_size_m"]
    assert main([*args, "--baselines"]) == 0
    assert "baseline: random anchor" in capsys.readouterr().out
    n = report["summary"]["n"]
    assert main([*args, "--baselines", "--every", "2", "--json"]) == 0
    half = json.loads(capsys.readouterr().out)
    assert half["summary"]["n"] == half["baselines"][BASELINES[1]]["n"] == (n + 1) // 2
