"""Multi-head cross attention (MHCA) between query-image and satellite features."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class MultiHeadCrossAttention(nn.Module):
    """OCGNet's MHCA: queries from the query image, keys/values from the satellite.

    Four ``Linear(dim, dim)`` layers named ``query``, ``key``, ``value``, ``out`` (with bias);
    ``heads`` heads of ``dim // heads`` channels, scale ``(dim // heads) ** -0.5``, softmax over
    keys, no mask, dropout, norm or residual. The output is multiplied element-wise by ``x1``.
    """

    def __init__(self, dim: int = 512, heads: int = 8) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"MHCA: dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        """x1 [B, C, H, W] (query features), x2 [B, C, h, w] (pooled satellite) → [B, C, H, W].

        If ``x2``'s shape differs from ``x1``'s, ``x2`` is first resized to H×W (bilinear,
        ``align_corners=False``). Tokens are the H·W positions in row-major order.
        """
        b, c, h, w = x1.shape
        if x2.shape != x1.shape:
            x2 = F.interpolate(x2, size=(h, w), mode="bilinear", align_corners=False)
        t1 = x1.flatten(2).transpose(1, 2)  # [B, N, C]
        t2 = x2.flatten(2).transpose(1, 2)

        def split(t: Tensor) -> Tensor:  # [B, N, C] → [B, heads, N, C/heads]
            return t.unflatten(2, (self.heads, c // self.heads)).transpose(1, 2)

        q, k, v = split(self.query(t1)), split(self.key(t2)), split(self.value(t2))
        attended = F.scaled_dot_product_attention(q, k, v)  # scale = head_dim ** -0.5
        tokens = self.out(attended.transpose(1, 2).flatten(2))  # [B, N, C]
        return tokens.transpose(1, 2).reshape(b, c, h, w) * x1
