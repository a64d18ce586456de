"""The trainer: one function, :func:`train`, for CPU, CUDA (AMP) and ``torchrun`` (DDP).

Per epoch (reference spec §6): learning rate ``lr · lr_gamma^(epoch // lr_step)``, one pass
over the train split (shuffled with a seed derived from ``seed`` and the epoch, so a resumed
run draws the same order), the reference loss (:func:`~ocgnet_geo.models.ocgnet.head.detection_loss`,
beta 1), validation on rank 0, then ``checkpoint.pt`` and, when val acc@0.5 improves,
``best.safetensors`` (+ ``best.json``). Metrics go to ``metrics.jsonl`` and ``metrics.csv``
in the run folder.
"""

from __future__ import annotations

import csv
import json
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler
from tqdm import tqdm

from ocgnet_geo.data.cvogl import CVOGLDataset
from ocgnet_geo.data.records import class_group
from ocgnet_geo.models.ocgnet import OCGNet
from ocgnet_geo.models.ocgnet.config import ModelConfig
from ocgnet_geo.models.ocgnet.head import build_target, detection_loss
from ocgnet_geo.models.ocgnet.weights import init_from_torchvision, save_model
from ocgnet_geo.train.checkpoint import CHECKPOINT_NAME, read_checkpoint, save_checkpoint
from ocgnet_geo.train.config import TrainConfig, TrainConfigError
from ocgnet_geo.train.distributed import DistInfo, all_mean, barrier, init_distributed, shutdown
from ocgnet_geo.train.evaluate import evaluate, forward_batch, load_weights
from ocgnet_geo.train.metrics import MetricAccumulator, sample_metrics


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch; deterministic cuDNN (as the reference)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - legacy global RNG used by third-party code
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def build_model(cfg: TrainConfig) -> OCGNet:
    """A fresh model from the config, or the ``init`` weights (whose config then rules)."""
    if cfg.init:
        model = load_weights(cfg.init, view=cfg.model.get("view", "drone"))
    else:
        model = OCGNet(cfg.model_config())
    for backbone, path in cfg.init_backbones.items():
        init_from_torchvision(model, path, backbone)
    return model


def freeze_backbones(model: OCGNet) -> None:
    """Fix the query and reference backbones (weights and batch-norm statistics)."""
    for part in (model.query_backbone, model.reference_backbone):
        part.eval()
        for p in part.parameters():
            p.requires_grad_(False)


def make_optimizer(cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def lr_at(cfg: TrainConfig, epoch: int) -> float:
    """Step schedule: ``lr · lr_gamma^(epoch // lr_step)``."""
    return cfg.lr * cfg.lr_gamma ** (epoch // cfg.lr_step)


def train(
    cfg: TrainConfig, resume: bool = False, progress: bool = True, device: str | None = None
) -> dict[str, Any]:
    """Train as configured; returns the last epoch's metrics row (rank 0; others ``{}``)."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    info = init_distributed(dev)
    if dev.type == "cuda":
        dev = torch.device("cuda", info.local_rank)
    try:
        return _run(cfg, resume, progress and info.is_main, dev, info)
    finally:
        shutdown(info)


def make_datasets(cfg: TrainConfig, model_config: ModelConfig) -> tuple[CVOGLDataset, CVOGLDataset]:
    """The train split (augmented as configured) and the validation split, both with the
    config's GT-box convention (``cfg.gt_boxes``: the training targets follow it)."""
    train_ds = CVOGLDataset(
        cfg.data,
        cfg.dataset,
        "train",
        model_config,
        cfg.augment,
        seed=cfg.seed,
        augment_rotate=cfg.augment_rotate,
        augment_joint=cfg.augment_joint,
        gt_boxes=cfg.gt_boxes,
    )
    val_ds = CVOGLDataset(cfg.data, cfg.dataset, cfg.val_split, model_config, gt_boxes=cfg.gt_boxes)
    return train_ds, val_ds


def _run(cfg: TrainConfig, resume: bool, progress: bool, dev: torch.device, info: DistInfo):
    seed_everything(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    model = build_model(cfg)
    train_ds, val_ds = make_datasets(cfg, model.config)
    if len(train_ds) == 0:
        raise TrainConfigError(f"data {cfg.data}: the train split of {cfg.dataset} is empty")
    if cfg.freeze_backbones:
        freeze_backbones(model)
    optimizer = make_optimizer(cfg, model)
    start, best = 0, -math.inf
    ckpt_path = out / CHECKPOINT_NAME
    if resume:
        if not ckpt_path.is_file():
            raise TrainConfigError(f"--resume: no {CHECKPOINT_NAME} in {out}")
        ckpt = read_checkpoint(ckpt_path)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        start, best = int(ckpt["epoch"]), float(ckpt["best_acc50"])
    model.to(dev)
    net: nn.Module = model
    if info.enabled:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None
        )
    use_amp = cfg.amp and dev.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    row: dict[str, Any] = {}
    for epoch in range(start, cfg.epochs):
        lr = lr_at(cfg, epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        train_ds.set_epoch(epoch)
        t0 = time.perf_counter()
        stats = _train_epoch(
            cfg, net, model, train_ds, optimizer, scaler, use_amp, dev, info, epoch, progress
        )
        if info.is_main:
            row = {
                "epoch": epoch + 1,
                "lr": lr,
                **stats,
                "time_s": round(time.perf_counter() - t0, 3),
            }
            validate = (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs
            if len(val_ds) and validate:
                val = evaluate(model, val_ds, cfg.eval_batch_size, dev, progress=progress)
                row.update({f"val_{k}": v for k, v in val.summary().items()})
                score = row["val_acc50"]
            elif len(val_ds):
                score = -math.inf  # not validated this epoch
            else:
                score = row["train_acc50"]
            if score > best:
                best = score
                save_model(model, out / "best.safetensors")
            row["best_acc50"] = best
            save_checkpoint(ckpt_path, model, optimizer, epoch + 1, best, cfg.to_dict())
            _log(out, row)
        barrier(info)
    if info.is_main and not (out / "best.safetensors").exists():
        save_model(model, out / "best.safetensors")
    return row


def _train_epoch(cfg, net, model, ds, optimizer, scaler, use_amp, dev, info, epoch, progress):
    if info.enabled:
        sampler = DistributedSampler(ds, info.world, info.rank, shuffle=True, seed=cfg.seed)
        sampler.set_epoch(epoch)
    else:
        sampler = RandomSampler(
            ds, generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        )
    loader = DataLoader(
        ds,
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=cfg.workers,
        pin_memory=dev.type == "cuda",
        persistent_workers=False,
    )
    net.train()
    if cfg.freeze_backbones:
        freeze_backbones(model)
    cfg_m = model.config
    sums = {"loss": 0.0, "loss_cls": 0.0, "loss_geo": 0.0}
    acc = MetricAccumulator()
    steps = 0
    bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", disable=not progress)
    for batch in bar:
        boxes = batch["bbox"].to(dev)
        with torch.autocast(dev.type, dtype=torch.float16, enabled=use_amp):
            raw = forward_batch(net, batch, dev)
        targets = build_target(boxes, cfg_m.anchors, cfg_m.tile_size, cfg_m.grid_size)
        parts = detection_loss(raw.float(), targets)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(parts.total).backward()
        scaler.step(optimizer)
        scaler.update()
        n = len(boxes)
        sums["loss"] += parts.total.item() * n
        sums["loss_cls"] += parts.cls.item() * n
        sums["loss_geo"] += parts.geo.item() * n
        acc.add(sample_metrics(raw, boxes, cfg_m.anchors, cfg_m.tile_size), batch["class_name"])
        steps += 1
        bar.set_postfix(loss=f"{parts.total.item():.3f}")
        if cfg.max_steps_per_epoch and steps >= cfg.max_steps_per_epoch:
            break
    s = acc.summary()
    n = max(len(acc), 1)
    local = [
        sums["loss"] / n,
        sums["loss_cls"] / n,
        sums["loss_geo"] / n,
        s["acc50"],
        s["acc25"],
        s["miou"],
    ]
    keys = [
        "train_loss",
        "train_loss_cls",
        "train_loss_geo",
        "train_acc50",
        "train_acc25",
        "train_miou",
    ]
    return dict(zip(keys, all_mean(local, info), strict=True)) | {"steps": steps}


def _log(out: Path, row: dict[str, Any]) -> None:
    """Append to metrics.jsonl and rewrite metrics.csv from it."""
    with (out / "metrics.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line]
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with (out / "metrics.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def per_class_summary(acc: MetricAccumulator) -> dict[str, dict[str, float]]:
    """Per-class metrics in the reference's five groups."""
    return acc.per_class(class_group)
