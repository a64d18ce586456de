"""CVOGL split files (lists of 8-field records) and satellite file-name georeferencing.

A record is ``(id, query_name, satellite_name, click_full, click_xy, bbox, polygon, class)``:
``click_xy`` in query pixels (x, y), ``bbox`` ``[x1, y1, x2, y2]`` and ``polygon`` (4 corners,
8 floats) in satellite-tile pixels of the stored image. See the reference spec §5.

Satellite names ``{easting}_{northing}_{extent}_{epsg}.jpg`` give the tile centre (metres,
in the EPSG code's projected CRS, UTM for CVOGL) and its ground side in metres, so each
tile's transform and ground resolution are known.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from ocgnet_geo.data.errors import DatasetError

DATASETS = ("CVOGL_DroneAerial", "CVOGL_SVI")
SPLITS = ("train", "val", "test")

_NUM = r"[-+]?\d+(?:\.\d+)?"
_SAT_NAME = re.compile(rf"^({_NUM})_({_NUM})_({_NUM})_(\d{{4,5}})$")


@dataclass(frozen=True)
class Record:
    """One sample of a split file (pixel units as in the module docstring)."""

    sample_id: int
    query_name: str
    satellite_name: str
    click_full: tuple[float, float]
    click_xy: tuple[float, float]
    bbox: tuple[float, float, float, float]
    polygon: tuple[float, ...]
    class_name: str

    def to_list(self) -> list:
        """The official 8-field list (plain Python types, loadable with weights_only)."""
        return [
            int(self.sample_id),
            self.query_name,
            self.satellite_name,
            tuple(float(v) for v in self.click_full),
            tuple(float(v) for v in self.click_xy),
            [float(v) for v in self.bbox],
            [float(v) for v in self.polygon],
            self.class_name,
        ]


@dataclass(frozen=True)
class SatelliteGeo:
    """Georeferencing of a satellite tile from its name: centre (metres), side (metres), EPSG."""

    easting: float
    northing: float
    extent_m: float
    epsg: int

    def gsd_m(self, width_px: int) -> float:
        """Metres per pixel for a tile stored ``width_px`` pixels wide."""
        return self.extent_m / width_px

    def pixel_to_map(self, x: float, y: float, width_px: int) -> tuple[float, float]:
        """Map coordinates (easting, northing in EPSG:``epsg``) of tile pixel (x, y)."""
        g = self.gsd_m(width_px)
        return (
            self.easting - self.extent_m / 2 + x * g,
            self.northing + self.extent_m / 2 - y * g,
        )


def parse_satellite_name(name: str) -> SatelliteGeo | None:
    """Georeferencing from ``{easting}_{northing}_{extent}_{epsg}.ext``, or ``None``."""
    m = _SAT_NAME.match(Path(name).stem)
    if not m:
        return None
    e, n, ext, epsg = m.groups()
    if float(ext) <= 0:
        return None
    return SatelliteGeo(float(e), float(n), float(ext), int(epsg))


def satellite_name(geo: SatelliteGeo, suffix: str = ".jpg") -> str:
    """Inverse of :func:`parse_satellite_name` (integers stay integers, else 2 decimals)."""

    def fmt(v: float) -> str:
        return str(round(v)) if abs(v - round(v)) < 1e-9 else f"{v:.2f}"

    return f"{fmt(geo.easting)}_{fmt(geo.northing)}_{fmt(geo.extent_m)}_{geo.epsg}{suffix}"


def split_path(root: Path, dataset: str, split: str) -> Path:
    """``root/dataset/dataset_split.pth``."""
    return Path(root) / dataset / f"{dataset}_{split}.pth"


def parse_record(raw: object, where: str) -> Record:
    """Validate one raw 8-field record (``where`` names it in errors)."""
    if not isinstance(raw, (list, tuple)) or len(raw) != 8:
        raise DatasetError(f"{where}: expected an 8-field record, got {type(raw).__name__}")
    sid, qname, sname, full, click, bbox, poly, cls = raw
    try:
        rec = Record(
            sample_id=int(sid),
            query_name=str(qname),
            satellite_name=str(sname),
            click_full=tuple(float(v) for v in full),  # type: ignore[arg-type]
            click_xy=tuple(float(v) for v in click),  # type: ignore[arg-type]
            bbox=tuple(float(v) for v in bbox),  # type: ignore[arg-type]
            polygon=tuple(float(v) for v in poly),
            class_name=str(cls),
        )
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: a field has the wrong type") from None
    if len(rec.click_xy) != 2 or len(rec.bbox) != 4:
        raise DatasetError(f"{where}: click must be (x, y) and bbox [x1, y1, x2, y2]")
    x1, y1, x2, y2 = rec.bbox
    if not (x2 > x1 and y2 > y1):
        raise DatasetError(f"{where}: empty bbox {list(rec.bbox)}")
    return rec


def load_split(path: Path) -> list[Record]:
    """Read a split ``.pth`` with ``torch.load(weights_only=True)`` (no code can run)."""
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"split file {p}: not found")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            raw = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:  # the safe unpickler raises many types
        first = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
        raise DatasetError(
            f"split file {p}: not a safe, readable list of records ({first})"
        ) from None
    if not isinstance(raw, (list, tuple)):
        raise DatasetError(f"split file {p}: expected a list of records, got {type(raw).__name__}")
    return [parse_record(r, f"split file {p}, record {i}") for i, r in enumerate(raw)]


def save_split(records: list[Record], path: Path) -> None:
    """Write records as the official format (a list of 8-field lists, ``torch.save``)."""
    torch.save([r.to_list() for r in records], Path(path))


def class_group(name: str) -> str:
    """The five per-class groups of the reference: building, bridge, roundabout, baseball,
    others."""
    if name.startswith("building"):
        return "building"
    return {
        "sport_baseball": "baseball",
        "junction_roundabout": "roundabout",
        "man_made_bridge": "bridge",
    }.get(name, "others")


def dataset_folders(root: Path, dataset: str = "CVOGL_DroneAerial") -> dict[str, list[Path]]:
    """``root/<place>/.../<dataset>`` folders grouped by place (the first path component),
    those with a test split only."""
    places: dict[str, list[Path]] = {}
    for folder in sorted(Path(root).glob(f"**/{dataset}")):
        if split_path(folder.parent, dataset, "test").is_file():
            places.setdefault(folder.relative_to(root).parts[0], []).append(folder)
    return places
