"""What the pipeline needs from a network (:class:`TileModel`) and what a network gives back
for one tile (:class:`TileHits`). Its own module so that every model family can implement the
protocol without importing the loaders of the others."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class TileHits:
    """Candidates found in one encoded tile.

    ``boxes`` (k, 4) xyxy in tile pixels; ``logits`` (k,) the head's confidence logits;
    ``log_partition`` the log-sum-exp of the logits of all anchor-cells of the tile (so the
    scores of several tiles can be normalised together); ``attention`` (G, G) float32, the
    cross-view attention over the tile's output grid (for the matcher: the softmax of its
    response). Optional, per box: ``scales`` (tile px per query px) and ``headings_deg``
    (degrees clockwise from north that the photo's top faces) the box was matched at, for
    models that search them (the matcher); None otherwise.
    """

    boxes: np.ndarray
    logits: np.ndarray
    log_partition: float
    attention: np.ndarray
    scales: np.ndarray | None = None
    headings_deg: np.ndarray | None = None


class TileModel(Protocol):
    """What the pipeline needs from a network (see module docstring)."""

    model_id: str
    view: str
    query_hw: tuple[int, int]
    tile_px: int
    gsd_m: float

    def encode(self, rgb: np.ndarray) -> Any: ...

    def find(
        self, query_rgb: np.ndarray, click: tuple[float, float], features: Any, k: int
    ) -> TileHits: ...

    def features_to_arrays(self, features: Any) -> dict[str, np.ndarray]: ...

    def features_from_arrays(self, arrays: dict[str, np.ndarray]) -> Any: ...


__all__ = ["TileHits", "TileModel"]
