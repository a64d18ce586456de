"""Matcher evaluation: stored runs, re-scoring under a calibration, leave-one-place-out, and
`ocgnet-geo evaluate --leave-one-place-out` on a tiny synthetic set of the committed crop."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ocgnet_geo.cli import main
from ocgnet_geo.cli.demo import demo_case
from ocgnet_geo.data.synth import SynthOptions, generate
from ocgnet_geo.locate.bundled import DEFAULT_MODEL
from ocgnet_geo.train import matcher_eval as me


@pytest.fixture(scope="module")
def places(tmp_path_factory) -> Path:
    """Two "places" (two seeds over the committed Zürich crop), three random regions each."""
    root = tmp_path_factory.mktemp("places")
    raster = demo_case().raster
    for n, place in enumerate(("east", "west")):
        opts = SynthOptions(
            tile_size=128,
            tile_gsd_m=0.5,
            query_size=128,
            whole_place=True,
            max_objects=3,
            regions_per_block=3,
            region_size_m=(12.0, 20.0),
            pitch_deg=(0.0, 30.0),
            seed=n,
        )
        generate(raster, root / place / "regions", options=opts)
    return root


def test_runs_rescore_and_round_trip(places, tmp_path) -> None:
    runs = me.collect_all(DEFAULT_MODEL, places, tmp_path / "runs", {}, progress=False)
    assert len(runs) >= 4 and set(runs.place) == {"east", "west"}
    again = me.collect_all(DEFAULT_MODEL, places, tmp_path / "runs", {}, progress=False)
    assert np.allclose(np.stack(again.gt), np.stack(runs.gt))  # from the cache, same samples
    small, _ = me.score(runs, 0.15, 0.02)
    large, _ = me.score(runs, 0.4, 0.02)
    sides = [w * s[0] for w, s in zip(runs.width, runs.scales, strict=True)]
    assert np.mean(sides) > 0
    assert small.summary()["n"] == large.summary()["n"] == len(runs)
    _, hot = me.score(runs, 0.3, 0.005)
    _, cold = me.score(runs, 0.3, 0.5)
    assert np.all(hot <= 1 + 1e-9) and hot.mean() > cold.mean()  # sharper softmax


def test_leave_one_place_out_fits_on_the_other_places(places, tmp_path) -> None:
    runs = me.collect_all(DEFAULT_MODEL, places, tmp_path / "runs", {}, progress=False)
    lopo = me.leave_one_place_out(runs)
    assert set(lopo) == {"east", "west"}
    east_only = me.fit(runs.subset(np.array([p == "west" for p in runs.place]) == 0))
    assert lopo["west"]["calibration"]["box_factor"] == east_only["box_factor"]


def test_evaluate_command_leave_one_place_out(places, tmp_path, capsys) -> None:
    report = tmp_path / "report"
    code = main(
        [
            "evaluate",
            "--weights",
            str(DEFAULT_MODEL),
            "--data",
            str(places),
            "--leave-one-place-out",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--report",
            str(report),
        ]
    )
    assert code == 0
    doc = json.loads((report / "report.json").read_text())
    overall = doc["places"]["all"]["overall"]
    assert "matcher" in overall and 0 <= overall["matcher"]["acc50"] <= 1
    assert "| east | matcher |" in (report / "report.md").read_text()
    capsys.readouterr()


def test_each_fold_scores_with_its_own_head_s_measurements(places, tmp_path) -> None:
    from ocgnet_geo.train.segment_folds import attach_fold_segments

    runs = me.collect_all(DEFAULT_MODEL, places, tmp_path / "runs", {}, progress=False)
    with pytest.raises(ValueError, match="fold measurements"):
        attach_fold_segments(runs, [])
    square = np.array([[-10.0, -10.0], [10.0, -10.0], [10.0, 10.0], [-10.0, 10.0]])
    folds = [{"east": (20.0, square), "west": (80.0, 4 * square)} for _ in range(len(runs))]
    attached = attach_fold_segments(runs, folds)
    assert attached.for_fold("east").extent == [20.0] * len(runs)
    assert attached.for_fold("west").extent == [80.0] * len(runs)
    sub = attached.subset(np.array([p == "west" for p in runs.place]))
    assert len(sub.folds) == len(sub) and sub.for_fold("east").extent == [20.0] * len(sub)
    # leave-one-place-out scores "west" with the sizes of the fold that held "west" out
    lopo = me.leave_one_place_out(attached, extent_weight=1.0, shape_weight=0.0)
    west = attached.for_fold("west")
    west.folds = []
    alone = me.leave_one_place_out(west, extent_weight=1.0, shape_weight=0.0)
    assert lopo["west"]["summary"] == alone["west"]["summary"]
    assert not runs.folds  # attaching copies
    plain = me.leave_one_place_out(runs, True, 1.0, 0.0)
    assert lopo["west"]["arrays"]["iou"].tolist() != plain["west"]["arrays"]["iou"].tolist()
