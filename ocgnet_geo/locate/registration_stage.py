"""The registration stage of the pipeline: where to register the photo, and what a
registration gives (the clicked object's outline, the click and the photo's footprint on the
map).

Where (:meth:`RegistrationStage.windows`):

* the whole search area (the raster, the user's bbox, or the photo's GPS prior area) when it
  fits one window of at most :data:`AREA_WINDOW_PX` px at no coarser than
  :data:`MAX_AREA_GSD_M` m/px; the window's ground resolution follows the raster (its native
  resolution when the area is small enough, never the search tiles' fixed 0.5 m);
* otherwise windows around the template search's best candidates (:data:`CANDIDATE_WINDOWS`),
  each a few photo footprints wide at the matched scale.

The coarse search proposes, registration decides: the first window whose registration is
:data:`~ocgnet_geo.locate.register.STOP_PROBABILITY` sure ends the stage; otherwise the most
probable plausible registration wins.

What (:func:`registered_outline`): the clicked object's outline in the photo (the matcher's
segmentation head, :mod:`.extent`) carried through the homography (``outline="photo"``); or
the object cut out of the raster window around the registered click
(:mod:`.raster_outline`) with a size hint from the photo's footprint alone (``"raster"``) or
from the photo's outline carried across (``"both"``). Without any, a small square around
the click. All geometry leaves this module in the search grid's CRS.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from affine import Affine

from ocgnet_geo.errors import InputError
from ocgnet_geo.geo.raster import RasterInfo, read_tile
from ocgnet_geo.geo.tile import TileSpec
from ocgnet_geo.locate.register import Registration, register

MODES = ("auto", "sift", "xfeat", "off")
OUTLINES = ("photo", "raster", "both")
#: Long side (px) of the photo copy that is registered (never enlarged).
PHOTO_LONG_SIDE = 1024
#: A search area is registered as one window when it fits this many px a side ...
AREA_WINDOW_PX = 2048
#: ... at a ground resolution no coarser than this (m/px).
MAX_AREA_GSD_M = 0.6
#: Otherwise: windows around this many template candidates, at most this many px a side,
#: this many photo footprints wide.
CANDIDATE_WINDOWS = 3
CANDIDATE_WINDOW_PX = 1024
CANDIDATE_FOOTPRINTS = 3.0
#: Windows with less valid (not nodata) area than this share are not registered.
MIN_VALID_SHARE = 0.2
#: Window features kept between clicks (per family), the photo-independent half of the work.
WINDOWS_KEPT = 8
#: The fallback outline: a square of this share of the photo footprint's side.
FALLBACK_SHARE = 0.08


class RegisterModeError(InputError):
    """A registration mode or outline source that is not one of the known ones."""


def check_register(mode: object) -> str:
    if mode is None:
        return "auto"
    if mode not in MODES:
        raise RegisterModeError(f"register {mode!r}: expected one of {', '.join(MODES)}")
    return str(mode)


#: The default outline source: measured best on the real development photos (acc@0.5 0.56
#: against 0.44 for "raster" and 0.22 for "photo", docs/real-photos.md); the raster-side
#: cut itself was chosen on OSM footprints of other places (docs/raster-outline.md).
DEFAULT_OUTLINE = "both"


def check_outline(outline: object) -> str:
    if outline is None:
        return DEFAULT_OUTLINE
    if outline not in OUTLINES:
        raise RegisterModeError(f"outline {outline!r}: expected one of {', '.join(OUTLINES)}")
    return str(outline)


@dataclass(frozen=True)
class Registered:
    """A registration placed on the map: the window it was made against (grid CRS), the
    :class:`~ocgnet_geo.locate.register.Registration`, the clicked object's outline and the
    photo's footprint as polygons in the window's (grid) CRS, and the outline's source."""

    window: TileSpec
    registration: Registration
    outline: shapely.Polygon
    footprint: shapely.Polygon | None
    outline_source: str

    @property
    def box_px(self) -> tuple[float, float, float, float]:
        """The outline's envelope in window px."""
        inverse = ~self.window.transform
        xs, ys = shapely.get_coordinates(self.outline).T
        cols, rows = inverse @ (xs, ys)
        return (float(min(cols)), float(min(rows)), float(max(cols)), float(max(rows)))


class RegistrationStage:
    """Registers photos to raster windows, keeping the windows' features between clicks."""

    def __init__(self) -> None:
        self._families: dict[str, Any] = {}
        self._windows: OrderedDict[tuple, Any] = OrderedDict()

    def families(self, mode: str) -> list[Any]:
        from ocgnet_geo.locate.features import FAMILIES

        names = ["sift", "xfeat"] if mode == "auto" else [mode]
        for name in names:
            if name not in self._families:
                self._families[name] = FAMILIES[name]()
        return [self._families[n] for n in names]

    def run(
        self,
        mode: str,
        photo_rgb: np.ndarray,
        click: tuple[float, float],
        windows: Sequence[tuple[TileSpec, list[float] | None, list[int] | None]],
        info: RasterInfo,
        raster_key: str,
        cancel: Callable[[], bool] | None = None,
    ) -> tuple[TileSpec, Registration, np.ndarray] | None:
        """The best registration of the photo (uint8 RGB, ``click`` in its px) over
        ``windows`` = (window, photo scales or None, rotations or None) in order, with the
        window it was made against and that window's pixels."""
        from ocgnet_geo.locate.register import STOP_PROBABILITY

        families = self.families(mode)
        best: tuple[TileSpec, Registration, np.ndarray] | None = None
        for window, scales, rotations in windows:
            if cancel is not None and cancel():
                break
            rgb, valid = read_tile(info, window)
            if valid.mean() < MIN_VALID_SHARE:
                continue
            key = (raster_key, window.key)

            def features(family, key=key, rgb=rgb):
                entry = (*key, family.name)
                if entry not in self._windows:
                    self._windows[entry] = family.window_features(rgb)
                    while len(self._windows) > WINDOWS_KEPT * 2:
                        self._windows.popitem(last=False)
                self._windows.move_to_end(entry)
                return self._windows[entry]

            found = register(
                photo_rgb, click, rgb, features, families,
                rotations=rotations, scales=scales, cancel=cancel,
            )  # fmt: skip
            if found is not None and (best is None or found.probability > best[1].probability):
                best = (window, found, rgb)
            if best is not None and best[1].probability >= STOP_PROBABILITY:
                break
        return best


def area_window(area: shapely.Geometry, reference: TileSpec, info: RasterInfo) -> TileSpec | None:
    """One north-up window over ``area`` (grid CRS, the CRS of ``reference``, a search
    tile) at the raster's native resolution, coarsened to fit :data:`AREA_WINDOW_PX`; None
    when that would be coarser than :data:`MAX_AREA_GSD_M` (and than the raster itself)."""
    minx, miny, maxx, maxy = area.bounds
    units_per_px = abs(reference.transform.a)
    metres_per_unit = reference.gsd_m / units_per_px
    side_m = max(maxx - minx, maxy - miny) * metres_per_unit
    native = min(info.pixel_size_m)
    if side_m / AREA_WINDOW_PX > max(native, MAX_AREA_GSD_M):
        return None
    gsd = max(native, side_m / AREA_WINDOW_PX)
    step = gsd / metres_per_unit
    width = max(32, math.ceil((maxx - minx) / step))
    height = max(32, math.ceil((maxy - miny) / step))
    transform = Affine(step, 0.0, minx, 0.0, -step, maxy)
    return TileSpec("register-area", reference.crs, transform, width, height, gsd)


def candidate_window(cand: Any, photo_long_side: float, info: RasterInfo) -> TileSpec:
    """A north-up window around a template candidate, :data:`CANDIDATE_FOOTPRINTS` photo
    footprints wide at its matched scale (or 6 box sides without one), at the raster's
    native resolution coarsened to fit :data:`CANDIDATE_WINDOW_PX`."""
    tile = cand.tile_spec
    x0, y0, x1, y1 = cand.box_px
    side_px = 6 * max(x1 - x0, y1 - y0)
    if cand.scale:
        side_px = max(side_px, CANDIDATE_FOOTPRINTS * photo_long_side * cand.scale)
    native = min(info.pixel_size_m) / tile.gsd_m  # raster pixel in tile px
    step = max(native, side_px / CANDIDATE_WINDOW_PX)  # tile px per window px
    n = max(64, math.ceil(side_px / step))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    transform = tile.transform @ Affine.translation(cx - n * step / 2, cy - n * step / 2)
    transform = transform @ Affine.scale(step)
    return TileSpec(f"register-{cand.rank}", tile.crs, transform, n, n, tile.gsd_m * step)


def photo_scales(expected: float | None) -> list[float] | None:
    """XFeat's photo scales for an expected window px per photo px (None: the default
    ladder): the ladder step nearest to it first, then its neighbours."""
    from ocgnet_geo.locate.register import XFEAT_SCALES

    if expected is None or not math.isfinite(expected) or expected <= 0:
        return None
    nearest = min(1.0, max(0.125, expected))
    ladder = sorted({*XFEAT_SCALES, nearest}, key=lambda s: abs(math.log(s / nearest)))
    return ladder[:3]


def registered_outline(
    window: TileSpec,
    window_rgb: np.ndarray | None,
    registration: Registration,
    photo_size: tuple[int, int],
    photo_hull: np.ndarray | None,
    source: str,
) -> Registered:
    """Place a registration on the map (module docstring). ``photo_hull`` is the clicked
    object's hull in the registered photo's px (None when not measured); ``window_rgb`` the
    window's pixels (needed for ``source`` "raster" and "both")."""
    footprint = _photo_footprint(window, registration, photo_size)
    from_photo = None
    if photo_hull is not None and len(photo_hull) >= 3:
        from_photo = _polygon(window, registration.map_points(photo_hull))
    from_raster = None
    if source != "photo" and window_rgb is not None:
        from_raster = _raster_outline(
            window, window_rgb, registration, _size_hint(window, source, from_photo, footprint)
        )
    outline, used = from_photo, "photo"
    if from_raster is not None:
        outline, used = from_raster, source
    if outline is None:
        outline, used = _fallback(window, registration, footprint), "fallback"
    return Registered(window, registration, outline, footprint, used)


def _size_hint(window: TileSpec, source: str, from_photo, footprint) -> float:
    """The object's size in window px for the raster-side cut: with ``both``, the photo
    outline's (square root of its area) when there is one; else :data:`FALLBACK_SHARE` of
    the photo footprint's side (or 16 px)."""
    units = abs(window.transform.a)
    if source == "both" and from_photo is not None:
        return math.sqrt(from_photo.area) / units
    if footprint is not None:
        return FALLBACK_SHARE * math.sqrt(footprint.area) / units
    return 16.0


def _polygon(window: TileSpec, window_px: np.ndarray) -> shapely.Polygon | None:
    """A valid polygon in the grid CRS from a ring of window px (None when degenerate)."""
    if not np.all(np.isfinite(window_px)):
        return None
    xs, ys = window.transform @ (window_px[:, 0], window_px[:, 1])
    polygon = shapely.Polygon(np.column_stack([xs, ys]))
    if not polygon.is_valid:
        polygon = shapely.convex_hull(polygon)
    return polygon if isinstance(polygon, shapely.Polygon) and polygon.area > 0 else None


def _photo_footprint(window: TileSpec, registration: Registration, size: tuple[int, int]):
    w, h = size
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)
    return _polygon(window, registration.map_points(corners))


def _click_point(window: TileSpec, registration: Registration) -> shapely.Point:
    return shapely.Point(window.transform @ registration.click)


def _fallback(window: TileSpec, registration: Registration, footprint) -> shapely.Polygon:
    """A square around the registered click, :data:`FALLBACK_SHARE` of the footprint's
    side (or 10 window px)."""
    side = FALLBACK_SHARE * math.sqrt(footprint.area) if footprint is not None else 0.0
    side = max(side, 10 * abs(window.transform.a))
    return shapely.buffer(_click_point(window, registration), side / 2, cap_style="square")


def _raster_outline(window, window_rgb, registration, size_px: float):
    """The object cut out of the window around the registered click
    (:func:`~ocgnet_geo.locate.raster_outline.object_outline`), ``size_px`` its size hint in
    window px."""
    from ocgnet_geo.locate.raster_outline import object_outline

    hull = object_outline(window_rgb, registration.click, size_px)
    return None if hull is None or len(hull) < 3 else _polygon(window, hull)
