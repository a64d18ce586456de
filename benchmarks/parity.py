"""Box parity of reduced precision against fp32 (issue 8): does bf16 find the same boxes?

For every query (photo + click + raster), ``Locator.locate`` runs once per precision with
the same weights; the top-1 candidate of each reduced precision is compared with fp32's by
box IoU (polygons in the raster's CRS). Criterion: IoU >= 0.9 for at least 95 % of the
queries; every other query is *explained* by its fp32 scores: the candidate the reduced
precision ranked first had, in fp32, a score within ``NEAR_TIE`` (relative) of fp32's best
(a near tie that any rounding can swap), and where it was in fp32's ranking is printed.

Query sets (>= 50 queries without the demo model):

* ``light-random``: OCGNet-lite (MobileNetV2 pair, 256-px tiles) with random weights on a
  synthetic raster (noise + coloured rectangles, UTM, 0.5 m/px; ~9 tiles);
* ``full-random``: the full-size OCGNet (DarkNet-53 + ResNet-18, 1024-px tiles), random
  weights, our safetensors format;
* ``official-converted``: a full-size checkpoint written in the official ``.pth.tar``
  format (random weights) and converted with ``convert_official``;
* ``demo``: the bundled demo model on its bundled data (the bundled query with perturbed
  clicks, plus crops of the raster as queries), when ``ocgnet_geo/assets`` has it.

Photos are crops of the raster around a rectangle ("building"), resized and jittered,
clicked at the rectangle's centre. Random weights give nearly flat confidence logits, so
their near ties are the hard case for parity; the demo model's trained head is the
realistic one. ``--int8`` adds the FX int8 DarkNet (``precision_bench.quantize_int8``) to
the DarkNet sets. Usage: ``.venv/bin/python benchmarks/parity.py [--quick] [--int8]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: A reduced-precision top-1 within this relative fp32-score gap of fp32's top-1 is a near
#: tie: swapping them is rounding, not a different answer.
NEAR_TIE = 0.02
#: Share of queries whose top-1 boxes must agree (IoU >= MATCH_IOU).
REQUIRED_SHARE = 0.95
MATCH_IOU = 0.9
TOP_K = 10


@dataclass
class Query:
    photo: Path
    click: tuple[float, float]


@dataclass
class Case:
    """Queries on one raster with one weights file (``gsd_m`` overrides the model's)."""

    name: str
    weights: Path
    raster: Path
    queries: list[Query]
    gsd_m: float | None = None
    darknet: bool = False


@dataclass
class Outcome:
    """Top-1 agreement of one query between fp32 and ``precision``.

    ``gap``: relative fp32-score gap between fp32's top-1 and the candidate ``precision``
    ranked first (0 when they are the same box; None when that candidate is not in fp32's
    top-k); ``rank_in_reduced``: where fp32's top-1 landed in ``precision``'s ranking
    (None: not in its top-k).
    """

    case: str
    query: int
    precision: str
    iou: float
    fp32_score: float
    reduced_score: float
    gap: float | None
    rank_in_reduced: int | None
    notes: dict = field(default_factory=dict)

    @property
    def matched(self) -> bool:
        return self.iou >= MATCH_IOU

    @property
    def explained(self) -> bool:
        return self.matched or (self.gap is not None and self.gap <= NEAR_TIE)


# --- synthetic data ---------------------------------------------------------------------------


def synthetic_raster(path: Path, size_px: int, gsd_m: float, seed: int) -> tuple[Path, list]:
    """A UTM GeoTIFF of noise with coloured rectangles; returns it and the rectangles
    (col, row, width, height in pixels)."""
    import rasterio
    from affine import Affine

    rng = np.random.default_rng(seed)
    data = rng.integers(40, 110, (3, size_px, size_px), dtype=np.uint8)
    rects = []
    for _ in range(size_px * size_px // 12000):
        w, h = (int(v) for v in rng.integers(12, 48, 2))
        x, y = (int(v) for v in rng.integers(64, size_px - 64 - 48, 2))
        data[:, y : y + h, x : x + w] = rng.integers(120, 250, (3, 1, 1))
        rects.append((x, y, w, h))
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=size_px,
        height=size_px,
        count=3,
        dtype="uint8",
        crs="EPSG:32632",
        transform=Affine(gsd_m, 0, 465000.0, 0, -gsd_m, 5260000.0),
    ) as dst:
        dst.write(data)
    return path, rects


def crop_queries(
    raster: Path, rects: list, n: int, folder: Path, seed: int, photo_px: int = 256
) -> list[Query]:
    """``n`` photos cropped around rectangles of ``raster`` (random context, jittered
    brightness), clicked at the rectangle's centre."""
    import rasterio
    from PIL import Image

    rng = np.random.default_rng(seed)
    with rasterio.open(raster) as src:
        image = np.moveaxis(src.read(), 0, -1)
    queries = []
    for i in range(n):
        x, y, w, h = rects[int(rng.integers(len(rects)))]
        cx, cy = x + w / 2, y + h / 2
        half = int(rng.integers(40, 64))
        x0 = int(np.clip(cx - half + rng.integers(-16, 17), 0, image.shape[1] - 2 * half))
        y0 = int(np.clip(cy - half + rng.integers(-16, 17), 0, image.shape[0] - 2 * half))
        crop = image[y0 : y0 + 2 * half, x0 : x0 + 2 * half].astype(np.float32)
        crop = np.clip(crop * rng.uniform(0.8, 1.2) + rng.normal(0, 6, crop.shape), 0, 255)
        path = folder / f"{raster.stem}_q{i}.png"
        Image.fromarray(crop.astype(np.uint8)).resize((photo_px, photo_px)).save(path)
        scale = photo_px / (2 * half)
        queries.append(Query(path, ((cx - x0) * scale, (cy - y0) * scale)))
    return queries


def random_weights(path: Path, config, seed: int) -> Path:
    import torch

    from ocgnet_geo.models.ocgnet import OCGNet, save_model

    torch.manual_seed(seed)
    save_model(OCGNet(config).eval(), path)
    return path


def light_case(folder: Path, n: int = 20) -> Case:
    """``light-random``: OCGNet-lite with random weights on a 640-px synthetic raster."""
    from ocgnet_geo.models.ocgnet import ModelConfig

    config = ModelConfig.from_dict(
        {**ModelConfig.light(tile_size=256).to_dict(), "tile_gsd_m": 0.5}
    )
    weights = random_weights(folder / "light-random.safetensors", config, seed=0)
    raster, rects = synthetic_raster(folder / "light.tif", 640, 0.5, seed=1)
    return Case("light-random", weights, raster, crop_queries(raster, rects, n, folder, 2))


def full_cases(folder: Path, n_full: int = 20, n_official: int = 15) -> list[Case]:
    """``full-random`` (our format) and ``official-converted`` on one 1024-px tile."""
    import torch

    from ocgnet_geo.models.ocgnet import ModelConfig, OCGNet
    from ocgnet_geo.models.ocgnet.weights import convert_official, save_official

    raster, rects = synthetic_raster(folder / "full.tif", 1024, 0.5, seed=3)
    full = random_weights(folder / "full-random.safetensors", ModelConfig.official(), seed=4)
    torch.manual_seed(6)
    official = folder / "official.pth.tar"
    save_official(OCGNet(ModelConfig.official()).eval(), official)
    converted = folder / "official-converted.safetensors"
    convert_official(official, converted, view="drone")
    return [
        Case(
            "full-random", full, raster, crop_queries(raster, rects, n_full, folder, 5), 0.5, True
        ),
        Case(
            "official-converted",
            converted,
            raster,
            crop_queries(raster, rects, n_official, folder, 7),
            0.5,
            True,
        ),
    ]


def demo_case(folder: Path, quick: bool = False) -> Case | None:
    """The bundled demo model on its data: the bundled query with clicks perturbed by up to
    ±24 px, plus crops of the demo raster around random points; None when not bundled."""
    from ocgnet_geo.locate.bundled import DEMO_DATA, DEMO_MODEL

    if not DEMO_MODEL.is_file() or not (DEMO_DATA / "demo.json").is_file():
        return None
    import rasterio

    spec = json.loads((DEMO_DATA / "demo.json").read_text())
    raster = DEMO_DATA / spec["raster"]
    rng = np.random.default_rng(8)
    n_clicks, n_crops = (4, 4) if quick else (20, 20)
    bx, by = spec["click"]
    queries = [Query(DEMO_DATA / spec["query"], (bx, by))]
    queries += [
        Query(DEMO_DATA / spec["query"], (bx + dx, by + dy))
        for dx, dy in rng.integers(-24, 25, (n_clicks - 1, 2))
    ]
    with rasterio.open(raster) as src:
        width, height = src.width, src.height
    centres = [
        (int(x), int(y), 12, 12)
        for x, y in zip(
            rng.integers(80, width - 80, n_crops),
            rng.integers(80, height - 80, n_crops),
            strict=True,
        )
    ]
    queries += crop_queries(raster, centres, n_crops, folder, seed=9)
    return Case("demo", DEMO_MODEL, raster, queries)


# --- comparison -------------------------------------------------------------------------------


def box_iou(a, b) -> float:
    """IoU of two polygons (areas in their CRS: metric for all sets here)."""
    inter = a.intersection(b).area
    union = a.union(b).area
    return float(inter / union) if union > 0 else 0.0


def compare(case: str, index: int, precision: str, ref, other) -> Outcome:
    """The :class:`Outcome` of ``other`` (a LocateResult) against fp32's ``ref``."""
    best, challenger = ref.candidates[0], other.candidates[0]
    iou = box_iou(best.polygon, challenger.polygon)
    in_ref = [c for c in ref.candidates if box_iou(c.polygon, challenger.polygon) >= 0.5]
    gap = 0.0 if iou >= MATCH_IOU else None
    if gap is None and in_ref:
        gap = (best.score - in_ref[0].score) / best.score
    landed = [c.rank for c in other.candidates if box_iou(c.polygon, best.polygon) >= 0.5]
    notes = {}
    if in_ref and iou < MATCH_IOU:
        notes["reduced #1 was fp32 rank"] = in_ref[0].rank
    return Outcome(
        case,
        index,
        precision,
        iou,
        best.score,
        challenger.score,
        gap,
        landed[0] if landed else None,
        notes,
    )


def locators(case: Case, precisions: list[str]) -> dict:
    """fp32 and each reduced precision's Locator for ``case`` (int8: DarkNet sets only)."""
    from ocgnet_geo.locate import Locator

    out = {
        p: Locator.from_weights(case.weights, gsd_m=case.gsd_m, precision=p)
        for p in ["fp32", *precisions]
        if p != "int8"
    }
    if "int8" in precisions and case.darknet:
        sys.path.insert(0, str(Path(__file__).parent))
        from precision_bench import quantize_int8

        from ocgnet_geo.geo.grid import tile_grid
        from ocgnet_geo.geo.raster import open_raster, read_tile
        from ocgnet_geo.locate.tile_model import load_tile_model

        model = load_tile_model(case.weights, gsd_m=case.gsd_m, precision="fp32")
        info = open_raster(case.raster)
        tiles = tile_grid(info, model.gsd_m, tile_px=model.tile_px, overlap_px=model.tile_px // 4)
        out["int8"] = Locator(quantize_int8(model, [read_tile(info, t)[0] for t in tiles[:4]]))
    return out


def run_case(case: Case, precisions: list[str]) -> list[Outcome]:
    found = locators(case, precisions)
    outcomes = []
    for i, q in enumerate(case.queries):
        results = {
            p: loc.locate(q.photo, q.click, case.raster, top_k=TOP_K) for p, loc in found.items()
        }
        outcomes += [
            compare(case.name, i, p, results["fp32"], results[p]) for p in found if p != "fp32"
        ]
    return outcomes


def summarise(outcomes: list[Outcome]) -> dict:
    """IoU distribution and the verdict of a list of outcomes (one precision)."""
    ious = np.array([o.iou for o in outcomes])
    share = float(np.mean(ious >= MATCH_IOU))
    return {
        "queries": len(outcomes),
        "min": float(ious.min()),
        "p5": float(np.percentile(ious, 5)),
        "p25": float(np.percentile(ious, 25)),
        "median": float(np.median(ious)),
        "share_iou_ge_0.9": share,
        "unexplained": sum(not o.explained for o in outcomes),
        "passes": share >= REQUIRED_SHARE,
    }


def explain(o: Outcome) -> str:
    """One line on a top-1 that moved."""
    where = (
        f"fp32's #1 is #{o.rank_in_reduced} in {o.precision}"
        if o.rank_in_reduced
        else f"fp32's #1 not in {o.precision}'s top {TOP_K}"
    )
    if o.gap is None:
        return f"{o.case} q{o.query}: IoU {o.iou:.2f}; {where}; {o.precision}'s #1 not in fp32's top {TOP_K}"
    return (
        f"{o.case} q{o.query}: IoU {o.iou:.2f}; {where}; {o.precision}'s #1 was fp32 "
        f"#{o.notes.get('reduced #1 was fp32 rank', '?')}, fp32 scores {o.fp32_score:.4g} vs "
        f"{o.fp32_score * (1 - o.gap):.4g} (gap {100 * o.gap:.2f} %: "
        f"{'near tie' if o.gap <= NEAR_TIE else 'NOT a near tie'})"
    )


def print_report(outcomes: list[Outcome]) -> bool:
    """Print the distribution per set and precision, and overall; True if all pass."""
    ok = True
    precisions = sorted({o.precision for o in outcomes})
    names = list(dict.fromkeys(o.case for o in outcomes))
    print(
        f"{'set':20} {'prec':5} {'n':>4} {'min':>5} {'p5':>5} {'p25':>5} {'med':>5} {'IoU>=0.9':>9}"
    )
    for p in precisions:
        for name in [*names, "ALL"]:
            subset = [o for o in outcomes if o.precision == p and name in ("ALL", o.case)]
            if not subset:
                continue
            s = summarise(subset)
            print(
                f"{name:20} {p:5} {s['queries']:4d} {s['min']:5.2f} {s['p5']:5.2f} {s['p25']:5.2f} "
                f"{s['median']:5.2f} {100 * s['share_iou_ge_0.9']:8.1f}%"
            )
        total = summarise([o for o in outcomes if o.precision == p])
        verdict = "PASS" if total["passes"] else "FAIL"
        print(
            f"  {p}: {verdict} (needs >= {100 * REQUIRED_SHARE:.0f} % with IoU >= {MATCH_IOU}); "
            f"{total['unexplained']} moved top-1 not explained by a near tie"
        )
        ok &= total["passes"]
        for o in outcomes:
            if o.precision == p and not o.matched:
                print("    " + explain(o))
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer DarkNet queries (smoke run)")
    parser.add_argument("--int8", action="store_true", help="also FX int8 on the DarkNet sets")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from machine import machine_line

    print(machine_line())
    import torch

    from ocgnet_geo.locate.precision import cpu_report

    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}; {cpu_report()['precision auto']}")
    precisions = ["bf16"] + (["int8"] if args.int8 else [])
    with tempfile.TemporaryDirectory() as tmp:
        cases = [light_case(Path(tmp))]
        cases += full_cases(Path(tmp), *((4, 3) if args.quick else (20, 15)))
        demo = demo_case(Path(tmp), quick=args.quick)
        if demo is None:
            print("demo model not bundled (ocgnet_geo/assets): its query set is skipped")
        else:
            cases.append(demo)
        outcomes = []
        for case in cases:
            outcomes += run_case(case, precisions)
            print(f"{case.name}: {len(case.queries)} queries done", file=sys.stderr)
    return 0 if print_report(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
