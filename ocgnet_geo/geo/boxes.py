"""Pixel boxes <-> polygons, reprojection with densified edges, and geographic NMS.

Everything is vectorised with shapely 2 and numpy. Pixel boxes are ``(N, 4)`` arrays
``xmin, ymin, xmax, ymax`` in a tile's pixel coordinates (x to the right, y down; integer
values are pixel *edges*, so the box ``0, 0, 1, 1`` is the first pixel).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import shapely
from pyproj import CRS

from ocgnet_geo.geo.crs import lonlat_of, parse_crs, transformer, utm_crs_for

if TYPE_CHECKING:
    from ocgnet_geo.geo.tile import TileSpec

#: Before reprojection, edges are split into segments no longer than this (ground metres).
#: Straight lines bend under reprojection by an amount that grows with the square of their
#: length: at 1 km the bend is below a millimetre for the CRSs used here, so candidate boxes
#: (tens of metres) keep their 4 corners and only large polygons gain vertices.
DENSIFY_MAX_SEGMENT_M = 1000.0
#: After reprojection, vertices that lie within this ground distance (metres) of a straight
#: line are dropped again, so a small box keeps 4 corners and a large one keeps its bends.
SIMPLIFY_TOLERANCE_M = 0.002


def boxes_to_polygons(boxes_px: np.ndarray, tile: TileSpec) -> np.ndarray:
    """Polygons (shapely array of length N) in ``tile.crs`` for pixel boxes ``(N, 4)`` xyxy."""
    boxes = np.asarray(boxes_px, dtype=float).reshape(-1, 4)
    x0, y0, x1, y1 = boxes.T
    cols = np.stack([x0, x1, x1, x0, x0], axis=1)  # clockwise in pixel space (y down)
    rows = np.stack([y0, y0, y1, y1, y0], axis=1)
    t = tile.transform
    xs = t.a * cols + t.b * rows + t.c
    ys = t.d * cols + t.e * rows + t.f
    return shapely.polygons(np.stack([xs, ys], axis=-1))


def polygons_to_boxes(polygons: np.ndarray, tile: TileSpec) -> np.ndarray:
    """Pixel boxes ``(N, 4)`` xyxy of ``tile`` enclosing each polygon (given in ``tile.crs``).

    The inverse of :func:`boxes_to_polygons`; for other shapes (footprints used as training
    labels) it gives the pixel-space envelope. Empty geometries give NaN rows.
    """
    geoms = np.asarray(polygons, dtype=object).ravel()
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    inv = ~tile.transform
    cols = inv.a * coords[:, 0] + inv.b * coords[:, 1] + inv.c
    rows = inv.d * coords[:, 0] + inv.e * coords[:, 1] + inv.f
    out = np.full((len(geoms), 4), np.nan)
    if len(coords):
        for k, (values, reduce) in enumerate(
            ((cols, np.fmin), (rows, np.fmin), (cols, np.fmax), (rows, np.fmax))
        ):
            acc = np.full(len(geoms), np.nan)
            reduce.at(acc, index, values)
            out[:, k] = acc
    return out


def reproject_geometries(
    geometries: np.ndarray, src_crs: object, dst_crs: object, densify: bool = True
) -> np.ndarray:
    """Geometries reprojected from ``src_crs`` to ``dst_crs`` (x/lon first in both).

    With ``densify``, edges longer than :data:`DENSIFY_MAX_SEGMENT_M` are first split so
    that a large polygon stays accurate when the projection bends straight lines; vertices
    that turn out collinear within :data:`SIMPLIFY_TOLERANCE_M` are then dropped again.
    """
    src, dst = parse_crs(src_crs), parse_crs(dst_crs)
    geoms = np.asarray(geometries, dtype=object)
    if src == dst:
        return geoms.copy()
    max_segment = _metres_in_units(src, DENSIFY_MAX_SEGMENT_M)
    bounds = shapely.bounds(geoms)
    added_vertices = bool(
        densify and np.nanmax(bounds[..., 2:] - bounds[..., :2], initial=0.0) > max_segment
    )
    if added_vertices:
        geoms = shapely.segmentize(geoms, max_segment)
    tr = transformer(src, dst)

    def _apply(xy: np.ndarray) -> np.ndarray:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    out = shapely.transform(geoms, _apply)
    if added_vertices:
        out = shapely.simplify(out, _metres_in_units(dst, SIMPLIFY_TOLERANCE_M))
    return out


def _metres_in_units(crs: CRS, metres: float) -> float:
    """Roughly ``metres`` expressed in the units of ``crs`` (degrees: at the equator)."""
    if crs.is_geographic:
        return metres / 111_320.0
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return metres / (factor or 1.0)


def metric_crs_for(geometries: np.ndarray, crs: CRS) -> CRS:
    """``crs`` if it is projected, else the UTM zone at the geometries' centre."""
    if not crs.is_geographic:
        return crs
    cx, cy = shapely.centroid(shapely.union_all(shapely.envelope(geometries))).coords[0]
    lon, lat = lonlat_of(crs, cx, cy)
    return utm_crs_for(lon, lat)


def nms_geo(
    polygons: np.ndarray, scores: np.ndarray, iou: float = 0.5, crs: object = None
) -> np.ndarray:
    """Greedy non-maximum suppression of polygons across tiles.

    Returns the indices of the kept polygons, best score first. A polygon is dropped when
    its intersection-over-union with a better kept one exceeds ``iou``. Areas are computed in
    a metric CRS: ``crs`` itself when projected, the local UTM zone when geographic (give
    ``crs`` whenever the polygons are in degrees).
    """
    return np.asarray([group[0] for group in nms_groups(polygons, scores, iou, crs)], dtype=int)


def nms_groups(
    polygons: np.ndarray, scores: np.ndarray, iou: float = 0.5, crs: object = None
) -> list[np.ndarray]:
    """Greedy NMS that also says what each kept polygon absorbed: a list, best first, of
    index arrays whose first element is the kept polygon and the rest the polygons it
    suppressed (the same object seen from overlapping tiles). See :func:`nms_geo`."""
    geoms = np.asarray(polygons, dtype=object).ravel()
    scores = np.asarray(scores, dtype=float).ravel()
    if len(geoms) != len(scores):
        raise ValueError(f"nms_geo: {len(geoms)} polygons but {len(scores)} scores")
    if len(geoms) == 0:
        return []
    if crs is not None:
        src = parse_crs(crs)
        geoms = reproject_geometries(geoms, src, metric_crs_for(geoms, src))
    order = np.argsort(-scores, kind="stable")
    areas = shapely.area(geoms)
    tree = shapely.STRtree(geoms)
    taken = np.zeros(len(geoms), dtype=bool)
    groups = []
    for i in order:
        if taken[i]:
            continue
        taken[i] = True
        others = tree.query(geoms[i], predicate="intersects")
        others = others[~taken[others]]
        absorbed = others[:0]
        if len(others):
            inter = shapely.area(shapely.intersection(geoms[i], geoms[others]))
            union = areas[i] + areas[others] - inter
            with np.errstate(invalid="ignore", divide="ignore"):
                overlap = np.where(union > 0, inter / union, 0.0)
            absorbed = others[overlap > iou]
            taken[absorbed] = True
        groups.append(np.concatenate([[i], absorbed]).astype(int))
    return groups
