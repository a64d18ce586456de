"""Per-sample localisation metrics and their exact aggregation over a split.

All boxes are xyxy in satellite-tile pixels. The GT box is whatever the dataset gives: by
default the reference's, truncated to whole pixels of the stored satellite image
(:data:`~ocgnet_geo.data.cvogl.GT_BOXES`), which is how the paper's numbers were computed;
``evaluate`` reports the exact-box numbers beside them. Per sample (reference spec §7):

* ``iou`` of the single best box (highest confidence logit) with the GT box;
* ``hit25`` / ``hit50``: IoU **strictly greater** than 0.25 / 0.5 (as the reference);
* ``centre``: the predicted cell (gi, gj) is the GT centre cell ``floor(c / stride)``;
* ``top3``: one of the 3 best boxes after NMS (IoU 0.5) has IoU > 0.5 with the GT box;
* ``err_m``: distance between predicted and GT box centres in metres (tile pixels × the
  tile's metres per pixel; NaN when the tile is not georeferenced).

Aggregates are plain means over samples (so any batch size gives the same numbers), and
per-class metrics are means over the samples of a class. The reference instead credits each
sample's class with the mean of its whole *batch* (spec §7, a bug), so its per-class numbers
depend on the batch size; ours do not.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from ocgnet_geo.models.ocgnet.config import GRID_STRIDE
from ocgnet_geo.models.ocgnet.head import box_iou, decode_best, decode_topk

FIELDS = ("iou", "hit25", "hit50", "centre", "top3", "err_m")


def sample_metrics(
    raw: Tensor,
    gt: Tensor,
    anchors: Sequence[Sequence[float]],
    tile_size: int,
    gsd_m: Tensor | None = None,
) -> dict[str, np.ndarray]:
    """Metrics of each sample (``FIELDS``, float64 arrays ``[B]``) from raw head output."""
    gt = gt.detach().float().cpu()
    raw = raw.detach().float().cpu()
    best = decode_best(raw, anchors, tile_size)
    iou = torch.diagonal(box_iou(best.boxes, gt)).double()
    cgt = ((gt[:, :2] + gt[:, 2:]) / 2).double()
    cell = torch.floor(cgt / GRID_STRIDE).long()
    centre = (best.gi == cell[:, 0]) & (best.gj == cell[:, 1])
    top = decode_topk(raw, k=3, nms_iou=0.5, anchors=anchors, tile_size=tile_size)
    top3 = torch.tensor(
        [bool((box_iou(d.boxes, gt[i : i + 1]) > 0.5).any()) for i, d in enumerate(top)]
    )
    cpred = ((best.boxes[:, :2] + best.boxes[:, 2:]) / 2).double()
    err_px = torch.linalg.norm(cpred - cgt, dim=1)
    gsd = gsd_m.detach().double().cpu() if gsd_m is not None else torch.full_like(err_px, math.nan)
    return {
        "iou": iou.numpy(),
        "hit25": (iou > 0.25).double().numpy(),
        "hit50": (iou > 0.5).double().numpy(),
        "centre": centre.double().numpy(),
        "top3": top3.double().numpy(),
        "err_m": (err_px * gsd).numpy(),
    }


@dataclass
class MetricAccumulator:
    """Collects per-sample metrics (with their class names) and summarises them."""

    values: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    classes: list[str] = field(default_factory=list)

    def add(self, metrics: dict[str, np.ndarray], classes: Sequence[str]) -> None:
        for k in FIELDS:
            self.values[k].extend(float(v) for v in metrics[k])
        self.classes.extend(classes)

    def __len__(self) -> int:
        return len(self.classes)

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(self.values[k], dtype=float) for k in FIELDS}

    def summary(self) -> dict[str, float]:
        """``acc25``, ``acc50``, ``miou``, ``acc_centre``, ``top3``, ``median_err_m``, ``n``."""
        return summarize(self.arrays())

    def per_class(self, group=lambda name: name) -> dict[str, dict[str, float]]:
        """Summary per ``group(class_name)`` (e.g. :func:`~ocgnet_geo.data.records.class_group`)."""
        arr = self.arrays()
        names = np.array([group(c) for c in self.classes])
        return {
            c: summarize({k: v[names == c] for k, v in arr.items()}) for c in sorted(set(names))
        }


def summarize(arr: dict[str, np.ndarray]) -> dict[str, float]:
    """Means of per-sample arrays; the median centre error ignores NaN (non-georeferenced)."""
    n = len(arr["iou"])
    mean = (lambda v: float(np.mean(v))) if n else (lambda v: math.nan)
    err = arr["err_m"][np.isfinite(arr["err_m"])]
    return {
        "n": n,
        "acc25": mean(arr["hit25"]),
        "acc50": mean(arr["hit50"]),
        "miou": mean(arr["iou"]),
        "acc_centre": mean(arr["centre"]),
        "top3": mean(arr["top3"]),
        "median_err_m": float(np.median(err)) if len(err) else math.nan,
    }


def box_iou_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of xyxy boxes ``a`` and ``b`` (both [N, 4])."""
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-12)


def ranked_box_metrics(
    gt: np.ndarray, ranked: Sequence[np.ndarray], gsd: np.ndarray
) -> dict[str, np.ndarray]:
    """Per-sample metrics (``FIELDS``) of ranked boxes: ``ranked[0]`` [N, 4] the best box of
    every sample, ``ranked[:3]`` the top 3 (tile pixels, as ``gt``; ``gsd`` [N] metres per
    tile pixel). For models and baselines that give boxes rather than raw head output."""
    best = ranked[0]
    iou = box_iou_np(best, gt)
    cgt = (gt[:, :2] + gt[:, 2:]) / 2
    cpred = (best[:, :2] + best[:, 2:]) / 2
    centre = np.all(np.floor(cgt / GRID_STRIDE) == np.floor(cpred / GRID_STRIDE), axis=1)
    top3 = np.any([box_iou_np(b, gt) > 0.5 for b in ranked[:3]], axis=0)
    return {
        "iou": iou,
        "hit25": (iou > 0.25).astype(float),
        "hit50": (iou > 0.5).astype(float),
        "centre": centre.astype(float),
        "top3": top3.astype(float),
        "err_m": np.linalg.norm(cpred - cgt, axis=1) * gsd,
    }
