"""The locate pipeline: photo + click + raster -> ranked, georeferenced candidates.

:mod:`.locator` (``Locator``), :mod:`.result` (``Candidate``, ``LocateResult``), the
registration stage (:mod:`.register`, :mod:`.registration_stage`, :mod:`.registered`,
:mod:`.features`, :mod:`.confidence`, :mod:`.raster_outline`), the tile-model protocol and the OCGNet
adapter (:mod:`.tile_model`), the feature cache (:mod:`.cache`), photo preparation
(:mod:`.photo`), the overlay (:mod:`.overlay`), precision modes (:mod:`.precision`,
:mod:`.inference`) and the models bundled with the package (:mod:`.bundled`).
Importing this package does not import torch.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DEFAULT_BATCH_BYTES",
    "LARGE_SEARCH_TILES",
    "Cancelled",
    "Candidate",
    "LargeSearchWarning",
    "LocateResult",
    "Locator",
    "PriorFallbackWarning",
    "PriorWarning",
    "TopKError",
    "ViewMismatchError",
]


def __getattr__(name: str) -> Any:
    """The pipeline's names, imported on first use (so that ``ocgnet_geo.locate.verify`` or
    ``.photo`` can be imported without rasterio)."""
    if name in __all__:
        from ocgnet_geo.locate import locator

        return getattr(locator, name)
    raise AttributeError(f"module 'ocgnet_geo.locate' has no attribute {name!r}")
