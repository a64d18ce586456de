"""Priors benchmark: warm clicks of the bundled matcher with and without the photo-metadata
priors, timed in the same run. Prints figures; asserts nothing about time.

Raster: the bundled Zürich crop mirror-tiled to 2000 x 2000 px = 1 km² (EPSG:2056, 0.5 m/px;
``matcher_bench.mirrored_raster``). Photos: synthetic drone views of random regions of that
raster from ``ocgnet-geo synth`` (pitch 0-45°, heading 0-360°), carrying EXIF/XMP metadata
(GPS 5-15 m off, yaw with noise and 3 % flipped by 180°, altitude above take-off within 10 %).

* warm click: every tile of the raster is cached first (one search over it), then each view
  is located with ``priors="off"`` (whole raster, every heading and scale) and ``"auto"``,
  interleaved; the time per click is the median over views of each view's median of
  ``--runs`` repetitions (default 3);
* accuracy: the best candidate's centre inside the true object box;
* the 200 m case: each view's GPS moved 200 m east (a wrong prior): found or not, and whether
  the user was told that the search was repeated over the whole raster.

Run: ``.venv/bin/python benchmarks/priors_bench.py [--views 12] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).parent))
from locate_bench import OUT
from machine import machine_line
from matcher_bench import mirrored_raster


def make_views(raster: Path, out: Path, count: int, seed: int = 7) -> Path:
    from ocgnet_geo.data.synth import SynthOptions, generate

    root = out / "CVOGL_DroneAerial"
    if not (root / "CVOGL_DroneAerial_test.pth").is_file():
        opts = SynthOptions(
            tile_size=256, tile_gsd_m=0.5, query_size=256, pitch_deg=(0.0, 45.0),
            whole_place=True, regions_per_ha=2.0, region_size_m=(10.0, 35.0),
            max_objects=count, seed=seed,
        )  # fmt: skip
        generate(raster, out, options=opts)
    return root


def truth_box(rec, raster_crs):
    """The record's object box (tile px) as a polygon in the raster's CRS."""
    from pyproj import CRS

    from ocgnet_geo.data.records import parse_satellite_name
    from ocgnet_geo.geo.boxes import reproject_geometries

    geo = parse_satellite_name(rec.satellite_name)
    g = geo.extent_m / 256
    x0 = geo.easting - geo.extent_m / 2
    y1 = geo.northing + geo.extent_m / 2
    bx0, by0, bx1, by1 = rec.bbox
    box = shapely.box(x0 + bx0 * g, y1 - by1 * g, x0 + bx1 * g, y1 - by0 * g)
    return reproject_geometries(np.array([box]), CRS.from_epsg(geo.epsg), raster_crs)[0]


def hit(polygon, truth, period_m: tuple[float, float] | None) -> bool:
    """The candidate's centre inside the true box, or inside one of its exact copies: the
    mirror-tiled raster repeats the crop unmirrored every ``period_m`` (x, y metres)."""
    c = polygon.centroid
    if truth.contains(c):
        return True
    if period_m is None:
        return False
    px, py = period_m
    tx, ty = truth.centroid.x, truth.centroid.y
    dx = (c.x - tx + px / 2) % px - px / 2
    dy = (c.y - ty + py / 2) % py - py / 2
    return truth.contains(shapely.Point(tx + dx, ty + dy))


def shifted(photo: Path, out: Path, east_m: float) -> Path:
    """A copy of ``photo`` whose EXIF GPS is moved ``east_m`` metres east (XMP kept)."""
    from PIL import Image
    from pyproj import Transformer

    from ocgnet_geo.data.photo_meta import pose_exif, save_jpeg
    from ocgnet_geo.geo.crs import utm_crs_for
    from ocgnet_geo.geo.photo_pose import _jpeg_xmp, read_pose

    pose = read_pose(photo)
    utm = utm_crs_for(pose.lon, pose.lat)
    fwd = Transformer.from_crs(4326, utm, always_xy=True)
    inv = Transformer.from_crs(utm, 4326, always_xy=True)
    x, y = fwd.transform(pose.lon, pose.lat)
    lon, lat = inv.transform(x + east_m, y)
    exif = pose_exif(lat=lat, lon=lon, focal_35mm=pose.focal_35mm, focal_mm=pose.focal_mm)
    target = out / f"{photo.stem}_east{east_m:g}.jpg"
    save_jpeg(target, Image.open(photo).convert("RGB"), exif=exif, xmp=_jpeg_xmp(photo))
    return target


def bench(loc, raster: Path, root: Path, count: int, runs: int, period, label: str) -> None:
    """Warm clicks with and without priors on ``count`` views of ``root`` in ``raster``, then
    the same views with the GPS 200 m off."""
    from ocgnet_geo.data.records import load_split
    from ocgnet_geo.locate import PriorFallbackWarning

    records = load_split(root / "CVOGL_DroneAerial_test.pth")[:count]
    first = loc.locate(root / "query" / records[0].query_name, records[0].click_xy, raster,
                       priors="off")  # fmt: skip
    print(f"== {label}: {first.tiles_searched} tiles, all cached before timing")

    rows = []
    for rec in records:
        photo = root / "query" / rec.query_name
        truth = truth_box(rec, first.crs)
        times: dict[str, list[float]] = {"off": [], "auto": []}
        outcome = {}
        for _ in range(runs):
            for mode in ("off", "auto"):
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    t0 = time.perf_counter()
                    res = loc.locate(photo, rec.click_xy, raster, priors=mode, top_k=1)
                    times[mode].append(time.perf_counter() - t0)
                polygon = res.candidates[0].polygon
                fell_back = any(issubclass(w.category, PriorFallbackWarning) for w in caught)
                outcome[mode] = (
                    hit(polygon, truth, None),
                    res.tiles_searched,
                    fell_back,
                    hit(polygon, truth, period),
                )
        rows.append({m: (statistics.median(t), *outcome[m]) for m, t in times.items()})
        off, auto = rows[-1]["off"], rows[-1]["auto"]
        print(
            f"  {rec.query_name}: off {off[0]:.2f} s ({off[2]} tiles, hit {off[1]}, a copy "
            f"{off[4]})  auto {auto[0]:.2f} s ({auto[2]} tiles, hit {auto[1]}, fallback {auto[3]})"
        )
    med = {m: statistics.median(r[m][0] for r in rows) for m in ("off", "auto")}
    acc = {m: float(np.mean([r[m][1] for r in rows])) for m in ("off", "auto")}
    any_copy = {m: float(np.mean([r[m][4] for r in rows])) for m in ("off", "auto")}
    falls = sum(r["auto"][3] for r in rows)
    print(
        f"warm click, median over {len(rows)} views of the median of {runs} runs: "
        f"without priors {med['off']:.2f} s (baseline, same run), with priors {med['auto']:.2f} s "
        f"-> {med['off'] / med['auto']:.1f}x faster"
    )
    print(
        f"accuracy (best centre in the true box): without {acc['off']:.2f}, with {acc['auto']:.2f}"
        + (
            f"; in the box or one of its exact copies: without {any_copy['off']:.2f}, with "
            f"{any_copy['auto']:.2f}"
            if period
            else ""
        )
        + f"; fallback searches with priors: {falls} of {len(rows)}"
    )

    print(f"GPS 200 m east (a wrong prior), {label}:")
    found = told = 0
    for rec in records:
        photo = shifted(root / "query" / rec.query_name, root.parent, 200.0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = loc.locate(photo, rec.click_xy, raster, top_k=1)
        lines = [str(w.message) for w in caught if issubclass(w.category, PriorFallbackWarning)]
        found_it = hit(res.candidates[0].polygon, truth_box(rec, first.crs), period)
        found += found_it
        told += bool(lines)
        print(
            f"  {rec.query_name}: found {found_it}, told {bool(lines)}"
            + (f": {lines[0]}" if lines else "")
        )
    print(f"  found {found} of {len(records)}; told that the whole raster was searched: {told}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--views", type=int, default=12)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument(
        "--shared-data", help="also on zanzibar_a (a real 611 x 306 m raster) from this folder"
    )
    p.add_argument("--skip-mirrored", action="store_true", help="only the zanzibar_a part")
    args = p.parse_args()

    import rasterio
    import torch

    from ocgnet_geo.cli.demo import demo_case
    from ocgnet_geo.locate import Locator

    torch.set_num_threads(2)
    print(machine_line())
    loc = Locator.demo()
    print(f"model {loc.model.model_id}, precision {loc.precision} (the matcher runs fp32)")
    raster = mirrored_raster(OUT / "zurich-mirrored-1km2.tif")
    root = make_views(raster, OUT / "priors-views", args.views)
    with rasterio.open(demo_case().raster) as src:  # the crop repeats unmirrored every 2 sides
        period = (2 * src.width * abs(src.transform.a), 2 * src.height * abs(src.transform.e))
    if not args.skip_mirrored:
        bench(loc, raster, root, args.views, args.runs, period, "Zürich crop mirror-tiled to 1 km²")
    if args.shared_data:
        real = Path(args.shared_data) / "zanzibar_a_tanzania_oam_z20_0.15m_epsg3857.tif"
        root = make_views(real, OUT / "priors-views-zanzibar", args.views)
        bench(loc, real, root, args.views, args.runs, None, "zanzibar_a (611 x 306 m)")


if __name__ == "__main__":
    main()
