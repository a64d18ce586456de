"""Training configuration: one dataclass, the ``paper`` and ``lite-cpu`` presets, TOML files.

A TOML file names a preset and overrides fields; the ``[model]`` table overrides
:class:`~ocgnet_geo.models.ocgnet.config.ModelConfig` fields, which is how the σ sweep and the
ablations are switched (``sigma = 0.10``, ``mhca = false``, ``location_enhancement = false``,
``clickmap = "detgeo"``, ``learnable_sigma = true``)::

    preset = "lite-cpu"
    data = "/data/synth"
    dataset = "CVOGL_DroneAerial"
    out = "runs/lite"
    [model]
    sigma = 0.10
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from ocgnet_geo.data.cvogl import GT_BOXES
from ocgnet_geo.errors import InputError
from ocgnet_geo.models.ocgnet.config import ModelConfig


class TrainConfigError(InputError):
    """A training configuration (file, preset or value) that cannot be used."""


OPTIMIZERS = ("rmsprop", "adamw")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs (learning rates per step, sizes in samples).

    Attributes:
        data: dataset root (holds ``<dataset>/``); dataset: sub-folder name.
        out: run folder (checkpoints, metrics.jsonl, metrics.csv, best model).
        model: :class:`ModelConfig` fields (``preset_model`` first, then these overrides).
        preset_model: ``"paper"`` (ResNet-18 + DarkNet-53, 1024 px), ``"light"``
            (MobileNetV2 pair) with ``tile_size``.
        optimizer: ``"rmsprop"`` or ``"adamw"``; lr, weight_decay; the learning rate is
            multiplied by ``lr_gamma`` every ``lr_step`` epochs.
        epochs, batch_size, eval_batch_size, workers: as named.
        augment: the reference satellite augmentations on the train split; augment_rotate:
            with their 90° rotations (off for north-up queries); augment_joint: the same
            quarter turn and mirror of query and tile together.
        seed: seeds Python, numpy and torch (and the augmentation draws).
        init: weights to start from (our ``.safetensors``, an official ``.pth.tar`` or a
            ``checkpoint.pt`` of a run) for fine-tuning; freeze_backbones: keep the query and
            reference backbones fixed (few-shot).
        max_steps_per_epoch: stop an epoch early (0 = full epoch; for smoke tests).
        val_split: split used to pick the best model (``val``); eval_every: validate every N
            epochs (and after the last); amp: mixed precision on CUDA.
        init_backbones: optional torchvision ImageNet state dicts ``{"resnet18": path, ...}``.
        gt_boxes: ``"int"`` (default) truncates GT boxes to whole pixels for the training
            targets and validation, as the reference loader does; ``"float"`` uses the exact
            boxes (:data:`~ocgnet_geo.data.cvogl.GT_BOXES`).
    """

    data: str = ""
    dataset: str = "CVOGL_DroneAerial"
    out: str = "runs/ocgnet"
    model: dict[str, Any] = field(default_factory=dict)
    preset_model: str = "paper"
    tile_size: int = 1024
    optimizer: str = "rmsprop"
    lr: float = 1e-4
    weight_decay: float = 5e-4
    lr_step: int = 10
    lr_gamma: float = 0.1
    epochs: int = 25
    batch_size: int = 12
    eval_batch_size: int = 8
    workers: int = 4
    augment: bool = True
    augment_rotate: bool = True
    augment_joint: bool = False
    seed: int = 13
    init: str = ""
    freeze_backbones: bool = False
    max_steps_per_epoch: int = 0
    val_split: str = "val"
    eval_every: int = 1
    amp: bool = True
    init_backbones: dict[str, str] = field(default_factory=dict)
    gt_boxes: str = "int"

    def __post_init__(self) -> None:
        if self.gt_boxes not in GT_BOXES:
            raise TrainConfigError(f"gt_boxes {self.gt_boxes!r}: not one of {list(GT_BOXES)}")
        if self.optimizer not in OPTIMIZERS:
            raise TrainConfigError(f"optimizer {self.optimizer!r}: not one of {list(OPTIMIZERS)}")
        if self.preset_model not in ("paper", "light"):
            raise TrainConfigError(f"preset_model {self.preset_model!r}: not 'paper' or 'light'")
        for name in ("epochs", "batch_size", "eval_batch_size", "lr_step", "eval_every"):
            if int(getattr(self, name)) < 1:
                raise TrainConfigError(f"{name}: must be >= 1, got {getattr(self, name)!r}")
        if not self.lr > 0:
            raise TrainConfigError(f"lr: must be > 0, got {self.lr!r}")

    def model_config(self) -> ModelConfig:
        """The model config: the preset's, then the ``model`` overrides."""
        view = self.model.get("view", "drone")
        if self.preset_model == "paper":
            base = ModelConfig(view=view)
        else:
            base = ModelConfig.light(view=view, tile_size=self.tile_size)
        return ModelConfig.from_dict(
            {**base.to_dict(), **self.model, "training_data": self.dataset}, source="[model]"
        )

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` (``None`` values ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PRESETS: dict[str, dict[str, Any]] = {
    # The reference recipe (spec §6): RMSprop 1e-4, wd 5e-4, x0.1 every 10 epochs, 25 epochs,
    # batch 12, best by val acc@0.5, full-size model at 1024 px, paper sigma.
    "paper": {},
    # A CPU-sized run: MobileNetV2 pair on 256-px tiles, AdamW, fewer epochs.
    "lite-cpu": {
        "preset_model": "light",
        "tile_size": 256,
        "optimizer": "adamw",
        "lr": 5e-4,
        "weight_decay": 1e-4,
        "lr_step": 8,
        "epochs": 12,
        "batch_size": 8,
        "eval_batch_size": 8,
        "workers": 2,
    },
}


def from_preset(name: str, **overrides: Any) -> TrainConfig:
    """A preset (``paper`` or ``lite-cpu``) with field overrides."""
    if name not in PRESETS:
        raise TrainConfigError(f"preset {name!r}: not one of {sorted(PRESETS)}")
    return _build({**PRESETS[name], **overrides}, f"preset {name!r}")


def load_train_config(spec: str) -> TrainConfig:
    """A preset name or a TOML file (``preset = ...`` plus overrides)."""
    if spec in PRESETS:
        return from_preset(spec)
    path = Path(spec)
    if not path.is_file():
        raise TrainConfigError(f"config {spec!r}: neither a preset {sorted(PRESETS)} nor a file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise TrainConfigError(f"config {path}: not valid TOML ({err})") from None
    preset = data.pop("preset", "paper")
    if preset not in PRESETS:
        raise TrainConfigError(f"config {path}: preset {preset!r} not one of {sorted(PRESETS)}")
    return _build({**PRESETS[preset], **data}, f"config {path}")


def _build(values: dict[str, Any], source: str) -> TrainConfig:
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise TrainConfigError(f"{source}: unknown keys {unknown}")
    try:
        cfg = TrainConfig(**values)
        cfg.model_config()
    except TypeError as err:
        raise TrainConfigError(f"{source}: {err}") from None
    except InputError as err:
        raise TrainConfigError(f"{source}: {err}") from None
    return cfg
