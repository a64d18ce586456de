"""Trivial localisers to measure a model against, on the same queries (same metrics).

* **tile centre**: one box of the median object size (median width and height in metres
  over a reference split, usually ``train``) centred on the tile;
* **random anchor**: a grid cell and one of the model's anchors drawn uniformly, the box
  centred on the cell (three distinct draws for top-3).

Neither looks at the images, so they show how much the data's geometry alone gives away
(for example objects that always sit near the tile centre).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from ocgnet_geo.data.cvogl import gt_box
from ocgnet_geo.data.records import Record, parse_satellite_name
from ocgnet_geo.models.ocgnet.config import GRID_STRIDE
from ocgnet_geo.train.metrics import MetricAccumulator, ranked_box_metrics

BASELINES = ("tile centre + median size", "random anchor")


def tile_boxes(
    records: Sequence[Record], folder: Path, tile_size: int, gt_boxes: str = "int"
) -> tuple[np.ndarray, np.ndarray]:
    """GT boxes in model-tile pixels ``[N, 4]`` (in the ``gt_boxes`` convention of
    :data:`~ocgnet_geo.data.cvogl.GT_BOXES`, clamped as the dataset does) and each tile's
    metres per model pixel ``[N]``."""
    boxes, gsd = [], []
    for rec in records:
        with Image.open(folder / "satellite" / rec.satellite_name) as im:
            sw, sh = im.size
        sx, sy = tile_size / sw, tile_size / sh
        box = gt_box(rec.bbox, gt_boxes) * [sx, sy, sx, sy]
        boxes.append(np.clip(box, 0, tile_size - 1))
        geo = parse_satellite_name(rec.satellite_name)
        gsd.append(geo.extent_m / tile_size if geo is not None else np.nan)
    return np.array(boxes).reshape(-1, 4), np.array(gsd)


def median_size_m(boxes: np.ndarray, gsd: np.ndarray) -> tuple[float, float]:
    """Median box width and height in metres."""
    return (
        float(np.nanmedian((boxes[:, 2] - boxes[:, 0]) * gsd)),
        float(np.nanmedian((boxes[:, 3] - boxes[:, 1]) * gsd)),
    )


def run_baselines(
    gt: np.ndarray,
    gsd: np.ndarray,
    classes: Sequence[str],
    tile_size: int,
    anchors: Sequence[Sequence[float]],
    size_m: tuple[float, float],
    seed: int = 0,
) -> dict[str, MetricAccumulator]:
    """Metrics of both baselines on boxes ``gt`` (model-tile pixels) with tiles' ``gsd``."""
    rng = np.random.default_rng(seed)
    n = len(gt)
    half = np.stack([size_m[0] / gsd, size_m[1] / gsd], axis=1) / 2
    c = tile_size / 2
    centre_box = np.concatenate([c - half, c + half], axis=1)
    out = {BASELINES[0]: _accumulate(gt, [centre_box], gsd, classes)}
    grid = tile_size // GRID_STRIDE
    anchor_wh = np.asarray(anchors, float)
    draws = []
    for _ in range(3):
        cells = rng.integers(0, grid, size=(n, 2))
        pick = anchor_wh[rng.integers(0, len(anchor_wh), size=n)]
        centre = (cells + 0.5) * GRID_STRIDE
        draws.append(np.concatenate([centre - pick / 2, centre + pick / 2], axis=1))
    out[BASELINES[1]] = _accumulate(gt, draws, gsd, classes)
    return out


def _accumulate(gt, ranked: list[np.ndarray], gsd, classes) -> MetricAccumulator:
    """Metrics where ``ranked[0]`` is the best box and ``ranked[:3]`` the top 3."""
    acc = MetricAccumulator()
    acc.add(ranked_box_metrics(gt, ranked, gsd), classes)
    return acc


__all__ = ["BASELINES", "median_size_m", "run_baselines", "tile_boxes"]
