"""Ground-truth boxes as the reference reads them (issue 14, item 3).

The reference loader truncates each GT box to whole pixels of the stored satellite image
(``np.array(bbox, dtype=int)``) before its metrics and its training targets, so the paper's
numbers come from truncated boxes. Here: a tiny dataset in the official layout (1024-px
satellite images, 8-field records saved with ``torch.save``) whose boxes have fractional
coordinates, scored by a fixed random model against an independent computation of both
conventions.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ocgnet_geo.cli import main
from ocgnet_geo.data.cvogl import CVOGLDataset
from ocgnet_geo.data.records import load_split
from ocgnet_geo.errors import InputError
from ocgnet_geo.models.ocgnet import ModelConfig, OCGNet, save_model
from ocgnet_geo.models.ocgnet.head import decode_best

DATASET = "CVOGL_DroneAerial"
STORED = 1024  # satellite side in the official layout
TILE = 256  # the model's tile: boxes scale by 1/4
SAMPLES = 4
#: GT boxes are the fixed random model's own best boxes (so that the IoUs are far from 0)
#: moved by these offsets at the stored scale: fractional parts that truncation changes.
OFFSETS = np.array([[3.9, -2.3, -4.6, 5.8], [-6.7, 2.95, 3.8, -1.1], [2.6, 4.9, -3.3, 2.7]])


def _write_split(folder, records) -> None:
    for split in ("train", "val", "test"):
        torch.save(records, folder / f"{DATASET}_{split}.pth")


def _record(i: int, box: list[float]) -> tuple:
    query, sat = f"{1000 + i}_539733_4880095.jpg", f"{539827 + 300 * i}_4880079_300_32615.jpg"
    corners = [box[0], box[1], box[2], box[1], box[2], box[3], box[0], box[3]]
    return (1000 + i, query, sat, (383, 380), (191.5, 190.25), box, corners, "building_house")


@pytest.fixture(scope="module")
def official_set(tmp_path_factory: pytest.TempPathFactory):
    """(root, weights, GT boxes at the stored scale) of a 4-sample official-layout set."""
    root = tmp_path_factory.mktemp("official")
    folder = root / DATASET
    (folder / "query").mkdir(parents=True)
    (folder / "satellite").mkdir()
    rng = np.random.default_rng(7)
    placeholder = [0.0, 0.0, 100.0, 100.0]
    for i in range(SAMPLES):
        _, query, sat, *_ = _record(i, placeholder)
        Image.fromarray(rng.integers(0, 255, (512, 512, 3), dtype=np.uint8)).save(
            folder / "query" / query
        )
        Image.fromarray(rng.integers(0, 255, (STORED, STORED, 3), dtype=np.uint8)).save(
            folder / "satellite" / sat
        )
    _write_split(folder, [_record(i, placeholder) for i in range(SAMPLES)])
    torch.manual_seed(0)
    model = OCGNet(ModelConfig.light(tile_size=TILE)).eval()
    weights = root / "m.safetensors"
    save_model(model, weights)
    ds = CVOGLDataset(root, DATASET, "test", model.config)
    boxes = []
    with torch.no_grad():
        for i in range(SAMPLES):
            s = ds[i]
            raw, _ = model(s["query"][None], s["satellite"][None], s["clickmap"][None])
            pred = decode_best(raw, model.config.anchors, TILE).boxes[0].double().numpy()
            box = np.clip(pred * (STORED / TILE), 0, STORED - 1) + OFFSETS[i % len(OFFSETS)]
            box = np.clip(box, 0.25, STORED - 1.5)
            boxes.append([round(float(v), 2) for v in box])
    _write_split(folder, [_record(i, box) for i, box in enumerate(boxes)])
    return root, weights, boxes


def _reference_box(box: list[float]) -> np.ndarray:
    """The reference's arithmetic: truncate at the stored scale, resize, clamp to [0, T-1]."""
    return np.clip(np.array(box, dtype=int) * (TILE / STORED), 0, TILE - 1)


def _exact_box(box: list[float]) -> np.ndarray:
    return np.clip(np.array(box, dtype=float) * (TILE / STORED), 0, TILE - 1)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / (union + 1e-16)


def _independent_miou(root, weights, boxes) -> tuple[float, float]:
    """Mean IoU of the model's best box against truncated and against exact GT boxes."""
    from ocgnet_geo.models.ocgnet.weights import load_model

    model = load_model(weights).eval()
    ds = CVOGLDataset(root, DATASET, "test", model.config)
    reference, exact = [], []
    with torch.no_grad():
        for i, box in enumerate(boxes):
            s = ds[i]
            raw, _ = model(s["query"][None], s["satellite"][None], s["clickmap"][None])
            pred = decode_best(raw, model.config.anchors, TILE).boxes[0].double().numpy()
            reference.append(_iou(pred, _reference_box(box)))
            exact.append(_iou(pred, _exact_box(box)))
    return float(np.mean(reference)), float(np.mean(exact))


def test_reader_truncates_boxes_like_the_reference_unless_asked(official_set) -> None:
    root, _, boxes = official_set
    cfg = ModelConfig.light(tile_size=TILE)
    assert load_split(root / DATASET / f"{DATASET}_test.pth")[0].bbox == tuple(boxes[0])
    default = CVOGLDataset(root, DATASET, "test", cfg)
    for i, box in enumerate(boxes):
        assert np.allclose(default[i]["bbox"].numpy(), _reference_box(box), atol=1e-5), i
    exact = CVOGLDataset(root, DATASET, "test", cfg, gt_boxes="float")
    for i, box in enumerate(boxes):
        assert np.allclose(exact[i]["bbox"].numpy(), _exact_box(box), atol=1e-5), i
    with pytest.raises(InputError, match="gt_boxes"):
        CVOGLDataset(root, DATASET, "test", cfg, gt_boxes="round")


def test_evaluate_reports_reference_and_exact_numbers(official_set, capsys, tmp_path) -> None:
    root, weights, boxes = official_set
    reference, exact = _independent_miou(root, weights, boxes)
    with capsys.disabled():
        print(f"\nindependent mIoU: reference-style {reference:.6f}, exact {exact:.6f}")
    assert abs(reference - exact) > 2e-4  # the fixture does tell the conventions apart
    base = ["evaluate", "--data", str(root), "--weights", str(weights), "--batch-size", "4"]
    assert main([*base, "--report", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "all, GT boxes int (reference)" in text and "all, GT boxes float (exact)" in text
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["settings"]["gt_boxes"] == "int"
    assert report["summary"]["miou"] == pytest.approx(reference, abs=1e-6)
    assert report["gt_boxes"]["int"]["miou"] == pytest.approx(reference, abs=1e-6)
    assert report["gt_boxes"]["float"]["miou"] == pytest.approx(exact, abs=1e-6)

    assert main([*base, "--json", "--gt-boxes", "float"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["miou"] == pytest.approx(exact, abs=1e-6)
    assert report["gt_boxes"]["int"]["miou"] == pytest.approx(reference, abs=1e-6)


def test_training_targets_follow_the_switch(official_set, tmp_path) -> None:
    from ocgnet_geo.train.config import from_preset
    from ocgnet_geo.train.loop import make_datasets

    root, _, boxes = official_set
    for mode, expected in (("int", _reference_box), ("float", _exact_box)):
        cfg = from_preset("lite-cpu", data=str(root), tile_size=TILE, augment=False, gt_boxes=mode)
        train_ds, val_ds = make_datasets(cfg, cfg.model_config())
        for ds in (train_ds, val_ds):
            assert np.allclose(ds[2]["bbox"].numpy(), expected(boxes[2]), atol=1e-5), mode
    assert from_preset("paper").gt_boxes == "int"
    with pytest.raises(InputError, match="gt_boxes"):
        from_preset("paper", gt_boxes="nearest")
