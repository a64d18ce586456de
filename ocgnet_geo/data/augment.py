"""Satellite-tile training augmentations (numpy + Pillow), after the reference (spec §5).

The reference uses albumentations on the satellite image and its box only; the order and
probabilities are kept, the arguments are albumentations' defaults as we understand them:

1. bbox-safe random crop resized back to the tile size (p 0.2, erosion 0.2);
2. rotate by k·90° (p 0.5);  3. Gaussian noise, variance 10–50 (p 0.5);
4. hue ±20, saturation ±30, value ±20 (p 0.3);
5. one of box blur / median blur, kernel 3–7 (p 0.5);
6. one of brightness/contrast ±0.2 / histogram equalisation (p 0.5; the reference uses
   CLAHE, here a global equalisation of the luminance stands in for it);
7. to grey (p 0.2);  8. gamma 0.8–1.2 (p 0.3).

Images are uint8 ``(H, W, 3)``; boxes are ``[x1, y1, x2, y2]`` float pixels of that image.
The query image and click map are never augmented (as in the reference).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter, ImageOps

Box = np.ndarray


def bbox_safe_crop(img: np.ndarray, box: Box, rng: np.random.Generator, erosion: float = 0.2):
    """A random crop that keeps the (eroded) box, resized back to the image size."""
    h, w = img.shape[:2]
    x1, y1, x2, y2 = box
    ex, ey = (x2 - x1) * erosion / 2, (y2 - y1) * erosion / 2
    cx1 = rng.uniform(0, max(0.0, x1 + ex))
    cy1 = rng.uniform(0, max(0.0, y1 + ey))
    cx2 = rng.uniform(min(w, x2 - ex), w)
    cy2 = rng.uniform(min(h, y2 - ey), h)
    if cx2 - cx1 < 8 or cy2 - cy1 < 8:
        return img, box
    crop = Image.fromarray(img).resize((w, h), Image.BILINEAR, box=(cx1, cy1, cx2, cy2))
    sx, sy = w / (cx2 - cx1), h / (cy2 - cy1)
    out = np.array([(x1 - cx1) * sx, (y1 - cy1) * sy, (x2 - cx1) * sx, (y2 - cy1) * sy])
    return np.asarray(crop), np.clip(out, 0, [w, h, w, h])


def rot90(img: np.ndarray, box: Box, k: int):
    """Rotate image and box by ``k`` quarter turns counter-clockwise (as ``np.rot90``)."""
    x1, y1, x2, y2 = box
    for _ in range(k % 4):
        w = img.shape[1]
        img = np.rot90(img)
        x1, y1, x2, y2 = y1, w - x2, y2, w - x1
    return np.ascontiguousarray(img), np.array([x1, y1, x2, y2], dtype=float)


def hflip(img: np.ndarray, box: Box):
    """Mirror image and box left-right."""
    w = img.shape[1]
    x1, y1, x2, y2 = box
    return np.ascontiguousarray(img[:, ::-1]), np.array([w - x2, y1, w - x1, y2], dtype=float)


def joint_dihedral(query: np.ndarray, click, sat: np.ndarray, box: Box, rng: np.random.Generator):
    """The same random quarter turn and mirror of the query (with its click) and the tile
    (with its box): the scene changes look, the views keep their relative heading."""
    k, mirror = int(rng.integers(0, 4)), bool(rng.random() < 0.5)
    point = np.array([click[0], click[1], click[0], click[1]], dtype=float)
    query, point = rot90(query, point, k)
    sat, box = rot90(sat, box, k)
    if mirror:
        query, point = hflip(query, point)
        sat, box = hflip(sat, box)
    return query, (float(point[0]), float(point[1])), sat, box


def gauss_noise(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    std = np.sqrt(rng.uniform(10, 50))
    return np.clip(img + rng.normal(0, std, img.shape), 0, 255).astype(np.uint8)


def hue_sat_val(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    hsv = np.asarray(Image.fromarray(img).convert("HSV")).astype(np.int16)
    dh = int(rng.uniform(-20, 20) * 256 / 180)
    hsv[..., 0] = (hsv[..., 0] + dh) % 256
    hsv[..., 1] = np.clip(hsv[..., 1] + rng.uniform(-30, 30), 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] + rng.uniform(-20, 20), 0, 255)
    return np.asarray(Image.fromarray(hsv.astype(np.uint8), "HSV").convert("RGB"))


def blur(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    k = int(rng.choice([3, 5, 7]))
    pil = Image.fromarray(img)
    if rng.random() < 0.4 / 0.7:
        return np.asarray(pil.filter(ImageFilter.BoxBlur(k // 2)))
    return np.asarray(pil.filter(ImageFilter.MedianFilter(k)))


def brightness_contrast(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.4 / 0.7:
        alpha, beta = 1 + rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2) * 255
        return np.clip(img * alpha + beta, 0, 255).astype(np.uint8)
    return np.asarray(ImageOps.equalize(Image.fromarray(img)))


def to_gray(img: np.ndarray) -> np.ndarray:
    g = np.asarray(Image.fromarray(img).convert("L"))
    return np.repeat(g[..., None], 3, axis=2)


def gamma(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    lut = (255 * (np.arange(256) / 255) ** rng.uniform(0.8, 1.2)).astype(np.uint8)
    return lut[img]


def augment_satellite(img: np.ndarray, box: Box, rng: np.random.Generator, rotate: bool = True):
    """Apply the reference pipeline to a satellite tile and its box (order and p as above).

    ``rotate=False`` leaves out the 90° rotations (for queries of a known, north-up heading).
    """
    box = np.asarray(box, dtype=float)
    if rng.random() < 0.2:
        img, box = bbox_safe_crop(img, box, rng)
    if rng.random() < 0.5 and rotate:
        img, box = rot90(img, box, int(rng.integers(1, 4)))
    if rng.random() < 0.5:
        img = gauss_noise(img, rng)
    if rng.random() < 0.3:
        img = hue_sat_val(img, rng)
    if rng.random() < 0.5:
        img = blur(img, rng)
    if rng.random() < 0.5:
        img = brightness_contrast(img, rng)
    if rng.random() < 0.2:
        img = to_gray(img)
    if rng.random() < 0.3:
        img = gamma(img, rng)
    return np.ascontiguousarray(img), box
