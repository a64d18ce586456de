from __future__ import annotations

import pytest
import torch

from ocgnet_geo.data.synth import SynthOptions, generate
from tests.data.fixtures import make_scene


@pytest.fixture(scope="session", autouse=True)
def _two_threads() -> None:
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def scene(tmp_path_factory):
    return make_scene(tmp_path_factory.mktemp("scene"))


@pytest.fixture(scope="session")
def synth_root(scene, tmp_path_factory):
    """A small synthetic dataset (128-px tiles at 0.4 m, 128-px drone views)."""
    raster, vec, _ = scene
    out = tmp_path_factory.mktemp("synth")
    opts = SynthOptions(
        tile_size=128, tile_gsd_m=0.4, query_size=128, block_factor=1.5, views_per_object=2, seed=1
    )
    summary = generate(raster, out, None, vec, opts)
    return out, summary
