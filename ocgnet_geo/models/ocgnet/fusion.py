"""Parameter-free fusion steps: location enhancement weights and cosine cross-view fusion."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def location_enhancement(
    early: Tensor, clickmap: Tensor, pool: nn.Module, conv: nn.Module
) -> Tensor:
    """Late click-map embedding ("query-positional enhancement").

    Args:
        early: stride-4 query features [B, C, H/4, W/4] (ResNet-18 layer1).
        clickmap: click map [B, 1, H, W].
        pool: the 4×4/4 average pool (``downsampling_pooling``).
        conv: the 2→1, 8×8/8 conv-BN-LeakyReLU (``combine_clickptns_conv2``).

    Returns:
        Weights [B, 1, H/32, W/32]: ``conv(cat[mean_c(early), pool(clickmap)])``.
    """
    return conv(torch.cat([early.mean(dim=1, keepdim=True), pool(clickmap)], dim=1))


def normalize_reference(ref: Tensor) -> Tensor:
    """L2-normalise satellite features [B, C, H, W] over channels, per location (eps 1e-12)."""
    return F.normalize(ref, dim=1)


def cross_view_fusion(query_vec: Tensor, ref_normalized: Tensor) -> tuple[Tensor, Tensor]:
    """Cosine-similarity fusion of a global query vector with satellite features.

    Args:
        query_vec: global query vector [B, C] (not yet normalised).
        ref_normalized: satellite features [B, C, H, W], L2-normalised over C
            (:func:`normalize_reference`).

    Returns:
        ``(context [B, C, H, W], attention [B, 1, H, W])`` with ``attention`` the cosine
        score min–max normalised per sample to [0, 1] and ``context = attention ·
        ref_normalized``. The per-sample min and max are constants for autograd (the
        gradient flows through the score only). Unlike the reference (NaN), a constant score
        gives attention 0: the range is clamped to the smallest positive float.
    """
    b, _, h, w = ref_normalized.shape
    q = F.normalize(query_vec, dim=1)
    score = torch.einsum("bc,bcn->bn", q, ref_normalized.flatten(2))  # [B, H·W]
    lo = score.detach().amin(dim=1, keepdim=True)
    hi = score.detach().amax(dim=1, keepdim=True)
    span = (hi - lo).clamp_min(torch.finfo(score.dtype).tiny)
    attn = ((score - lo) / span).view(b, 1, h, w)
    return attn * ref_normalized, attn
