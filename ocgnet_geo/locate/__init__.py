"""The locate pipeline: photo + click + raster -> ranked, georeferenced candidates.

:mod:`.locator` (``Locator``, ``LocateResult``), the tile-model protocol and the OCGNet
adapter (:mod:`.tile_model`), the feature cache (:mod:`.cache`), photo preparation
(:mod:`.photo`), the overlay (:mod:`.overlay`), precision modes (:mod:`.precision`,
:mod:`.inference`) and the models bundled with the package (:mod:`.bundled`).
Importing this package does not import torch.
"""

from ocgnet_geo.locate.locator import (
    DEFAULT_BATCH_BYTES,
    LARGE_SEARCH_TILES,
    Cancelled,
    Candidate,
    LargeSearchWarning,
    LocateResult,
    Locator,
    TopKError,
    ViewMismatchError,
)

__all__ = [
    "DEFAULT_BATCH_BYTES",
    "LARGE_SEARCH_TILES",
    "Cancelled",
    "Candidate",
    "LargeSearchWarning",
    "LocateResult",
    "Locator",
    "TopKError",
    "ViewMismatchError",
]
