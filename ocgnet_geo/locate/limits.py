"""Resource bounds, checked before any work, each refused (or capped) with its number.

* threads: at most the CPUs this process may run on (more only oversubscribes the cores;
  a huge count crashes PyTorch's thread pool), capped with a :class:`ResourceCapWarning`;
* devices: only what this PyTorch can use (``cpu``; ``cuda``/``cuda:N`` with a visible GPU);
* photo pixels: :data:`MAX_PHOTO_PIXELS`, read from the header before decoding (a
  decompression bomb is refused without being unpacked);
* tiles of one search: :data:`DEFAULT_MAX_TILES` when no bbox limits the area, unless the
  caller passes its own ``max_tiles``; counted before the grid is built.

torch is imported only inside :func:`check_device`.
"""

from __future__ import annotations

import os
import warnings

from ocgnet_geo.errors import InputError, TooManyTilesError

#: Largest photo accepted, in pixels (width x height): 100 megapixels, beyond any drone or
#: phone camera; the model sees the photo at a few hundred pixels a side anyway.
MAX_PHOTO_PIXELS = 100_000_000
#: Most tiles one search may need when neither a bbox nor ``max_tiles`` is given (at 1024 px
#: and 0.5 m/px, about 1,000 km² with the 25 % overlap; a first click of hours on a CPU).
DEFAULT_MAX_TILES = 4096


#: Smallest raster searched, in the model's pixels a side: a raster of a few pixels (1 x 1)
#: holds no object to find, and every candidate would lie outside it.
MIN_RASTER_MODEL_PX = 16


class RasterTooSmallError(InputError):
    """A raster smaller than :data:`MIN_RASTER_MODEL_PX` model pixels on a side."""


class ResourceCapWarning(UserWarning):
    """A requested resource was more than the machine has and was capped."""


class DeviceError(InputError):
    """A device name that is malformed or that this PyTorch cannot use."""


class PhotoTooLargeError(InputError):
    """A photo with more pixels than :data:`MAX_PHOTO_PIXELS` (e.g. a decompression bomb)."""


def available_cpus() -> int:
    """CPUs this process may run on (its affinity set; ``os.cpu_count()`` where unknown)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def cap_threads(threads: int) -> int:
    """``threads`` capped at :func:`available_cpus`, with a one-line warning when capped."""
    cpus = available_cpus()
    if threads <= cpus:
        return threads
    warnings.warn(
        f"threads {threads}: capped at {cpus} (the CPUs available to this process)",
        ResourceCapWarning,
        stacklevel=2,
    )
    return cpus


def check_device(device: object) -> str:
    """``device`` ("cpu", "cuda", "cuda:1") if this PyTorch can run on it; else
    :class:`DeviceError` with one line saying why."""
    import torch

    name = str(device).strip()
    try:
        parsed = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise DeviceError(f"device {name!r}: not a device name (use cpu, cuda or cuda:N)") from None
    if parsed.type == "cpu":
        return name
    if parsed.type != "cuda":
        raise DeviceError(f"device {name!r}: not supported (use cpu, cuda or cuda:N)")
    if not torch.cuda.is_available():
        built = torch.version.cuda
        why = f"no CUDA GPU is visible (CUDA {built})" if built else "it is a CPU-only build"
        raise DeviceError(f"device {name!r}: this PyTorch cannot use CUDA: {why}; use cpu")
    count = torch.cuda.device_count()
    if parsed.index is not None and parsed.index >= count:
        raise DeviceError(f"device {name!r}: only {count} CUDA device(s) visible (cuda:0..)")
    return name


def check_photo_pixels(source: str, width: int, height: int) -> None:
    """Refuse a photo of more than :data:`MAX_PHOTO_PIXELS` (from its header: call before
    decoding)."""
    if width * height > MAX_PHOTO_PIXELS:
        raise PhotoTooLargeError(
            f"photo {source!r}: {width}x{height} px is more than the limit of "
            f"{MAX_PHOTO_PIXELS // 1_000_000} megapixels (a decompression bomb?); downscale it"
        )


def tile_limit(bbox: object, max_tiles: int | None) -> int | None:
    """The tile limit of a search: ``max_tiles`` when given, :data:`DEFAULT_MAX_TILES`
    without a bbox, none when a bbox was chosen."""
    if max_tiles is not None:
        if isinstance(max_tiles, bool) or not isinstance(max_tiles, int) or max_tiles < 1:
            raise TooManyTilesError(f"max_tiles {max_tiles!r}: must be a whole number >= 1")
        return max_tiles
    return DEFAULT_MAX_TILES if bbox is None else None


def check_raster_size(source: str, size_m: tuple[float, float], gsd_m: float) -> None:
    """Refuse a raster whose ground size ``size_m`` (width, height in metres) is less than
    :data:`MIN_RASTER_MODEL_PX` pixels of ``gsd_m`` metres on a side."""
    width_px, height_px = (s / gsd_m for s in size_m)
    if min(width_px, height_px) < MIN_RASTER_MODEL_PX:
        raise RasterTooSmallError(
            f"raster {source!r}: {size_m[0]:.3g} x {size_m[1]:.3g} m is too small to search "
            f"(at least {MIN_RASTER_MODEL_PX} px of the model's {gsd_m:g} m a side, "
            f"{MIN_RASTER_MODEL_PX * gsd_m:g} m)"
        )
