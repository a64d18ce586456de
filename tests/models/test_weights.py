"""Weight formats: round trips, errors, and nothing executes code from a file."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from ocgnet_geo.errors import InputError
from ocgnet_geo.models.backbones import Darknet53YOLOv3, MobileNetV2Features, ResNet18
from ocgnet_geo.models.ocgnet import ModelConfig, OCGNet, WeightsError
from ocgnet_geo.models.ocgnet.weights import (
    config_path_for,
    convert_official,
    darknet_float_count,
    init_from_torchvision,
    load_darknet_weights,
    load_model,
    load_official,
    load_state_dict_strict,
    save_darknet_weights,
    save_model,
    save_official,
)
from tests.models.conftest import randomize

OFFICIAL_DARKNET_FLOATS = 62_001_757


def assert_same_state(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert sa[k].dtype == sb[k].dtype and torch.equal(sa[k], sb[k]), k


def one_line_error(info: pytest.ExceptionInfo) -> str:
    msg = str(info.value)
    assert isinstance(info.value, InputError) and "\n" not in msg
    return msg


@pytest.fixture
def light_model() -> OCGNet:
    return randomize(OCGNet(ModelConfig.light("ground", tile_size=256)), seed=11)


# --- our format --------------------------------------------------------------------------------


def test_own_format_round_trip_light(tmp_path: Path, light_model: OCGNet) -> None:
    path = tmp_path / "light.safetensors"
    json_path = save_model(light_model, path)
    assert json_path == config_path_for(path) == tmp_path / "light.json"
    assert ModelConfig.load(json_path) == light_model.config
    loaded = load_model(path)
    assert loaded.config == light_model.config and not loaded.training
    assert_same_state(loaded, light_model)


def test_own_format_keeps_learnable_sigma(tmp_path: Path) -> None:
    cfg = ModelConfig.from_dict({**ModelConfig.light().to_dict(), "learnable_sigma": True})
    model = OCGNet(cfg)
    with torch.no_grad():
        model.click_encoder.sigma.fill_(0.0831)
    save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.config.sigma == 0.0831 and loaded.sigma == 0.0831
    assert_same_state(loaded, model)


@pytest.mark.slow
def test_full_size_round_trips_in_both_formats(tmp_path: Path, ocgnet_model: OCGNet) -> None:
    save_model(ocgnet_model, tmp_path / "ocg.safetensors")
    assert_same_state(load_model(tmp_path / "ocg.safetensors"), ocgnet_model)
    save_official(ocgnet_model, tmp_path / "ocg.pth.tar")
    loaded = load_official(tmp_path / "ocg.pth.tar")
    assert loaded.config == ModelConfig.official("ocgnet", "drone") and loaded.sigma == 0.10
    assert_same_state(loaded, ocgnet_model)


@pytest.mark.slow
def test_official_detgeo_bare_state_dict_and_convert(tmp_path: Path, detgeo_model: OCGNet) -> None:
    torch.save(detgeo_model.state_dict(), tmp_path / "bare.pth")  # no 'module.', no wrapper
    loaded = load_official(tmp_path / "bare.pth", view="ground")
    assert loaded.config.arch == "detgeo" and loaded.config.view == "ground"
    assert_same_state(loaded, detgeo_model)
    with pytest.raises(WeightsError, match="this is a detgeo checkpoint, not ocgnet") as info:
        load_official(tmp_path / "bare.pth", arch="ocgnet")
    one_line_error(info)
    config = convert_official(tmp_path / "bare.pth", tmp_path / "detgeo.safetensors")
    assert config.arch == "detgeo" and config.sigma == 0.10
    assert_same_state(load_model(tmp_path / "detgeo.safetensors"), detgeo_model)


# --- errors --------------------------------------------------------------------------------------


def test_missing_unexpected_and_mismatched_keys_are_listed(light_model: OCGNet) -> None:
    state = dict(light_model.state_dict())
    state.pop("fcn_out.1.bias")
    state["extra.weight"] = torch.zeros(1)
    state["fcn_out.1.weight"] = torch.zeros(45, 255, 1, 1)
    before = light_model.fcn_out[1].weight.clone()
    with pytest.raises(WeightsError) as info:
        load_state_dict_strict(light_model, state, "ckpt.pth")
    msg = one_line_error(info)
    assert msg.startswith("ckpt.pth: weights do not fit the model")
    assert "1 missing keys: fcn_out.1.bias" in msg and "1 unexpected keys: extra.weight" in msg
    assert "fcn_out.1.weight (45, 255, 1, 1) != (45, 256, 1, 1)" in msg
    assert torch.equal(light_model.fcn_out[1].weight, before)  # nothing half-loaded


def test_official_with_missing_keys_never_keeps_random_weights(tmp_path: Path) -> None:
    state = {"module.combine_clickptns_conv1.conv.weight": torch.zeros(3, 4, 1, 1)}
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "partial.pth.tar")
    with pytest.raises(WeightsError, match=r"partial\.pth\.tar: .*597 missing keys") as info:
        load_official(tmp_path / "partial.pth.tar")
    one_line_error(info)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("how", ["torch", "pickle"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path, how: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth.tar"
    payload = {"state_dict": {"x": torch.zeros(1)}, "epoch": _Evil(marker)}
    if how == "torch":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    pickle.loads(pickle.dumps(_Evil(tmp_path / "control")))  # the payload does run if unpickled
    assert (tmp_path / "control").exists()
    with pytest.raises(WeightsError, match=r"evil\.pth\.tar: refused by the safe loader") as info:
        load_official(path)
    one_line_error(info)
    assert not marker.exists()


def test_truncated_and_foreign_files(tmp_path: Path, light_model: OCGNet) -> None:
    good = tmp_path / "good.pth"
    torch.save({"state_dict": {"a": torch.arange(1000.0)}}, good)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(WeightsError, match=r"truncated\.pth: not a readable PyTorch") as info:
        load_official(truncated)
    one_line_error(info)
    text = tmp_path / "notes.pth.tar"
    text.write_text("hello")
    with pytest.raises(WeightsError, match=r"notes\.pth\.tar: not a PyTorch checkpoint"):
        load_official(text)
    with pytest.raises(WeightsError, match=r"nope\.pth: no such weights file"):
        load_official(tmp_path / "nope.pth")
    with pytest.raises(WeightsError, match=r"good\.pth: not an OCGNet/DetGeo checkpoint"):
        load_official(good)
    # our format
    st = tmp_path / "m.safetensors"
    save_model(light_model, st)
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(st.read_bytes()[:1000])
    with pytest.raises(WeightsError, match=r"cut\.safetensors: not a readable safetensors"):
        load_model(cut)
    with pytest.raises(WeightsError, match=r"good\.pth: not a readable safetensors"):
        load_model(good)
    bare = tmp_path / "bare.safetensors"
    save_file({"a": torch.zeros(2)}, str(bare))
    with pytest.raises(WeightsError, match="without an ocgnet-geo config") as info:
        load_model(bare)
    one_line_error(info)
    config_path_for(st).write_text(ModelConfig.light("drone", tile_size=256).to_json())
    with pytest.raises(WeightsError, match=r"m\.json: config disagrees"):
        load_model(st)


# --- Darknet yolov3.weights -------------------------------------------------------------------


def test_darknet_float_count_is_the_official_files() -> None:
    assert darknet_float_count(Darknet53YOLOv3()) == OFFICIAL_DARKNET_FLOATS
    assert 20 + 4 * OFFICIAL_DARKNET_FLOATS == 248_007_048  # bytes of the official file


@pytest.mark.slow
def test_synthetic_yolov3_weights_round_trip(tmp_path: Path) -> None:
    source = randomize(Darknet53YOLOv3(), seed=12)
    path = tmp_path / "yolov3.weights"
    save_darknet_weights(source, path, header=(0, 2, 0, 32013312, 0))
    assert path.stat().st_size == 248_007_048
    with path.open("rb") as f:  # file order, read by hand: BN bias, weight, mean, var, conv
        head = np.fromfile(f, dtype="<i4", count=5)
        first = np.fromfile(f, dtype="<f4", count=4 * 32 + 864)
    assert head.tolist() == [0, 2, 0, 32013312, 0]
    block = source.module_list[0]
    for i, t in enumerate(
        [
            block.batch_norm_0.bias,
            block.batch_norm_0.weight,
            block.batch_norm_0.running_mean,
            block.batch_norm_0.running_var,
        ]
    ):
        assert np.array_equal(first[32 * i : 32 * (i + 1)], t.detach().numpy())
    assert np.array_equal(first[128:], block.conv_0.weight.detach().numpy().ravel())
    model = OCGNet(ModelConfig.official("detgeo"))
    assert load_darknet_weights(model, path) == (0, 2, 0, 32013312, 0)
    src, dst = source.state_dict(), model.reference_darknet.state_dict()
    for k in src:
        if not k.endswith("num_batches_tracked"):
            assert torch.equal(src[k], dst[k]), k


def test_wrong_size_darknet_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "short.weights"
    np.zeros(5, dtype="<i4").tofile(path)
    with path.open("ab") as f:
        np.zeros(1000, dtype="<f4").tofile(f)
    with pytest.raises(WeightsError, match=r"short\.weights: truncated: holds 1000 floats") as info:
        load_darknet_weights(Darknet53YOLOv3(), path)
    one_line_error(info)
    with pytest.raises(WeightsError, match="no DarkNet-53"):
        load_darknet_weights(OCGNet(ModelConfig.light()), path)


# --- torchvision initialisation --------------------------------------------------------------


def test_torchvision_resnet18_state_dict_initialises_the_query_branch(tmp_path: Path) -> None:
    tv = randomize(ResNet18(), seed=13).state_dict()
    tv = {**tv, "fc.weight": torch.randn(1000, 512), "fc.bias": torch.randn(1000)}
    torch.save(tv, tmp_path / "resnet18-f37072fd.pth")
    model = OCGNet(ModelConfig())
    assert init_from_torchvision(model, tmp_path / "resnet18-f37072fd.pth", "resnet18") == [
        "query_resnet"
    ]
    for k, v in model.query_resnet.base_model.state_dict().items():
        assert torch.equal(v, tv[k]), k
    broken = {k: v for k, v in tv.items() if k != "layer4.1.bn2.weight"}
    with pytest.raises(WeightsError, match=r"1 keys missing.*layer4\.1\.bn2\.weight") as info:
        init_from_torchvision(model, broken, "resnet18")
    one_line_error(info)


def test_torchvision_mobilenet_v2_initialises_both_light_branches(light_model: OCGNet) -> None:
    tv = randomize(MobileNetV2Features(), seed=14).state_dict()
    tv = {
        **tv,
        "classifier.1.weight": torch.randn(1000, 1280),
        "classifier.1.bias": torch.zeros(1000),
    }
    filled = init_from_torchvision(light_model, tv, "mobilenet_v2")
    assert filled == ["query_mobilenet", "reference_mobilenet"]
    for branch in (light_model.query_mobilenet, light_model.reference_mobilenet):
        for k, v in branch.base_model.state_dict().items():
            assert torch.equal(v, tv[k]), k
    with pytest.raises(WeightsError, match="no resnet18 branch"):
        init_from_torchvision(light_model, tv, "resnet18")
