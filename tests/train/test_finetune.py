"""Few-shot fine-tuning: start from saved weights, keep the backbones frozen."""

from __future__ import annotations

import torch

from ocgnet_geo.models.ocgnet import load_model
from ocgnet_geo.train.config import from_preset
from ocgnet_geo.train.loop import train

BACKBONES = ("query_backbone", "reference_backbone")


def _cfg(tiny_set, out, **changes):
    return from_preset(
        "lite-cpu",
        data=str(tiny_set),
        out=str(out),
        tile_size=128,
        epochs=1,
        batch_size=2,
        lr=5e-3,
        augment=False,
        workers=0,
        max_steps_per_epoch=2,
        seed=1,
        **changes,
    )


def test_finetune_from_weights_with_frozen_backbones(tiny_set, tmp_path) -> None:
    train(_cfg(tiny_set, tmp_path / "base"), progress=False)
    base = load_model(tmp_path / "base" / "best.safetensors")
    train(
        _cfg(
            tiny_set,
            tmp_path / "tuned",
            init=str(tmp_path / "base" / "best.safetensors"),
            freeze_backbones=True,
        ),
        progress=False,
    )
    tuned = load_model(tmp_path / "tuned" / "best.safetensors")

    frozen = {name: dict(getattr(base, name).state_dict()) for name in BACKBONES}
    for name in BACKBONES:
        for key, value in getattr(tuned, name).state_dict().items():
            assert torch.equal(value, frozen[name][key]), f"{name}.{key} changed although frozen"
    backbone_ids = {id(p) for name in BACKBONES for p in getattr(tuned, name).parameters()}
    head_changed = [
        n
        for (n, p), (_, q) in zip(tuned.named_parameters(), base.named_parameters(), strict=True)
        if id(p) not in backbone_ids and not torch.equal(p, q)
    ]
    assert head_changed, "fine-tuning changed nothing outside the backbones"
