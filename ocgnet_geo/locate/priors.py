"""Soft priors from a photo's metadata (:class:`~ocgnet_geo.geo.photo_pose.PhotoPose`): where
to search, at what scale, at what heading. They narrow the search; they never decide it.

* **area**: a circle around the camera's ground position (GPS, EPSG:4326, transformed to the
  search grid's CRS with pyproj) whose radius is the ground distance from the camera to the
  clicked point (height x the click ray's horizontal reach from pitch, focal length and the
  click's place in the photo, x :data:`ALTITUDE_MARGIN`) plus :data:`GPS_MARGIN_M`. The
  circle is centred on the camera, not shifted ahead in the yaw direction: a yaw read 180°
  wrong would then exclude the object; the look-ahead sets the radius instead. Without an
  altitude the radius is :data:`DEFAULT_RADIUS_M` + the margin. A GPS position outside the
  raster is rejected (warning; the whole raster is searched). A user's ``bbox`` overrides it.
* **scale**: the working photo's ground resolution at the click (metres per working-photo
  pixel): the click ray's slant range / (focal length px x cos^0.5 of its off-nadir angle),
  the geometric mean of the across- and along-ray resolutions; the matcher searches
  ``÷/x`` :data:`SCALE_MARGIN` around it instead of its fixed range. Needs the altitude above
  take-off (DJI ``RelativeAltitude``; GPS altitude is above sea level) and a focal length
  (mm with a known sensor width, else the 35 mm equivalent over the image diagonal).
* **heading**: the direction the shown photo's top faces (gimbal yaw, else flight yaw, turned
  by the EXIF orientation) ± :data:`HEADING_TOLERANCE_DEG`; a user's ``heading`` overrides it.

When the prior search finds nothing that verifies (see ``Locator.locate``), the pipeline
searches again without the priors and says so. Lengths are metres, angles degrees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from pyproj import CRS

from ocgnet_geo.errors import InputError
from ocgnet_geo.geo.crs import ground_scale, transformer
from ocgnet_geo.geo.photo_pose import PhotoPose

MODES = ("auto", "off")
#: Horizontal error allowed for the GPS position, metres (consumer GPS: 5-15 m).
GPS_MARGIN_M = 30.0
#: Search-area radius (before the margin) when the photo has GPS but no altitude, metres.
DEFAULT_RADIUS_M = 300.0
#: Most oblique ray considered, degrees off nadir.
MAX_RAY_DEG = 80.0
#: The click's ground distance from the camera is taken this much farther (altitude above
#: take-off is not altitude above the object).
ALTITUDE_MARGIN = 1.25
#: Off-nadir angle assumed when the photo has no pitch, degrees.
DEFAULT_OFF_NADIR_DEG = 45.0
#: Horizontal field of view assumed when the focal length is unknown, degrees (DJI's 84°).
DEFAULT_HFOV_DEG = 84.0
#: The scale search spans the prior ground resolution ÷/x this factor (altitude above
#: take-off is not altitude above the object; focal equivalents are rounded).
SCALE_MARGIN = 2.0
#: Half width of the heading search around the prior, degrees.
HEADING_TOLERANCE_DEG = 45.0


class PriorsError(InputError):
    """A priors mode that is not one of :data:`MODES`."""


def check_priors(mode: object) -> str:
    """``mode`` if it is ``auto`` or ``off`` (also True/False/None), else a one-line error."""
    if mode is None or mode is True:
        return "auto"
    if mode is False:
        return "off"
    if isinstance(mode, str) and mode.strip().lower() in MODES:
        return mode.strip().lower()
    raise PriorsError(f"priors {mode!r}: expected one of {', '.join(MODES)}")


@dataclass
class Prior:
    """One prior's fate: ``status`` is ``used``, ``overridden`` (by the user's bbox or
    heading), ``absent`` (the photo lacks what it needs), ``rejected`` (metadata unusable,
    e.g. GPS outside the raster), ``widened`` (used, found nothing that verifies, searched
    without it) or ``off``; ``value`` what it said, ``source`` where it came from."""

    status: str
    value: Any = None
    source: str = ""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status}
        if self.value is not None:
            out["value"] = self.value
        if self.source:
            out["source"] = self.source
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class SearchPriors:
    """The priors of one search. ``area`` (grid CRS polygon) and ``camera_xy`` are None unless
    the area prior is used; ``photo_gsd_range_m`` is the working-photo ground resolution range
    to search (metres per working px) or None; ``heading`` is (centre, tolerance) degrees or
    None. ``warnings`` are one-line messages for the user."""

    mode: str
    area: shapely.Geometry | None = None
    grid_crs: CRS | None = None
    camera_xy: tuple[float, float] | None = None
    camera_lonlat: tuple[float, float] | None = None
    photo_gsd_range_m: tuple[float, float] | None = None
    heading: tuple[float, float] | None = None
    priors: dict[str, Prior] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def narrowed(self) -> bool:
        """Whether any prior narrows the search (so a fallback search is possible)."""
        return any(p.status == "used" for p in self.priors.values())

    def metadata(self) -> dict[str, Any]:
        """For result metadata: the mode, the camera position (EPSG:4326) and each prior."""
        out: dict[str, Any] = {"mode": self.mode}
        if self.camera_lonlat is not None:
            out["camera_lonlat"] = [round(v, 7) for v in self.camera_lonlat]
        out.update({name: p.as_dict() for name, p in self.priors.items()})
        return out

    def summary(self) -> str:
        """One line: ``area used, scale absent, heading overridden``."""
        return ", ".join(f"{name} {p.status}" for name, p in self.priors.items())


def plan_priors(
    pose: PhotoPose | None,
    mode: str,
    *,
    footprint: shapely.Geometry,
    grid_crs: CRS,
    click_shown: tuple[float, float],
    shown_size: tuple[int, int],
    working_long_side: int,
    has_bbox: bool,
    has_heading: bool,
    raster_name: str = "raster",
) -> SearchPriors:
    """The priors of a search from the photo's ``pose``.

    ``footprint`` is the raster's footprint in ``grid_crs``; ``click_shown`` the click in the
    shown photo's pixels (EXIF orientation applied) of size ``shown_size`` (w, h);
    ``working_long_side`` the long side the matcher reduces the photo to; ``has_bbox`` /
    ``has_heading``: the user gave one (the prior is then overridden)."""
    out = SearchPriors(mode=mode, grid_crs=grid_crs)
    if mode == "off":
        out.priors = {n: Prior("off") for n in ("area", "scale", "heading")}
        return out
    if pose is None:
        out.priors = {n: Prior("absent", note="no metadata") for n in ("area", "scale", "heading")}
        return out
    for kind, prior in (("Focal", "scale"), ("GPS", "area")):
        found = [p for p in pose.problems if kind in p]
        if found:
            out.warnings.append(
                f"photo {pose.path!r}: {'; '.join(found)}: the {prior} prior is not used"
            )
    height = pose.height_above_ground_m()
    off_nadir = pose.off_nadir_deg()
    focal = pose.focal_px()
    out.priors["area"] = _area(
        out, pose, height, off_nadir, focal, footprint, has_bbox, raster_name, click_shown,
        shown_size,
    )  # fmt: skip
    out.priors["scale"] = _scale(
        out, pose, height, off_nadir, focal, click_shown, shown_size, working_long_side
    )
    out.priors["heading"] = _heading(out, pose, has_heading)
    return out


def click_ray(
    off_nadir_deg: float, f_px: float, click: tuple[float, float], size: tuple[int, int]
) -> tuple[float, float, float]:
    """Where the ray through ``click`` (shown-photo px, the photo's top facing forward) meets
    flat ground, per metre of camera height: (horizontal distance, slant range, off-nadir
    angle of the ray in degrees), the angle capped at :data:`MAX_RAY_DEG`."""
    th = math.radians(off_nadir_deg)
    u = (click[0] - size[0] / 2) / f_px
    v = (click[1] - size[1] / 2) / f_px  # down in the image: back towards the camera
    forward = math.sin(th) - v * math.cos(th)
    down = math.cos(th) + v * math.sin(th)
    horizontal = math.hypot(forward, u)
    angle = math.degrees(math.atan2(horizontal, down)) if down > 0 else 90.0
    if angle > MAX_RAY_DEG:
        t = math.tan(math.radians(MAX_RAY_DEG))
        return t, math.hypot(t, 1.0), MAX_RAY_DEG
    return horizontal / down, math.hypot(horizontal, down) / down, angle


def _area(out, pose, height, off_nadir, focal, footprint, has_bbox, raster_name, click, size):
    if not pose.has_gps:
        return Prior("absent", note="no GPS position")
    lonlat = (float(pose.lon), float(pose.lat))
    out.camera_lonlat = lonlat
    x, y = transformer(CRS.from_epsg(4326), out.grid_crs).transform(*lonlat)
    if not (math.isfinite(x) and math.isfinite(y)):
        return Prior("rejected", note="GPS position not representable in the raster's CRS")
    out.camera_xy = (x, y)
    source = pose.sources.get("lat", "EXIF GPS")
    if has_bbox:
        return Prior("overridden", source=source, note="bbox given")
    if height is None:
        radius = DEFAULT_RADIUS_M
        how = f"no altitude: {DEFAULT_RADIUS_M:g} m"
    else:
        pitch = off_nadir[0] if off_nadir else DEFAULT_OFF_NADIR_DEG
        f_px = focal[0] if focal else size[0] / 2 / math.tan(math.radians(DEFAULT_HFOV_DEG / 2))
        distance = click_ray(pitch, f_px, click, size)[0] * height[0]
        radius = distance * ALTITUDE_MARGIN
        how = f"click {distance:.0f} m from the camera at {height[0]:.0f} m height"
    radius += GPS_MARGIN_M
    per_unit = float(np.mean(ground_scale(out.grid_crs, x, y, step=1.0)))  # metres per CRS unit
    circle = shapely.Point(x, y).buffer(radius / per_unit, quad_segs=16)
    if not shapely.intersects(footprint, shapely.Point(x, y)):
        out.warnings.append(
            f"photo {pose.path!r}: its GPS position ({lonlat[1]:.6f}, {lonlat[0]:.6f}) lies "
            f"outside {raster_name}; searching the whole raster"
        )
        return Prior("rejected", value={"lon": lonlat[0], "lat": lonlat[1]}, source=source,
                     note="GPS position outside the raster")  # fmt: skip
    out.area = shapely.intersection(circle, footprint)
    return Prior(
        "used",
        value={"radius_m": round(radius, 1), "gps_margin_m": GPS_MARGIN_M},
        source=source,
        note=how,
    )


def _scale(out, pose, height, off_nadir, focal, click, shown_size, working_long_side) -> Prior:
    if height is None:
        return Prior("absent", note="no altitude above ground (DJI RelativeAltitude)")
    if focal is None:
        return Prior("absent", note="no usable focal length")
    f_px = focal[0]
    pitch = off_nadir[0] if off_nadir else 0.0
    w, h = shown_size
    _, slant, ray = click_ray(pitch, f_px, click, shown_size)
    # across the ray: slant range / focal; along it, stretched by 1 / cos(ray): geometric mean
    gsd_full = height[0] * slant / (f_px * math.cos(math.radians(ray)) ** 0.5)
    reduce = min(1.0, working_long_side / max(w, h))
    gsd = gsd_full / reduce
    if not (math.isfinite(gsd) and gsd > 0):
        return Prior("rejected", note="ground resolution not finite")
    out.photo_gsd_range_m = (gsd / SCALE_MARGIN, gsd * SCALE_MARGIN)
    note = f"{height[1]}, {focal[1]}" + (f", {off_nadir[1]}" if off_nadir else ", nadir assumed")
    return Prior(
        "used",
        value={
            "photo_gsd_m": round(gsd_full, 5),
            "working_gsd_m": round(gsd, 4),
            "margin": SCALE_MARGIN,
        },
        source=note,
    )


def _heading(out, pose, has_heading) -> Prior:
    heading = pose.heading()
    if heading is None:
        return Prior("absent", note="no yaw")
    if has_heading:
        return Prior("overridden", value=round(heading[0], 2), source=heading[1],
                     note="heading given")  # fmt: skip
    out.heading = (heading[0], HEADING_TOLERANCE_DEG)
    return Prior(
        "used",
        value={"deg": round(heading[0], 2), "tolerance_deg": HEADING_TOLERANCE_DEG},
        source=heading[1],
    )


def area_lonlat(priors: SearchPriors) -> list[list[float]] | None:
    """The search area's outer ring as EPSG:4326 [lon, lat] pairs (for display), or None."""
    if priors.area is None or priors.area.is_empty:
        return None
    geom = priors.area if priors.area.geom_type == "Polygon" else priors.area.convex_hull
    xy = np.asarray(geom.exterior.coords)
    lon, lat = transformer(priors.grid_crs, CRS.from_epsg(4326)).transform(xy[:, 0], xy[:, 1])
    return [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat, strict=True)]
