"""Which raster-side segmentation outlines "the object at this point" best?

Usage: ``python examples/study_raster_outline.py SHARED_DATA [--per-place 120] [--out T.md]``

``SHARED_DATA`` is the folder of development orthophotos and OSM building footprints
(``ggaba_*``, ``banepa_*``, ``zanzibar_*``, ``catanduanes_*``). For each place, every
footprint of at least :data:`MIN_AREA_M2` whose envelope (plus :data:`MARGIN_M`) lies in valid
raster is eligible; up to ``--per-place`` of them are drawn (seed 0). Each raster is read
north-up in the place's UTM zone at 0.25, 0.5 and 1 m/px (average resampling when shrinking)
and the whole reprojected raster is the "window". Per footprint (seeded by place and index,
the same draw at every resolution): the click is the centroid moved by up to
:data:`CLICK_ERROR_M` (uniform in the disc), the size hint sqrt(area) x a log-uniform factor
in [0.5, 2]. A method's score is the IoU of its outline's envelope with the footprint's
envelope (None = 0); acc@0.5 is the share with IoU > 0.5. Footprints of even index were used
to choose parameters ("tune"), the odd ones are the report ("test").

Writes markdown tables (method x place, per resolution; test split, plus the tune split's
total) to stdout and ``--out``. About 10 minutes on one core.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import math
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import geopandas as gpd
import numpy as np
import rasterio
from rasterio.warp import Resampling, calculate_default_transform, reproject

from ocgnet_geo.locate import extent
from ocgnet_geo.locate import raster_outline as ro

PLACES = {
    "ggaba": (["ggaba_uganda_oam_z20_0.15m_epsg3857.tif"], "ggaba_uganda_osm"),
    "banepa": (["banepa_nepal_oam_0.13m_epsg4326.tif"], "banepa_nepal_osm"),
    "banepa_se": (
        [
            "banepa_south_nepal_oam_z20_0.13m_epsg3857.tif",
            "banepa_east_nepal_oam_z20_0.13m_epsg3857.tif",
        ],
        "banepa_south_east_osm",
    ),
    "zanzibar": (
        [
            "zanzibar_a_tanzania_oam_z20_0.15m_epsg3857.tif",
            "zanzibar_b_tanzania_oam_z20_0.15m_epsg3857.tif",
        ],
        "zanzibar_osm",
    ),
    "catanduanes": (
        [
            "catanduanes_a_philippines_oam_z20_0.15m_epsg3857.tif",
            "catanduanes_b_philippines_oam_z20_0.15m_epsg3857.tif",
        ],
        "catanduanes_osm",
    ),
}
RESOLUTIONS = (0.25, 0.5, 1.0)
MIN_AREA_M2 = 10.0
MARGIN_M = 2.0
CLICK_ERROR_M = 2.0
Method = Callable[[np.ndarray, tuple[float, float], float], "np.ndarray | None"]


def north_up(path: Path, crs, res: float) -> tuple[np.ndarray, np.ndarray, rasterio.Affine]:
    """The raster at ``path`` reprojected to ``crs`` at ``res`` m/px: (rgb, valid, transform)."""
    with rasterio.open(path) as src:
        native = abs(
            calculate_default_transform(src.crs, crs, src.width, src.height, *src.bounds)[0].a
        )
        tr, w, h = calculate_default_transform(
            src.crs, crs, src.width, src.height, *src.bounds, resolution=res
        )
        how = Resampling.average if res >= 1.5 * native else Resampling.bilinear
        rgb = np.zeros((3, h, w), np.uint8)
        for b in range(3):
            reproject(
                rasterio.band(src, b + 1), rgb[b], dst_transform=tr, dst_crs=crs, resampling=how
            )
        valid = np.zeros((h, w), np.uint8)
        ones = np.ones((src.height, src.width), np.uint8)
        reproject(
            ones, valid, src_transform=src.transform, src_crs=src.crs, dst_transform=tr,
            dst_crs=crs, resampling=Resampling.nearest, dst_nodata=0,
        )  # fmt: skip
    rgb = np.ascontiguousarray(rgb.transpose(1, 2, 0))
    rgb[valid == 0] = 0
    return rgb, (valid > 0) & (rgb.max(axis=2) > 0), tr


def envelope_px(bounds, inverse) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = bounds
    c0, r0 = inverse * (x0, y1)
    c1, r1 = inverse * (x1, y0)
    return (c0, r0, c1, r1)


def load_objects(shared: Path, per_place: int) -> dict[float, list[dict]]:
    """{resolution: objects}; an object: place, split, window, click, size (px), env (px)."""
    by_res: dict[float, list[dict]] = {r: [] for r in RESOLUTIONS}
    for place, (rasters, stem) in PLACES.items():
        frame = gpd.read_file(shared / f"{stem}_buildings_epsg4326.geojson")
        crs = frame.estimate_utm_crs()
        shapes = list(frame.to_crs(crs).geometry)
        grids = {r: [north_up(shared / name, crs, r) for name in rasters] for r in RESOLUTIONS}
        home: dict[int, int] = {}  # footprint -> raster, checked at the coarsest resolution
        for k, (_, valid, tr) in enumerate(grids[max(RESOLUTIONS)]):
            for i, shape in enumerate(shapes):
                if i in home or shape.area < MIN_AREA_M2:
                    continue
                c0, r0, c1, r1 = envelope_px(shape.buffer(MARGIN_M).bounds, ~tr)
                a, b, c, d = math.floor(c0), math.floor(r0), math.ceil(c1), math.ceil(r1)
                if a >= 0 and b >= 0 and c <= valid.shape[1] and d <= valid.shape[0]:
                    if valid[b:d, a:c].all():
                        home[i] = k
        chosen = sorted(np.random.default_rng(0).permutation(sorted(home))[:per_place].tolist())
        for i in chosen:
            shape = shapes[i]
            digest = hashlib.md5(f"{place}/{i}".encode()).hexdigest()
            rng = np.random.default_rng(int(digest[:8], 16))
            angle, radius = rng.uniform(0, 2 * math.pi), CLICK_ERROR_M * math.sqrt(rng.uniform())
            factor = math.exp(rng.uniform(math.log(0.5), math.log(2.0)))
            x = shape.centroid.x + radius * math.cos(angle)
            y = shape.centroid.y + radius * math.sin(angle)
            for r in RESOLUTIONS:
                rgb, _, tr = grids[r][home[i]]
                by_res[r].append(
                    {
                        "place": place,
                        "split": "tune" if i % 2 == 0 else "test",
                        "window": rgb,
                        "click": tuple(~tr * (x, y)),
                        "size": math.sqrt(shape.area) * factor / r,
                        "env": envelope_px(shape.bounds, ~tr),
                    }
                )
    return by_res


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union if union > 0 else 0.0


# --- methods --------------------------------------------------------------------------


def square(window, click, size):
    """The size hint as a square around the click (what a method falls back to)."""
    (cx, cy), s = click, size / 2
    return np.array([[cx - s, cy - s], [cx + s, cy - s], [cx + s, cy + s], [cx - s, cy + s]])


@contextlib.contextmanager
def patched(module, **values):
    old = {k: getattr(module, k) for k in values}
    for k, v in values.items():
        setattr(module, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            setattr(module, k, v)


def today(half_hints=2.0, reduce_px=128, iterations=3, lab=False) -> Method:
    """registration_stage._raster_outline: extent.object_segment on a crop of half-side
    ``half_hints`` x the hint (24 to 256 px), reduced to ``reduce_px`` (None: not reduced)."""

    def run(window, click, size):
        half = int(min(256, max(24, half_hints * size)))
        cx, cy = click
        x0, y0 = max(0, int(cx) - half), max(0, int(cy) - half)
        crop = np.ascontiguousarray(window[y0 : int(cy) + half, x0 : int(cx) + half])
        if min(crop.shape[:2]) < 16:
            return None
        if lab:
            crop = cv2.cvtColor(crop, cv2.COLOR_RGB2Lab)
        with patched(extent, SEGMENT_PX=reduce_px or 10**6, ITERATIONS=iterations):
            segment = extent.object_segment(crop, (cx - x0, cy - y0))
        if segment is None or len(segment.hull) < 3:
            return None
        return segment.hull + np.array([x0, y0])

    return run


def canonical(**kw) -> Method:
    """raster_outline's GrabCut (canonical crop, seeds in hints) with other parameters."""
    return lambda window, click, size: ro._cut(window, click, size, **kw)


def _disc(shape, cx, cy, r):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return np.hypot(xx + 0.5 - cx, yy + 0.5 - cy) < r


def _outline(part, origin, scale):
    if part is None or not part.any():
        return None
    return ro.hull_px(part, scale) + np.array(origin, dtype=np.float64)


def watershed(crop_half=1.25, seed=0.25, blur=1.0) -> Method:
    """cv2.watershed on the canonical crop: the click's disc (``seed`` hints) against the
    crop's border."""

    def run(window, click, size):
        canon = ro._canonical_crop(window, click, size, crop_half)
        if canon is None:
            return None
        crop, origin, scale, (cx, cy) = canon
        image = cv2.GaussianBlur(crop, (0, 0), blur) if blur else crop
        markers = np.zeros(crop.shape[:2], np.int32)
        markers[:2], markers[-2:], markers[:, :2], markers[:, -2:] = 2, 2, 2, 2
        markers[_disc(crop.shape, cx, cy, max(1.0, seed * ro.CANON_PX))] = 1
        cv2.watershed(np.ascontiguousarray(image[:, :, ::-1]), markers)
        return _outline(ro._part_at(markers == 1, (cx, cy)), origin, scale)

    return run


def flood(crop_half=2.0, threshold=18.0, mean_shift=None, open_hints=0.15) -> Method:
    """Region growing on Lab distance: the pixels within ``threshold`` of the click disc's
    median Lab colour (after a blur, or ``mean_shift`` = (sp, sr) pyrMeanShiftFiltering),
    opened, the part holding the click."""

    def run(window, click, size):
        canon = ro._canonical_crop(window, click, size, crop_half)
        if canon is None:
            return None
        crop, origin, scale, (cx, cy) = canon
        if mean_shift:
            crop = cv2.pyrMeanShiftFiltering(np.ascontiguousarray(crop), *mean_shift)
        else:
            crop = cv2.GaussianBlur(crop, (0, 0), 1.0)
        lab = cv2.cvtColor(crop, cv2.COLOR_RGB2Lab).astype(np.float32)
        disc = _disc(crop.shape, cx, cy, max(1.0, 0.15 * ro.CANON_PX))
        near = (np.linalg.norm(lab - np.median(lab[disc], axis=0), axis=2) <= threshold) | disc
        k = round(open_hints * ro.CANON_PX) | 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        near = cv2.morphologyEx(near.astype(np.uint8), cv2.MORPH_OPEN, kernel) > 0
        return _outline(ro._part_at(near, (cx, cy)), origin, scale)

    return run


def with_fallback(method: Method, low=0.25, high=4.0) -> Method:
    """The hint square when ``method`` gives nothing or an envelope outside [low, high] x
    the hint's area."""

    def run(window, click, size):
        out = method(window, click, size)
        if out is not None:
            w, h = np.ptp(out[:, 0]), np.ptp(out[:, 1])
            if low * size**2 <= w * h <= high * size**2:
                return out
        return square(window, click, size)

    return run


def clipped(method: Method, hints: float = 2.0) -> Method:
    """``method``'s outline cut to a square of ``hints`` x the hint centred on the click (an
    outline reaching farther from the click than the hint is a leak)."""

    def run(window, click, size):
        out = method(window, click, size)
        if out is None:
            return None
        import shapely

        half = hints * size / 2
        box = shapely.box(click[0] - half, click[1] - half, click[0] + half, click[1] + half)
        cut = shapely.intersection(shapely.Polygon(out), box)
        if cut.is_empty or cut.area <= 0:
            return None
        return np.asarray(cut.exterior.coords)[:-1]

    return run


def consensus(method: Method, factors=(0.7, 1.0, 1.4)) -> Method:
    """``method`` at the hint times each factor; the outline whose envelope area is the
    median of the three (a hint off by a factor matters less)."""

    def run(window, click, size):
        outs = [method(window, click, size * f) for f in factors]
        outs = [o for o in outs if o is not None]
        if not outs:
            return None
        areas = [float(np.ptp(o[:, 0]) * np.ptp(o[:, 1])) for o in outs]
        return outs[int(np.argsort(areas)[len(areas) // 2])]

    return run


METHODS: dict[str, Method] = {
    "hint square": square,
    "GrabCut today (2x hint, 128 px, 3 it)": today(),
    "today + fallback square": with_fallback(today()),
    "today, crop 1.5x hint": today(half_hints=1.5),
    "today, crop 3x hint": today(half_hints=3.0),
    "today, not reduced": today(reduce_px=None),
    "today, 1 iteration": today(iterations=1),
    "today, 5 iterations": today(iterations=5),
    "today, Lab": today(lab=True),
    "canonical GrabCut, seeds 0.16/0.6": canonical(sure=0.16, likely=0.6),
    "canonical GrabCut, seeds 0.25/0.8": canonical(sure=0.25, likely=0.8),
    "canonical GrabCut, seeds 0.4/1.0": canonical(sure=0.4),
    "canonical GrabCut, crop 1.25x": canonical(crop_half=1.25),
    "canonical GrabCut, crop 2x": canonical(crop_half=2.0),
    "canonical GrabCut, Lab": canonical(lab=True),
    "watershed (crop 1.25x)": watershed(),
    "watershed (crop 2x)": watershed(crop_half=2.0),
    "flood fill Lab < 18": flood(),
    "mean shift + flood fill": flood(threshold=12.0, mean_shift=(4, 12)),
    "flood fill + fallback square": with_fallback(flood()),
    "**object_outline** (winner)": ro.object_outline,
    "object_outline + fallback square": with_fallback(ro.object_outline),
    "object_outline clipped to 2x hint": clipped(ro.object_outline, 2.0),
    "object_outline clipped to 1.5x hint": clipped(ro.object_outline, 1.5),
    "object_outline, median of hints x0.7/1/1.4": consensus(ro.object_outline),
    "object_outline, median of hints x0.5/1/2": consensus(ro.object_outline, (0.5, 1.0, 2.0)),
}


def score(method: Method, objects: list[dict]) -> list[tuple[str, str, float, float]]:
    rows = []
    for o in objects:
        start = time.perf_counter()
        out = method(o["window"], o["click"], o["size"])
        ms = 1000 * (time.perf_counter() - start)
        ok = out is not None and len(out) >= 3
        box = (out[:, 0].min(), out[:, 1].min(), out[:, 0].max(), out[:, 1].max()) if ok else None
        rows.append((o["place"], o["split"], iou(box, o["env"]) if ok else 0.0, ms))
    return rows


def cell(values: list[float]) -> str:
    v = np.array(values)
    return f"{(v > 0.5).mean():.2f} / {v.mean():.2f}" if len(v) else "-"


def table(res: float, results: dict[str, list], objects: list[dict]) -> str:
    places = list(PLACES)
    counts = {p: sum(o["place"] == p and o["split"] == "test" for o in objects) for p in places}
    n_test = sum(counts.values())
    head = [f"{p} (n={counts[p]})" for p in places] + [f"test (n={n_test})", "tune", "ms"]
    lines = [
        f"### {res} m/px: acc@0.5 / mean IoU",
        "",
        "| method | " + " | ".join(head) + " |",
        "|---|" + "---|" * len(head),
    ]
    for name, rows in results.items():
        test = [r for r in rows if r[1] == "test"]
        cells = [cell([r[2] for r in test if r[0] == p]) for p in places]
        cells += [cell([r[2] for r in test]), cell([r[2] for r in rows if r[1] == "tune"])]
        cells.append(f"{np.mean([r[3] for r in rows]):.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shared", type=Path)
    parser.add_argument("--per-place", type=int, default=120)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--methods", nargs="*", help="substrings of method names to run")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    by_res = load_objects(args.shared, args.per_place)
    methods = {
        k: m for k, m in METHODS.items() if not args.methods or any(s in k for s in args.methods)
    }
    every: dict[str, list] = {k: [] for k in methods}
    text = []
    for res, objects in by_res.items():
        results = {}
        for name, method in methods.items():
            results[name] = score(method, objects)
            every[name] += results[name]
        text.append(table(res, results, objects))
        print(text[-1], flush=True)
    lines = ["### all three resolutions: acc@0.5 / mean IoU", "", "| method | test | tune | ms |"]
    lines.append("|---|---|---|---|")
    for name, rows in every.items():
        test, tune = ([r[2] for r in rows if r[1] == s] for s in ("test", "tune"))
        ms = np.mean([r[3] for r in rows])
        lines.append(f"| {name} | {cell(test)} | {cell(tune)} | {ms:.1f} |")
    text.append("\n".join(lines) + "\n")
    print(text[-1])
    if args.out:
        args.out.write_text("\n".join(text))


if __name__ == "__main__":
    main()
