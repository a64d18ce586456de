"""Every training config shipped in configs/ loads and means what its comment says."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocgnet_geo.train.config import load_train_config

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.toml"))


def test_there_are_configs() -> None:
    assert len(CONFIGS) >= 3


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_loads(path: Path) -> None:
    cfg = load_train_config(str(path))
    model = cfg.model_config()
    if "sigma-sweep" in path.name:
        assert model.sigma == pytest.approx(0.10)
    if "no-mhca" in path.name:
        assert model.mhca is False and model.location_enhancement is True
    if "finetune" in path.name:
        assert cfg.freeze_backbones and model.query_backbone == "mobilenet_v2"
