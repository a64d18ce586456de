"""Detection-head utilities: anchors, training targets, loss and box decoding.

The raw head output ``[B, 45, G, G]`` (G = tile_size / 16) is read as ``[B, 9, 5, G, G]``:
channel ``anchor·5 + k`` with k = 0 tx, 1 ty, 2 tw, 3 th, 4 confidence logit. Cell ``(gj, gi)``
is (row, column). Boxes are ``(x1, y1, x2, y2)`` in satellite-tile pixels (continuous, no
+1). Anchors are ``(w, h)`` in tile pixels, in anchor-index order (see
:data:`ocgnet_geo.models.ocgnet.config.OFFICIAL_ANCHORS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ocgnet_geo.models.errors import ModelInputError
from ocgnet_geo.models.ocgnet.config import OFFICIAL_ANCHORS

NUM_ANCHORS = 9
EPS = 1e-16


def anchor_tensor(anchors: Sequence[Sequence[float]] = OFFICIAL_ANCHORS) -> Tensor:
    """Anchors as float32 ``[9, 2]`` (w, h) in tile pixels."""
    t = torch.as_tensor(anchors, dtype=torch.float32)
    if t.shape != (NUM_ANCHORS, 2):
        raise ModelInputError(f"anchors: expected 9 (w, h) pairs, got shape {tuple(t.shape)}")
    return t


def split_raw(raw: Tensor) -> Tensor:
    """Raw head ``[B, 45, G, G]`` → ``[B, 9, 5, G, G]`` (a view)."""
    if raw.ndim != 4 or raw.shape[1] != NUM_ANCHORS * 5:
        raise ModelInputError(f"raw: expected [B, 45, H, W], got {tuple(raw.shape)}")
    b, _, h, w = raw.shape
    return raw.view(b, NUM_ANCHORS, 5, h, w)


@dataclass
class Targets:
    """Per-sample regression targets and responsible (anchor, row, column).

    ``offsets`` [B, 4] = (tx, ty, tw, th): tx, ty ∈ [0, 1) cell offsets, tw, th = log of the
    box size over the anchor size; ``anchor``, ``gj`` (row), ``gi`` (column): int64 [B].
    """

    offsets: Tensor
    anchor: Tensor
    gj: Tensor
    gi: Tensor


def build_target(
    boxes: Tensor,
    anchors: Sequence[Sequence[float]] = OFFICIAL_ANCHORS,
    tile_size: int = 1024,
    grid: int = 64,
) -> Targets:
    """Targets for ground-truth boxes ``[B, 4]`` (xyxy, tile pixels, already clamped).

    Centre and size in grid units: ``cx = (x1+x2)/2/tile_size·grid`` etc.; cell
    ``gi = floor(cx)``, ``gj = floor(cy)``; the anchor is the best origin-aligned IoU with
    anchors divided by the stride ``tile_size // grid`` (ties → lowest index).
    """
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ModelInputError(f"boxes: expected [B, 4] (x1, y1, x2, y2), got {tuple(boxes.shape)}")
    boxes = boxes.float()
    anc = anchor_tensor(anchors).to(boxes.device) / (tile_size // grid)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2 / tile_size * grid
    cy = (boxes[:, 1] + boxes[:, 3]) / 2 / tile_size * grid
    w = (boxes[:, 2] - boxes[:, 0]) / tile_size * grid
    h = (boxes[:, 3] - boxes[:, 1]) / tile_size * grid
    gi, gj = cx.long(), cy.long()
    inter = torch.minimum(w[:, None], anc[None, :, 0]) * torch.minimum(h[:, None], anc[None, :, 1])
    union = (w * h)[:, None] + (anc[:, 0] * anc[:, 1])[None, :] - inter + EPS
    best = torch.argmax(inter / union, dim=1)
    a = anc[best]
    offsets = torch.stack(
        [cx - gi, cy - gj, torch.log(w / a[:, 0] + EPS), torch.log(h / a[:, 1] + EPS)], dim=1
    )
    return Targets(offsets, best, gj, gi)


@dataclass
class LossParts:
    """``total = cls + beta · geo`` (scalars)."""

    total: Tensor
    cls: Tensor
    geo: Tensor


def detection_loss(raw: Tensor, targets: Targets, beta: float = 1.0) -> LossParts:
    """The reference loss on raw head output ``[B, 45, G, G]``.

    * ``geo``: at the responsible (anchor, gj, gi) of each sample, MSE(sigmoid(tx), tx) +
      MSE(sigmoid(ty), ty) + MSE(tw, tw*) + MSE(th, th*), each a mean over the batch.
    * ``cls``: cross-entropy of the confidence logits over all 9·G·G anchor-cells of an image
      against the responsible one, mean over the batch.
    """
    pred = split_raw(raw)
    b, _, _, h, w = pred.shape
    idx = torch.arange(b, device=raw.device)
    sel = pred[idx, targets.anchor, :, targets.gj, targets.gi]  # [B, 5]
    t = targets.offsets.to(sel.dtype)
    geo = (
        F.mse_loss(torch.sigmoid(sel[:, 0]), t[:, 0])
        + F.mse_loss(torch.sigmoid(sel[:, 1]), t[:, 1])
        + F.mse_loss(sel[:, 2], t[:, 2])
        + F.mse_loss(sel[:, 3], t[:, 3])
    )
    flat_target = targets.anchor * (h * w) + targets.gj * w + targets.gi
    cls = F.cross_entropy(pred[:, :, 4].reshape(b, -1), flat_target)
    return LossParts(cls + beta * geo, cls, geo)


def decode_all(
    raw: Tensor, anchors: Sequence[Sequence[float]] = OFFICIAL_ANCHORS, tile_size: int = 1024
) -> Tensor:
    """Every anchor-cell's box: ``[B, 9, G, G, 4]`` xyxy in tile pixels (not clipped).

    ``cx = (sigmoid(tx) + gi)·s``, ``cy = (sigmoid(ty) + gj)·s``, ``w = exp(tw)·anchor_w``,
    ``h = exp(th)·anchor_h`` with stride ``s = tile_size // G``.
    """
    pred = split_raw(raw).float()
    _, _, _, h, w = pred.shape
    stride = tile_size // w
    anc = anchor_tensor(anchors).to(raw.device)
    gi = torch.arange(w, device=raw.device, dtype=torch.float32).view(1, 1, 1, w)
    gj = torch.arange(h, device=raw.device, dtype=torch.float32).view(1, 1, h, 1)
    cx = (torch.sigmoid(pred[:, :, 0]) + gi) * stride
    cy = (torch.sigmoid(pred[:, :, 1]) + gj) * stride
    bw = torch.exp(pred[:, :, 2]) * anc[:, 0].view(1, -1, 1, 1)
    bh = torch.exp(pred[:, :, 3]) * anc[:, 1].view(1, -1, 1, 1)
    return torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], dim=-1)


@dataclass
class BestBox:
    """Single best box per image: ``boxes`` [B, 4] xyxy px; ``anchor``, ``gj``, ``gi`` [B]."""

    boxes: Tensor
    anchor: Tensor
    gj: Tensor
    gi: Tensor


def decode_best(
    raw: Tensor, anchors: Sequence[Sequence[float]] = OFFICIAL_ANCHORS, tile_size: int = 1024
) -> BestBox:
    """The reference's evaluation decode: the one anchor-cell with the highest confidence
    logit (ties → first in (anchor, row, column) order), decoded as :func:`decode_all`."""
    pred = split_raw(raw)
    b, _, _, h, w = pred.shape
    flat = torch.argmax(pred[:, :, 4].reshape(b, -1), dim=1)
    anchor, cell = flat // (h * w), flat % (h * w)
    gj, gi = cell // w, cell % w
    boxes = decode_all(raw, anchors, tile_size)[torch.arange(b), anchor, gj, gi]
    return BestBox(boxes, anchor, gj, gi)


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """Pairwise IoU of xyxy boxes ``[N, 4]`` × ``[M, 4]`` → ``[N, M]`` (reference formula:
    ``inter / (area_a + area_b − inter + 1e-16)``, no +1)."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp_min(0).prod(dim=-1)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter + EPS)


@dataclass
class Detections:
    """Ranked candidates for one image.

    ``boxes`` [n, 4] xyxy tile pixels; ``scores`` [n] = softmax probability of the
    anchor-cell among all 9·G·G of the image (the distribution the loss trains; the scores of
    all candidates sum to ≤ 1); ``anchor``, ``gj`` (row), ``gi`` (column) [n] int64.
    """

    boxes: Tensor
    scores: Tensor
    anchor: Tensor
    gj: Tensor
    gi: Tensor


def decode_topk(
    raw: Tensor,
    k: int = 5,
    nms_iou: float = 0.5,
    anchors: Sequence[Sequence[float]] = OFFICIAL_ANCHORS,
    tile_size: int = 1024,
) -> list[Detections]:
    """Up to ``k`` boxes per image, best first, after greedy non-maximum suppression.

    Candidates are taken in descending confidence logit (ties → lower flat index, i.e. the
    (anchor, row, column) order of :func:`decode_best`); a candidate
    is dropped if its IoU with an already kept box is > ``nms_iou`` (``nms_iou >= 1``
    disables suppression). The first result equals :func:`decode_best`'s box.
    """
    if k < 1:
        raise ModelInputError(f"k: must be >= 1, got {k}")
    if not 0.0 <= nms_iou:
        raise ModelInputError(f"nms_iou: must be >= 0, got {nms_iou}")
    pred = split_raw(raw)
    b, _, _, h, w = pred.shape
    logits = pred[:, :, 4].reshape(b, -1).float()
    scores = torch.softmax(logits, dim=1)
    boxes = decode_all(raw, anchors, tile_size).reshape(b, -1, 4)
    out = []
    for i in range(b):
        order = np.argsort(-logits[i].detach().cpu().numpy(), kind="stable")
        keep = _greedy_nms(boxes[i].detach().cpu().numpy().astype(np.float64), order, k, nms_iou)
        idx = torch.as_tensor(keep, dtype=torch.int64, device=raw.device)
        out.append(
            Detections(
                boxes=boxes[i, idx],
                scores=scores[i, idx],
                anchor=idx // (h * w),
                gj=(idx % (h * w)) // w,
                gi=idx % w,
            )
        )
    return out


def _greedy_nms(boxes: np.ndarray, order: np.ndarray, k: int, thr: float) -> list[int]:
    """Indices (into ``boxes``) of up to ``k`` kept boxes, visiting them in ``order``."""
    kept: list[int] = []
    kept_boxes = np.empty((0, 4))
    for j in order:
        if len(kept) == k:
            break
        if thr < 1.0 and len(kept):
            bx = boxes[j]
            iw = np.minimum(bx[2], kept_boxes[:, 2]) - np.maximum(bx[0], kept_boxes[:, 0])
            ih = np.minimum(bx[3], kept_boxes[:, 3]) - np.maximum(bx[1], kept_boxes[:, 1])
            inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
            area_j = (bx[2] - bx[0]) * (bx[3] - bx[1])
            areas = (kept_boxes[:, 2] - kept_boxes[:, 0]) * (kept_boxes[:, 3] - kept_boxes[:, 1])
            if np.any(inter / (area_j + areas - inter + EPS) > thr):
                continue
        kept.append(int(j))
        kept_boxes = np.vstack([kept_boxes, boxes[j]])
    return kept
