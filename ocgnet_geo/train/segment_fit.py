"""Training the matcher's segmentation head on synthetic views of training places.

Labels: every synthetic view stores its true camera (``poses.json``, :func:`~ocgnet_geo.data.
synth.camera_of_truth`) and its object's rectangle in tile px (``Record.polygon``); projecting
the rectangle through the camera gives the object's exact outline in the photo
(:func:`footprint_mask`). Only footprint objects train it (a random region is no object).
Every view is used in its 8 orientations (rotations by 90 degrees and mirror images), because
a photo may face any way. The trunk stays frozen: its features are computed once, then the
head (about 28 k parameters) is fitted with AdamW and a one-cycle learning rate, in about two
minutes on two cores for 200 views.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ocgnet_geo.data.records import Record, parse_satellite_name

#: Optimisation steps, batch size, peak learning rate and weight decay (the bundled head's;
#: its held-out figures are in docs/matcher-report.md).
STEPS = 600
BATCH = 32
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 1e-3


def footprint_mask(record: Record, truth: dict, photo_shape: tuple[int, int], tile_px: int):
    """uint8 (H, W) mask of ``record``'s object rectangle in its photo (1 inside), from the
    view's true pose ``truth`` (an entry of ``poses.json``) and the tile's width ``tile_px``
    (its name georeferences it)."""
    import cv2

    from ocgnet_geo.data.synth import camera_of_truth

    geo = parse_satellite_name(record.satellite_name)
    if geo is None:
        raise ValueError(f"{record.satellite_name}: the tile name carries no georeferencing")
    corners = np.asarray(record.polygon, dtype=np.float64).reshape(-1, 2)
    ground = np.array([geo.pixel_to_map(x, y, tile_px) for x, y in corners])
    h, w = photo_shape
    outline = camera_of_truth(truth, w).project(ground) * np.array([1.0, h / w])
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(outline * 8).astype(np.int32)], 1, shift=3)
    return mask


def view_masks(folder: Path, records: list[Record]) -> list[np.ndarray]:
    """Masks (:func:`footprint_mask`) of ``records`` of one CVOGL-layout ``folder`` whose
    ``poses.json`` synth wrote."""
    from PIL import Image

    poses = json.loads((folder / "poses.json").read_text(encoding="utf-8"))
    masks = []
    for rec in records:
        with (
            Image.open(folder / "query" / rec.query_name) as q,
            Image.open(folder / "satellite" / rec.satellite_name) as t,
        ):
            shape, tile_px = (q.height, q.width), t.width
        masks.append(footprint_mask(rec, poses[rec.query_name], shape, tile_px))
    return masks


def _dihedral(a: np.ndarray, k: int, flip: bool) -> np.ndarray:
    a = np.rot90(a, k)
    return np.ascontiguousarray(a[:, ::-1] if flip else a)


def _dihedral_click(click, shape, k: int, flip: bool) -> tuple[float, float]:
    """``click`` (x, y) after :func:`_dihedral` of an image of ``shape`` (H, W)."""
    (h, w), (x, y) = shape, click
    for _ in range(k):  # np.rot90 turns counter-clockwise: (x, y) -> (y, W - x)
        x, y, h, w = y, w - x, w, h
    return (w - x, y) if flip else (x, y)


def training_tensors(encode, samples, orientations: int = 8):
    """(inputs float16 (N, C, h, w), masks float32 (N, 1, h, w)) of ``samples`` = (photo
    uint8 RGB, click (x, y) photo px, mask uint8) in ``orientations`` (8: all, 1: as they
    are) orientations; ``encode`` is the matcher's frozen trunk
    (:meth:`~ocgnet_geo.models.matcher.network.ClickTemplateMatcher.encode`)."""
    import cv2
    import torch

    from ocgnet_geo.models.matcher.segment_head import head_inputs, segment_copy

    xs, ys = [], []
    for photo, click, mask in samples:
        for n in range(orientations):
            k, flip = n // 2, bool(n % 2)
            p, m = _dihedral(photo, k, flip), _dihedral(mask, k, flip)
            c = _dihedral_click(click, photo.shape[:2], k, flip)
            copy, factor = segment_copy(p)
            x = head_inputs(encode, copy, (c[0] * factor, c[1] * factor))
            cells = (x.shape[-1], x.shape[-2])
            y = cv2.resize(m.astype(np.float32), cells, interpolation=cv2.INTER_AREA)
            xs.append(x.half())
            ys.append(torch.from_numpy(y)[None])
    return torch.stack(xs), torch.stack(ys)


def fit_head(head, inputs, masks, steps: int = STEPS, seed: int = 0, progress: bool = False):
    """Fit a :class:`~ocgnet_geo.models.matcher.segment_head.ClickSegmentHead` (in place,
    from a fresh initialisation; then eval mode) on :func:`training_tensors`: binary
    cross-entropy plus a soft Dice term, batches of :data:`BATCH`. Returns the last loss."""
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    torch.manual_seed(seed)
    for layer in head.modules():
        if hasattr(layer, "reset_parameters"):
            layer.reset_parameters()
    head.requires_grad_(True).train()
    opt = torch.optim.AdamW(head.parameters(), LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, LEARNING_RATE, total_steps=steps)
    rng = np.random.default_rng(seed)
    loss = torch.tensor(0.0)
    for _ in tqdm(range(steps), desc="segmentation head", disable=not progress):
        batch = torch.from_numpy(rng.choice(len(inputs), min(BATCH, len(inputs))))
        x, y = inputs[batch].float(), masks[batch]
        logits = head(x)
        prob = torch.sigmoid(logits)
        overlap = 2 * (prob * y).sum((1, 2, 3)) + 1
        dice = 1 - overlap / (prob.sum((1, 2, 3)) + y.sum((1, 2, 3)) + 1)
        loss = F.binary_cross_entropy_with_logits(logits, y) + dice.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    head.requires_grad_(False).eval()
    return float(loss.detach())
