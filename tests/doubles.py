"""A deterministic stand-in for the network, to test the pipeline's plumbing.

:class:`BrightSpotModel` "finds" the bright square of a tile: its box is the envelope of the
pixels brighter than 200, with a high logit; every tile also has a weak decoy box in its
top-left corner. Everything else about it follows :class:`ocgnet_geo.locate.tile_model.TileModel`.
"""

from __future__ import annotations

import numpy as np

from ocgnet_geo.locate.tile_model import TileHits


class BrightSpotModel:
    def __init__(self, tile_px: int = 128, gsd_m: float = 0.5, view: str = "drone") -> None:
        self.model_id = "bright-spot-double"
        self.view = view
        self.query_hw = (64, 64)
        self.tile_px = tile_px
        self.gsd_m = gsd_m
        self.encode_calls = 0
        self.find_calls = 0

    def encode(self, rgb: np.ndarray) -> dict[str, np.ndarray]:
        self.encode_calls += 1
        rows, cols = np.nonzero(rgb[..., 0] > 200)
        if len(rows) == 0:
            box = np.array([np.nan] * 4)
        else:
            box = np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], dtype=float)
        return {"box": box}

    def find(
        self, query_rgb: np.ndarray, click: tuple[float, float], features: dict, k: int
    ) -> TileHits:
        self.find_calls += 1
        assert query_rgb.shape == (*self.query_hw, 3)
        assert 0 <= click[0] < self.query_hw[1] and 0 <= click[1] < self.query_hw[0]
        decoy = np.array([1.0, 1.0, 9.0, 9.0])
        grid = self.tile_px // 16
        background = np.log(9 * grid * grid)  # 9*G*G anchor-cells with logit 0
        if np.isnan(features["box"]).any():
            boxes, logits = decoy[None], np.array([0.5])
        else:
            boxes, logits = np.stack([features["box"], decoy]), np.array([8.0, 0.5])
        log_partition = float(np.logaddexp.reduce(np.concatenate([[background], logits])))
        attention = np.zeros((grid, grid), np.float32)
        return TileHits(boxes[:k], logits[:k], log_partition, attention)

    def features_to_arrays(self, features: dict) -> dict[str, np.ndarray]:
        return dict(features)

    def features_from_arrays(self, arrays: dict) -> dict:
        return {"box": np.asarray(arrays["box"])}
