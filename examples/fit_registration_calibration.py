# Makefile-style run command (about 14 min on 2 shared cores; hypotheses cached in OUTDIR):
# registration-calibration:
# 	.venv/bin/python examples/fit_registration_calibration.py $(SHARED_DATA) runs/registration-calibration
"""Fit the registration confidence (``ocgnet_geo/assets/registration-calibration.json``) on
synthetic drone views of training places (docs/registration-calibration.md).

1. ``ocgnet-geo synth`` (in process) renders 512-px drone views over whole neighbourhoods
   (pitch 0-40 deg, any heading) of five places from SHARED_DATA's orthophotos (never
   ``realphotos-dev``, the held-out real photos); Ggaba's from the 0.075 m mosaic, registered
   against the 0.30 m one. Each gets a harder look (:func:`harder_look`).
2. Each view is registered (SIFT + XFeat, every hypothesis of :mod:`.register`, no early stop)
   to a north-up UTM window of the satellite raster 2.5-4x its true footprint (at most 2048
   px, at max(native, side / 2048) m/px). A plausible hypothesis is right when the view centre
   (the click) mapped through it lands within max(3 m, 5 % of the footprint side) of its true
   ground point (``poses.json``). Wrong: the other plausible ones on the own window, and all
   plausible ones against the window of the same-numbered view of the next place.
3. Logistic regression with Firth's (Jeffreys-prior) penalty by numpy Newton steps on
   ``[1, ln inliers, inliers/matches, spread, ln(1 + reprojection px)]``, with only as many
   slopes (in that order) as the wrong registrations support at :data:`EVENTS_PER_SLOPE`
   each (at least one; the others 0). Leave-one-place-out figures, then the fit on all.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ASSET = Path(__file__).resolve().parents[1] / "ocgnet_geo/assets/registration-calibration.json"
FEATURES = ["1", "ln(inliers)", "inliers/matches", "hull share of the photo", "ln(1 + median reprojection px)"]  # fmt: skip
PROVISIONAL = [-12.0, 4.0, 0.0, 0.0, 0.0]
QUERY_PX = 512
WINDOW_FACTOR = (2.5, 4.0)  # window side / footprint side
MAX_WINDOW_PX = 2048
MIN_INSIDE = 0.85  # share of a view's footprint that must lie on the rasters
MAX_FLAT = 0.1  # share of a view that may be flat (haze outside the rendered area, nodata)
EVENTS_PER_SLOPE = 10
BINS = (0.0, 0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 1.0)
NEIGHBOURHOOD = ((12.0, 20.0), (0.12, 0.25))  # region side m, its share of the view width
SMALL = ((10.0, 16.0), (0.2, 0.35))  # for places of about 200 m
# place: drone raster, satellite raster (None: the same), views' scale, synth seed
PLACES = {
    "ggaba": (
        "ggaba_uganda_oam_z21_0.075m_epsg3857_jpeg.tif",
        "ggaba_uganda_oam_z19_0.30m_epsg3857.tif",
        SMALL,
        21,
    ),
    "banepa": ("banepa_nepal_oam_0.13m_epsg4326.tif", None, NEIGHBOURHOOD, 22),
    "zanzibar": ("zanzibar_a_tanzania_oam_z20_0.15m_epsg3857.tif", None, NEIGHBOURHOOD, 23),
    "zurich": ("zurich_swissimage_0.5m_epsg2056.tif", None, NEIGHBOURHOOD, 24),
    "lasvegas": ("lasvegas_spacenet2_0.3m_epsg4326_uint16.tif", None, SMALL, 25),
}


def synth_place(data: Path, out: Path, name: str, count: int) -> Path:
    """Render ``count`` drone views of the place (one per random region); their folder."""
    from ocgnet_geo.data.synth import SynthOptions, generate

    drone, sat, (region, frame), seed = PLACES[name]
    root = out / "views" / name
    if not (root / "CVOGL_DroneAerial" / "poses.json").exists():
        opt = SynthOptions(
            tile_size=128,
            tile_gsd_m=0.3,
            query_size=QUERY_PX,
            pitch_deg=(0.0, 40.0),
            yaw_deg=(0.0, 360.0),
            frame_fraction=frame,
            region_size_m=region,
            regions_per_ha=30.0,
            whole_place=True,
            max_objects=count,
            seed=seed,
        )
        generate(data / drone, root, data / sat if sat else None, None, opt)
    return root / "CVOGL_DroneAerial"


def harder_look(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Harder than the generator's look: a lens distortion and a smooth warp of up to 2.5 px
    (relief parallax; both zero at the view centre, the labelled point), soft cloud shadows,
    then a second round of the generator's effects, saturation and per-channel gamma."""
    import cv2

    from ocgnet_geo.data.effects import drone_look

    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = xx - (w - 1) / 2, yy - (h - 1) / 2
    r = np.hypot(dx, dy) / math.hypot(w / 2, h / 2)
    k1 = rng.uniform(-0.04, 0.04)

    def smooth(amplitude: float) -> np.ndarray:
        grid = rng.uniform(-amplitude, amplitude, (5, 5)).astype(np.float32)
        return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)

    mx, my = (g + d * k1 * r**2 + smooth(2.5) * r for g, d in ((xx, dx), (yy, dy)))
    out = cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    shadow = np.clip(smooth(1.5), 0, 1) * rng.uniform(0.2, 0.45)
    out = (out * (1 - shadow[..., None])).astype(np.uint8)
    x = drone_look(out, rng).astype(np.float32) / 255.0
    grey = x.mean(axis=2, keepdims=True)
    x = grey + (x - grey) * rng.uniform(0.5, 1.5)
    x = np.clip(x, 0, 1) ** rng.uniform(0.75, 1.33, size=3)
    return (x * 255 + 0.5).astype(np.uint8)


def flat_share(rgb: np.ndarray, block: int = 16) -> float:
    """Share of the image in flat blocks (haze outside the rendered area, nodata)."""
    h, w = (s - s % block for s in rgb.shape[:2])
    tiles = rgb[:h, :w].reshape(h // block, block, w // block, block, 3)
    return float((tiles.std(axis=(1, 3)).max(axis=-1) < 2.0).mean())


def load_views(folder: Path, data: Path, name: str, count: int, seed: int) -> list[dict]:
    """The place's first ``count`` usable views: photo, true ground point of the centre,
    tolerance, window spec (satellite raster, UTM) and a summary."""
    import shapely
    from affine import Affine
    from PIL import Image
    from pyproj import CRS

    from ocgnet_geo.data.camera import apply_homography
    from ocgnet_geo.data.synth import _common_area, camera_of_truth
    from ocgnet_geo.geo.raster import open_raster
    from ocgnet_geo.geo.tile import TileSpec

    drone, sat, *_ = PLACES[name]
    sat_info = open_raster(data / (sat or drone))
    poses = json.loads((folder / "poses.json").read_text())
    work = CRS.from_user_input(next(iter(poses.values()))["crs"])
    area = _common_area(open_raster(data / drone), sat_info, work)
    corners = np.array([[0, 0], [QUERY_PX, 0], [QUERY_PX, QUERY_PX], [0, QUERY_PX]], float)
    rng = np.random.default_rng(seed)
    views = []
    for qname, truth in sorted(poses.items()):
        to_ground = camera_of_truth(truth, QUERY_PX).image_to_ground()
        foot = shapely.Polygon(apply_homography(to_ground, corners))
        raw = np.asarray(Image.open(folder / "query" / qname).convert("RGB"))
        if foot.intersection(area).area < MIN_INSIDE * foot.area or flat_share(raw) > MAX_FLAT:
            continue
        x0, y0, x1, y1 = foot.bounds
        fside = max(x1 - x0, y1 - y0)
        side = rng.uniform(*WINDOW_FACTOR) * fside
        g = max(min(sat_info.pixel_size_m), side / MAX_WINDOW_PX)
        n = math.ceil(side / g)
        wx, wy = np.array([x0 + x1, y0 + y1]) / 2 + rng.uniform(-0.3, 0.3, 2) * (side - fside)
        transform = Affine(g, 0, wx - n * g / 2, 0, -g, wy + n * g / 2)
        tolerance = max(3.0, 0.05 * math.sqrt(foot.area))
        summary = dict(place=name, view=qname, pitch_deg=truth["pitch_deg"], tolerance_m=tolerance, footprint_side_m=fside, window_px=n, window_gsd_m=g)  # fmt: skip
        views.append(
            {
                "photo": harder_look(raw, rng),
                "truth": apply_homography(to_ground, np.array([[QUERY_PX / 2] * 2]))[0],
                "tolerance_m": tolerance,
                "raster": sat_info,
                "spec": TileSpec(f"{name}/{qname}", work, transform, n, n, g),
                "summary": summary,
            }
        )
        if len(views) == count:
            break
    return views


class PhotoCached:
    """A feature family that computes a photo's features once for both of its windows."""

    def __init__(self, family) -> None:
        self.family, self.name, self.cache = family, family.name, {}

    def __getattr__(self, attr: str):  # window_features, match
        return getattr(self.family, attr)

    def photo_features(self, image: np.ndarray):
        key = (image.shape, hash(image.tobytes()))
        if key not in self.cache:
            self.cache[key] = self.family.photo_features(image)
        return self.cache[key]


def attempts_of(view: dict, window: dict, families, own: bool) -> list[dict]:
    """Every hypothesis of ``view``'s photo against ``window`` (``register._try`` as ``register``
    runs it): the attempt; for a plausible one its features and whether it is right."""
    from ocgnet_geo.locate import register as reg

    click = (QUERY_PX / 2, QUERY_PX / 2)
    rows = []
    for family, (rotation, scale) in ((f, h) for f in families for h in reg.hypotheses(f.name)):
        found, attempt = reg._try(
            view["photo"], click, window["rgb"], window["features"].get, family, rotation, scale
        )
        row = view["summary"] | {"window": window["spec"].id, "own": own, "reason": attempt.reason}
        row["method"] = family.name
        row |= {"rotation": rotation, "scale": scale, "plausible": found is not None}
        row |= {"inliers": attempt.inliers, "matches": attempt.matches, "correct": False}
        if found is not None:
            error = np.linalg.norm(np.array(window["spec"].transform * found.click) - view["truth"])
            row |= {"spread": found.spread, "reprojection_px": found.reprojection_px}
            if own:
                row |= {"error_m": float(error), "correct": bool(error <= view["tolerance_m"])}
        rows.append(row)
    return rows


def collect(data: Path, out: Path, count: int) -> list[dict]:
    """Every hypothesis tried (cached in OUT/attempts.json)."""
    cache = out / "attempts.json"
    if cache.exists():
        return json.loads(cache.read_text())
    from ocgnet_geo.geo.raster import read_tile
    from ocgnet_geo.locate.features import SiftFamily, XFeatFamily

    families = [PhotoCached(SiftFamily()), PhotoCached(XFeatFamily())]
    names, views = list(PLACES), {}
    for k, name in enumerate(names):
        folder = synth_place(data, out, name, 4 * count)
        views[name] = load_views(folder, data, name, count, seed=100 + k)
        print(f"{name}: {len(views[name])} views", flush=True)
    rows: list[dict] = []
    start = time.time()
    for i in range(max(len(v) for v in views.values())):
        windows = {}
        for name in (n for n in names if i < len(views[n])):
            spec = views[name][i]["spec"]
            rgb, _ = read_tile(views[name][i]["raster"], spec)
            feats = {f: f.window_features(rgb) for f in families}
            windows[name] = {"rgb": rgb, "spec": spec, "features": feats}
        present = list(windows)
        for k, name in enumerate(present):
            for family in families:
                family.cache = {}
            rows += attempts_of(views[name][i], windows[name], families, own=True)
            if len(present) > 1:
                other = present[(k + 1) % len(present)]
                rows += attempts_of(views[name][i], windows[other], families, own=False)
        print(f"views {i + 1}: {len(rows)} hypotheses, {time.time() - start:.0f} s", flush=True)
    cache.write_text(json.dumps(rows, indent=0) + "\n")
    return rows


def design(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    n = np.array([max(r["inliers"], 1) for r in rows], dtype=float)
    m = np.array([max(r["matches"], 1) for r in rows], dtype=float)
    spread = np.array([r["spread"] for r in rows], dtype=float)
    error = np.array([max(0.0, r["reprojection_px"]) for r in rows], dtype=float)
    x = np.column_stack([np.ones_like(n), np.log(n), n / m, spread, np.log1p(error)])
    return x.reshape(-1, 5), np.array([float(r["correct"]) for r in rows])


def fit(x: np.ndarray, y: np.ndarray, iterations: int = 200) -> np.ndarray:
    """Firth-penalised logistic regression (Newton steps on the modified score
    ``X'(y - p + h (1/2 - p))``, h the hat values) on the intercept and as many slopes as
    the rarer class supports at :data:`EVENTS_PER_SLOPE` each (1-4); the rest are 0."""
    events = min(y.sum(), len(y) - y.sum())
    k = 1 + min(4, max(1, int(events // EVENTS_PER_SLOPE)))
    xs, b = x[:, :k], np.zeros(k)
    for _ in range(iterations):
        p = predict(xs, b)
        xw = xs * np.sqrt(p * (1 - p))[:, None]
        inverse = np.linalg.inv(xw.T @ xw + 1e-9 * np.eye(k))
        hat = np.einsum("ij,jk,ik->i", xw, inverse, xw)
        step = inverse @ (xs.T @ (y - p + hat * (0.5 - p)))
        step *= min(1.0, 2.0 / max(float(np.abs(step).max()), 1e-12))
        b += step
        if np.abs(step).max() < 1e-9:
            break
    return np.concatenate([b, np.zeros(5 - k)])


def predict(x: np.ndarray, b) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x @ np.asarray(b, dtype=float), -50, 50)))


def figures(p: np.ndarray, y: np.ndarray, rows: list[dict]) -> dict:
    """Counts, Brier score, wrong ones at p >= 0.5, per-view outcome, reliability table."""
    table = []
    for lo, hi in itertools.pairwise(BINS):
        inside = (p >= lo) & ((p < hi) if hi < 1 else (p <= hi))
        n = int(inside.sum())
        mean_p, observed = (round(float(v[inside].mean()), 3) if n else None for v in (p, y))
        table.append({"bin": f"{lo:.2f}-{hi:.2f}", "n": n, "mean_p": mean_p, "observed": observed})
    best: dict[str, tuple[float, bool]] = {}  # per view, what register keeps on its window
    other: dict[str, float] = {}
    for r, pr in zip(rows, p.tolist(), strict=True):
        key = f"{r['place']}/{r['view']}"
        if r["own"] and pr > best.get(key, (-1.0, False))[0]:
            best[key] = (pr, bool(r["correct"]))
        elif not r["own"]:
            other[key] = max(other.get(key, 0.0), pr)
    wrong = y == 0
    return {
        "plausible_hypotheses": len(y),
        "right": int(y.sum()),
        "wrong": int(wrong.sum()),
        "wrong_other_place": sum(not r["own"] for r in rows),
        "brier": round(float(np.mean((p - y) ** 2)), 4),
        "wrong_p_ge_0.5": int((p[wrong] >= 0.5).sum()),
        "right_p_ge_0.5": int((p[~wrong] >= 0.5).sum()),
        "views_registered": len(best),
        "views_kept_right_p_ge_0.5": sum(ok and pr >= 0.5 for pr, ok in best.values()),
        "views_kept_wrong_p_ge_0.5": sum(not ok and pr >= 0.5 for pr, ok in best.values()),
        "views_other_place_p_ge_0.5": sum(pr >= 0.5 for pr in other.values()),
        "reliability": table,
    }


def leave_one_place_out(rows: list[dict]) -> dict:
    x, y = design(rows)
    places = np.array([r["place"] for r in rows])
    p, folds = np.zeros(len(y)), {}
    for place in sorted(set(places)):
        held = places == place
        b = fit(x[~held], y[~held])
        p[held] = predict(x[held], b)
        fold = figures(p[held], y[held], [r for r in rows if r["place"] == place])
        folds[place] = {"coefficients": [round(float(v), 3) for v in b]} | fold
        del fold["reliability"]
    return figures(p, y, rows) | {"folds": folds}


def markdown(lopo: dict, provisional: dict) -> str:
    lines = ["| predicted | hypotheses | mean predicted | observed right |", "|---|---|---|---|"]
    for t in lopo["reliability"]:
        cells = ("-" if v is None else f"{v:.3f}" for v in (t["mean_p"], t["observed"]))
        lines.append(f"| {t['bin']} | {t['n']} | {' | '.join(cells)} |")
    lines += ["", "| held-out place | right | wrong | Brier | wrong p>=0.5 | right p>=0.5 | coefficients |"]  # fmt: skip
    lines.append("|---|---|---|---|---|---|---|")
    for place, f in [*lopo["folds"].items(), ("all (pooled)", lopo), ("provisional", provisional)]:
        b = ", ".join(f"{v:g}" for v in f.get("coefficients", []))
        lines.append(
            f"| {place} | {f['right']} | {f['wrong']} | {f['brier']:.4f} | "
            f"{f['wrong_p_ge_0.5']} | {f['right_p_ge_0.5']} | {b} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shared_data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--views", type=int, default=20, help="views per place")
    parser.add_argument("--threads", type=int, default=1)  # more spin-waits on a busy machine
    parser.add_argument("--asset", type=Path, default=ASSET)
    args = parser.parse_args()
    if "realphotos" in str(args.shared_data):
        print("realphotos-dev is the held-out development set: not used here", file=sys.stderr)
        return 2
    import cv2
    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    start = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    attempts = collect(args.shared_data, args.out, args.views)
    rows = [r for r in attempts if r["plausible"]]
    lopo = leave_one_place_out(rows)
    x, y = design(rows)
    b = fit(x, y)
    provisional = figures(predict(x, PROVISIONAL), y, rows) | {"coefficients": PROVISIONAL}
    counts = {p: len({r["view"] for r in attempts if r["place"] == p}) for p in PLACES}
    others = [r for r in attempts if not r["own"]]
    plausible_others = sum(r["plausible"] for r in others)
    max_others = max((r["inliers"] for r in others), default=0)
    asset = {
        "coefficients": [round(float(v), 4) for v in b],
        "features": FEATURES,
        "fitted_on": (
            f"{sum(counts.values())} synthetic 512-px drone views (pitch 0-40 deg, any heading, "
            f"harder photometry, lens and relief warps) of {len(PLACES)} training places "
            f"({', '.join(f'{p} {n}' for p, n in counts.items())}), SIFT + XFeat, every "
            f"hypothesis: {int(y.sum())} plausible right, {int(len(y) - y.sum())} plausible wrong "
            f"on the views' own windows; against another place's window {plausible_others} of "
            f"{len(others)} hypotheses plausible (at most {max_others} inliers). Firth-penalised "
            f"logistic regression with {int(np.count_nonzero(b[1:]))} slope(s) (one per "
            f"{EVENTS_PER_SLOPE} wrong ones at most). examples/fit_registration_calibration.py, "
            f"{time.strftime('%Y-%m-%d')}"
        ),
        "leave_one_place_out": lopo,
    }
    args.asset.write_text(json.dumps(asset, indent=1) + "\n")
    report = markdown(lopo, provisional)
    (args.out / "report.md").write_text(report + "\n")
    summary = {"final": figures(predict(x, b), y, rows), "lopo": lopo, "provisional": provisional}
    (args.out / "report.json").write_text(json.dumps(summary, indent=1))
    print(report)
    print("coefficients", asset["coefficients"], f"({time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
