"""Rasters: metadata (:func:`open_raster`) and tile reads (:func:`read_tile`).

A raster is anything GDAL reads (GeoTIFF, COG, VRT, JPEG2000, MBTiles, ...) or a local XYZ
tile folder (``{z}/{x}/{y}.png|jpg``, see :mod:`ocgnet_geo.geo.xyz_source`). Reads are
windowed: only the source blocks under a tile are read, from the coarsest overview that is
still at least as fine as the tile, so memory does not grow with the raster's size.

Band choice and stretch (documented contract):

* Bands: the bands whose colour interpretation is red, green and blue, in that order; if the
  raster does not label them, bands 1, 2, 3; a one- or two-band raster is shown as grey
  (band 1 repeated), unless band 1 has a colour table: then its colours are used (nearest
  resampling, transparent entries invalid). An alpha band, nodata value or internal mask
  marks invalid pixels.
* Stretch: ``uint8`` bands are used unchanged. Any other type (16-bit, float) is stretched
  linearly per band from its 2nd to its 98th percentile of valid pixels onto 0..255. The
  percentiles are estimated once per raster (from a decimated read, which uses overviews,
  or from a grid of 64 small windows when a large raster has none), so every tile of a
  raster gets the same stretch.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS
from rasterio.enums import ColorInterp, Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError, RasterioIOError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window
from shapely import Polygon

from ocgnet_geo.errors import (
    EmptySearchAreaError,
    NotARasterError,
    NotGeoreferencedError,
    RasterFileError,
)
from ocgnet_geo.geo.crs import ground_length_m, parse_crs

if TYPE_CHECKING:
    from ocgnet_geo.geo.tile import TileSpec

#: GDAL settings for every read: a bounded block cache (MB), no directory scans, and all
#: cores for decompressing blocks (reads never overlap with model inference).
GDAL_OPTIONS = {
    "GDAL_CACHEMAX": 256,
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_NUM_THREADS": "ALL_CPUS",
}

STRETCH_PERCENTILES = (2.0, 98.0)
_STATS_MAX_SIDE = 512  # pixels of the decimated read used for stretch statistics
_STATS_WINDOWS = 8  # 8 x 8 sample windows when a large raster has no overviews
_STATS_WINDOW_PX = 64
#: Window offsets (raster pixels) within this distance of a whole pixel are snapped to it
#: before GDAL reads: grid arithmetic in CRS units leaves float noise of ~1e-10 px.
SNAP_PX = 1e-6


@dataclass(frozen=True)
class RasterInfo:
    """What the rest of the library needs to know about a raster (no open file handle).

    ``transform`` maps pixel (col, row) edges to ``crs`` coordinates; ``bounds`` is the
    envelope (minx, miny, maxx, maxy) of the four corners in ``crs`` units, so it is also
    right for rotated geotransforms. ``pixel_size_m`` is the ground length in metres of one
    column step and one row step at the raster centre; ``gsd_m`` is their mean.
    """

    path: str
    source: str
    crs: CRS
    transform: Affine
    width: int
    height: int
    count: int
    dtype: str
    nodata: float | None
    pixel_size_m: tuple[float, float]
    rgb_bands: tuple[int, int, int]
    alpha_band: int | None
    overview_factors: tuple[int, ...]
    stretch: tuple[tuple[float, float], ...] | None = field(default=None, repr=False)
    palette: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def gsd_m(self) -> float:
        """Mean ground sample distance in metres."""
        return 0.5 * (self.pixel_size_m[0] + self.pixel_size_m[1])

    @property
    def corners(self) -> np.ndarray:
        """The four outer corners (4, 2) in ``crs`` units: top-left, top-right, bottom-right, bottom-left."""
        t = self.transform
        cols = np.array([0, self.width, self.width, 0], dtype=float)
        rows = np.array([0, 0, self.height, self.height], dtype=float)
        return np.column_stack([t.a * cols + t.b * rows + t.c, t.d * cols + t.e * rows + t.f])

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        c = self.corners
        return (
            float(c[:, 0].min()),
            float(c[:, 1].min()),
            float(c[:, 0].max()),
            float(c[:, 1].max()),
        )

    @property
    def footprint(self) -> Polygon:
        """The raster's outline in ``crs`` (a rotated rectangle for rotated geotransforms)."""
        return Polygon(self.corners)

    @property
    def is_rotated(self) -> bool:
        return self.transform.b != 0 or self.transform.d != 0


def open_raster(
    raster: str | os.PathLike | RasterInfo | rasterio.io.DatasetReaderBase,
) -> RasterInfo:
    """Read a raster's metadata. Accepts a path (file, XYZ tile folder, ``.mbtiles``), an
    open rasterio dataset, or a :class:`RasterInfo` (returned unchanged).

    Raises :class:`RasterFileError`, :class:`NotARasterError` or :class:`NotGeoreferencedError`.
    """
    if isinstance(raster, RasterInfo):
        return raster
    if isinstance(raster, rasterio.io.DatasetReaderBase):
        source = path = raster.name
    else:
        source = os.fspath(raster)
        path = _resolve_path(source)
    try:
        with rasterio.Env(**GDAL_OPTIONS), warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            src = rasterio.open(path)
    except RasterioIOError as err:
        raise NotARasterError(
            f"raster {source!r}: not a raster GDAL can read ({gdal_reason(err)})"
        ) from None
    try:
        with rasterio.Env(**GDAL_OPTIONS), warnings.catch_warnings(), src:
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return _describe(src, path, source)
    except RasterioError as err:  # opened, then a read (statistics) failed
        raise read_error(source, err) from None


def gdal_reason(err: BaseException) -> str:
    """GDAL's own one-line reason for a rasterio error (rasterio often says only "see
    previous exception": the reason is the chained GDAL error)."""
    for e in (err.__cause__, err.__context__, err):
        text = str(e).strip() if e is not None else ""
        if text and "See previous exception" not in text:
            return text.splitlines()[0][:300]
    return type(err).__name__


def read_error(source: str, err: BaseException) -> RasterFileError:
    """A :class:`RasterFileError` naming the raster and GDAL's reason (for a VRT whose
    source is missing, GDAL's reason names the missing file)."""
    return RasterFileError(
        f"raster {source!r}: read failed (truncated or damaged file?): {gdal_reason(err)}"
    )


def _check_vrt_sources(path: str, source: str) -> None:
    """Refuse a VRT file whose local source files are missing, naming the first one."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return  # GDAL reports it
    base = Path(path).parent
    for element in root.iter("SourceFilename"):
        name = (element.text or "").strip()
        if not name or name.startswith("/vsi") or ":" in name.split("/")[0][1:]:
            continue  # virtual file systems, URLs, subdatasets: GDAL's business
        relative = element.get("relativeToVRT", "0") == "1"
        target = base / name if relative else Path(name)
        if not target.exists():
            raise RasterFileError(f"raster {source!r}: VRT source {name!r} is missing")


def _resolve_path(source: str) -> str:
    path = Path(source)
    if not path.exists():
        raise RasterFileError(f"raster {source!r}: file not found")
    if path.is_dir():
        from ocgnet_geo.geo.xyz_source import is_xyz_folder, xyz_folder_to_vrt

        if is_xyz_folder(path):
            return xyz_folder_to_vrt(path)
        raise RasterFileError(
            f"raster {source!r}: is a folder, neither a raster file nor an XYZ tile folder"
        )
    if not os.access(path, os.R_OK):
        raise RasterFileError(f"raster {source!r}: file is not readable (permission denied)")
    if path.suffix.lower() == ".vrt":
        _check_vrt_sources(str(path), source)
    return str(path)


def _describe(src: rasterio.io.DatasetReaderBase, path: str, source: str) -> RasterInfo:
    if src.crs is None:
        hint = (
            " (it has ground control points only: warp it first, e.g. gdalwarp)"
            if src.gcps[0]
            else ""
        )
        raise NotGeoreferencedError(f"raster {source!r}: has no coordinate reference system{hint}")
    if src.transform == Affine.identity():
        raise NotGeoreferencedError(
            f"raster {source!r}: has no geotransform (pixel coordinates only)"
        )
    if np.dtype(src.dtypes[0]).kind == "c":
        raise NotARasterError(
            f"raster {source!r}: {src.dtypes[0]} pixels are complex numbers (e.g. radar), "
            "not imagery; not supported"
        )
    crs = parse_crs(src.crs, what=f"raster {source!r} CRS")
    t = src.transform
    cx, cy = t @ (src.width / 2, src.height / 2)
    step_x, step_y = math.hypot(t.a, t.d), math.hypot(t.b, t.e)
    # ground length of one column step and one row step, measured on the ellipsoid
    pixel_size_m = (ground_length_m(crs, cx, cy, t.a, t.d), ground_length_m(crs, cx, cy, t.b, t.e))
    if not all(math.isfinite(v) and v > 0 for v in (*pixel_size_m, step_x, step_y)):
        raise NotGeoreferencedError(
            f"raster {source!r}: geotransform gives a degenerate pixel size"
        )
    rgb, alpha = _band_choice(src)
    info = RasterInfo(
        path=path,
        source=source,
        crs=crs,
        transform=t,
        width=src.width,
        height=src.height,
        count=src.count,
        dtype=src.dtypes[0],
        nodata=src.nodata,
        pixel_size_m=pixel_size_m,
        rgb_bands=rgb,
        alpha_band=alpha,
        overview_factors=tuple(src.overviews(1)),
        palette=_palette(src),
    )
    if info.dtype != "uint8" and info.palette is None:
        info = _with_stretch(info, src)
    return info


def _palette(src: rasterio.io.DatasetReaderBase) -> np.ndarray | None:
    """The colour table of a paletted band 1 as an RGBA lookup array (index -> colour)."""
    if src.colorinterp[0] != ColorInterp.palette or src.dtypes[0] not in ("uint8", "uint16"):
        return None
    try:
        table = src.colormap(1)
    except ValueError:  # no colour table after all
        return None
    lut = np.zeros((max(256, max(table) + 1), 4), dtype=np.uint8)
    for index, colour in table.items():
        lut[index] = colour
    return lut


def _band_choice(src: rasterio.io.DatasetReaderBase) -> tuple[tuple[int, int, int], int | None]:
    interp = list(src.colorinterp)
    alpha = interp.index(ColorInterp.alpha) + 1 if ColorInterp.alpha in interp else None
    if all(c in interp for c in (ColorInterp.red, ColorInterp.green, ColorInterp.blue)):
        rgb = tuple(
            interp.index(c) + 1 for c in (ColorInterp.red, ColorInterp.green, ColorInterp.blue)
        )
        return rgb, alpha  # type: ignore[return-value]
    colour_bands = [i for i in range(1, src.count + 1) if i != alpha]
    if len(colour_bands) >= 3:
        return (colour_bands[0], colour_bands[1], colour_bands[2]), alpha
    return (colour_bands[0],) * 3, alpha  # type: ignore[return-value]


def _with_stretch(info: RasterInfo, src: rasterio.io.DatasetReaderBase) -> RasterInfo:
    bands = list(dict.fromkeys(info.rgb_bands))
    samples = _stats_sample(src, bands)
    limits = []
    for band in info.rgb_bands:
        values = samples[bands.index(band)]
        valid = values.compressed() if np.ma.isMaskedArray(values) else values.ravel()
        valid = valid[np.isfinite(valid)]
        if valid.size == 0:
            limits.append((0.0, 1.0))
            continue
        lo, hi = np.percentile(valid, STRETCH_PERCENTILES)
        limits.append((float(lo), float(hi) if hi > lo else float(lo) + 1.0))
    return replace(info, stretch=tuple(limits))


def _stats_sample(src: rasterio.io.DatasetReaderBase, bands: list[int]) -> list[np.ma.MaskedArray]:
    big = max(src.width, src.height) > 8 * _STATS_MAX_SIDE
    if not big or src.overviews(1):
        scale = min(1.0, _STATS_MAX_SIDE / max(src.width, src.height))
        shape = (len(bands), max(1, round(src.height * scale)), max(1, round(src.width * scale)))
        data = src.read(bands, out_shape=shape, masked=True, resampling=Resampling.nearest)
        return [data[i] for i in range(len(bands))]
    pieces: list[list[np.ma.MaskedArray]] = [[] for _ in bands]
    size = _STATS_WINDOW_PX
    for fy in np.linspace(0, 1, _STATS_WINDOWS):
        for fx in np.linspace(0, 1, _STATS_WINDOWS):
            win = Window(int(fx * (src.width - size)), int(fy * (src.height - size)), size, size)
            data = src.read(bands, window=win, masked=True)
            for i in range(len(bands)):
                pieces[i].append(data[i].ravel())
    return [np.ma.concatenate(p) for p in pieces]


def read_tile(
    raster: object, tile: TileSpec, resampling: Resampling | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read ``tile`` from ``raster``: ``(rgb, valid)``.

    ``rgb`` is ``uint8 (tile.height, tile.width, 3)`` resampled into the tile's CRS and
    transform (bilinear, or average when shrinking by 1.5x or more after the overview
    choice); ``valid`` is a boolean ``(height, width)`` mask, False for nodata, alpha-0 or
    masked pixels and for the parts of the tile outside the raster (where ``rgb`` is 0).
    Only the source blocks under the tile are read, from the coarsest overview that is
    still as fine as the tile.

    Tile pixel (i, j) holds the raster sampled at ``tile.transform @ (i + 0.5, j + 0.5)``:
    a tile that is a whole-pixel or scaled window of a north-up raster in its own CRS is
    read with GDAL's resampling reader (window offsets within :data:`SNAP_PX` of a whole
    pixel are snapped to it first); any other tile, including an unscaled one offset by a
    fraction of a pixel, goes through GDAL's warper.
    """
    info = open_raster(raster)
    bands = list(dict.fromkeys(info.rgb_bands))
    try:
        data, valid = _read_bands(info, tile, bands, resampling)
    except RasterioError as err:
        raise read_error(info.source, err) from None
    if data.dtype.kind == "f":
        valid &= np.isfinite(data).all(axis=0)  # NaN pixels are invalid, declared or not
    if info.palette is not None:
        colours = info.palette[data[0]]
        rgb, valid = np.ascontiguousarray(colours[..., :3]), valid & (colours[..., 3] > 0)
    else:
        rgb = np.stack([data[bands.index(b)] for b in info.rgb_bands], axis=-1)
        rgb = _to_uint8(rgb, info.stretch)
    rgb[~valid] = 0
    return rgb, valid


def _read_bands(
    info: RasterInfo, tile: TileSpec, bands: list[int], resampling: Resampling | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The raw values of ``bands`` (raster dtype, ``(len(bands), height, width)``) resampled
    at the tile's transform, and the validity mask; see :func:`read_tile`."""
    ratio = tile.gsd_m / min(info.pixel_size_m)
    level, factor = _overview_level(info.overview_factors, ratio)
    if resampling is None:
        resampling = Resampling.average if ratio / factor >= 1.5 else Resampling.bilinear
    if info.palette is not None:
        resampling = Resampling.nearest  # class indices cannot be interpolated
    with rasterio.Env(**GDAL_OPTIONS), warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        window = _window_of(info, tile)
        if window is not None and (
            # GDAL's windowed average takes a shortcut at some anisotropic scales (exactly
            # 2 across and a fraction down, i.e. non-square raster pixels) that misplaces
            # rows by up to 1/3 px; the warper does not
            resampling != Resampling.average or window.scale_x == window.scale_y
        ):
            return _read_window(info, tile, window, bands, resampling)
        return _read_warped(info, tile, bands, resampling, level)


@dataclass(frozen=True)
class _TileWindow:
    """Where a tile lies in a north-up raster's pixel grid: the raster pixel (edges
    convention) of the tile's top-left corner and the raster pixels per tile pixel."""

    col_off: float
    row_off: float
    scale_x: float
    scale_y: float


def _window_of(info: RasterInfo, tile: TileSpec) -> _TileWindow | None:
    """The tile as a window of the raster's pixels, or None when GDAL's windowed reader
    cannot read it exactly (rotated raster or tile, another CRS, flipped axes, or a
    fraction of a pixel of offset on an axis read 1:1).

    Offsets and scales within :data:`SNAP_PX` raster pixels (over the tile) of a whole
    number are snapped to it: float noise of the grid arithmetic such as
    ``171.9999999998998`` must not become a one-pixel shift. (A window read 1:1 is a copy
    of whole pixels from ``int(offset)``: with ``GDAL_NUM_THREADS`` set, GDAL 3.10 drops the
    fraction of the offset instead of resampling.)
    """
    r, t = info.transform, tile.transform
    north_up = r.b == 0 and r.d == 0 and t.b == 0 and t.d == 0
    if not (north_up and r.a * t.a > 0 and r.e * t.e > 0 and tile.crs == info.crs):
        return None
    scale_x = _snap(t.a / r.a, SNAP_PX / max(tile.width, 1))
    scale_y = _snap(t.e / r.e, SNAP_PX / max(tile.height, 1))
    col_off, row_off = _snap((t.c - r.c) / r.a), _snap((t.f - r.f) / r.e)
    if (scale_x == 1 and not col_off.is_integer()) or (scale_y == 1 and not row_off.is_integer()):
        return None  # a 1:1 read would drop the fraction: resample with the warper
    return _TileWindow(col_off, row_off, scale_x, scale_y)


def _snap(value: float, tolerance: float = SNAP_PX) -> float:
    """``value`` rounded to the nearest whole number when within ``tolerance`` of it."""
    nearest = float(round(value))
    return nearest if abs(value - nearest) <= tolerance else value


def _read_window(
    info: RasterInfo, tile: TileSpec, window: _TileWindow, bands: list[int], resampling: Resampling
) -> tuple[np.ndarray, np.ndarray]:
    """Windowed read (GDAL picks the overview) of the tile pixels that lie inside the raster."""
    col_off, row_off = window.col_off, window.row_off
    sx, sy = window.scale_x, window.scale_y
    eps = 1e-6
    i0 = max(0, math.ceil(-col_off / sx - eps))
    j0 = max(0, math.ceil(-row_off / sy - eps))
    i1 = min(tile.width, math.floor((info.width - col_off) / sx + eps))
    j1 = min(tile.height, math.floor((info.height - row_off) / sy + eps))
    data = np.zeros((len(bands), tile.height, tile.width), dtype=info.dtype)
    valid = np.zeros((tile.height, tile.width), dtype=bool)
    if i1 <= i0 or j1 <= j0:
        return data, valid
    win = Window(col_off + i0 * sx, row_off + j0 * sy, (i1 - i0) * sx, (j1 - j0) * sy)
    shape = (j1 - j0, i1 - i0)
    with rasterio.open(info.path) as src:
        data[:, j0:j1, i0:i1] = src.read(
            bands, window=win, out_shape=(len(bands), *shape), resampling=resampling
        )
        mask = src.dataset_mask(window=win, out_shape=shape, resampling=Resampling.nearest)
    valid[j0:j1, i0:i1] = mask > 0
    return data, valid


def _read_warped(
    info: RasterInfo, tile: TileSpec, bands: list[int], resampling: Resampling, level: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Warp the raster (at overview ``level``) into the tile's CRS, transform and size."""
    with rasterio.open(info.path, overview_level=level) as src:
        vrt_options: dict[str, object] = {
            "crs": tile.crs.to_wkt(),
            "transform": tile.transform,
            "width": tile.width,
            "height": tile.height,
            "resampling": resampling,
        }
        if info.is_rotated:
            # GDAL estimates the kernel scale from the source window of each chunk, which a
            # rotation enlarges (by cos + sin of the angle): a tile at the raster's own
            # resolution would be blurred as if shrunk 1.4x. Give it the true scale.
            factor = info.overview_factors[level] if level is not None else 1
            scale = min(info.pixel_size_m) * factor / tile.gsd_m
            vrt_options.update(XSCALE=scale, YSCALE=scale)
        if info.nodata is not None:
            vrt_options.update(src_nodata=info.nodata, nodata=info.nodata)
        elif info.alpha_band is None:
            vrt_options["add_alpha"] = True  # GDAL fills it from masks and the raster's edge
        with WarpedVRT(src, **vrt_options) as vrt:
            if info.nodata is not None:
                data = vrt.read(bands)
                return data, ~np.all(data == info.nodata, axis=0)
            data = vrt.read([*bands, info.alpha_band or vrt.count])
            return data[:-1], data[-1] > 0


def _overview_level(factors: tuple[int, ...], ratio: float) -> tuple[int | None, int]:
    """The overview (index for ``rasterio.open(overview_level=)``, factor) to read for a
    tile ``ratio`` times coarser than the full resolution: the coarsest not coarser than it."""
    level, factor = None, 1
    for i, f in enumerate(factors):
        if f <= ratio * 1.01:
            level, factor = i, f
    return level, factor


def _to_uint8(rgb: np.ndarray, stretch: tuple[tuple[float, float], ...] | None) -> np.ndarray:
    if stretch is None:
        return np.ascontiguousarray(rgb, dtype=np.uint8)
    out = np.empty(rgb.shape, dtype=np.uint8)
    for i, (lo, hi) in enumerate(stretch):
        band = (rgb[..., i].astype(np.float32) - lo) * (255.0 / (hi - lo))
        out[..., i] = np.clip(np.rint(np.nan_to_num(band, nan=0.0)), 0, 255)
    return out


def tiles_with_data(raster: object, tiles: list[TileSpec], probe_px: int = 64) -> list[TileSpec]:
    """The tiles that hold at least one valid pixel, checked on a ``probe_px`` preview of
    each (a cheap read from overviews where the raster has them).

    Raises :class:`EmptySearchAreaError` when none does.
    """
    info = open_raster(raster)
    kept = []
    for tile in tiles:
        factor = max(tile.width, tile.height) / probe_px
        preview = replace(
            tile,
            transform=tile.transform @ Affine.scale(factor),
            width=max(1, round(tile.width / factor)),
            height=max(1, round(tile.height / factor)),
            gsd_m=tile.gsd_m * factor,
        )
        if read_tile(info, preview)[1].any():
            kept.append(tile)
    if not kept:
        raise EmptySearchAreaError(
            f"raster {info.source!r}: only nodata in the search area ({len(tiles)} tiles)"
        )
    return kept
