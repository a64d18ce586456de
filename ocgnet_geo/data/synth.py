"""Synthetic cross-view generator: orthophotos (+ optional footprints) → a CVOGL-layout set.

For every object (a footprint from a vector file, or a random image region when none is
given) it writes:

* a satellite tile (``tile_size`` px at ``tile_gsd_m`` metres per pixel, north up, in the
  UTM zone of the area) read from the *satellite* raster, with the object somewhere inside
  it; its name ``{easting}_{northing}_{extent}_{epsg}.jpg`` georeferences it (tile centre
  and side in metres), as CVOGL does; the record's box is the footprint's envelope in tile
  pixels and its polygon the footprint's minimum rotated rectangle;
* a drone view (``query_size`` px) rendered from the *drone* raster by a pinhole camera
  (:class:`~ocgnet_geo.data.camera.DroneCamera`: altitude, off-nadir pitch, random yaw,
  field of view) followed by lighting/colour change, blur, noise and JPEG
  (:mod:`~ocgnet_geo.data.effects`); the click is the projection of the footprint's
  representative point (a point inside it).

**Drone views only**: a street-level (ground) view cannot be rendered from an orthophoto,
which has no facades; ``CVOGL_SVI``-style data must come from real photos.

**Split by area**: the common area of both rasters is cut into square blocks
(``block_factor`` × the tile's ground side); blocks are assigned to train/val/test at
random (``split_ratios``), and a sample is kept only if its object, its satellite tile and
every ground pixel its drone view shows lie in one block (view pixels outside the block
are filled with a haze colour). So no pixel of any object is seen in two splits.
With ``holdout=(side, fraction)`` the area is instead cut in two rectangles: the strip
along ``side`` (``"east"``, ``"west"``, ``"north"``, ``"south"``; ``fraction`` of the
width or height) is the test split, the rest the train split (no val split), for a
held-out area that is one contiguous part of the place. With ``whole_place`` the whole
common area is one test block: the place is held out whole (leave-one-place-out evaluation).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import shapely
from affine import Affine
from PIL import Image
from pyproj import CRS
from shapely import affinity

from ocgnet_geo.data.camera import DroneCamera, pillow_perspective
from ocgnet_geo.data.effects import drone_look
from ocgnet_geo.data.errors import SynthError
from ocgnet_geo.data.photo_meta import save_jpeg
from ocgnet_geo.data.records import SPLITS, Record, SatelliteGeo, satellite_name, save_split
from ocgnet_geo.geo.boxes import polygons_to_boxes, reproject_geometries
from ocgnet_geo.geo.crs import lonlat_of, utm_crs_for
from ocgnet_geo.geo.grid import TileSpec
from ocgnet_geo.geo.raster import RasterInfo, open_raster, read_tile

SUPERSAMPLE = 2  # drone views are rendered at 2x and reduced (anti-aliasing)


@dataclass(frozen=True)
class SynthOptions:
    """Generator settings (lengths in metres, angles in degrees, sizes in pixels)."""

    dataset: str = "CVOGL_DroneAerial"
    tile_size: int = 256
    tile_gsd_m: float = 0.5
    query_size: int = 256
    views_per_object: int = 1
    altitude_m: tuple[float, float] | None = None  # None: object spans 20-45 % of the width
    pitch_deg: tuple[float, float] = (0.0, 60.0)
    yaw_deg: tuple[float, float] = (0.0, 360.0)  # heading, clockwise from north
    frame_fraction: tuple[float, float] = (0.2, 0.45)  # object size / view width (no altitude_m)
    hfov_deg: tuple[float, float] = (50.0, 70.0)
    max_ray_deg: float = 80.0
    block_factor: float = 2.0
    split_ratios: tuple[float, float, float] = (0.6, 0.2, 0.2)
    min_object_px: float = 6.0
    max_objects: int = 0
    region_size_m: tuple[float, float] = (8.0, 25.0)
    regions_per_block: int = 8
    regions_per_ha: float = 0.0  # > 0: regions per hectare of each block instead
    holdout: tuple[str, float] | None = None  # (side, fraction): a test strip, see above
    whole_place: bool = False  # one test block over the whole common area (leave-one-place-out)
    class_field: str | None = None
    default_class: str = "object"
    photometric: bool = True
    seed: int = 0
    # photo metadata of the views (EXIF GPS + focal length, DJI XMP), drawn from their own
    # random stream so that the views themselves do not change with these settings
    metadata: bool = True
    gps_error_m: tuple[float, float] = (5.0, 15.0)  # horizontal GPS error, uniform
    yaw_error_deg: float = 5.0  # standard deviation of the gimbal yaw error
    yaw_flip: float = 0.03  # share of views whose recorded yaw is off by 180°
    altitude_error: float = 0.1  # relative altitude = true x U(1 - e, 1 + e) (take-off height)


@dataclass
class SynthSummary:
    """What was written: samples per split, objects dropped and why."""

    out: str
    samples: dict[str, int] = field(default_factory=dict)
    objects: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    crs: str = ""
    blocks: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1


@dataclass(frozen=True)
class SynthObject:
    footprint: shapely.Geometry  # in the work (UTM) CRS
    class_name: str


def generate(
    drone_raster: str | Path,
    out: str | Path,
    satellite_raster: str | Path | None = None,
    objects: str | Path | None = None,
    options: SynthOptions | None = None,
    progress: bool = False,
) -> SynthSummary:
    """Write a CVOGL-layout dataset under ``out/<options.dataset>/``; returns a summary.

    ``satellite_raster`` defaults to ``drone_raster`` (resampled to ``tile_gsd_m``);
    ``objects`` is any vector file GDAL reads (polygons, any CRS), else image regions are
    sampled.
    """
    from tqdm import tqdm

    opt = options or SynthOptions()
    drone = open_raster(drone_raster)
    sat = open_raster(satellite_raster if satellite_raster is not None else drone_raster)
    if opt.tile_gsd_m < min(sat.pixel_size_m) * 0.99 / 2:
        raise SynthError(
            f"tile_gsd_m {opt.tile_gsd_m}: more than 2x finer than the satellite raster "
            f"({min(sat.pixel_size_m):.3g} m)"
        )
    work = _work_crs(drone)
    area = _common_area(drone, sat, work)
    rng = np.random.default_rng(opt.seed)
    extent = opt.tile_size * opt.tile_gsd_m
    if opt.whole_place:
        blocks = [(shapely.box(*_inner_box(area)), "test")]
    elif opt.holdout is not None:
        blocks = _holdout_blocks(area, *opt.holdout, extent)
    else:
        blocks = _blocks(area, extent * opt.block_factor, opt.split_ratios, rng)
    if not blocks:
        raise SynthError(
            f"rasters: their common area is smaller than one block ({extent * opt.block_factor:.0f} m); "
            "use a smaller tile_size or tile_gsd_m"
        )
    root = Path(out) / opt.dataset
    (root / "query").mkdir(parents=True, exist_ok=True)
    (root / "satellite").mkdir(parents=True, exist_ok=True)
    summary = SynthSummary(out=str(root), crs=work.to_string())
    summary.blocks = {s: sum(1 for b in blocks if b[1] == s) for s in SPLITS}
    objs = (
        _read_objects(objects, work, opt.class_field, opt.default_class)
        if objects is not None
        else _sample_regions(blocks, opt, rng)
    )
    records: dict[str, list[Record]] = {s: [] for s in SPLITS}
    poses: dict[str, dict] = {}
    chip_cache: dict[int, tuple[np.ndarray, TileSpec]] = {}
    next_id = 0
    tree = shapely.STRtree([b[0] for b in blocks])
    order = list(range(len(objs)))
    if opt.max_objects:
        rng.shuffle(order)
        order = order[: opt.max_objects]
    for i in tqdm(order, desc="synth", unit="object", disable=not progress):
        obj = objs[i]
        hits = [j for j in tree.query(obj.footprint, predicate="within")]
        if not hits:
            summary.drop(
                "not inside one block" if area.intersects(obj.footprint) else "outside rasters"
            )
            continue
        block, split = blocks[hits[0]]
        summary.objects += 1
        for _ in range(opt.views_per_object):
            sample = _make_sample(
                obj, block, hits[0], drone, sat, work, opt, rng, chip_cache, summary
            )
            if sample is None:
                continue
            query_rgb, click, tile_rgb, geo, box, poly, cam = sample
            qname = f"{next_id:06d}.jpg"
            sname = satellite_name(geo)
            if opt.metadata:
                meta_rng = np.random.default_rng([opt.seed, next_id, 13])
                exif, xmp, poses[qname] = view_metadata(cam, work, opt, meta_rng)
                save_jpeg(root / "query" / qname, query_rgb, exif=exif, xmp=xmp, quality=92)
            else:
                Image.fromarray(query_rgb).save(root / "query" / qname, quality=92)
            Image.fromarray(tile_rgb).save(root / "satellite" / sname, quality=92)
            records[split].append(
                Record(next_id, qname, sname, click, click, tuple(box), tuple(poly), obj.class_name)
            )
            next_id += 1
    for s in SPLITS:
        save_split(records[s], root / f"{opt.dataset}_{s}.pth")
        summary.samples[s] = len(records[s])
    if opt.metadata:
        (root / "poses.json").write_text(json.dumps(poses, indent=1) + "\n", encoding="utf-8")
    manifest = {
        "generator": "ocgnet-geo synth",
        "note": "drone views only: street-level views cannot be rendered from an orthophoto",
        "drone_raster": str(drone.source),
        "satellite_raster": str(sat.source),
        "objects": str(objects) if objects is not None else None,
        "options": asdict(opt),
        "summary": asdict(summary),
        "blocks": [{"bounds": list(b.bounds), "split": s} for b, s in blocks],
    }
    (root / "synth.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return summary


# --- area, blocks and objects ---------------------------------------------------------------


def _work_crs(info: RasterInfo) -> CRS:
    """The UTM zone of the raster centre (metric, as CVOGL's tile names)."""
    b = info.bounds
    lon, lat = lonlat_of(info.crs, (b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    return utm_crs_for(lon, lat)


def _common_area(drone: RasterInfo, sat: RasterInfo, work: CRS) -> shapely.Geometry:
    a = reproject_geometries(np.array([drone.footprint]), drone.crs, work)[0]
    b = reproject_geometries(np.array([sat.footprint]), sat.crs, work)[0]
    common = shapely.intersection(a, b)
    if common.is_empty:
        raise SynthError("rasters: the drone and satellite rasters do not overlap")
    return common


def _blocks(area, size: float, ratios: Sequence[float], rng) -> list[tuple[shapely.Geometry, str]]:
    """Square blocks inside ``area``, each assigned a split (val/test get one when possible)."""
    x0, y0, x1, y1 = area.bounds
    nx, ny = int((x1 - x0) // size), int((y1 - y0) // size)
    ox, oy = x0 + ((x1 - x0) - nx * size) / 2, y0 + ((y1 - y0) - ny * size) / 2
    cells = [
        shapely.box(ox + i * size, oy + j * size, ox + (i + 1) * size, oy + (j + 1) * size)
        for j in range(ny)
        for i in range(nx)
    ]
    cells = [c for c in cells if area.contains(c)]
    n = len(cells)
    total = sum(ratios)
    n_val = round(n * ratios[1] / total)
    n_test = round(n * ratios[2] / total)
    if n >= 3:
        n_val, n_test = max(n_val, 1 if ratios[1] else 0), max(n_test, 1 if ratios[2] else 0)
    labels = ["val"] * n_val + ["test"] * n_test
    labels = labels[:n] + ["train"] * (n - len(labels[:n]))
    perm = rng.permutation(n)
    return [(cells[k], labels[r]) for r, k in enumerate(perm)]


HOLDOUT_SIDES = ("east", "west", "north", "south")


def _holdout_blocks(area, side: str, fraction: float, extent: float):
    """Two rectangles inside ``area``: the ``side`` strip (test) and the rest (train)."""
    if side not in HOLDOUT_SIDES or not 0 < fraction < 1:
        raise SynthError(
            f"holdout ({side!r}, {fraction}): side must be one of {list(HOLDOUT_SIDES)} "
            "and fraction between 0 and 1"
        )
    x0, y0, x1, y1 = _inner_box(area)
    if side in ("east", "west"):
        cut = x1 - fraction * (x1 - x0) if side == "east" else x0 + fraction * (x1 - x0)
        low, high = shapely.box(x0, y0, cut, y1), shapely.box(cut, y0, x1, y1)
    else:
        cut = y1 - fraction * (y1 - y0) if side == "north" else y0 + fraction * (y1 - y0)
        low, high = shapely.box(x0, y0, x1, cut), shapely.box(x0, cut, x1, y1)
    test, train = (high, low) if side in ("east", "north") else (low, high)
    for name, rect in (("test", test), ("train", train)):
        bx0, by0, bx1, by1 = rect.bounds
        if min(bx1 - bx0, by1 - by0) < extent:
            raise SynthError(
                f"holdout ({side!r}, {fraction}): the {name} part ({bx1 - bx0:.0f} x "
                f"{by1 - by0:.0f} m) is smaller than one tile ({extent:.0f} m)"
            )
    return [(train, "train"), (test, "test")]


def _inner_box(area, steps: int = 200) -> tuple[float, float, float, float]:
    """An axis-aligned rectangle inside ``area`` (its bounds, shrunk until contained)."""
    x0, y0, x1, y1 = area.bounds
    for k in range(steps):
        d = k * min(x1 - x0, y1 - y0) / (2 * steps)
        box = shapely.box(x0 + d, y0 + d, x1 - d, y1 - d)
        if area.contains(box):
            return box.bounds
    raise SynthError("rasters: their common area holds no rectangle")


def _read_objects(
    path: str | Path, work: CRS, class_field: str | None, default_class: str
) -> list[SynthObject]:
    import geopandas as gpd

    try:
        gdf = gpd.read_file(path)
    except Exception as err:  # pyogrio raises several types for unreadable files
        raise SynthError(
            f"objects {path}: not a readable vector file ({str(err).splitlines()[0]})"
        ) from None
    if gdf.crs is None:
        raise SynthError(f"objects {path}: has no CRS")
    gdf = gdf[gdf.geometry.notna() & gdf.geom_type.isin(["Polygon", "MultiPolygon"])]
    if class_field is not None and class_field not in gdf.columns:
        raise SynthError(f"objects {path}: no column {class_field!r}")
    geoms = reproject_geometries(np.asarray(gdf.geometry.values, dtype=object), gdf.crs, work)
    out = []
    for k, g in enumerate(geoms):
        if class_field is not None:
            cls = str(gdf[class_field].iloc[k])
        elif "building" in gdf.columns:
            value = gdf["building"].iloc[k]
            cls = "building" if value in (None, "yes") or value != value else f"building_{value}"
        else:
            cls = default_class
        out.append(SynthObject(shapely.make_valid(g), cls))
    return out


def _sample_regions(blocks, opt: SynthOptions, rng) -> list[SynthObject]:
    """Random rotated rectangles inside each block (no footprint file)."""
    out = []
    for block, _ in blocks:
        x0, y0, x1, y1 = block.bounds
        count = opt.regions_per_block
        if opt.regions_per_ha > 0:
            count = round(opt.regions_per_ha * block.area / 10_000)
        for _ in range(count):
            w, h = rng.uniform(*opt.region_size_m, size=2)
            cx, cy = rng.uniform(x0 + w, x1 - w), rng.uniform(y0 + h, y1 - h)
            rect = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            out.append(SynthObject(affinity.rotate(rect, rng.uniform(0, 90)), "region"))
    return out


# --- one sample -------------------------------------------------------------------------


def _make_sample(obj, block, block_id, drone, sat, work, opt: SynthOptions, rng, cache, summary):
    tile = _place_tile(obj.footprint, block, opt, rng, work)
    if tile is None:
        summary.drop("object larger than the tile")
        return None
    spec, geo = tile
    box = polygons_to_boxes(np.array([obj.footprint]), spec)[0]
    if min(box[2] - box[0], box[3] - box[1]) < opt.min_object_px:
        summary.drop("object smaller than min_object_px")
        return None
    tile_rgb, valid = read_tile(sat, spec)
    if valid.mean() < 0.98:
        summary.drop("satellite tile has nodata")
        return None
    rect = shapely.minimum_rotated_rectangle(obj.footprint)
    corners = np.asarray(rect.exterior.coords)[:4]
    inv = ~spec.transform
    poly = [v for x, y in corners for v in inv @ (x, y)]
    view = _render_view(obj, block, block_id, drone, work, opt, rng, cache)
    if view is None:
        summary.drop("no camera keeps the object in view")
        return None
    query, click, cam = view
    return query, click, tile_rgb, geo, [float(v) for v in box], poly, cam


def _place_tile(footprint, block, opt: SynthOptions, rng, work: CRS):
    """A tile inside ``block`` containing the footprint, at a random offset."""
    ext = opt.tile_size * opt.tile_gsd_m
    ox0, oy0, ox1, oy1 = footprint.bounds
    bx0, by0, bx1, by1 = block.bounds
    lo_x, hi_x = max(bx0, ox1 - ext), min(bx1 - ext, ox0)
    lo_y, hi_y = max(by0, oy1 - ext), min(by1 - ext, oy0)
    if lo_x > hi_x or lo_y > hi_y:
        return None
    cx = round(rng.uniform(lo_x, hi_x) + ext / 2, 2)
    cy = round(rng.uniform(lo_y, hi_y) + ext / 2, 2)
    epsg = work.to_epsg() or 0
    geo = SatelliteGeo(cx, cy, ext, epsg)
    g = opt.tile_gsd_m
    spec = TileSpec(
        id=satellite_name(geo, ""),
        crs=work,
        transform=Affine(g, 0, cx - ext / 2, 0, -g, cy + ext / 2),
        width=opt.tile_size,
        height=opt.tile_size,
        gsd_m=g,
    )
    return spec, geo


def _chip(block, block_id, drone: RasterInfo, work: CRS, cache, max_px: int = 2048):
    """The drone raster over ``block``'s bounds (any proportions) in the work CRS, at most
    ``max_px`` on its long side (cached per block)."""
    if block_id not in cache:
        cache.clear()
        x0, y0, x1, y1 = block.bounds
        g = max(min(drone.pixel_size_m), max(x1 - x0, y1 - y0) / max_px)
        nx, ny = math.ceil((x1 - x0) / g), math.ceil((y1 - y0) / g)
        spec = TileSpec("chip", work, Affine(g, 0, x0, 0, -g, y1), nx, ny, g)
        rgb, _ = read_tile(drone, spec)
        cache[block_id] = (rgb, spec)
    return cache[block_id]


def _render_view(obj, block, block_id, drone, work, opt: SynthOptions, rng, cache, tries: int = 12):
    chip, spec = _chip(block, block_id, drone, work, cache)
    n = opt.query_size
    centre = obj.footprint.representative_point()
    ox0, oy0, ox1, oy1 = obj.footprint.bounds
    size = max(ox1 - ox0, oy1 - oy0)
    for _ in range(tries):
        hfov = rng.uniform(*opt.hfov_deg)
        pitch = rng.uniform(*opt.pitch_deg)
        if opt.altitude_m is not None:
            alt = rng.uniform(*opt.altitude_m)
        else:
            alt = size / (rng.uniform(*opt.frame_fraction) * 2 * math.tan(math.radians(hfov) / 2))
            alt = max(alt, 10.0)
        jitter = rng.uniform(-0.25, 0.25, size=2) * size
        cam = DroneCamera(
            (centre.x + jitter[0], centre.y + jitter[1]),
            alt,
            pitch,
            rng.uniform(*opt.yaw_deg) % 360,
            hfov,
            n * SUPERSAMPLE,
            n * SUPERSAMPLE,
        )
        if cam.max_ray_angle_deg() > opt.max_ray_deg:
            continue
        click = cam.project(np.array([[centre.x, centre.y]]))[0] / SUPERSAMPLE
        outline = cam.project(np.asarray(obj.footprint.exterior.coords)) / SUPERSAMPLE
        if outline.min() < 0 or outline.max() >= n:
            continue
        img = _warp(chip, spec, cam)
        img = np.asarray(Image.fromarray(img).reduce(SUPERSAMPLE))
        if opt.photometric:
            img = drone_look(img, rng)
        return img, (float(click[0]), float(click[1])), cam
    return None


#: Sensor width (mm) of the 1/2.3" sensor assumed for the written focal length in mm (the
#: reader uses the 35 mm equivalent: no sensor size is written, as on many drones).
SENSOR_WIDTH_MM = 6.17


def view_metadata(cam: DroneCamera, work: CRS, opt: SynthOptions, rng) -> tuple:
    """(EXIF, DJI XMP, truth) for a rendered view: the camera position (EPSG:4326) off by
    ``gps_error_m`` in a random direction, the gimbal yaw with a Gaussian error and a 180°
    flip in ``yaw_flip`` of the views, the gimbal pitch (0 = horizon, -90 = down), the
    altitude above take-off within ``altitude_error`` of the true height, the focal length
    (35 mm equivalent over the diagonal) of the view as written (``query_size`` px)."""
    from ocgnet_geo.data.photo_meta import dji_xmp, pose_exif

    centre = cam._axes()[0]
    err = rng.uniform(*opt.gps_error_m)
    angle = rng.uniform(0, 2 * math.pi)
    gx, gy = centre[0] + err * math.sin(angle), centre[1] + err * math.cos(angle)
    lon, lat = lonlat_of(work, gx, gy)
    flipped = bool(rng.random() < opt.yaw_flip)
    yaw = cam.yaw_deg + rng.normal(0, opt.yaw_error_deg) + (180.0 if flipped else 0.0)
    yaw = (yaw + 180.0) % 360.0 - 180.0  # DJI writes -180..180
    rel_alt = cam.altitude_m * rng.uniform(1 - opt.altitude_error, 1 + opt.altitude_error)
    size = opt.query_size
    focal_px = cam.focal_px / SUPERSAMPLE
    f35 = focal_px * math.hypot(36.0, 24.0) / math.hypot(size, size)
    exif = pose_exif(
        lat=lat,
        lon=lon,
        gps_altitude_m=rel_alt + 100.0,
        focal_mm=focal_px / size * SENSOR_WIDTH_MM,
        focal_35mm=f35,
        make="ocgnet-geo synth",
        model="DroneCamera",
    )
    xmp = dji_xmp(
        GimbalYawDegree=yaw,
        GimbalPitchDegree=cam.pitch_deg - 90.0,
        FlightYawDegree=yaw,
        RelativeAltitude=rel_alt,
        AbsoluteAltitude=rel_alt + 100.0,
    )
    truth = {
        "camera_xy": [float(centre[0]), float(centre[1])],
        "crs": work.to_string(),
        "gps_error_m": err,
        "yaw_deg": cam.yaw_deg,
        "yaw_written_deg": yaw,
        "yaw_flipped": flipped,
        "pitch_deg": cam.pitch_deg,
        "altitude_m": cam.altitude_m,
        "relative_altitude_m": rel_alt,
        "focal_px": focal_px,
    }
    return exif, xmp, truth


def camera_of_truth(truth: dict, size_px: int) -> DroneCamera:
    """The camera of a rendered view (``size_px`` square, as written) from its true pose in
    ``poses.json`` (:func:`view_metadata`'s third item; ground metres in ``truth["crs"]``)."""
    th, ps = math.radians(truth["pitch_deg"]), math.radians(truth["yaw_deg"])
    heading = np.array([math.sin(ps), math.cos(ps)])  # unit vector, ground x east, y north
    reach = truth["altitude_m"] * math.tan(th)  # ground distance camera -> optical-axis point
    target = np.asarray(truth["camera_xy"], dtype=np.float64) + reach * heading
    hfov = 2 * math.degrees(math.atan((size_px / 2) / truth["focal_px"]))
    return DroneCamera(
        (float(target[0]), float(target[1])),
        truth["altitude_m"],
        truth["pitch_deg"],
        truth["yaw_deg"],
        hfov,
        size_px,
        size_px,
    )


def _warp(chip: np.ndarray, spec: TileSpec, cam: DroneCamera) -> np.ndarray:
    """Render the camera image from the chip (outside the chip: its mean colour as haze)."""
    ground_to_chip = np.array(~spec.transform).reshape(3, 3)
    h = ground_to_chip @ cam.image_to_ground()
    haze = tuple(int(v) for v in chip.reshape(-1, 3).mean(axis=0))
    out = Image.fromarray(chip).transform(
        (cam.width, cam.height),
        Image.PERSPECTIVE,
        pillow_perspective(h),
        Image.BILINEAR,
        fillcolor=haze,
    )
    return np.asarray(out)


__all__ = ["SynthOptions", "SynthSummary", "camera_of_truth", "generate"]
