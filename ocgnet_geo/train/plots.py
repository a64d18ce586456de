"""Small PNG charts drawn with Pillow (no plotting dependency): histogram, bars, lines."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

W, H, PAD = 640, 400, 50


def _frame(title: str) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    d.text((PAD, 12), title, fill="black")
    d.line([(PAD, H - PAD), (W - 20, H - PAD)], fill="black")
    d.line([(PAD, 40), (PAD, H - PAD)], fill="black")
    return img, d


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    title: str,
    path: Path,
    vmax: float | None = None,
) -> None:
    """Vertical bars with value labels (values ≥ 0)."""
    img, d = _frame(title)
    top = vmax or max([*values, 1e-9])
    n = max(len(values), 1)
    slot = (W - 20 - PAD) / n
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        x0 = PAD + i * slot + slot * 0.15
        x1 = PAD + (i + 1) * slot - slot * 0.15
        y = H - PAD - (H - PAD - 50) * (v / top if top else 0)
        d.rectangle([x0, y, x1, H - PAD], fill=(70, 110, 180))
        d.text((x0, y - 14), f"{v:.3g}", fill="black")
        d.text((x0, H - PAD + 6), str(lab)[:14], fill="black")
    img.save(path)


def histogram(values: np.ndarray, bins: int, lo: float, hi: float, title: str, path: Path) -> None:
    """Histogram of ``values`` over ``[lo, hi]``."""
    counts, edges = np.histogram(np.asarray(values, float), bins=bins, range=(lo, hi))
    labels = [f"{edges[i]:.2g}" if i % 2 == 0 else "" for i in range(bins)]
    bar_chart(labels, counts.astype(float).tolist(), title, path)


def line_chart(
    xs: Sequence[float], series: dict[str, Sequence[float]], title: str, path: Path
) -> None:
    """Lines (one per series) over ``xs``, y in [0, 1]."""
    img, d = _frame(title)
    colours = [(200, 60, 60), (60, 140, 60), (60, 80, 200), (160, 100, 20)]
    x_lo, x_hi = min(xs), max(xs)
    span = (x_hi - x_lo) or 1.0

    def px(x: float, y: float) -> tuple[float, float]:
        return PAD + (W - 40 - PAD) * (x - x_lo) / span, H - PAD - (H - PAD - 50) * y

    for k, (name, ys) in enumerate(series.items()):
        c = colours[k % len(colours)]
        pts = [px(x, y) for x, y in zip(xs, ys, strict=True)]
        if len(pts) > 1:
            d.line(pts, fill=c, width=2)
        for p in pts:
            d.ellipse([p[0] - 3, p[1] - 3, p[0] + 3, p[1] + 3], fill=c)
        d.text((W - 160, 40 + 14 * k), name, fill=c)
    for x in xs:
        d.text((px(x, 0)[0] - 10, H - PAD + 6), f"{x:.3g}", fill="black")
    img.save(path)
