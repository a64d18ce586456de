"""Training and evaluation throughput (samples/s) with 2 CPU threads.

Random inputs of the right shapes go through the trainer's own pieces (model forward,
reference loss, optimiser step; evaluation = forward + metrics), so data loading is not
measured. Samples/s = batch / median step time over ``--steps`` steps after one warm-up.
Usage: ``python benchmarks/train_bench.py [--steps N]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from machine import machine_line

from ocgnet_geo.models.ocgnet import OCGNet
from ocgnet_geo.models.ocgnet.head import build_target, detection_loss
from ocgnet_geo.train.config import from_preset
from ocgnet_geo.train.loop import make_optimizer
from ocgnet_geo.train.metrics import sample_metrics


def batch(cfg, n: int):
    hq, wq = cfg.query_hw
    t = cfg.tile_size
    boxes = torch.tensor([[t * 0.3, t * 0.3, t * 0.55, t * 0.6]] * n)
    return torch.randn(n, 3, hq, wq), torch.randn(n, 3, t, t), torch.rand(n, hq, wq), boxes


def bench(preset: str, steps: int, batch_size: int | None) -> None:
    tcfg = from_preset(preset)
    bs = batch_size or tcfg.batch_size
    cfg = tcfg.model_config()
    model = OCGNet(cfg)
    opt = make_optimizer(tcfg, model)
    q, s, c, boxes = batch(cfg, bs)
    model.train()
    times = []
    for i in range(steps + 1):
        t0 = time.perf_counter()
        raw, _ = model(q, s, c)
        loss = detection_loss(
            raw, build_target(boxes, cfg.anchors, cfg.tile_size, cfg.grid_size)
        ).total
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i:  # first step warms up
            times.append(time.perf_counter() - t0)
    train_sps = bs / statistics.median(times)
    model.eval()
    times = []
    with torch.inference_mode():
        for i in range(steps + 1):
            t0 = time.perf_counter()
            raw, _ = model(q, s, c)
            sample_metrics(raw, boxes, cfg.anchors, cfg.tile_size)
            if i:
                times.append(time.perf_counter() - t0)
    eval_sps = bs / statistics.median(times)
    print(
        f"{preset:9s} tile {cfg.tile_size:4d} {cfg.query_backbone}+{cfg.reference_backbone} "
        f"batch {bs:2d}: train {train_sps:6.2f} samples/s, evaluate {eval_sps:6.2f} samples/s"
    )


def main() -> None:
    print(machine_line())
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=5, help="timed steps after one warm-up (median)")
    ap.add_argument(
        "--paper-batch", type=int, default=2, help="paper preset batch (12 in the recipe)"
    )
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    bench("lite-cpu", args.steps, None)
    bench("paper", args.steps, args.paper_batch)


if __name__ == "__main__":
    main()
