"""A tiny model overfits a tiny synthetic set (the trainer end to end)."""

from __future__ import annotations

import json

import pytest

from ocgnet_geo.data.records import load_split, save_split
from ocgnet_geo.train.config import from_preset
from ocgnet_geo.train.loop import train


@pytest.mark.slow
def test_overfit_tiny_set(tiny_set, tmp_path):
    ds = "CVOGL_DroneAerial"
    recs = load_split(tiny_set / ds / f"{ds}_train.pth")[:4]
    root = tmp_path / "data"
    (root / ds).mkdir(parents=True)
    for sub in ("query", "satellite"):
        (root / ds / sub).symlink_to(tiny_set / ds / sub)
    for split in ("train", "val", "test"):
        save_split(recs, root / ds / f"{ds}_{split}.pth")
    cfg = from_preset(
        "lite-cpu",
        data=str(root),
        out=str(tmp_path / "run"),
        tile_size=128,
        epochs=40,
        batch_size=4,
        lr=2e-3,
        lr_step=1000,
        weight_decay=0.0,
        augment=False,
        workers=0,
        eval_every=1000,
        seed=5,
    )
    train(cfg, progress=False)
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    first, last = rows[0], rows[-1]
    print(
        "overfit:",
        first["train_loss"],
        "->",
        last["train_loss"],
        "train acc50",
        last["train_acc50"],
    )
    assert last["train_loss"] <= first["train_loss"] / 2
    assert max(r["train_acc50"] for r in rows[-3:]) >= 0.9
    assert (tmp_path / "run" / "checkpoint.pt").is_file() and (
        tmp_path / "run" / "best.safetensors"
    ).is_file()
