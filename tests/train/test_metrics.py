"""Metrics against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import torch

from ocgnet_geo.models.ocgnet.config import ModelConfig
from ocgnet_geo.train.metrics import MetricAccumulator, sample_metrics

CFG = ModelConfig.light(tile_size=128)  # grid 8, stride 16


def raw_with_box(
    cx: float, cy: float, anchor: int, tw: float = 0.0, th: float = 0.0
) -> torch.Tensor:
    """Raw head [1, 45, 8, 8] whose best box is centred at (cx, cy) with anchor-size * e^t."""
    raw = torch.full((1, 9, 5, 8, 8), -5.0)
    gi, gj = int(cx // 16), int(cy // 16)
    fx, fy = cx / 16 - gi, cy / 16 - gj
    raw[0, anchor, 0, gj, gi] = math.log(fx / (1 - fx))
    raw[0, anchor, 1, gj, gi] = math.log(fy / (1 - fy))
    raw[0, anchor, 2, gj, gi] = tw
    raw[0, anchor, 3, gj, gi] = th
    raw[0, anchor, 4, gj, gi] = 5.0
    return raw.view(1, 45, 8, 8)


def test_hand_computed_iou_and_hits():
    aw, ah = CFG.anchors[5]  # 65 x 65 for the 128-px light config? compute from config
    raw = raw_with_box(40, 40, 5)
    pred = torch.tensor([[40 - aw / 2, 40 - ah / 2, 40 + aw / 2, 40 + ah / 2]])
    # GT: same box shifted right by a quarter width -> IoU = 0.75 / 1.25 = 0.6
    gt = pred + torch.tensor([[aw / 4, 0, aw / 4, 0]])
    m = sample_metrics(raw, gt, CFG.anchors, 128, torch.tensor([0.5]))
    assert abs(m["iou"][0] - 0.6) < 1e-5
    assert m["hit50"][0] == 1 and m["hit25"][0] == 1 and m["top3"][0] == 1
    # GT centre x = 40 + aw/4 -> cell floor(.../16)
    assert m["centre"][0] == float(int((40 + aw / 4) // 16) == 2)
    assert abs(m["err_m"][0] - aw / 4 * 0.5) < 1e-5


def test_strict_threshold():
    aw, ah = CFG.anchors[5]
    raw = raw_with_box(70, 70, 5)
    pred = torch.tensor([[70 - aw / 2, 70 - ah / 2, 70 + aw / 2, 70 + ah / 2]])
    # shift so IoU is exactly 0.5: overlap w' with (w')/(2w - w') = 0.5 -> w' = 2w/3
    gt = pred + torch.tensor([[aw / 3, 0, aw / 3, 0]])
    m = sample_metrics(raw, gt, CFG.anchors, 128)
    assert abs(m["iou"][0] - 0.5) < 1e-5
    assert m["hit25"][0] == 1
    assert math.isnan(m["err_m"][0])


def test_per_class_is_per_sample_not_per_batch():
    acc = MetricAccumulator()
    acc.add(
        {
            "iou": np.array([1.0, 0.0]),
            "hit25": np.array([1.0, 0.0]),
            "hit50": np.array([1.0, 0.0]),
            "centre": np.array([1.0, 0.0]),
            "top3": np.array([1.0, 0.0]),
            "err_m": np.array([1.0, np.nan]),
        },
        ["building_house", "man_made_bridge"],
    )
    from ocgnet_geo.data.records import class_group

    pc = acc.per_class(class_group)
    assert pc["building"]["acc50"] == 1.0 and pc["bridge"]["acc50"] == 0.0  # reference: 0.5 each
    s = acc.summary()
    assert s["acc50"] == 0.5 and s["median_err_m"] == 1.0 and s["n"] == 2
