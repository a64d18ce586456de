"""Click maps: encode a click on the query image as a [H, W] weight map.

Click coordinates are ``(x, y)`` in query-image pixels (x = column, first). As in the reference,
the centre is the truncated integer click ``(int(x), int(y))``; distances are measured on the
integer pixel grid (i = row, j = column) in float64 and the map is returned as float32.

* Gaussian kernel transfer (OCGNet): ``exp(−((i−cy)² + (j−cx)²) / (2σ²))`` with
  ``σ = sigma_frac · sqrt(H² + W²)`` pixels.
* DetGeo: ``(1 − d / sqrt(H² + W²))²`` with ``d`` the Euclidean distance in pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ocgnet_geo.models.errors import ClickOutsideQueryError

ClickLike = Tensor | np.ndarray | Sequence[Sequence[float]] | Sequence[float]


def as_clicks(clicks: ClickLike, hw: tuple[int, int], name: str = "click") -> Tensor:
    """Validate clicks and return their truncated integer centres as int64 ``[B, 2]`` (x, y).

    ``clicks`` is one ``(x, y)`` pair or a batch ``[B, 2]`` in query pixels. Raises
    :class:`ClickOutsideQueryError` if a click is not finite or not inside ``[0, W) × [0, H)``.
    """
    t = torch.as_tensor(
        clicks.detach().cpu() if isinstance(clicks, Tensor) else clicks, dtype=torch.float64
    )
    if t.ndim == 1:
        t = t.unsqueeze(0)
    if t.ndim != 2 or t.shape[1] != 2:
        raise ClickOutsideQueryError(
            f"{name}: expected (x, y) or a [B, 2] array, got shape {tuple(t.shape)}"
        )
    h, w = hw
    x, y = t[:, 0], t[:, 1]
    bad = ~(torch.isfinite(x) & torch.isfinite(y) & (x >= 0) & (x < w) & (y >= 0) & (y < h))
    if bool(bad.any()):
        i = int(torch.nonzero(bad)[0])
        raise ClickOutsideQueryError(
            f"{name}: ({float(x[i])}, {float(y[i])}) is outside the {w}x{h} (W x H) query image"
        )
    return t.trunc().to(torch.int64)


def _squared_distance(centres: Tensor, hw: tuple[int, int], device: torch.device) -> Tensor:
    """Squared pixel distance of every grid pixel to each centre: float64 ``[B, H, W]``."""
    h, w = hw
    c = centres.to(device=device, dtype=torch.float64)
    rows = torch.arange(h, dtype=torch.float64, device=device).view(1, h, 1)
    cols = torch.arange(w, dtype=torch.float64, device=device).view(1, 1, w)
    cx = c[:, 0].view(-1, 1, 1)
    cy = c[:, 1].view(-1, 1, 1)
    return (rows - cy) ** 2 + (cols - cx) ** 2


def gaussian_clickmap(
    clicks: ClickLike,
    hw: tuple[int, int],
    sigma_frac: float | Tensor,
    device: torch.device | str = "cpu",
) -> Tensor:
    """Gaussian click map (GKT), float32 ``[B, H, W]``, peak exactly 1 at the click.

    ``sigma_frac`` is a fraction of the query diagonal; a tensor keeps its autograd graph
    (used by the learnable-sigma variant).
    """
    centres = as_clicks(clicks, hw)
    d2 = _squared_distance(centres, hw, torch.device(device))
    sigma_px = torch.as_tensor(sigma_frac, dtype=torch.float64, device=d2.device)
    sigma_px = sigma_px * math.hypot(*hw)
    return torch.exp(-d2 / (2 * sigma_px**2)).to(torch.float32)


def detgeo_clickmap(
    clicks: ClickLike, hw: tuple[int, int], device: torch.device | str = "cpu"
) -> Tensor:
    """DetGeo click map ``(1 − d/diag)²``, float32 ``[B, H, W]``, peak 1 at the click."""
    centres = as_clicks(clicks, hw)
    d = torch.sqrt(_squared_distance(centres, hw, torch.device(device)))
    return ((1 - d / math.hypot(*hw)) ** 2).to(torch.float32)


class ClickMapEncoder(nn.Module):
    """Builds the click map a model expects, from clicks ``[B, 2]`` (x, y) in query pixels.

    With ``learnable=True`` sigma (fraction of the diagonal) is a float64 parameter named
    ``sigma``; otherwise it is a plain Python float, so official state dicts gain no key and
    the map is bit-identical to the reference's for the same sigma.
    """

    def __init__(self, kind: str, hw: tuple[int, int], sigma: float, learnable: bool) -> None:
        super().__init__()
        self.kind = kind
        self.hw = hw
        self.learnable = learnable
        self.fixed_sigma = float(sigma)
        if learnable:
            self.sigma = nn.Parameter(torch.tensor(float(sigma), dtype=torch.float64))

    def current_sigma(self) -> float:
        """Sigma now (fraction of the query diagonal)."""
        return float(self.sigma.detach()) if self.learnable else self.fixed_sigma

    def forward(self, clicks: ClickLike, device: torch.device | str = "cpu") -> Tensor:
        """Clicks ``[B, 2]`` or ``(x, y)`` → float32 click maps ``[B, H, W]`` on ``device``."""
        if self.kind == "detgeo":
            return detgeo_clickmap(clicks, self.hw, device)
        sigma: float | Tensor = self.fixed_sigma
        if self.learnable:
            sigma = self.sigma.clamp_min(1e-4)
            device = self.sigma.device
        return gaussian_clickmap(clicks, self.hw, sigma, device)
