"""Inference preparation (BN folding, reduced precision) and the split locate (issue 8)."""

from __future__ import annotations

import copy

import pytest
import torch

from ocgnet_geo.locate.inference import fold_batchnorm, prepare_for_inference
from ocgnet_geo.models.ocgnet import ModelConfig, OCGNet
from tests.models.conftest import randomize


@pytest.fixture(scope="module")
def light() -> OCGNet:
    torch.manual_seed(0)
    return randomize(OCGNet(ModelConfig.light(tile_size=256)), seed=3)


def test_folding_batchnorm_keeps_the_darknet_output() -> None:
    from ocgnet_geo.models.backbones import Darknet53YOLOv3

    darknet = randomize(Darknet53YOLOv3(), seed=1)
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        want = darknet(x)
        folded = copy.deepcopy(darknet)
        assert fold_batchnorm(folded) == 72  # 75 convs, the 3 detection convs have no BN
        got = folded(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))


def test_folding_needs_eval_mode() -> None:
    with pytest.raises(ValueError, match="eval"):
        fold_batchnorm(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4)))


def test_prepared_model_encodes_like_the_original(light: OCGNet) -> None:
    x = torch.randn(2, 3, 256, 256)
    with torch.inference_mode():
        want = light.encode_reference(x)
        fp32 = prepare_for_inference(copy.deepcopy(light), "fp32")
        got = fp32.encode_reference(x.contiguous(memory_format=torch.channels_last))
        bf16 = prepare_for_inference(copy.deepcopy(light), "bf16")
        low = bf16.encode_reference(x.to(torch.bfloat16))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            autocast = light.encode_reference(x)
    torch.testing.assert_close(got.normalized, want.normalized, rtol=1e-4, atol=1e-5)
    assert low.normalized.dtype == torch.bfloat16
    # per-location cosine with fp32 (unit vectors): BN folded before the cast is no worse
    # than torch.autocast (which keeps BN and re-casts weights every call)
    cosine = (low.normalized.float() * want.normalized).sum(dim=1)
    reference = (autocast.normalized.float() * want.normalized).sum(dim=1)
    assert float(cosine.mean()) > 0.98 and float(cosine.min()) > 0.95
    assert 1 - float(cosine.mean()) <= 1.5 * (1 - float(reference.mean())), (
        cosine.mean(),
        reference.mean(),
    )
    # the query branch is left alone: float32, BN intact
    assert next(bf16.query_backbone.parameters()).dtype == torch.float32
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in bf16.query_backbone.modules())


def test_encode_query_then_match_is_locate(light: OCGNet) -> None:
    query = torch.randn(1, 3, 256, 256)
    clickmap = light.make_clickmap([(100.0, 40.0)])
    with torch.inference_mode():
        tiles = [light.encode_reference(torch.randn(1, 3, 256, 256)) for _ in range(2)]
        encoded = light.encode_query(query, clickmap)
        for ref in tiles:
            raw, attention = light.locate(query, clickmap, ref)
            raw2, attention2 = light.match(encoded, ref)
            assert torch.equal(raw, raw2) and torch.equal(attention, attention2)
