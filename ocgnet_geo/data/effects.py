"""Photometric effects for synthetic drone views: lighting, colour, blur, noise, JPEG.

All functions take and return uint8 RGB ``(H, W, 3)`` arrays and draw from a numpy
``Generator``; strengths are chosen to look like a different camera and time of day.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter


def relight(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Exposure, contrast, white balance and a smooth illumination gradient."""
    h, w = img.shape[:2]
    x = img.astype(np.float32) / 255.0
    gain = rng.uniform(0.75, 1.25) * rng.uniform(0.92, 1.08, size=3)
    mean = x.mean(axis=(0, 1), keepdims=True)
    x = (x - mean) * rng.uniform(0.8, 1.2) + mean
    ang = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    ramp = 1 + rng.uniform(0, 0.25) * ((xx - 0.5) * np.cos(ang) + (yy - 0.5) * np.sin(ang))
    x = x * gain * ramp[..., None]
    x = np.clip(x, 0, 1) ** rng.uniform(0.85, 1.15)
    return (x * 255 + 0.5).astype(np.uint8)


def blur(img: np.ndarray, rng: np.random.Generator, max_radius: float = 1.2) -> np.ndarray:
    """Gaussian (defocus / motion-free) blur of a random radius up to ``max_radius`` px."""
    r = rng.uniform(0, max_radius)
    return np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(r))) if r > 0.2 else img


def noise(img: np.ndarray, rng: np.random.Generator, max_std: float = 6.0) -> np.ndarray:
    """Additive Gaussian sensor noise (std up to ``max_std`` grey levels)."""
    std = rng.uniform(0, max_std)
    return np.clip(img + rng.normal(0, std, img.shape), 0, 255).astype(np.uint8)


def jpeg(
    img: np.ndarray, rng: np.random.Generator, quality: tuple[int, int] = (55, 95)
) -> np.ndarray:
    """Re-encode as JPEG at a random quality (compression artefacts)."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=int(rng.integers(*quality)))
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def drone_look(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """All effects in camera order: lighting, blur, noise, JPEG."""
    return jpeg(noise(blur(relight(img, rng), rng), rng), rng)
