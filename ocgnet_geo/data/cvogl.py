"""The CVOGL dataset (and any dataset in its layout, e.g. one written by ``synth``).

Layout: ``ROOT/<dataset>/<dataset>_{train,val,test}.pth``, ``ROOT/<dataset>/query/``,
``ROOT/<dataset>/satellite/`` (spec §5). A sample is a dict of tensors:

* ``query`` float32 ``[3, Hq, Wq]`` ImageNet-normalised RGB (resized to the model's query
  size; the click is scaled with it);
* ``clickmap`` float32 ``[Hq, Wq]`` (the model config's kind and sigma) and ``click``
  float32 ``[2]`` (x, y) in resized query pixels;
* ``satellite`` float32 ``[3, T, T]`` ImageNet-normalised, resized to ``tile_size`` T;
* ``bbox`` float32 ``[4]`` xyxy in pixels of the T-sized tile, clamped to ``[0, T−1]``,
  read as ``gt_boxes`` says (:data:`GT_BOXES`; by default truncated to whole pixels of the
  stored satellite image, as the reference loader does); without augmentation also
  ``bbox_int`` and ``bbox_float``, the same box in both conventions (for reports);
* ``gsd_m`` float32 metres per pixel of the T-sized tile (NaN when the name carries no
  georeferencing); ``index`` int64; ``class_name`` str.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ocgnet_geo.data.augment import augment_satellite, joint_dihedral
from ocgnet_geo.data.errors import DatasetError
from ocgnet_geo.data.records import SPLITS, Record, load_split, parse_satellite_name, split_path
from ocgnet_geo.models.ocgnet.clickmap import detgeo_clickmap, gaussian_clickmap
from ocgnet_geo.models.ocgnet.config import ModelConfig

#: How ground-truth boxes are read. ``"int"`` (the default): truncated to whole pixels of the
#: stored satellite image before resizing, augmentation and clamping, as the reference loader
#: does (``np.array(bbox, dtype=int)``); its metrics, training targets and the paper's table
#: come from these. ``"float"``: the exact boxes of the split file.
GT_BOXES = ("int", "float")

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """uint8 ``(H, W, 3)`` → ImageNet-normalised float32 ``[3, H, W]``."""
    x = (rgb.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


def gt_box(bbox: tuple[float, ...] | np.ndarray, gt_boxes: str = "int") -> np.ndarray:
    """A record's box (stored-image pixels) in the ``gt_boxes`` convention (:data:`GT_BOXES`)."""
    if gt_boxes not in GT_BOXES:
        raise ValueError(f"gt_boxes={gt_boxes!r}: not one of {list(GT_BOXES)}")
    box = np.asarray(bbox, dtype=float)
    return np.trunc(box) if gt_boxes == "int" else box


def read_rgb(path: Path) -> np.ndarray:
    """An image file as uint8 RGB, with a one-line error naming the file."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, ValueError) as err:
        raise DatasetError(f"image {path}: cannot be read ({err})") from None


class CVOGLDataset(Dataset):
    """One split of a CVOGL-layout dataset, shaped for a model config.

    Args:
        root: the folder holding ``CVOGL_DroneAerial/`` etc.
        dataset: sub-folder name (``CVOGL_DroneAerial``, ``CVOGL_SVI`` or a synth name).
        split: ``train``, ``val`` or ``test``.
        config: gives the query size, tile size T, click-map kind and sigma.
        augment: apply :func:`~ocgnet_geo.data.augment.augment_satellite` (train only);
            augment_rotate: include its 90° rotations; augment_joint: also turn and mirror
            query and tile together (:func:`~ocgnet_geo.data.augment.joint_dihedral`).
        sigma: override the config's sigma fraction for the click maps.
        seed: base seed of the augmentation RNG (per sample: seed, epoch, index).
        gt_boxes: ``"int"`` (reference, default) or ``"float"`` (exact), see :data:`GT_BOXES`.
    """

    def __init__(
        self,
        root: str | Path,
        dataset: str,
        split: str,
        config: ModelConfig,
        augment: bool = False,
        sigma: float | None = None,
        seed: int = 0,
        augment_rotate: bool = True,
        augment_joint: bool = False,
        gt_boxes: str = "int",
    ) -> None:
        if split not in SPLITS:
            raise DatasetError(f"split {split!r}: not one of {list(SPLITS)}")
        if gt_boxes not in GT_BOXES:
            raise DatasetError(f"gt_boxes {gt_boxes!r}: not one of {list(GT_BOXES)}")
        self.gt_boxes = gt_boxes
        self.folder = Path(root) / dataset
        if not self.folder.is_dir():
            raise DatasetError(f"dataset folder {self.folder}: not found")
        self.records: list[Record] = load_split(split_path(Path(root), dataset, split))
        self.config = config
        self.augment = augment
        self.augment_rotate = augment_rotate
        self.augment_joint = augment_joint
        self.sigma = float(sigma if sigma is not None else config.sigma)
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.records)

    def set_epoch(self, epoch: int) -> None:
        """Change the augmentation draw (call once per epoch)."""
        self.epoch = epoch

    def clickmap(self, click_xy: tuple[float, float]) -> torch.Tensor:
        """Click map ``[Hq, Wq]`` for a click in (resized) query pixels."""
        hw = self.config.query_hw
        if self.config.clickmap == "gaussian":
            return gaussian_clickmap([click_xy], hw, self.sigma)[0]
        return detgeo_clickmap([click_xy], hw)[0]

    def __getitem__(self, index: int) -> dict:
        rec = self.records[index]
        hq, wq = self.config.query_hw
        query = read_rgb(self.folder / "query" / rec.query_name)
        qh, qw = query.shape[:2]
        if (qh, qw) != (hq, wq):
            query = np.asarray(Image.fromarray(query).resize((wq, hq), Image.BILINEAR))
        click = (
            min(rec.click_xy[0] * wq / qw, wq - 1e-3),
            min(rec.click_xy[1] * hq / qh, hq - 1e-3),
        )
        sat = read_rgb(self.folder / "satellite" / rec.satellite_name)
        t = self.config.tile_size
        sh, sw = sat.shape[:2]
        scale = np.array([t / sw, t / sh, t / sw, t / sh])
        box = gt_box(rec.bbox, self.gt_boxes) * scale
        if (sh, sw) != (t, t):
            sat = np.asarray(Image.fromarray(sat).resize((t, t), Image.BILINEAR))
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            sat, box = augment_satellite(sat, box, rng, rotate=self.augment_rotate)
            if self.augment_joint:
                query, click, sat, box = joint_dihedral(query, click, sat, box, rng)
                click = (min(click[0], wq - 1e-3), min(click[1], hq - 1e-3))
        box = np.clip(box, 0, t - 1)
        geo = parse_satellite_name(rec.satellite_name)
        gsd = geo.extent_m / t if geo is not None else float("nan")
        sample = {
            "query": to_tensor(query),
            "clickmap": self.clickmap(click),
            "click": torch.tensor(click, dtype=torch.float32),
            "satellite": to_tensor(sat),
            "bbox": torch.tensor(box, dtype=torch.float32),
            "gsd_m": torch.tensor(gsd, dtype=torch.float32),
            "index": torch.tensor(index, dtype=torch.int64),
            "class_name": rec.class_name,
        }
        if not self.augment:
            for mode in GT_BOXES:
                both = np.clip(gt_box(rec.bbox, mode) * scale, 0, t - 1)
                sample[f"bbox_{mode}"] = torch.tensor(both, dtype=torch.float32)
        return sample
