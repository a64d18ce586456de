"""Anchors, targets, loss and decoding against the oracle."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ocgnet_geo.models.errors import ModelInputError
from ocgnet_geo.models.ocgnet.head import (
    anchor_tensor,
    box_iou,
    build_target,
    decode_all,
    decode_best,
    decode_topk,
    detection_loss,
)
from tests.models import oracle

ATOL = oracle.ATOL


def random_boxes(n: int, size: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(n, 2, generator=g) * (size - 1)
    b = torch.rand(n, 2, generator=g) * (size - 1)
    lo, hi = torch.minimum(a, b), torch.maximum(a, b) + 1.0
    return torch.cat([lo, hi.clamp(max=size - 1)], dim=1)[:, [0, 1, 2, 3]]


def test_anchor_order_is_the_reversed_kmeans_list() -> None:
    assert np.array_equal(anchor_tensor().numpy(), oracle.anchors())
    assert anchor_tensor()[0].tolist() == [550, 573] and anchor_tensor()[8].tolist() == [37, 41]


@pytest.mark.parametrize(("tile", "grid"), [(1024, 64), (128, 8)])
def test_build_target_matches_oracle(tile, grid) -> None:
    boxes = random_boxes(64, tile, seed=tile)
    anchors = oracle.anchors() * tile / 1024
    got = build_target(boxes, anchors.tolist(), tile, grid)
    want = oracle.build_target(boxes.numpy(), anchors, tile, grid)
    assert got.anchor.tolist() == [w[1] for w in want]
    assert got.gj.tolist() == [w[2] for w in want] and got.gi.tolist() == [w[3] for w in want]
    assert np.abs(got.offsets.double().numpy() - np.array([w[0] for w in want])).max() <= ATOL


@pytest.mark.parametrize(("tile", "grid"), [(1024, 64), (128, 8)])
def test_loss_matches_oracle(tile, grid) -> None:
    g = torch.Generator().manual_seed(grid)
    raw = torch.randn(4, 45, grid, grid, generator=g, requires_grad=True)
    boxes = random_boxes(4, tile, seed=grid + 1)
    anchors = oracle.anchors() * tile / 1024
    parts = detection_loss(raw, build_target(boxes, anchors.tolist(), tile, grid), beta=0.5)
    geo, cls = oracle.loss(
        raw.detach().numpy(), oracle.build_target(boxes.numpy(), anchors, tile, grid)
    )
    assert abs(parts.geo.item() - geo) <= ATOL and abs(parts.cls.item() - cls) <= ATOL
    assert abs(parts.total.item() - (cls + 0.5 * geo)) <= ATOL
    parts.total.backward()
    assert raw.grad is not None and raw.grad.abs().sum() > 0


def test_decode_best_matches_oracle() -> None:
    g = torch.Generator().manual_seed(9)
    raw = torch.randn(5, 45, 64, 64, generator=g)
    best = decode_best(raw)
    want = oracle.decode_best(raw.numpy(), oracle.anchors())
    # compared in tile units (px / 1024): float32 boxes of ~1000 px carry ~1e-4 px rounding
    assert np.abs(best.boxes.double().numpy() - want).max() / 1024 <= ATOL
    assert (best.anchor * 4096 + best.gj * 64 + best.gi).tolist() == [
        int(np.argmax(r.reshape(9, 5, 64, 64)[:, 4])) for r in raw.numpy()
    ]


def test_decode_best_breaks_ties_by_first_anchor_cell() -> None:
    raw = torch.zeros(1, 45, 4, 4)
    raw[0, 4 + 5 * 3, 2, 1] = 5.0  # anchor 3, row 2, col 1
    raw[0, 4 + 5 * 6, 0, 0] = 5.0  # anchor 6 (later), same logit
    best = decode_best(raw, tile_size=64)
    assert (best.anchor.item(), best.gj.item(), best.gi.item()) == (3, 2, 1)
    w, h = anchor_tensor()[3].tolist()
    cx, cy = (0.5 + 1) * 16, (0.5 + 2) * 16
    assert best.boxes[0].tolist() == pytest.approx([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def test_decode_topk_ranks_scores_and_suppresses() -> None:
    g = torch.Generator().manual_seed(10)
    raw = torch.randn(2, 45, 16, 16, generator=g) * 3
    dets = decode_topk(raw, k=5, nms_iou=0.3, tile_size=256)
    best = decode_best(raw, tile_size=256)
    probs = torch.softmax(raw.view(2, 9, 5, 16, 16)[:, :, 4].reshape(2, -1), dim=1)
    for i, det in enumerate(dets):
        assert det.boxes.shape == (5, 4)
        assert torch.equal(det.boxes[0], best.boxes[i])
        assert torch.all(det.scores[:-1] >= det.scores[1:])
        flat = det.anchor * 256 + det.gj * 16 + det.gi
        assert torch.equal(det.scores, probs[i, flat])
        iou = box_iou(det.boxes, det.boxes) - torch.eye(5)
        assert iou.max() <= 0.3
        assert torch.equal(det.boxes, decode_all(raw, tile_size=256)[i, det.anchor, det.gj, det.gi])
    plain = decode_topk(raw, k=7, nms_iou=1.0, tile_size=256)[0]
    assert torch.equal(plain.scores, probs[0].sort(descending=True).values[:7])


def test_decode_topk_rejects_bad_arguments() -> None:
    with pytest.raises(ModelInputError, match="k: must be >= 1"):
        decode_topk(torch.zeros(1, 45, 4, 4), k=0)
    with pytest.raises(ModelInputError, match=r"raw: expected \[B, 45"):
        decode_topk(torch.zeros(1, 44, 4, 4))


def test_box_iou_reference_formula() -> None:
    a = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    b = torch.tensor([[5.0, 5.0, 15.0, 15.0], [20.0, 20.0, 30.0, 30.0]])
    assert box_iou(a, b)[0].tolist() == pytest.approx([25 / 175, 0.0])
