"""OCGNet CPU timings: cold query, warm query and the reference's all-layers compute.

For each view (drone query 256×256, ground 256×512; satellite tile 1024×1024, batch 1):

* **cold**: ``encode_reference`` + ``locate`` (a new tile; Darknet pruned to layer 90),
* **warm**: ``locate`` only (the tile is already encoded; every further click on it),
* **all layers**: the same model running all 107 Darknet layers, as the reference does.

Median of 5 timed runs after one warm-up (paths interleaved round by round), 2 threads, ``torch.inference_mode``, random weights
(timings and FLOPs do not depend on them). FLOPs from ``torch.utils.flop_counter`` (2 per
MAC of conv/linear/matmul; BN, activations and pooling are not counted). Asserts nothing
about time. Both memory layouts are measured (NCHW = the reference's; channels_last =
NHWC weights and inputs, which oneDNN runs faster on CPU).
Usage: ``python benchmarks/model_bench.py [--runs 5] [--layouts nchw,channels_last]``.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable

import torch
from machine import machine_line
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from ocgnet_geo.models.ocgnet import ModelConfig, OCGNet

#: Cold forward of the public reference code on this kind of machine (spec §11), seconds.
REFERENCE_COLD_S = {"drone": 2.86, "ground": 3.17}


def timed_interleaved(
    paths: dict[str, Callable[[], object]], runs: int, warmup: bool = True
) -> dict[str, list[float]]:
    """One warm-up call of each path (unless ``warmup`` is False), then ``runs`` rounds timing
    every path once per round.

    Interleaving spreads interference from other processes on a shared machine over all
    paths instead of letting it hit one of them.
    """
    if warmup:
        for fn in paths.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(runs):
        for name, fn in paths.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


REFERENCE_PATH = "reference: NCHW all 107"


def gflops(fn: Callable[[], object]) -> float:
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops() / 1e9


def bench_view(
    view: str, runs: int, channels_last: bool
) -> dict[str, tuple[float, list[float], float]]:
    torch.manual_seed(0)
    model = OCGNet(ModelConfig.official("ocgnet", view)).eval()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    hq, wq = model.config.query_hw
    query = torch.randn(1, 3, hq, wq).contiguous(memory_format=fmt)
    tile = torch.randn(1, 3, 1024, 1024).contiguous(memory_format=fmt)
    clickmap = model.make_clickmap([(wq * 0.4, hq * 0.6)])
    results = {}
    with torch.inference_mode():
        ref = model.encode_reference(tile)
        paths: dict[str, Callable[[], object]] = {
            "cold (encode + locate)": lambda: model.locate(
                query, clickmap, model.encode_reference(tile)
            ),
            "warm (locate only)": lambda: model.locate(query, clickmap, ref),
            "all 107 Darknet layers": lambda: all_layers(model, query, tile, clickmap),
        }
        if channels_last:  # the public code's compute, timed in the same interleaved rounds
            nchw = copy.deepcopy(model).to(memory_format=torch.contiguous_format)
            q, t = query.contiguous(), tile.contiguous()
            paths[REFERENCE_PATH] = lambda: all_layers(nchw, q, t, clickmap)
        times = timed_interleaved(paths, runs)
        for name, fn in paths.items():
            results[name] = (statistics.median(times[name]), times[name], gflops(fn))
    return results


def all_layers(model: OCGNet, query: Tensor, tile: Tensor, clickmap: Tensor) -> object:
    """The compatibility forward with the Darknet running all 107 layers (reference compute)."""
    model.reference_darknet.run_all_layers = True
    try:
        return model(query, tile, clickmap)
    finally:
        model.reference_darknet.run_all_layers = False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--layouts", default="nchw,channels_last")
    args = parser.parse_args()
    print(machine_line())
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, fp32, batch 1")
    print(f"{'layout':13} {'view':6} {'path':24} {'median s':>8} {'GFLOPs':>7}  runs (s)")
    for layout in args.layouts.split(","):
        for view in ("drone", "ground"):
            res = bench_view(view, args.runs, layout == "channels_last")
            for name, (median, times, flops) in res.items():
                runs = ", ".join(f"{t:.3f}" for t in times)
                print(f"{layout:13} {view:6} {name:24} {median:8.3f} {flops:7.2f}  {runs}")
            cold, warm, full = (res[k][0] for k in list(res)[:3])
            cold_f, _, full_f = (res[k][2] for k in list(res)[:3])
            print(
                f"{layout:13} {view:6} ratios: cold/all-layers {cold / full:.2f} (target <= 0.85;"
                f" FLOPs {cold_f / full_f:.2f}), warm/cold {warm / cold:.3f} (target <= 0.05),"
                f" cold {cold:.2f} s vs public reference {REFERENCE_COLD_S[view]:.2f} s"
            )
            if REFERENCE_PATH in res:
                print(
                    f"{layout:13} {view:6} shipped path (channels_last, pruned) / reference compute"
                    f" (NCHW, all layers): {cold / res[REFERENCE_PATH][0]:.2f} (target <= 0.85)"
                )


if __name__ == "__main__":
    main()
