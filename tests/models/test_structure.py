"""The module tree reproduces the official checkpoints' keys, shapes and parameter counts."""

from __future__ import annotations

import pytest
import torch

from ocgnet_geo.models.backbones import MobileNetV2Features, ResNet18
from ocgnet_geo.models.backbones.darknet import DARKNET_LAYERS, Darknet53YOLOv3
from ocgnet_geo.models.ocgnet import ModelConfig, OCGNet


@pytest.mark.parametrize(
    ("arch", "entries", "params"), [("ocgnet", 598, 74_845_918), ("detgeo", 584, 73_795_164)]
)
def test_official_keys_shapes_and_counts(arch, entries, params, official_manifest, request):
    model = request.getfixturevalue(f"{arch}_model")
    manifest = official_manifest[arch]
    want = [(k.removeprefix("module."), tuple(s)) for k, s in manifest["entries"]]
    got = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    assert len(got) == manifest["num_entries"] == entries
    assert got == want  # same keys, same shapes, same order
    assert sum(p.numel() for p in model.parameters()) == manifest["total_parameters"] == params
    buffers = {k for k, _ in model.named_buffers()}
    assert buffers == {k.removeprefix("module.") for k in manifest["buffer_names"]}
    for top, count in manifest["parameters_by_top_level_submodule"].items():
        assert sum(p.numel() for p in getattr(model, top).parameters()) == count, top
    int_keys = {k for k, v in model.state_dict().items() if v.dtype == torch.int64}
    assert int_keys == {k for k, _ in got if k.endswith("num_batches_tracked")}


def test_view_and_sigma_do_not_change_the_keys(ocgnet_model) -> None:
    ground = OCGNet(ModelConfig(view="ground", sigma=0.2))
    assert list(ground.state_dict()) == list(ocgnet_model.state_dict())


def test_darknet_layer_table() -> None:
    kinds = [layer.kind for layer in DARKNET_LAYERS]
    assert len(kinds) == 107
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "conv": 75,
        "shortcut": 23,
        "route": 4,
        "upsample": 2,
        "yolo": 3,
    }
    strided = [i for i, layer in enumerate(DARKNET_LAYERS) if layer.stride == 2]
    assert strided == [1, 5, 12, 37, 62]
    assert DARKNET_LAYERS[86].sources == (85, 61) and DARKNET_LAYERS[98].sources == (97, 36)
    assert DARKNET_LAYERS[83].sources == (79,)
    detect = [i for i, layer in enumerate(DARKNET_LAYERS) if layer.kind == "conv" and not layer.bn]
    assert detect == [81, 93, 105]


def test_pruned_darknet_runs_only_layers_feeding_layer_90() -> None:
    darknet = Darknet53YOLOv3().eval()
    ran: list[int] = []
    for i, module in enumerate(darknet.module_list):
        module.register_forward_hook(lambda *_, i=i: ran.append(i))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        pruned = darknet(x)
        assert ran == [*range(80), *range(83, 91)]
        assert (
            sum(p.numel() for i in set(ran) for p in darknet.module_list[i].parameters())
            == 54_423_776
        )
        ran.clear()
        full = darknet.forward_all(x)
    assert ran == list(range(107))
    assert [tuple(t.shape) for t in full] == [(1, 1024, 2, 2), (1, 512, 4, 4), (1, 256, 8, 8)]
    assert torch.equal(pruned, full[1])


def test_torchvision_backbone_sizes() -> None:
    assert sum(p.numel() for p in ResNet18().parameters()) == 11_176_512  # 11,689,512 − fc
    # torchvision mobilenet_v2: 3,504,872 parameters, of which the classifier has 1,281,000
    assert sum(p.numel() for p in MobileNetV2Features().parameters()) == 2_223_872
    keys = list(MobileNetV2Features().state_dict())
    assert keys[:3] == ["features.0.0.weight", "features.0.1.weight", "features.0.1.bias"]
    assert "features.1.conv.0.0.weight" in keys and "features.1.conv.2.running_var" in keys
    assert "features.17.conv.3.weight" in keys and keys[-1] == "features.18.1.num_batches_tracked"


def test_light_variant_shapes() -> None:
    model = OCGNet(ModelConfig.light("ground")).eval()
    assert "reference_mobilenet.proj.conv.weight" in model.state_dict()
    assert not any(k.startswith(("query_resnet", "reference_darknet")) for k in model.state_dict())
    with torch.no_grad():
        ref = model.encode_reference(torch.randn(1, 3, 256, 256))
        raw, attn = model.locate(torch.randn(1, 3, 64, 128), torch.rand(1, 64, 128), ref)
    assert ref.normalized.shape == (1, 512, 16, 16)  # stride 16, 512 channels
    assert raw.shape == (1, 45, 16, 16) and attn.shape == (1, 16, 16)
