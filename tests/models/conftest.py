"""Shared fixtures for the model tests: full-size models built once, tiny random inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from ocgnet_geo.models.ocgnet import ModelConfig, OCGNet

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session", autouse=True)
def _two_threads() -> None:
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def official_manifest() -> dict:
    """Keys and shapes of the official checkpoints (copied from the reference manifests)."""
    return json.loads((DATA / "official_state_dict_keys.json").read_text())


def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights *and* BN statistics (so BN is not the identity), small enough that
    activations stay O(1); returns the model in eval mode."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point() or t.ndim == 0:
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith(("running_mean", "bias")):
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
            elif t.ndim == 1:  # BN weight
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            else:
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=g) * (2.0 / fan_in) ** 0.5)
    return model.eval()


@pytest.fixture(scope="session")
def ocgnet_model() -> OCGNet:
    """Full-size OCGNet (drone), random weights and BN stats, eval mode. Do not mutate."""
    return randomize(OCGNet(ModelConfig.official("ocgnet", "drone")), seed=1)


@pytest.fixture(scope="session")
def detgeo_model() -> OCGNet:
    """Full-size DetGeo (drone), random weights and BN stats, eval mode. Do not mutate."""
    return randomize(OCGNet(ModelConfig.official("detgeo", "drone")), seed=2)


def tiny_inputs(
    batch: int = 2, query_hw: tuple[int, int] = (64, 64), tile: int = 128, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(query [B,3,h,w], satellite [B,3,T,T], click map [B,h,w] in (0, 1])."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, 3, *query_hw, generator=g)
    s = torch.randn(batch, 3, tile, tile, generator=g)
    m = torch.rand(batch, *query_hw, generator=g) * 0.99 + 0.01
    return q, s, m
