"""CRS parsing and ground-distance helpers (pyproj only).

All lengths called ``*_m`` are true ground distances in metres on the CRS's ellipsoid,
measured geodesically, so EPSG:3857 (whose "metres" stretch by 1/cos(latitude)),
geographic CRSs (degrees) and projected CRSs in feet all give the same physical answer.
"""

from __future__ import annotations

import math
from functools import lru_cache

from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from ocgnet_geo.errors import UnknownCRSError


def parse_crs(value: object, what: str = "CRS") -> CRS:
    """Return a :class:`pyproj.CRS` for ``value`` (EPSG code, "EPSG:n", WKT, PROJ string,
    rasterio or pyproj CRS). Raises :class:`UnknownCRSError` naming ``what`` otherwise."""
    if isinstance(value, CRS):
        return value
    try:
        if hasattr(value, "to_wkt") and not isinstance(value, str):
            return CRS.from_wkt(value.to_wkt())
        return _parse_cached(value)
    except (CRSError, TypeError, ValueError) as err:
        first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UnknownCRSError(
            f"{what} {value!r}: unknown coordinate reference system ({first_line})"
        ) from None


@lru_cache(maxsize=64)
def _parse_cached(value: str | int) -> CRS:
    return CRS.from_user_input(value)


@lru_cache(maxsize=64)
def transformer(src: CRS, dst: CRS) -> Transformer:
    """A cached ``always_xy`` transformer (x/easting/longitude first, whatever the CRS's axis order)."""
    return Transformer.from_crs(src, dst, always_xy=True)


def utm_crs_for(lon: float, lat: float) -> CRS:
    """The WGS 84 / UTM zone CRS containing the point (lon, lat in degrees)."""
    zone = math.floor((lon + 180.0) / 6.0) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def ground_length_m(crs: CRS, x: float, y: float, dx: float, dy: float) -> float:
    """Geodesic ground length in metres of the small vector (dx, dy), in ``crs`` units,
    starting at the point (x, y). Right for projected CRSs in any unit and for degrees."""
    lons, lats = transformer(crs, crs.geodetic_crs).transform([x, x + dx], [y, y + dy])
    _, _, dist = crs.get_geod().inv(lons[0], lats[0], lons[1], lats[1])
    return float(dist)


def ground_scale(crs: CRS, x: float, y: float, step: float) -> tuple[float, float]:
    """Metres on the ground per CRS unit along x and along y at the point (x, y) of ``crs``,
    measured over a small ``step`` in CRS units."""
    return ground_length_m(crs, x, y, step, 0.0) / step, ground_length_m(
        crs, x, y, 0.0, step
    ) / step


def lonlat_of(crs: CRS, x: float, y: float) -> tuple[float, float]:
    """Longitude and latitude (degrees, WGS 84 order lon, lat) of a point given in ``crs``."""
    lon, lat = transformer(crs, CRS.from_epsg(4326)).transform(x, y)
    return float(lon), float(lat)


def crs_label(crs: CRS) -> str:
    """``AUTHORITY:CODE`` (e.g. ``EPSG:2056``) when PROJ can identify the CRS, else its name."""
    found = crs.to_authority()
    return f"{found[0]}:{found[1]}" if found else crs.name
