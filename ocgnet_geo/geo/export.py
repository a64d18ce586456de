"""Writing candidates: GeoJSON (RFC 7946, EPSG:4326) and GeoPackage (the raster's CRS).

Both writers take polygons in their CRS plus one property record per polygon, and write
atomically: the file appears complete or not at all (temp file in the same folder, then
``os.replace``).
"""

from __future__ import annotations

import gc
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import shapely

from ocgnet_geo.errors import InputError
from ocgnet_geo.geo.boxes import reproject_geometries
from ocgnet_geo.geo.crs import parse_crs

#: The result fields of every candidate, in order, with their types (DESIGN.md, "Contracts").
RESULT_FIELDS: dict[str, type] = {
    "rank": int,
    "score": float,
    "view": str,
    "model": str,
    "query": str,
    "click_x": float,
    "click_y": float,
    "raster": str,
    "gsd_m": float,
    "tile": str,
    "px_xmin": float,
    "px_ymin": float,
    "px_xmax": float,
    "px_ymax": float,
    "refined": bool,
    "inliers": int,
    "registered": bool,
    "method": str,
    "reprojection_px": float,
}

#: Decimal places of GeoJSON longitudes/latitudes: 1e-7 degrees is at most 1.1 cm.
GEOJSON_DECIMALS = 7


class OutputPathError(InputError):
    """An output path whose folder is missing or whose extension is unknown."""


def check_output_path(path: str | os.PathLike, extensions: Sequence[str]) -> Path:
    """Validate an output path before any work is done: a known extension, not a folder,
    in an existing folder where a file can be created (probed with a temp file, so
    read-only mounts, ``/proc`` and permissions are all caught)."""
    out = Path(path)
    if out.is_dir():
        raise OutputPathError(f"output {str(path)!r}: is a folder, not a file name")
    if out.suffix.lower() not in extensions:
        raise OutputPathError(
            f"output {str(path)!r}: unknown extension (use {', '.join(extensions)})"
        )
    if not out.parent.resolve().is_dir():
        raise OutputPathError(f"output {str(path)!r}: folder {str(out.parent)!r} does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".probe", dir=out.parent)
    except OSError as err:
        raise OutputPathError(
            f"output {str(path)!r}: cannot create files in folder {str(out.parent)!r} "
            f"({err.strerror or type(err).__name__})"
        ) from None
    os.close(fd)
    os.unlink(probe)
    return out


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; on success rename it to ``path``, on failure
    delete it. The temp name keeps the extension so drivers recognise the format."""
    out = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=f".tmp{out.suffix}", dir=out.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        yield Path(tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def geojson_feature_collection(
    polygons: Sequence[shapely.Geometry] | np.ndarray,
    properties: Sequence[Mapping[str, object]],
    crs: object,
) -> dict:
    """An RFC 7946 FeatureCollection: polygons reprojected from ``crs`` to EPSG:4326 with
    densified edges, lon/lat order, counter-clockwise exteriors, coordinates rounded to
    :data:`GEOJSON_DECIMALS` places, no ``crs`` member. A polygon that crosses the
    antimeridian is cut there into a MultiPolygon whose parts lie on one side each
    (:func:`split_antimeridian`, RFC 7946 section 3.1.9). Exterior rings only: polygons with
    holes are refused (candidates are boxes)."""
    geoms = np.asarray(polygons, dtype=object).ravel()
    if len(geoms) != len(properties):
        raise ValueError(f"{len(geoms)} polygons but {len(properties)} property records")
    lonlat = reproject_geometries(geoms, parse_crs(crs), "EPSG:4326")
    lonlat = shapely.orient_polygons(split_antimeridian(lonlat), exterior_cw=False)
    multi = shapely.get_type_id(lonlat) == shapely.GeometryType.MULTIPOLYGON
    parts = shapely.get_parts(lonlat) if multi.any() else lonlat
    if shapely.get_num_interior_rings(parts).any():
        raise ValueError("geojson_feature_collection: polygons with holes are not supported")
    coords, index = shapely.get_coordinates(lonlat, return_index=True)
    coords = np.round(coords, GEOJSON_DECIMALS)
    bounds = np.searchsorted(index, np.arange(len(geoms) + 1)).tolist()
    with _gc_paused():  # millions of small lists: the cyclic GC would rescan them repeatedly
        pairs = coords.tolist()
        features = [
            {
                "type": "Feature",
                "properties": {k: _json_value(v) for k, v in props.items()},
                "geometry": _multipolygon(lonlat[i])
                if multi[i]
                else {"type": "Polygon", "coordinates": [pairs[bounds[i] : bounds[i + 1]]]},
            }
            for i, props in enumerate(properties)
        ]
    return {"type": "FeatureCollection", "features": features}


def _multipolygon(geometry: shapely.MultiPolygon) -> dict:
    parts = [
        [np.round(shapely.get_coordinates(part), GEOJSON_DECIMALS).tolist()]
        for part in geometry.geoms
    ]
    return {"type": "MultiPolygon", "coordinates": parts}


def split_antimeridian(geometries: np.ndarray) -> np.ndarray:
    """Lon/lat polygons (EPSG:4326, degrees) with those that cross the antimeridian cut
    along it into MultiPolygons, one part per side, each within -180..180 (RFC 7946
    section 3.1.9).

    A polygon crosses it when an edge of its exterior jumps by more than 180 degrees of
    longitude (a reprojected vertex on each side: the short way round is across 180). Its
    longitudes are unwrapped onto one side, the result is clipped to each 360-degree band
    and shifted back. Other geometries are returned unchanged.
    """
    geoms = np.asarray(geometries, dtype=object).ravel().copy()
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    jumps = (np.abs(np.diff(coords[:, 0])) > 180.0) & (index[1:] == index[:-1])
    for i in np.unique(index[1:][jumps]):
        if isinstance(geoms[i], shapely.Polygon) and not len(geoms[i].interiors):
            geoms[i] = _split_polygon(geoms[i])
    return geoms


def _split_polygon(polygon: shapely.Polygon) -> shapely.Geometry:
    """``polygon``'s exterior, unwrapped and cut at every odd multiple of 180 degrees."""
    ring = np.asarray(polygon.exterior.coords)
    steps = np.diff(ring[:, 0])
    lon = ring[0, 0] + np.concatenate([[0.0], np.cumsum(steps - 360.0 * np.round(steps / 360.0))])
    unwrapped = shapely.Polygon(np.column_stack([lon, ring[:, 1]]))
    parts = []
    for band in range(
        math.floor((lon.min() + 180.0) / 360.0), math.ceil((lon.max() - 180.0) / 360.0) + 1
    ):
        west = -180.0 + 360.0 * band
        piece = shapely.clip_by_rect(unwrapped, west, -90.0, west + 360.0, 90.0)
        piece = shapely.transform(piece, lambda xy, shift=360.0 * band: xy - [shift, 0.0])
        parts.extend(
            p for p in shapely.get_parts(piece) if isinstance(p, shapely.Polygon) and p.area > 0
        )
    if not parts:  # degenerate: leave it as it was
        return polygon
    return shapely.MultiPolygon(parts) if len(parts) > 1 else parts[0]


@contextmanager
def _gc_paused():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _json_value(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_geojson(
    path: str | os.PathLike,
    polygons: Sequence[shapely.Geometry] | np.ndarray,
    properties: Sequence[Mapping[str, object]],
    crs: object,
) -> Path:
    """Write :func:`geojson_feature_collection` to ``path`` atomically; returns the path."""
    out = check_output_path(path, (".geojson", ".json"))
    text = json.dumps(geojson_feature_collection(polygons, properties, crs), separators=(",", ":"))
    with atomic_path(out) as tmp:
        tmp.write_text(text)
    return out


def write_gpkg(
    path: str | os.PathLike,
    polygons: Sequence[shapely.Geometry] | np.ndarray,
    properties: Sequence[Mapping[str, object]],
    crs: object,
    layer: str = "candidates",
    metadata: Mapping[str, object] | None = None,
    extra_layers: Mapping[str, tuple[Sequence, Sequence[Mapping[str, object]]]] | None = None,
) -> Path:
    """Write a GeoPackage layer in ``crs`` (the raster's) atomically; returns the path.

    Columns follow :data:`RESULT_FIELDS` first (typed), then any other property keys.
    ``metadata`` goes into the layer's GDAL metadata (``gpkg_metadata``), values as JSON.
    ``extra_layers`` maps further layer names to (polygons, records) in the same ``crs``
    (the registered photo's ``photo_footprint``), written into the same temporary file
    before it is renamed.
    """
    import json

    out = check_output_path(path, (".gpkg",))
    frame = to_geodataframe(polygons, properties, crs)
    extra = {}
    if metadata:
        extra["layer_metadata"] = {
            f"ocgnet_{k}": v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()
        }
    with atomic_path(out) as tmp:
        frame.to_file(tmp, layer=layer, driver="GPKG", engine="pyogrio", **extra)
        for name, (geoms, records) in (extra_layers or {}).items():
            to_geodataframe(geoms, records, crs).to_file(
                tmp, layer=name, driver="GPKG", engine="pyogrio"
            )
    return out


def to_geodataframe(
    polygons: Sequence[shapely.Geometry] | np.ndarray,
    properties: Sequence[Mapping[str, object]],
    crs: object,
):
    """A GeoDataFrame in ``crs`` with the :data:`RESULT_FIELDS` columns first, typed."""
    import geopandas as gpd
    import pandas as pd

    geoms = np.asarray(polygons, dtype=object).ravel()
    frame = pd.DataFrame(list(properties), index=range(len(geoms)))
    columns = [c for c in RESULT_FIELDS if c in frame.columns] + [
        c for c in frame.columns if c not in RESULT_FIELDS
    ]
    frame = frame[columns]
    for name, kind in RESULT_FIELDS.items():
        if name in frame.columns:
            frame[name] = frame[name].astype(
                {int: "int64", float: "float64", str: "object", bool: "bool"}[kind]
            )
    return gpd.GeoDataFrame(frame, geometry=list(geoms), crs=parse_crs(crs))


WRITERS: dict[str, Callable[..., Path]] = {
    ".geojson": write_geojson,
    ".json": write_geojson,
    ".gpkg": write_gpkg,
}
