"""Tiling grids: where the model looks.

A :class:`TileSpec` is a north-up square-pixel window at the model's ground resolution.
:func:`tile_grid` covers a search area of any raster with overlapping tiles;
:func:`xyz_grid` aligns tiles to the Web-Mercator XYZ pyramid (one 1024-px tile = 4 x 4
XYZ tiles of 256 px).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import mercantile
import numpy as np
import shapely
from affine import Affine
from pyproj import CRS

from ocgnet_geo.errors import (
    BBoxAxisOrderError,
    BBoxOutsideRasterError,
    InvalidBBoxError,
    ResolutionOutOfRangeError,
    TooManyTilesError,
)
from ocgnet_geo.geo.boxes import reproject_geometries
from ocgnet_geo.geo.crs import ground_scale, lonlat_of, parse_crs, utm_crs_for
from ocgnet_geo.geo.raster import RasterInfo, open_raster
from ocgnet_geo.geo.tile import BBox, TileSpec

#: Requests finer than the raster by more than this factor are refused.
MAX_UPSAMPLING = 8.0
#: A requested resolution within this relative difference of the raster's own is snapped to it.
SNAP_TO_NATIVE = 0.01


def validate_bbox(bbox: Sequence[float], bbox_crs: object = "EPSG:4326") -> tuple[BBox, CRS]:
    """Check a user bbox (minx, miny, maxx, maxy; x = easting/longitude) and parse its CRS.

    Raises :class:`InvalidBBoxError` for a malformed, empty or zero-area box and
    :class:`BBoxAxisOrderError` when the box lies outside the CRS's area of use but would
    fit with its axes swapped (lat/lon given instead of lon/lat).
    """
    crs = parse_crs(bbox_crs, what="bbox CRS")
    try:
        values = tuple(float(v) for v in bbox)
    except (TypeError, ValueError):
        raise InvalidBBoxError(
            f"bbox {bbox!r}: expected four numbers minx, miny, maxx, maxy"
        ) from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InvalidBBoxError(
            f"bbox {bbox!r}: expected four finite numbers minx, miny, maxx, maxy"
        )
    minx, miny, maxx, maxy = values
    if not (maxx > minx and maxy > miny):
        raise InvalidBBoxError(
            f"bbox {values}: empty or zero area (needs minx < maxx and miny < maxy, in {crs.to_string()})"
        )
    area = _area_of_use(crs)
    if area is not None and not _intersects(values, area):
        swapped = (miny, minx, maxy, maxx)
        if _intersects(swapped, area):
            raise BBoxAxisOrderError(
                f"bbox {values}: outside the area of {crs.to_string()} but inside it with axes "
                f"swapped; give x (easting/longitude) first: {swapped}"
            )
        raise InvalidBBoxError(
            f"bbox {values}: outside the area where {crs.to_string()} is defined"
        )
    if crs.is_geographic:  # partly outside (after the swapped-axes check above)
        _check_lonlat_range(values, crs)
    elif area is not None:
        _check_projected_range(values, area, crs)
    return values, crs  # type: ignore[return-value]


def _check_projected_range(values: BBox, area: BBox, crs: CRS) -> None:
    """A projected bbox that reaches past the CRS's area of use: a one-line warning naming
    the axis (the projection is still defined there, only more distorted); past it by more
    than the area's own extent on that axis, an error (no real search area is that far)."""
    names = ("minx", "miny", "maxx", "maxy")
    axes = ("x (easting)", "y (northing)") * 2
    spans = (area[2] - area[0], area[3] - area[1]) * 2
    for n, (value, edge) in enumerate(zip(values, area, strict=True)):
        beyond = (edge - value) if n < 2 else (value - edge)
        if beyond <= 0:
            continue
        where = f"{names[n]} {value:.10g} lies {beyond:.10g} CRS units beyond"
        edge_text = f"the {axes[n]} {'start' if n < 2 else 'end'} {edge:.10g}"
        if beyond > spans[n % 2]:
            raise InvalidBBoxError(
                f"bbox {values}: {where} {edge_text} of the area where {crs.to_string()} "
                "is defined; check the bbox CRS"
            )
        warnings.warn(
            f"bbox {names[n]} {value:.10g} lies past {edge_text} of the area of use of "
            f"{crs.to_string()}: distances there are distorted",
            stacklevel=3,
        )
        return


def _check_lonlat_range(values: BBox, crs: CRS) -> None:
    """Refuse a lon/lat bbox component outside -180..180 (x) or -90..90 (y), naming it."""
    for name, value, limit, axis in zip(
        ("minx", "miny", "maxx", "maxy"),
        values,
        (180, 90, 180, 90),
        ("longitude", "latitude") * 2,
        strict=True,
    ):
        if abs(value) > limit:
            raise InvalidBBoxError(
                f"bbox {values}: {name} {value:g} is outside the {axis} range "
                f"-{limit}..{limit} of {crs.to_string()}"
            )


def _area_of_use(crs: CRS) -> BBox | None:
    aou = crs.area_of_use
    if aou is None:
        return None
    if crs.is_geographic:
        return (-180.0, -90.0, 180.0, 90.0)
    from ocgnet_geo.geo.crs import transformer

    west, south, east, north = aou.bounds
    if east < west:  # crosses the antimeridian: do not guess
        return None
    return transformer(CRS.from_epsg(4326), crs).transform_bounds(
        west, south, east, north, densify_pts=21
    )


def _intersects(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def grid_crs_for(info: RasterInfo) -> CRS:
    """The CRS tiles are laid out in: the raster's own when projected, the local UTM zone
    (at the raster centre) when geographic."""
    if not info.crs.is_geographic:
        return info.crs
    cx, cy = info.transform @ (info.width / 2, info.height / 2)
    return utm_crs_for(*lonlat_of(info.crs, cx, cy))


def search_area(
    info: RasterInfo, grid_crs: CRS, bbox: Sequence[float] | None, bbox_crs: object
) -> shapely.Geometry:
    """The part of the raster to search, as a polygon in ``grid_crs``."""
    footprint = reproject_geometries(np.array([info.footprint]), info.crs, grid_crs)[0]
    if bbox is None:
        return footprint
    values, crs = validate_bbox(bbox, bbox_crs)
    try:
        box = reproject_geometries(np.array([shapely.box(*values)]), crs, grid_crs)[0]
        finite = bool(np.isfinite(shapely.get_coordinates(box)).all())
    except (shapely.errors.GEOSException, ValueError):
        finite = False
    if not finite:
        raise InvalidBBoxError(
            f"bbox {values}: cannot be transformed from {crs.to_string()} to the raster's "
            f"grid CRS {grid_crs.to_string()} (partly outside where they are defined)"
        )
    area = shapely.intersection(footprint, box)
    if area.is_empty or area.area <= 0:
        swapped = (values[1], values[0], values[3], values[2])
        try:
            swapped_box = reproject_geometries(np.array([shapely.box(*swapped)]), crs, grid_crs)[0]
            fits_swapped = shapely.intersects(footprint, swapped_box) and np.all(
                np.isfinite(shapely.get_coordinates(swapped_box))
            )
        except Exception:
            fits_swapped = False
        if fits_swapped:
            raise BBoxAxisOrderError(
                f"bbox {values}: misses raster {info.source!r} but hits it with axes swapped; "
                f"give x (easting/longitude) first: {swapped}"
            )
        raise BBoxOutsideRasterError(
            f"bbox {values} ({crs.to_string()}): does not intersect raster {info.source!r}"
        )
    return area


def tile_grid(
    raster: object,
    gsd_m: float,
    tile_px: int = 1024,
    overlap_px: int = 256,
    bbox: Sequence[float] | None = None,
    bbox_crs: object = "EPSG:4326",
    max_tiles: int | None = None,
) -> list[TileSpec]:
    """North-up tiles of ``tile_px`` pixels at ``gsd_m`` metres per pixel covering the
    search area (the whole raster, or its intersection with ``bbox`` given in ``bbox_crs``).

    Neighbouring tiles share ``overlap_px`` pixels; the last partial row and column are
    included, and when the area is smaller than the tiles the grid is centred on it. A
    ``gsd_m`` within :data:`SNAP_TO_NATIVE` (1 %) of a north-up projected raster's own
    resolution is snapped to it, so tiles are exact windows of the raster. Tiles
    are in the raster's CRS when it is projected and in the local UTM zone when it is
    geographic; pixels are square on the ground. Tiles that do not touch the search area
    (corners of rotated rasters) are left out. Tiles are listed row by row, north to south.
    More than ``max_tiles`` tiles (counted before any is built) raise :class:`TooManyTilesError`.
    """
    info = open_raster(raster)
    if not (
        isinstance(tile_px, int)
        and tile_px > 0
        and isinstance(overlap_px, int)
        and 0 <= overlap_px < tile_px
    ):
        raise ValueError(
            f"tile_px={tile_px}, overlap_px={overlap_px}: need 0 <= overlap_px < tile_px"
        )
    if not (math.isfinite(gsd_m) and gsd_m > 0):
        raise ResolutionOutOfRangeError(
            f"gsd_m={gsd_m!r}: ground resolution must be a positive number of metres"
        )
    coarsest = max(info.pixel_size_m)
    if coarsest / gsd_m > MAX_UPSAMPLING:
        raise ResolutionOutOfRangeError(
            f"gsd_m={gsd_m:g}: more than {MAX_UPSAMPLING:g}x finer than raster {info.source!r} "
            f"({coarsest:.3g} m/px); the model would see invented detail"
        )
    crs = grid_crs_for(info)
    area = search_area(info, crs, bbox, bbox_crs)
    cx, cy = area.centroid.coords[0]
    mx, my = ground_scale(crs, cx, cy, step=max(gsd_m, 1e-6) if not crs.is_geographic else 1e-5)
    res_x, res_y = gsd_m / mx, gsd_m / my
    t = info.transform
    native = (
        crs == info.crs
        and not info.is_rotated
        and _within(res_x, abs(t.a))
        and _within(res_y, abs(t.e))
    )
    if native:
        # close enough to the raster's own pixels: use them exactly (no resampling, and no
        # sliver of extra tiles from a 0.04 % map-scale difference such as UTM's)
        res_x, res_y, gsd_m = abs(t.a), abs(t.e), info.gsd_m

    # lattice anchored at the raster footprint's top-left corner, so that tiles at the
    # raster's own resolution line up with its pixels
    fx0, _, _, fy1 = reproject_geometries(np.array([info.footprint]), info.crs, crs)[0].bounds
    minx, miny, maxx, maxy = area.bounds
    col0 = math.floor((minx - fx0) / res_x + 1e-9)
    row0 = math.floor((fy1 - maxy) / res_y + 1e-9)
    width_px = math.ceil((maxx - (fx0 + col0 * res_x)) / res_x - 1e-9)
    height_px = math.ceil(((fy1 - row0 * res_y) - miny) / res_y - 1e-9)
    stride = tile_px - overlap_px
    ncols = max(1, math.ceil((width_px - overlap_px) / stride))
    nrows = max(1, math.ceil((height_px - overlap_px) / stride))
    # centre the grid on the area: split the surplus pixels evenly on both sides
    col0 -= ((ncols - 1) * stride + tile_px - width_px) // 2
    row0 -= ((nrows - 1) * stride + tile_px - height_px) // 2
    if max_tiles is not None and nrows * ncols > max_tiles:
        raise TooManyTilesError(
            f"raster {info.source!r}: the search area needs {nrows * ncols:,} tiles "
            f"({ncols:,} x {nrows:,} of {tile_px} px at {gsd_m:g} m/px), more than the limit "
            f"of {max_tiles:,}; pass a bbox to search a smaller area, or raise the limit "
            "(--max-tiles)"
        )

    whole_pixels = native and t.a > 0 and t.e < 0  # the lattice is the raster's own grid
    tiles = []
    for r in range(nrows):
        for c in range(ncols):
            col, row = col0 + c * stride, row0 + r * stride  # in lattice pixels
            if whole_pixels:
                # placed by the raster's own transform from whole raster pixels, so the
                # origin is the nearest float to that pixel edge (see raster.SNAP_PX)
                transform = t @ Affine.translation(col, row)
            else:
                transform = Affine(res_x, 0.0, fx0 + col * res_x, 0.0, -res_y, fy1 - row * res_y)
            tiles.append(TileSpec(f"r{r}c{c}", crs, transform, tile_px, tile_px, gsd_m, r, c))
    polygons = np.array([t.polygon for t in tiles])
    touching = shapely.intersects(polygons, area) & ~shapely.touches(polygons, area)
    return [t for t, keep in zip(tiles, touching, strict=True) if keep]


def _within(value: float, native: float) -> bool:
    return abs(value / native - 1.0) <= SNAP_TO_NATIVE


def xyz_grid(
    bbox: Sequence[float], zoom: int, tile_px: int = 1024, bbox_crs: object = "EPSG:4326"
) -> list[TileSpec]:
    """Model tiles aligned to the Web-Mercator XYZ pyramid at ``zoom``.

    Each model tile is a block of ``tile_px / 256`` x ``tile_px / 256`` XYZ tiles (256 px)
    whose top-left XYZ tile index is a multiple of that block size, in EPSG:3857. The tile
    id is ``"{zoom}/{x}/{y}"`` of that top-left XYZ tile. ``gsd_m`` is the true ground size
    of a pixel at the tile centre (Web-Mercator metres times cos(latitude)).
    """
    if tile_px % 256:
        raise ValueError(f"tile_px={tile_px}: must be a multiple of the 256-px XYZ tile")
    if not (isinstance(zoom, int) and 0 <= zoom <= 24):
        raise ValueError(f"zoom={zoom!r}: must be an integer 0..24")
    values, crs = validate_bbox(bbox, bbox_crs)
    lonlat = reproject_geometries(np.array([shapely.box(*values)]), crs, "EPSG:4326")[0]
    west, south, east, north = lonlat.bounds
    block = tile_px // 256
    web_mercator = CRS.from_epsg(3857)
    res = 2 * math.pi * 6378137.0 / (256 * 2**zoom)
    blocks = sorted(
        {(t.x // block, t.y // block) for t in mercantile.tiles(west, south, east, north, zoom)}
    )
    tiles = []
    for bx, by in blocks:
        x, y = bx * block, by * block
        left, top = mercantile.xy(*mercantile.ul(x, y, zoom))
        lat = mercantile.lnglat(left + res * tile_px / 2, top - res * tile_px / 2).lat
        gsd = res * math.cos(math.radians(lat))
        transform = Affine(res, 0.0, left, 0.0, -res, top)
        tiles.append(
            TileSpec(f"{zoom}/{x}/{y}", web_mercator, transform, tile_px, tile_px, gsd, by, bx)
        )
    return tiles
