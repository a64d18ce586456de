"""The clicked object's outline in the photo: a small learned head on the matcher's trunk.

The box a candidate gets is only as good as the matcher's idea of how large the clicked
object is in the photo. A colour segmentation (GrabCut, :mod:`ocgnet_geo.locate.extent`)
cuts dense blocks of adjoining roofs short; with the true outline instead, the boxes would
reach acc@0.5 0.96 on the synthetic leave-one-place-out views (the model card). This head
learns that outline from a click: on a copy of the photo whose long side is
:data:`SEGMENT_PX`, the frozen trunk runs at twice that size (so one cell is 4 px of the copy)
and five dilated 3x3 convolutions read, per cell, the trunk's 32 features, the CIELAB colour,
the click's Gaussian, the cosine of the features with the click's, the colour distance to the
click's colour and the distance to the click. The output is the probability per cell that it
belongs to the clicked object. About 28 k parameters, trained on synthetic views of training
places (:mod:`ocgnet_geo.train.segment_fit`); the trunk stays the frozen ImageNet one.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: Long side (px) of the photo copy the head reads.
SEGMENT_PX = 256
#: Copy px per output cell (the trunk's stride 8 on the copy enlarged 2x).
CELL_PX = 4
#: Standard deviation (cells) of the click's Gaussian input channel.
CLICK_SIGMA_CELLS = 1.5
#: Input channels: trunk features + CIELAB (3) + click Gaussian + feature cosine + colour
#: distance + distance to the click.
EXTRA_CHANNELS = 7
DILATIONS = (1, 2, 4, 8, 16)


class ClickSegmentHead(nn.Module):
    """Dilated convolutions: inputs (B, features + 7, h, w) -> object logits (B, 1, h, w)."""

    def __init__(self, feature_channels: int, width: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = feature_channels + EXTRA_CHANNELS
        for d in DILATIONS:
            layers += [nn.Conv2d(c, width, 3, padding=d, dilation=d), nn.BatchNorm2d(width)]
            layers.append(nn.ReLU())
            c = width
        layers.append(nn.Conv2d(width, 1, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, inputs: Tensor) -> Tensor:
        return self.layers(inputs)


def segment_copy(photo_rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """(the photo reduced so that its long side is :data:`SEGMENT_PX` (never enlarged), the
    factor copy px / photo px)."""
    import cv2

    h, w = photo_rgb.shape[:2]
    factor = min(1.0, SEGMENT_PX / max(h, w))
    if factor >= 1.0:
        return np.ascontiguousarray(photo_rgb), 1.0
    size = (max(8, round(w * factor)), max(8, round(h * factor)))
    small = cv2.resize(photo_rgb, size, interpolation=cv2.INTER_AREA)
    return small, size[0] / w


def head_inputs(encode, copy_rgb: np.ndarray, click: tuple[float, float]) -> Tensor:
    """The head's input (features + 7, h, w) for a photo copy (uint8 (H, W, 3) RGB) and a
    click (x, y) in its px; ``encode`` is the matcher's trunk
    (:meth:`~ocgnet_geo.models.matcher.network.ClickTemplateMatcher.encode`)."""
    import cv2

    h, w = copy_rgb.shape[:2]
    rgb = torch.from_numpy(np.require(copy_rgb, requirements=["C", "W"]))
    rgb = rgb.permute(2, 0, 1)[None].float()
    rgb = F.interpolate(rgb, size=(2 * h, 2 * w), mode="bilinear", align_corners=False)
    with torch.inference_mode():
        feats = encode(rgb)[0].float()
    ch, cw = feats.shape[-2:]
    lab = cv2.resize(copy_rgb, (cw, ch), interpolation=cv2.INTER_AREA)
    lab = torch.from_numpy(cv2.cvtColor(lab, cv2.COLOR_RGB2LAB).astype(np.float32) / 255.0)
    lab = lab.permute(2, 0, 1)
    cx, cy = click[0] * cw / w, click[1] * ch / h
    yy, xx = torch.meshgrid(torch.arange(ch) + 0.5, torch.arange(cw) + 0.5, indexing="ij")
    gauss = torch.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * CLICK_SIGMA_CELLS**2))
    ref = (feats * gauss).sum((1, 2))
    cosine = torch.einsum("c,chw->hw", ref / ref.norm().clamp_min(1e-6), feats)
    colour = (lab * gauss).sum((1, 2)) / gauss.sum()
    colour_distance = (lab - colour[:, None, None]).norm(dim=0)
    distance = torch.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / max(ch, cw)
    extra = torch.stack([gauss, cosine, colour_distance, distance])
    return torch.cat([feats, lab, extra]).clone()
