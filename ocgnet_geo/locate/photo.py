"""Query photos: load any JPEG/PNG/TIFF, apply EXIF orientation, fit the model's query size.

Click coordinates are continuous pixel coordinates of the photo as the user sees it (after
EXIF rotation): x to the right, y down, (0, 0) the top-left corner of the top-left pixel.
Resizing to the model's query size scales them along.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ocgnet_geo.errors import InputError

#: Photos smaller than this (either side, pixels) are refused.
MIN_PHOTO_PX = 32


class PhotoError(InputError):
    """A query photo that is missing, not an image, or too small."""


class ClickError(InputError):
    """A click that is not two numbers inside the photo."""


@dataclass(frozen=True)
class QueryPhoto:
    """A photo resized to the model's query size, with the click scaled along.

    ``rgb`` is uint8 (H, W, 3) at the query size; ``click`` is (x, y) in its pixels;
    ``original_size`` is (width, height) of the photo after EXIF rotation and
    ``original_click`` the click as given, in its pixels.
    """

    path: str
    rgb: np.ndarray
    click: tuple[float, float]
    original_size: tuple[int, int]
    original_click: tuple[float, float]


def parse_click(click: object, what: str = "click") -> tuple[float, float]:
    """(x, y) floats from a pair or an ``"X,Y"`` string; :class:`ClickError` otherwise."""
    if isinstance(click, str):
        parts = click.replace(" ", "").split(",")
    else:
        try:
            parts = list(click)  # type: ignore[call-overload]
        except TypeError:
            parts = []
    try:
        x, y = (float(v) for v in parts)
    except (TypeError, ValueError):
        raise ClickError(f"{what} {click!r}: expected two numbers x,y (photo pixels)") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ClickError(f"{what} {click!r}: expected two finite numbers x,y")
    return x, y


def load_photo(path: str | os.PathLike) -> np.ndarray:
    """The photo as uint8 RGB (H, W, 3), EXIF orientation applied."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    from ocgnet_geo.locate.limits import MAX_PHOTO_PIXELS, PhotoTooLargeError, check_photo_pixels

    p = Path(path)
    if p.is_dir():
        raise PhotoError(f"photo {str(path)!r}: is a folder, not an image file")
    if not p.is_file():
        raise PhotoError(f"photo {str(path)!r}: file not found")
    try:
        with warnings.catch_warnings():  # Pillow's bomb warning: our own limit decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(p)
        with im:
            check_photo_pixels(str(path), *im.size)  # from the header, before decoding
            im = ImageOps.exif_transpose(im)
            rgb = np.asarray(im.convert("RGB"))
    except Image.DecompressionBombError:  # Pillow's own, larger limit, raised by open()
        raise PhotoTooLargeError(
            f"photo {str(path)!r}: more pixels than the limit of "
            f"{MAX_PHOTO_PIXELS // 1_000_000} megapixels (a decompression bomb?); downscale it"
        ) from None
    except (UnidentifiedImageError, OSError) as err:
        raise PhotoError(
            f"photo {str(path)!r}: not an image Pillow can read ({type(err).__name__})"
        ) from None
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_PHOTO_PX:
        raise PhotoError(
            f"photo {str(path)!r}: {w}x{h} px is too small (at least {MIN_PHOTO_PX} px a side)"
        )
    return rgb


def prepare_query(
    path: str | os.PathLike,
    click: object,
    query_hw: tuple[int, int] | None = None,
    long_side: int | None = None,
) -> QueryPhoto:
    """Load ``path``, check ``click`` lies inside it, and resize both: to exactly
    ``query_hw`` (H, W; OCGNet's fixed query size), or, with ``long_side``, keeping the aspect
    ratio so that the long side is at most ``long_side`` px (never enlarged; the matcher's
    working size)."""
    from PIL import Image

    rgb = load_photo(path)
    h, w = rgb.shape[:2]
    x, y = parse_click(click)
    if not (0 <= x < w and 0 <= y < h):
        raise ClickError(f"click ({x:g}, {y:g}): outside photo {str(path)!r} of {w}x{h} px")
    if query_hw is not None:
        qh, qw = query_hw
    elif long_side is not None:
        f = min(1.0, long_side / max(h, w))
        qh, qw = max(1, round(h * f)), max(1, round(w * f))
    else:
        raise ValueError("prepare_query: give query_hw or long_side")
    resized = np.asarray(Image.fromarray(rgb).resize((qw, qh), Image.Resampling.BILINEAR))
    return QueryPhoto(
        path=str(path),
        rgb=resized,
        click=(x * qw / w, y * qh / h),
        original_size=(w, h),
        original_click=(x, y),
    )
