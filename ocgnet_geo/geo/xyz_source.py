"""A local XYZ tile folder (``{z}/{x}/{y}.png|jpg``) read as a raster.

The folder is described by a GDAL VRT (written once into the user's temp folder, named by
its content) that mosaics the tiles of one zoom level in EPSG:3857, with an alpha band that
is 0 where a tile is missing. The consecutive lower zoom levels present in the folder become
its 2x, 4x, ... overviews, so downsampled reads use them. Everything that reads rasters then works on
it unchanged. MBTiles files need nothing of this: GDAL reads them natively (zoom levels
become overviews).
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import warnings
from pathlib import Path
from xml.sax.saxutils import escape

import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

from ocgnet_geo.errors import TileSourceError

TILE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
_EARTH_HALF_CIRCUMFERENCE = math.pi * 6378137.0


def is_xyz_folder(folder: str | os.PathLike) -> bool:
    """True when ``folder`` has integer zoom sub-folders holding integer x sub-folders."""
    path = Path(folder)
    for z in path.iterdir():
        if z.is_dir() and z.name.isdigit():
            return any(x.is_dir() and x.name.isdigit() for x in z.iterdir())
    return False


def xyz_folder_to_vrt(
    folder: str | os.PathLike, zoom: int | None = None, scheme: str = "xyz"
) -> str:
    """Write (or reuse) a VRT mosaicking zoom level ``zoom`` (default: the deepest) of an XYZ
    tile folder and return its path. ``scheme="tms"`` flips y as TMS folders do.

    Raises :class:`TileSourceError` when the folder holds no usable tiles.
    """
    root = Path(folder).resolve()
    zooms = sorted(int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit())
    if not zooms:
        raise TileSourceError(
            f"XYZ folder {str(folder)!r}: no zoom-level sub-folders (expected {{z}}/{{x}}/{{y}}.png)"
        )
    zoom = zooms[-1] if zoom is None else zoom
    if zoom not in zooms:
        raise TileSourceError(f"XYZ folder {str(folder)!r}: no zoom level {zoom} (has {zooms})")
    if scheme not in ("xyz", "tms"):
        raise ValueError(f"scheme={scheme!r}: must be 'xyz' or 'tms'")
    tiles = _list_tiles(root / str(zoom), zoom, scheme)
    if not tiles:
        raise TileSourceError(
            f"XYZ folder {str(folder)!r}: zoom {zoom} holds no {'/'.join(TILE_EXTENSIONS)} tiles"
        )
    size, bands_of = _tile_layout(tiles, folder)
    x0, y0 = min(x for x, _ in tiles), min(y for _, y in tiles)
    width = (max(x for x, _ in tiles) - x0 + 1) * size
    height = (max(y for _, y in tiles) - y0 + 1) * size
    overviews = []
    for lower in range(zoom - 1, -1, -1):  # consecutive lower zooms become 2x, 4x, ... overviews
        scale = 2 ** (zoom - lower)
        low_tiles = _list_tiles(root / str(lower), lower, scheme) if lower in zooms else {}
        if not low_tiles or scale > size or min(width, height) // scale < 64:
            break
        low_size, low_bands = _tile_layout(low_tiles, folder)
        if low_size != size:
            break
        origin = (x0 * size // scale, y0 * size // scale)
        shape = (math.ceil(width / scale), math.ceil(height / scale))
        overviews.append(_write_vrt(_vrt_xml(low_tiles, lower, size, low_bands, origin, shape)))
    xml = _vrt_xml(tiles, zoom, size, bands_of, (x0 * size, y0 * size), (width, height), overviews)
    return _write_vrt(xml)


def _write_vrt(xml: str) -> str:
    """Write ``xml`` once into the temp folder, named by its content; return the path."""
    digest = hashlib.sha1(xml.encode()).hexdigest()[:16]
    out_dir = Path(tempfile.gettempdir()) / "ocgnet-geo-xyz"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"{digest}.vrt"
    if not out.exists():
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(xml)
        os.replace(tmp, out)
    return str(out)


def _list_tiles(zoom_dir: Path, zoom: int, scheme: str) -> dict[tuple[int, int], Path]:
    tiles = {}
    for x_dir in zoom_dir.iterdir():
        if not (x_dir.is_dir() and x_dir.name.isdigit()):
            continue
        for f in x_dir.iterdir():
            if f.suffix.lower() in TILE_EXTENSIONS and f.stem.isdigit():
                y = int(f.stem)
                if scheme == "tms":
                    y = 2**zoom - 1 - y
                tiles[(int(x_dir.name), y)] = f
    return tiles


def _tile_layout(tiles: dict[tuple[int, int], Path], folder: object) -> tuple[int, dict[str, int]]:
    """Tile size in pixels and band count per file extension (read from one tile of each)."""
    size, bands_of = None, {}
    for path in tiles.values():
        ext = path.suffix.lower()
        if ext in bands_of:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                with rasterio.open(path) as src:
                    if src.width != src.height or (size is not None and src.width != size):
                        raise TileSourceError(
                            f"XYZ folder {str(folder)!r}: tile {path.name} is {src.width}x{src.height}, tiles must be square and equal"
                        )
                    if src.count < 3:
                        raise TileSourceError(
                            f"XYZ folder {str(folder)!r}: tile {path} has {src.count} band(s), RGB(A) needed"
                        )
                    size, bands_of[ext] = src.width, src.count
        except RasterioIOError:
            raise TileSourceError(
                f"XYZ folder {str(folder)!r}: tile {path} is not a readable image"
            ) from None
    assert size is not None
    return size, bands_of


def _vrt_xml(
    tiles: dict[tuple[int, int], Path],
    zoom: int,
    size: int,
    bands_of: dict[str, int],
    origin: tuple[int, int],
    shape: tuple[int, int],
    overviews: list[str] = (),  # type: ignore[assignment]
) -> str:
    """VRT of the tiles of one zoom over the window ``origin`` (global pixel x, y at this zoom)
    and ``shape`` (width, height), RGB + alpha (0 where a tile is missing)."""
    (ox, oy), (width, height) = origin, shape
    res = 2 * _EARTH_HALF_CIRCUMFERENCE / (size * 2**zoom)
    left = -_EARTH_HALF_CIRCUMFERENCE + ox * res
    top = _EARTH_HALF_CIRCUMFERENCE - oy * res
    placed = [
        (x * size - ox, y * size - oy, path)
        for (x, y), path in sorted(tiles.items())
        if -size < x * size - ox < width and -size < y * size - oy < height
    ]
    lines = [
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">',
        "  <SRS>EPSG:3857</SRS>",
        f"  <GeoTransform>{left!r}, {res!r}, 0, {top!r}, 0, {-res!r}</GeoTransform>",
    ]
    for band, interp in enumerate(("Red", "Green", "Blue", "Alpha"), start=1):
        lines.append(f'  <VRTRasterBand dataType="Byte" band="{band}">')
        lines.append(f"    <ColorInterp>{interp}</ColorInterp>")
        for dx, dy, path in placed:
            has_alpha = bands_of[path.suffix.lower()] >= 4
            source_band = band if band < 4 or has_alpha else 1
            tag = "ComplexSource" if band == 4 and not has_alpha else "SimpleSource"
            lines.append(f"    <{tag}>")
            lines.append(
                f'      <SourceFilename relativeToVRT="0">{escape(str(path))}</SourceFilename>'
            )
            lines.append(f"      <SourceBand>{source_band}</SourceBand>")
            lines.append(f'      <SrcRect xOff="0" yOff="0" xSize="{size}" ySize="{size}"/>')
            lines.append(f'      <DstRect xOff="{dx}" yOff="{dy}" xSize="{size}" ySize="{size}"/>')
            if tag == "ComplexSource":  # opaque where the tile exists: 0 * value + 255
                lines.append("      <ScaleOffset>255</ScaleOffset>")
                lines.append("      <ScaleRatio>0</ScaleRatio>")
            lines.append(f"    </{tag}>")
        for overview in overviews:
            lines.append(
                f'    <Overview><SourceFilename relativeToVRT="0">{escape(overview)}</SourceFilename>'
                f"<SourceBand>{band}</SourceBand></Overview>"
            )
        lines.append("  </VRTRasterBand>")
    lines.append("</VRTDataset>")
    return "\n".join(lines) + "\n"
