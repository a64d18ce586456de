from __future__ import annotations

import pytest
import torch

from ocgnet_geo.data.synth import SynthOptions, generate
from tests.data.fixtures import make_scene


@pytest.fixture(scope="session", autouse=True)
def _two_threads() -> None:
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_set(tmp_path_factory):
    """A tiny synthetic set: 128-px tiles at 0.4 m, a few samples per split."""
    folder = tmp_path_factory.mktemp("scene")
    raster, vec, _ = make_scene(folder)
    out = tmp_path_factory.mktemp("tiny")
    opts = SynthOptions(tile_size=128, tile_gsd_m=0.4, query_size=128, block_factor=1.5, seed=3)
    generate(raster, out, None, vec, opts)
    return out
