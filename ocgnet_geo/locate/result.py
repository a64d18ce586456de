"""A search's answer: ranked :class:`Candidate` objects in a :class:`LocateResult`, with what
produced them, and its outputs (GeoJSON in EPSG:4326, GeoPackage in the raster's CRS, the
overlay PNG). Polygons are in the raster's CRS."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS

from ocgnet_geo.geo.export import (
    atomic_path,
    check_output_path,
    geojson_feature_collection,
    to_geodataframe,
    write_gpkg,
)
from ocgnet_geo.geo.grid import TileSpec
from ocgnet_geo.geo.raster import RasterInfo


@dataclass(frozen=True)
class Candidate:
    """One ranked answer. ``polygon`` is in the raster's CRS; ``box_px`` is xyxy in the
    pixels of tile ``tile`` (whose placement is ``tile_spec``)."""

    rank: int
    score: float
    polygon: shapely.Polygon
    box_px: tuple[float, float, float, float]
    tile: str
    tile_spec: TileSpec = field(repr=False)
    #: True when geometric verification held and moved the box (see :mod:`.refine`).
    refined: bool = False
    #: Inliers of the verifying homography (0 when not verified or no model was found).
    inliers: int = 0
    #: Tile px per query px and heading (degrees clockwise from north) the model matched,
    #: for models that search them (the matcher); None otherwise.
    scale: float | None = field(default=None, repr=False)
    heading_deg: float | None = field(default=None, repr=False)
    #: True when the whole photo was registered to the raster (:mod:`.registered`): the
    #: polygon is the clicked object's outline carried through the homography.
    registered: bool = False
    #: ``sift`` / ``xfeat`` for a registered candidate, ``template`` otherwise.
    method: str = "template"
    #: Median inlier reprojection error of the registration, in window px (None: template).
    reprojection_px: float | None = None
    #: Where a registered outline came from: ``photo``, ``raster``, ``both`` or ``fallback``.
    outline_source: str = "box"


@dataclass
class LocateResult:
    """Ranked candidates plus what produced them (query, raster, model, timings).

    ``precision`` is the mode the satellite branch ran in (``fp32``, ``bf16``, ``fp16``): result
    metadata, not a per-candidate field (GeoJSON: a top-level ``ocgnet`` member; GeoPackage:
    layer metadata)."""

    candidates: list[Candidate]
    crs: CRS
    query: str
    click: tuple[float, float]
    view: str
    model: str
    raster: str
    gsd_m: float
    tiles_searched: int
    tiles_encoded: int
    seconds: float
    precision: str = "fp32"
    refine: str = "none"
    best_attention: np.ndarray | None = field(default=None, repr=False)
    best_tile: TileSpec | None = field(default=None, repr=False)
    raster_info: RasterInfo | None = field(default=None, repr=False)
    #: The photo-metadata priors of the search (:class:`~ocgnet_geo.locate.priors.SearchPriors`).
    priors: Any = field(default=None, repr=False)
    #: The registration mode (``auto``, ``sift``, ``xfeat``, ``off``) and, when the photo
    #: registered, its footprint on the ground (raster CRS) and the registration.
    register: str = "off"
    photo_footprint: shapely.Polygon | None = field(default=None, repr=False)
    registration: Any = field(default=None, repr=False)

    @property
    def confident(self) -> bool:
        """Whether the best candidate's probability reaches
        :data:`~ocgnet_geo.locate.confidence.CONFIDENT`."""
        from ocgnet_geo.locate.confidence import CONFIDENT

        return bool(self.candidates) and self.candidates[0].score >= CONFIDENT

    @property
    def status(self) -> str:
        """``registered`` (a confident, registered best candidate), ``unverified`` (confident
        without registration) or ``no_confident_match``."""
        if not self.confident:
            return "no_confident_match"
        return "registered" if self.candidates[0].registered else "unverified"

    def footprint_record(self) -> dict[str, Any]:
        """The ``photo_footprint`` layer's properties."""
        reg = self.registration
        return {
            "query": self.query,
            "raster": self.raster,
            "method": getattr(reg, "method", ""),
            "inliers": int(getattr(reg, "inliers", 0)),
            "reprojection_px": float(getattr(reg, "reprojection_px", float("nan"))),
        }

    def records(self) -> list[dict[str, Any]]:
        """One property record per candidate with the result fields of DESIGN.md."""
        return [
            {
                "rank": c.rank,
                "score": c.score,
                "view": self.view,
                "model": self.model,
                "query": self.query,
                "click_x": self.click[0],
                "click_y": self.click[1],
                "raster": self.raster,
                "gsd_m": self.gsd_m,
                "tile": c.tile,
                "px_xmin": c.box_px[0],
                "px_ymin": c.box_px[1],
                "px_xmax": c.box_px[2],
                "px_ymax": c.box_px[3],
                "refined": c.refined,
                "inliers": c.inliers,
                "registered": c.registered,
                "method": c.method,
                "reprojection_px": c.reprojection_px,
            }
            for c in self.candidates
        ]

    @property
    def polygons(self) -> np.ndarray:
        return np.array([c.polygon for c in self.candidates], dtype=object)

    def to_geodataframe(self):
        """A GeoDataFrame in the raster's CRS, one row per candidate."""
        return to_geodataframe(self.polygons, self.records(), self.crs)

    def metadata(self) -> dict[str, Any]:
        """What produced the result, beyond the per-candidate fields: model, precision, view,
        raster, ground resolution, tiles and seconds."""
        return {
            "model": self.model,
            "precision": self.precision,
            "refine": self.refine,
            "refined": sum(c.refined for c in self.candidates),
            "view": self.view,
            "raster": self.raster,
            "gsd_m": self.gsd_m,
            "tiles_searched": self.tiles_searched,
            "tiles_encoded": self.tiles_encoded,
            "seconds": round(self.seconds, 3),
            "register": self.register,
            "status": self.status,
            "confident": self.confident,
            **({"priors": self.priors.metadata()} if self.priors is not None else {}),
        }

    def to_geojson(self, path: str | os.PathLike) -> Path:
        """RFC 7946 GeoJSON (EPSG:4326 lon/lat), written atomically; :meth:`metadata` goes in
        a top-level foreign member ``ocgnet`` (RFC 7946 §6.1)."""
        out = check_output_path(path, (".geojson", ".json"))
        doc = {**self.geojson(), "ocgnet": self.metadata()}
        footprint = self.footprint_geojson()
        if footprint is not None:
            doc["photo_footprint"] = footprint
        with atomic_path(out) as tmp:
            tmp.write_text(json.dumps(doc, separators=(",", ":")))
        return out

    def to_gpkg(self, path: str | os.PathLike) -> Path:
        """GeoPackage in the raster's CRS, written atomically; :meth:`metadata` (model,
        precision, priors, ...) in the layer metadata as ``ocgnet_<key>`` items."""
        extra = {}
        if self.photo_footprint is not None:
            extra["photo_footprint"] = ([self.photo_footprint], [self.footprint_record()])
        return write_gpkg(
            path,
            self.polygons,
            self.records(),
            self.crs,
            metadata=self.metadata(),
            extra_layers=extra,
        )

    def footprint_geojson(self, crs: str = "EPSG:4326") -> dict | None:
        """The registered photo's footprint as a GeoJSON FeatureCollection of one feature
        (EPSG:4326, or the raster's CRS with ``crs="raster"``); None without one."""
        if self.photo_footprint is None:
            return None
        if crs != "raster":
            return geojson_feature_collection(
                [self.photo_footprint], [self.footprint_record()], self.crs
            )
        feature = {
            "type": "Feature",
            "properties": self.footprint_record(),
            "geometry": shapely.geometry.mapping(self.photo_footprint),
        }
        return {"type": "FeatureCollection", "features": [feature]}

    def geojson(self, crs: str = "EPSG:4326") -> dict:
        """The candidates as a GeoJSON FeatureCollection dict: RFC 7946 in EPSG:4326 (default),
        or with coordinates in the raster's CRS (``crs="raster"``, for GIS clients that ask)."""
        if crs != "raster":
            return geojson_feature_collection(self.polygons, self.records(), self.crs)
        features = [
            {"type": "Feature", "properties": record, "geometry": shapely.geometry.mapping(polygon)}
            for record, polygon in zip(self.records(), self.polygons, strict=True)
        ]
        return {"type": "FeatureCollection", "features": features}

    def overlay(self, path: str | os.PathLike) -> Path:
        """PNG: the photo with the click marked, beside the best tile with the ranked boxes
        and the attention map."""
        from ocgnet_geo.locate.overlay import render_overlay

        return render_overlay(self, check_output_path(path, (".png",)))
