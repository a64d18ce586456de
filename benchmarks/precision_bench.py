"""Precision benchmark: fp32 / bf16 (/ int8) inference against the reference's compute.

Paths, all the full-size OCGNet (DarkNet-53 + ResNet-18, drone view) with the same random
weights (timings do not depend on them), 1024-px tiles, ``--threads`` threads (default 2):

* ``reference``: fp32, NCHW, BatchNorm as a separate op, all 107 DarkNet layers, one tile
  per forward, the query branch run for every tile: the public code's compute (the
  denominator of every ratio);
* ``fp32``, ``bf16``: what ``Locator.from_weights(precision=...)`` ships (BN folded,
  channels_last, DarkNet pruned to layer 90, tiles batched up to the default memory bound,
  the query branch run once per click);
* ``int8`` (with ``--int8``): ``fp32`` with the DarkNet post-training quantised by
  ``torch.ao.quantization`` FX (x86 backend), calibrated on tiles of the search area.

Figures per path: **cold** = encode one 1024-px tile + locate; **warm** = locate on the
encoded tile (every further click); **search cold / warm** = ``Locator.locate`` over a
1 km² bbox of a raster at 0.3 m/px (cache emptied before each cold run; warm = the same
search again); **peak RSS** = VmHWM of a fresh child process doing one cold search (from
``/proc/self/status``: ``ru_maxrss`` survives fork+exec and would report the parent's peak).
Medians of ``--runs`` runs after one warm-up, paths interleaved round by round (so load
from other processes spreads over all paths); each figure also as a ratio to ``reference``
measured in the same run. Targets (issue 8): cold <= 0.5x reference, warm <= 0.1 s, peak
RSS <= reference. Asserts nothing about time.

Usage: ``.venv/bin/python benchmarks/precision_bench.py [--runs 5] [--int8] [--quick]``
(``--quick``: one run, a 0.4 x 0.4 km search; a smoke test of the script, not figures).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from machine import machine_line
from model_bench import timed_interleaved  # benchmarks/ is sys.path[0] for a script

OUT = Path(__file__).parent / "out"
GSD_M = 0.3
ORIGIN = (465000.0, 5260000.0)  # EPSG:32632
RASTER_PX = 4000  # 1.2 km at 0.3 m/px: a 1 km² bbox in the middle, plus margin
CLICK = (128.0, 140.0)  # in the 256 x 256 query photo
_clicks = iter(range(10**9))


def new_click() -> tuple[float, float]:
    """A different click each call (a warm click is a *new* click on encoded tiles: the
    query branch runs again), near :data:`CLICK`."""
    i = next(_clicks)
    return (CLICK[0] + i % 17, CLICK[1] + i % 13)


def make_weights() -> Path:
    """The full-size OCGNet with random weights, saved once."""
    import torch

    from ocgnet_geo.models.ocgnet import ModelConfig, OCGNet, save_model

    path = OUT / "bench-precision.safetensors"
    if not path.exists():
        torch.manual_seed(0)
        config = ModelConfig.from_dict({**ModelConfig.official().to_dict(), "tile_gsd_m": GSD_M})
        save_model(OCGNet(config).eval(), path)
    return path


def make_raster() -> Path:
    """A textured 4000 x 4000 px GeoTIFF at 0.3 m/px (EPSG:32632): noise plus rectangles."""
    import rasterio
    from affine import Affine

    path = OUT / "precision_4000_0.3m.tif"
    if path.exists():
        return path
    rng = np.random.default_rng(0)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=RASTER_PX,
        height=RASTER_PX,
        count=3,
        dtype="uint8",
        crs="EPSG:32632",
        transform=Affine(GSD_M, 0, ORIGIN[0], 0, -GSD_M, ORIGIN[1]),
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="deflate",
    ) as dst:
        block = 1000
        for r in range(0, RASTER_PX, block):
            for c in range(0, RASTER_PX, block):
                data = rng.integers(40, 110, (3, block, block), dtype=np.uint8)
                for _ in range(40):  # "buildings"
                    y, x = rng.integers(0, block - 60, 2)
                    h, w = rng.integers(15, 60, 2)
                    data[:, y : y + h, x : x + w] = rng.integers(120, 250, (3, 1, 1))
                dst.write(data, window=((r, r + block), (c, c + block)))
    return path


def make_photo() -> Path:
    from PIL import Image

    path = OUT / "precision_photo.png"
    if not path.exists():
        rng = np.random.default_rng(1)
        Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(path)
    return path


def search_bbox(side_m: float) -> list[float]:
    """A square bbox of ``side_m`` metres in the middle of the raster (EPSG:32632)."""
    half = RASTER_PX * GSD_M / 2
    cx, cy = ORIGIN[0] + half, ORIGIN[1] - half
    return [cx - side_m / 2, cy - side_m / 2, cx + side_m / 2, cy + side_m / 2]


def search_tiles(side_m: float) -> list:
    """The 1024-px tiles (256 px overlap, as the pipeline) of the search bbox."""
    from ocgnet_geo.geo.grid import tile_grid
    from ocgnet_geo.geo.raster import open_raster

    info = open_raster(make_raster())
    return tile_grid(
        info, GSD_M, tile_px=1024, overlap_px=256, bbox=search_bbox(side_m), bbox_crs="EPSG:32632"
    )


def calibration_tiles(n: int = 4) -> list[np.ndarray]:
    """``n`` 1024-px tiles spread over the 1 km² search area (int8 calibration)."""
    from ocgnet_geo.geo.raster import open_raster, read_tile

    info = open_raster(make_raster())
    tiles = search_tiles(1000.0)
    return [read_tile(info, t)[0] for t in tiles[:: max(1, len(tiles) // n)][:n]]


def quantize_int8(model, calibration: list[np.ndarray]):
    """Replace ``model.net.reference_darknet`` (of an fp32 :class:`TorchTileModel`) by its
    FX post-training-quantised int8 version (x86 backend: per-channel weights, per-tensor
    activations), calibrated on ``calibration`` tiles (uint8 RGB). In place; returns model."""
    import torch
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = "x86"
    darknet = model.net.reference_darknet
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        example = model._normalise(calibration[0])
        prepared = prepare_fx(
            darknet, get_default_qconfig_mapping("x86"), example_inputs=(example,)
        )
        for rgb in calibration:
            prepared(model._normalise(rgb))
        model.net.reference_darknet = convert_fx(prepared)
    model.precision = "int8"
    model.precision_reason = "int8: FX PTQ of the DarkNet (benchmark only)"
    return model


def build(path_name: str, weights: Path):
    """The tile model and the Locator batch bound of one benchmark path."""
    from ocgnet_geo.locate import DEFAULT_BATCH_BYTES
    from ocgnet_geo.locate.tile_model import TorchTileModel
    from ocgnet_geo.models.ocgnet import load_model

    net = load_model(weights)
    if path_name == "reference":
        net.reference_darknet.run_all_layers = True
        model = TorchTileModel(net, "bench", gsd_m=GSD_M, channels_last=False, fold_bn=False)
        # the public forward runs the query branch for every tile: no reuse across tiles
        model._encoded_query = lambda rgb, click: net.encode_query(
            model._normalise(rgb), net.make_clickmap([click])
        )
        return model, 0  # one tile per forward
    precision = "fp32" if path_name == "int8" else path_name
    model = TorchTileModel(net, "bench", gsd_m=GSD_M, precision=precision)
    if path_name == "int8":
        quantize_int8(model, calibration_tiles())
    return model, DEFAULT_BATCH_BYTES


# A fresh process per path for peak RSS: VmHWM of /proc/self/status.
CHILD = "--child"


def child_main(path_name: str, side_m: float, threads: int) -> None:
    import torch

    from ocgnet_geo.locate import Locator

    torch.set_num_threads(threads)
    model, batch_bytes = build(path_name, make_weights())
    locator = Locator(model, batch_bytes=batch_bytes)
    start = time.perf_counter()
    result = locator.locate(
        make_photo(), CLICK, make_raster(), bbox=search_bbox(side_m), bbox_crs="EPSG:32632"
    )
    status = Path("/proc/self/status").read_text()
    print(
        json.dumps(
            {
                "tiles": result.tiles_searched,
                "seconds": time.perf_counter() - start,
                "peak_rss_mb": int(status.split("VmHWM:")[1].split()[0]) / 1024,
                "batch": locator.batch_size,
            }
        )
    )


def peak_rss(path_name: str, side_m: float, threads: int) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, CHILD, path_name, str(side_m), str(threads)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--int8", action="store_true", help="also measure FX int8 PTQ of the DarkNet"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 run, 0.4 km search")
    args = parser.parse_args()
    print(machine_line())
    import torch

    from ocgnet_geo.locate import Locator
    from ocgnet_geo.locate.precision import cpu_report

    torch.set_num_threads(args.threads)
    OUT.mkdir(exist_ok=True)
    runs, side_m = (1, 400.0) if args.quick else (args.runs, 1000.0)
    weights, raster, photo = make_weights(), make_raster(), make_photo()
    names = ["reference", "fp32", "bf16"] + (["int8"] if args.int8 else [])
    report = cpu_report()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; {report['CPU flags']}; {report['precision auto']}"
    )

    built = {name: build(name, weights) for name in names}
    rng = np.random.default_rng(2)
    tile = rng.integers(0, 255, (1024, 1024, 3), dtype=np.uint8)
    from PIL import Image

    query = np.asarray(Image.open(photo).convert("RGB"))
    encoded = {name: model.encode(tile) for name, (model, _) in built.items()}
    single = timed_interleaved(
        {
            f"{n} cold": (lambda m=m: m.find(query, new_click(), m.encode(tile), 10))
            for n, (m, _) in built.items()
        }
        | {
            f"{n} warm": (lambda m=m, n=n: m.find(query, new_click(), encoded[n], 10))
            for n, (m, _) in built.items()
        },
        runs,
    )
    locators = {n: Locator(m, batch_bytes=b) for n, (m, b) in built.items()}
    bbox = search_bbox(side_m)

    def search(name: str, cold: bool) -> Callable[[], object]:
        def run() -> object:
            if cold:
                locators[name].cache.clear()
            return locators[name].locate(
                photo, new_click(), raster, bbox=bbox, bbox_crs="EPSG:32632"
            )

        return run

    n_tiles = len(search_tiles(side_m))
    searches = timed_interleaved(
        {f"{n} search cold": search(n, True) for n in names}
        | {f"{n} search warm": search(n, False) for n in names},
        runs,
        warmup=not args.quick,
    )
    rss = {n: peak_rss(n, side_m, args.threads) for n in names}

    times = single | searches
    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"cold/warm: one 1024-px tile; search: {side_m / 1000:g} x {side_m / 1000:g} km at {GSD_M} m/px = "
        f"{n_tiles} tiles; median of {runs} after warm-up; ratio = path / reference, same run"
    )
    header = f"{'path':10} {'batch':>5} {'cold s':>8} {'ratio':>6} {'warm s':>7} {'ratio':>6} {'search cold s':>13} {'ratio':>6} {'search warm s':>13} {'ratio':>6} {'peak RSS MB':>11} {'ratio':>6}"
    print(header)
    ref = {k: med[f"reference {k}"] for k in ("cold", "warm", "search cold", "search warm")}
    for n in names:
        row = [f"{n:10} {locators[n].batch_size:5d}"]
        for k, width in (("cold", 8), ("warm", 7), ("search cold", 13), ("search warm", 13)):
            value = med[f"{n} {k}"]
            row.append(f"{value:{width}.3f} {value / ref[k]:6.2f}")
        mb = rss[n]["peak_rss_mb"]
        row.append(f"{mb:11.0f} {mb / rss['reference']['peak_rss_mb']:6.2f}")
        print(" ".join(row))
    print("targets: cold ratio <= 0.5, warm <= 0.1 s, peak RSS ratio <= 1.0")
    print(
        "runs (s): "
        + "; ".join(f"{k}: {', '.join(f'{t:.2f}' for t in v)}" for k, v in times.items())
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == CHILD:
        child_main(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
