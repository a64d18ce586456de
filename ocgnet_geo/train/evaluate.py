"""Run a model over a split and collect per-sample metrics (:mod:`.metrics`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from ocgnet_geo.models.errors import WeightsError
from ocgnet_geo.models.ocgnet import OCGNet
from ocgnet_geo.models.ocgnet.config import ModelConfig
from ocgnet_geo.train.metrics import MetricAccumulator, sample_metrics


def forward_batch(model: OCGNet, batch: dict, device: torch.device) -> torch.Tensor:
    """Raw head output for a collated batch (click maps from the model when σ is learnable)."""
    query = batch["query"].to(device, non_blocking=True)
    sat = batch["satellite"].to(device, non_blocking=True)
    net = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    if net.config.learnable_sigma:
        clickmap = net.make_clickmap(batch["click"])
    else:
        clickmap = batch["clickmap"].to(device, non_blocking=True)
    raw, _ = model(query, sat, clickmap)
    return raw


@torch.no_grad()
def evaluate(
    model: OCGNet,
    dataset: Dataset,
    batch_size: int = 8,
    device: torch.device | str = "cpu",
    workers: int = 0,
    progress: bool = True,
) -> MetricAccumulator:
    """Per-sample metrics of ``model`` (eval mode) on every sample of ``dataset``, against
    its ``bbox`` (the dataset's GT-box convention)."""
    return evaluate_boxes(model, dataset, ("bbox",), batch_size, device, workers, progress)["bbox"]


@torch.no_grad()
def evaluate_boxes(
    model: OCGNet,
    dataset: Dataset,
    keys: Sequence[str] = ("bbox_int", "bbox_float"),
    batch_size: int = 8,
    device: torch.device | str = "cpu",
    workers: int = 0,
    progress: bool = True,
) -> dict[str, MetricAccumulator]:
    """One forward pass over ``dataset``, scored against each GT-box field in ``keys`` (by
    default both conventions of :data:`~ocgnet_geo.data.cvogl.GT_BOXES`: truncated as the
    reference and exact); returns a :class:`MetricAccumulator` per key."""
    device = torch.device(device)
    cfg: ModelConfig = model.config
    was_training = model.training
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    accs = {key: MetricAccumulator() for key in keys}
    for batch in tqdm(loader, desc="evaluate", unit="batch", disable=not progress, leave=False):
        raw = forward_batch(model, batch, device)
        for key, acc in accs.items():
            acc.add(
                sample_metrics(raw, batch[key], cfg.anchors, cfg.tile_size, batch["gsd_m"]),
                batch["class_name"],
            )
    model.train(was_training)
    return accs


def load_weights(path: str | Path, sigma: float | None = None, view: str = "drone") -> OCGNet:
    """Our ``.safetensors`` (config beside it), an official ``.pth.tar`` (needs ``view``; σ
    0.10 unless given) or a run's ``checkpoint.pt``; ``sigma`` overrides the click-map σ."""
    from ocgnet_geo.models.ocgnet.weights import load_model, load_official

    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"weights {p}: not found")
    if p.suffix == ".safetensors":
        model = load_model(p)
        if sigma is not None:
            model = _with_sigma(model, sigma)
        return model
    if p.name.endswith(".pth.tar") or p.suffix == ".pth":
        return load_official(p, view=view, sigma=0.10 if sigma is None else sigma)
    from ocgnet_geo.train.checkpoint import load_checkpoint_model

    model = load_checkpoint_model(p)
    return _with_sigma(model, sigma) if sigma is not None else model


def _with_sigma(model: OCGNet, sigma: float) -> OCGNet:
    cfg = ModelConfig.from_dict(
        {**model.config.to_dict(), "sigma": sigma, "learnable_sigma": False}
    )
    state = {k: v for k, v in model.state_dict().items() if k != "click_encoder.sigma"}
    new = OCGNet(cfg)
    new.load_state_dict(state, strict=True)
    return new.eval()
