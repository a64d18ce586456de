"""Run checkpoints: ``checkpoint.pt`` written every epoch, read back with ``weights_only``.

Content (tensors and plain containers only): ``model`` (state dict, no DDP prefix),
``optimizer`` (state dict), ``epoch`` (epochs completed), ``best_acc50`` (best validation
acc@0.5 so far), ``model_config`` and ``train_config`` (JSON text).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from ocgnet_geo.models.errors import WeightsError
from ocgnet_geo.models.ocgnet import OCGNet
from ocgnet_geo.models.ocgnet.config import ModelConfig
from ocgnet_geo.models.ocgnet.weights import load_state_dict_strict, torch_load_safe

CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(
    path: Path,
    model: OCGNet,
    optimizer: torch.optim.Optimizer,
    epoch: int,
    best_acc50: float,
    train_config: dict[str, Any],
) -> None:
    """Write atomically (temporary file, then rename)."""
    tmp = Path(path).with_suffix(".tmp")
    torch.save(
        {
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "epoch": int(epoch),
            "best_acc50": float(best_acc50),
            "model_config": model.config.to_json(),
            "train_config": json.dumps(train_config),
        },
        tmp,
    )
    os.replace(tmp, path)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint dict (safe loader); one-line :class:`WeightsError` if it is not one."""
    data = torch_load_safe(path)
    if not isinstance(data, dict) or not {"model", "epoch", "model_config"} <= set(data):
        raise WeightsError(f"{path}: not an ocgnet-geo training checkpoint")
    return data


def load_checkpoint_model(path: Path) -> OCGNet:
    """The model of a checkpoint, eval mode."""
    data = read_checkpoint(path)
    config = ModelConfig.from_json(data["model_config"], source=f"{path} (model_config)")
    model = OCGNet(config)
    load_state_dict_strict(model, data["model"], str(path))
    return model.eval()
