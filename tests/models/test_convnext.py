"""Official OCGNet checkpoints with the README's ConvNeXt-Tiny query backbone (issue 14, item 4).

The checkpoint is built from the committed key manifest alone (random values of the listed
shapes, the aliased keys sharing their tensors, ``module.`` prefixes, the official
``.pth.tar`` layout), so the test does not rely on our module tree to write it. The loaded
model is then compared with a float64 NumPy oracle (``tests/models/oracle.py``) that reads
the weights by their official names from the same checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ocgnet_geo.cli import main
from ocgnet_geo.models.backbones import ConvNeXtTiny
from ocgnet_geo.models.ocgnet import ModelConfig, OCGNet, WeightsError
from ocgnet_geo.models.ocgnet.weights import (
    convert_official,
    init_from_torchvision,
    load_model,
    load_official,
)
from tests.models import oracle
from tests.models.conftest import randomize, tiny_inputs

#: Largest relative error accepted: max |model - oracle| / max |oracle| per output.
RTOL = 1e-4
QUERY = "query_resnet."


def random_official_state(manifest: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with every key and shape of ``manifest`` (``module.`` prefixed), values
    of a trained network's scale, the aliased keys sharing their target's tensor."""
    g = torch.Generator().manual_seed(seed)
    aliases = manifest["aliases"]
    state: dict[str, torch.Tensor] = {}
    for name, shape, dtype in manifest["entries"]:
        if name in aliases:
            continue
        if dtype != "float32":
            state[name] = torch.zeros(shape, dtype=getattr(torch, dtype))
        elif name.endswith("running_var"):
            state[name] = torch.rand(shape, generator=g) + 0.5
        elif name.endswith(("running_mean", "bias")):
            state[name] = torch.randn(shape, generator=g) * 0.1
        elif name.endswith("layer_scale"):  # trained values are far from the 1e-6 init
            state[name] = torch.rand(shape, generator=g) * 0.5 + 0.25
        elif len(shape) == 1:  # LayerNorm / BatchNorm weight
            state[name] = torch.rand(shape, generator=g) + 0.5
        else:
            fan_in = int(np.prod(shape[1:]))
            state[name] = torch.randn(shape, generator=g) * (2.0 / fan_in) ** 0.5
    for alias, target in aliases.items():
        state[alias] = state[target]
    return {name: state[name] for name, _, _ in manifest["entries"]}  # the manifest's order


@pytest.fixture(scope="module")
def convnext_checkpoint(official_manifest, tmp_path_factory) -> tuple[Path, dict]:
    manifest = official_manifest["ocgnet_convnext"]
    state = random_official_state(manifest, seed=3)
    path = tmp_path_factory.mktemp("convnext") / "ocgnet_convnext_drone.pth.tar"
    torch.save(
        {"epoch": 24, "state_dict": state, "best_loss": torch.tensor(0.61), "optimizer": {}}, path
    )
    plain = {
        k.removeprefix("module."): v.double().numpy()
        for k, v in state.items()
        if v.is_floating_point()
    }
    return path, plain


def test_keys_shapes_order_and_aliases_match_the_official_checkpoint(official_manifest) -> None:
    manifest = official_manifest["ocgnet_convnext"]
    model = OCGNet(ModelConfig.official("ocgnet", "drone", query_backbone="convnext_tiny"))
    state = model.state_dict()
    want = [(k.removeprefix("module."), tuple(s)) for k, s, _ in manifest["entries"]]
    assert [(k, tuple(v.shape)) for k, v in state.items()] == want
    for alias, target in manifest["aliases"].items():
        a, t = alias.removeprefix("module."), target.removeprefix("module.")
        assert state[a].data_ptr() == state[t].data_ptr(), alias
    unique = {v.data_ptr(): v.numel() for v in state.values() if v.is_floating_point()}
    assert sum(unique.values()) == manifest["unique_float_values"]


@pytest.mark.slow
@pytest.mark.parametrize(("view", "query_hw"), [("drone", (64, 64)), ("ground", (64, 128))])
def test_official_convnext_checkpoint_loads_and_matches_the_oracle(
    convnext_checkpoint, view: str, query_hw: tuple[int, int], tmp_path: Path
) -> None:
    path, weights = convnext_checkpoint
    model = load_official(path, view=view)
    assert model.config.query_backbone == "convnext_tiny" and model.config.view == view
    q, s, m = tiny_inputs(2, query_hw, tile=128, seed=5)
    with torch.no_grad():
        x = model.click_fusion(torch.cat([q, m[:, None]], dim=1))
        deep, early = model.query_backbone(x)
        raw, attn = model(q, s, m)
        dark = model.reference_darknet.forward_all(s)[1]  # the satellite branch: a black box
    want_raw, want_attn, want_deep, want_early = oracle.ocgnet_forward(
        q.double().numpy(),
        m.double().numpy(),
        dark.double().numpy(),
        weights,
        lambda x, p: oracle.convnext_tiny_query(x, p, QUERY),
    )
    errors = {
        "early": oracle.relative_error(early, want_early),
        "deep": oracle.relative_error(deep, want_deep),
        "raw": oracle.relative_error(raw, want_raw),
        "attention": oracle.relative_error(attn, want_attn),
    }
    print(f"\nConvNeXt-T OCGNet ({view}) max relative error vs float64 oracle: {errors}")
    assert max(errors.values()) <= RTOL, errors

    out = tmp_path / "convnext.safetensors"
    if view == "drone":  # the command line, once
        assert main(["convert-weights", "--from", str(path), "--to", str(out), "--json"]) == 0
        config = ModelConfig.load(out.with_suffix(".json"))
    else:
        config = convert_official(path, out, view=view)
    assert config.query_backbone == "convnext_tiny" and config.view == view
    again = load_model(out)
    with torch.no_grad():
        raw2, attn2 = again(q, s, m)
    assert torch.equal(raw2, raw) and torch.equal(attn2, attn)
    state = again.state_dict()  # the aliases are shared again after the round trip
    assert (
        state["query_resnet.early_stem.0.0.weight"].data_ptr()
        == state["query_resnet.base_model.features.0.0.weight"].data_ptr()
    )


def test_convnext_tiny_trunk_is_torchvisions() -> None:
    """Same parameter count as torchvision's convnext_tiny (28,589,128), and its ImageNet
    state dict initialises the query branch (every key, the classifier included)."""
    trunk = ConvNeXtTiny()
    assert sum(p.numel() for p in trunk.parameters()) == 28_589_128
    tv = randomize(ConvNeXtTiny(), seed=21).state_dict()
    model = OCGNet(ModelConfig(query_backbone="convnext_tiny"))
    assert init_from_torchvision(model, tv, "convnext_tiny") == ["query_resnet"]
    for k, v in model.query_resnet.base_model.state_dict().items():
        assert torch.equal(v, tv[k]), k
    assert torch.equal(model.query_resnet.early_stem[0][0].weight, tv["features.0.0.weight"])
    with pytest.raises(WeightsError, match="no resnet18 branch"):
        init_from_torchvision(model, tv, "resnet18")


def test_a_resnet_checkpoint_still_loads_as_resnet(tmp_path: Path, official_manifest) -> None:
    from ocgnet_geo.models.ocgnet.weights import detect_query_backbone

    keys = {k.removeprefix("module."): None for k, _ in official_manifest["ocgnet"]["entries"]}
    assert detect_query_backbone(keys) == "resnet18"
    convnext = official_manifest["ocgnet_convnext"]["entries"]
    assert detect_query_backbone({k.removeprefix("module."): None for k, *_ in convnext}) == (
        "convnext_tiny"
    )
