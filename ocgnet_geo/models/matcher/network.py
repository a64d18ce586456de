"""The click-template matcher: one frozen ImageNet trunk for photo and tile, a click-centred
feature template correlated with the tile over scales and headings.

Frames: photo pixels are continuous (x right, y down, (0, 0) the top-left corner); tile
features are cells of ``stride`` tile pixels; a *template canvas* is a square of tile
pixels centred on the click, sampled from the photo at a scale ``s`` (tile pixels per photo
pixel) and a heading ``psi`` (degrees clockwise from north that the photo's top faces).
A canvas offset ``d`` (x east, y south, tile pixels) comes from the photo point
``click + M(psi) d / s`` with ``M = [[cos, sin], [-sin, cos]]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ocgnet_geo.models.backbones.mobilenet import MobileNetV2Features
from ocgnet_geo.models.matcher.config import MatcherConfig
from ocgnet_geo.models.matcher.segment_head import ClickSegmentHead, head_inputs, segment_copy

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Context cells around the template on each side of a canvas (the trunk's receptive field).
CANVAS_PAD_CELLS = 1
#: Templates keeping less than this share of their click weight inside the photo are dropped.
MIN_TEMPLATE_MASS = 0.25


@dataclass(frozen=True)
class Templates:
    """Click templates: ``weights`` [N, C, k, k] (L2-normalised cells x click weights summing
    to 1 per template, so a correlation is a weighted mean cosine), and per template the
    ``scales`` (tile px per photo px) and ``headings_deg`` it was sampled at."""

    weights: Tensor
    scales: Tensor
    headings_deg: Tensor


class ClickTemplateMatcher(nn.Module):
    """Frozen MobileNetV2 ``features[0:trunk_blocks]`` plus the template search (nothing
    trained), and optionally the small learned head that outlines the clicked object in the photo."""

    def __init__(self, config: MatcherConfig) -> None:
        super().__init__()
        self.config = config
        self.trunk = MobileNetV2Features(config.trunk_blocks)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        #: The learned outline of the clicked object (None: the matcher falls back to the
        #: colour segmentation of :mod:`ocgnet_geo.locate.extent`).
        self.segment_head = (
            ClickSegmentHead(config.channels, config.segment_width)
            if config.segment_width > 0
            else None
        )
        self.requires_grad_(False)
        self.eval()

    def normalise(self, rgb: Tensor) -> Tensor:
        """uint8/float 0..255 [B, 3, H, W] -> ImageNet-normalised float32."""
        return (rgb.float() / 255.0 - self.mean) / self.std

    def encode(self, rgb: Tensor) -> Tensor:
        """Tiles, 0..255 [B, 3, T, T] -> L2-normalised cells [B, C, T/stride, T/stride]."""
        x = self.normalise(rgb).contiguous(memory_format=torch.channels_last)
        return F.normalize(self.trunk(x), dim=1, eps=1e-6)

    def prepare(self) -> ClickTemplateMatcher:
        """Fold BatchNorm into the trunk's convolutions and use channels_last (in place)."""
        from ocgnet_geo.locate.inference import fold_batchnorm

        fold_batchnorm(self.trunk)
        self.trunk.to(memory_format=torch.channels_last)
        return self

    def templates(
        self,
        photo: Tensor,
        click: tuple[float, float],
        scales: list[float],
        headings_deg: list[float],
    ) -> Templates:
        """Templates of the photo (0..255 [1, 3, H, W]) around ``click`` (photo px) for every
        (scale, heading) pair; pairs whose click weights lie mostly outside the photo drop."""
        cfg = self.config
        k, stride = cfg.template_cells, cfg.stride
        canvas = (k + 2 * CANVAS_PAD_CELLS) * stride
        _, _, h, w = photo.shape
        norm = self.normalise(photo)
        pairs = [(s, psi) for s in scales for psi in headings_deg]
        theta = torch.zeros(len(pairs), 2, 3)
        for n, (s, psi) in enumerate(pairs):
            c, si = math.cos(math.radians(psi)), math.sin(math.radians(psi))
            a, b = canvas / (w * s), canvas / (h * s)
            theta[n] = torch.tensor(
                [[a * c, a * si, 2 * click[0] / w - 1], [-b * si, b * c, 2 * click[1] / h - 1]]
            )
        grid = F.affine_grid(theta, [len(pairs), 3, canvas, canvas], align_corners=False)
        lo = CANVAS_PAD_CELLS
        # Canvas pixels whose sampling point falls on the photo (grid in -1..1 is the
        # photo's extent; cheaper than sampling a photo-sized image of ones per pair).
        inside = (grid.abs() <= 1).all(dim=-1).unsqueeze(1).float()
        valid = F.avg_pool2d(inside, stride)[:, :, lo : lo + k, lo : lo + k] > 0.5
        gauss = _gaussian(k, cfg.sigma_cells)
        mass = (gauss * valid).flatten(1).sum(1) / gauss.sum()
        keep = torch.nonzero(mass >= MIN_TEMPLATE_MASS).flatten()
        crops = torch.empty(len(keep), 3, canvas, canvas)
        levels = [_pyramid_level(pairs[n][0]) for n in keep.tolist()]
        for level in sorted(set(levels)):
            idx = [i for i, lv in enumerate(levels) if lv == level]
            source = norm if level == 0 else _reduce(norm, 2**level)
            crops[idx] = F.grid_sample(
                source.expand(len(idx), -1, -1, -1),
                grid[keep[idx]],
                mode="bilinear",
                padding_mode="zeros",
                align_corners=False,
            )
        crops = crops.contiguous(memory_format=torch.channels_last)
        feats = F.normalize(self.trunk(crops), dim=1, eps=1e-6)[:, :, lo : lo + k, lo : lo + k]
        weights = gauss * valid[keep]
        weights = weights / weights.flatten(1).sum(1).clamp_min(1e-9).view(-1, 1, 1, 1)
        kept = [pairs[n] for n in keep.tolist()]
        return Templates(
            weights=(feats * weights).contiguous(),
            scales=torch.tensor([s for s, _ in kept]),
            headings_deg=torch.tensor([psi for _, psi in kept]),
        )

    def object_probability(
        self, photo_rgb: np.ndarray, click: tuple[float, float]
    ) -> tuple[np.ndarray, float]:
        """(probability (h, w) per cell that it belongs to the clicked object, photo px per
        cell) from the segmentation head, for a photo (uint8 (H, W, 3) RGB) and a click (x, y)
        in its continuous px. Requires ``segment_head``."""
        if self.segment_head is None:
            raise ValueError("this matcher has no segmentation head (config segment_width 0)")
        copy, factor = segment_copy(photo_rgb)
        inputs = head_inputs(self.encode, copy, (click[0] * factor, click[1] * factor))
        with torch.inference_mode():
            prob = torch.sigmoid(self.segment_head(inputs[None]))[0, 0]
        cell = copy.shape[1] / inputs.shape[-1] / factor
        return prob.numpy(), cell

    def correlate(self, features: Tensor, templates: Templates) -> Tensor:
        """Weighted mean cosine of every template at every tile cell:
        features [1, C, h, w] -> scores [N, h, w] float32 (N = number of templates)."""
        h, w = features.shape[-2:]
        if len(templates.weights) == 0:
            return torch.zeros(1, h, w)
        pad = self.config.template_cells // 2
        return F.conv2d(features.float(), templates.weights, padding=pad)[0]


def _pyramid_level(scale: float) -> int:
    """Photo pyramid level to sample a template at ``scale`` from (level L: reduced 2**L), so
    that bilinear sampling never skips photo pixels (antialiasing)."""
    return max(0, math.floor(math.log2(1.0 / scale))) if scale < 1 else 0


def _reduce(image: Tensor, factor: int) -> Tensor:
    """Antialiased reduction by an integer factor (for templates sampled at small scales)."""
    h, w = image.shape[-2:]
    size = (max(1, round(h / factor)), max(1, round(w / factor)))
    return F.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False)


def _gaussian(k: int, sigma: float) -> Tensor:
    """[1, 1, k, k] Gaussian centred on the middle cell, peak 1."""
    r = torch.arange(k, dtype=torch.float32) - (k - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    return (g[:, None] * g[None, :]).view(1, 1, k, k)
