"""The out-of-the-box demo: the bundled model finds a clicked apartment block of a synthetic
drone view in a bundled crop of the Zürich orthophoto (0.5 m, EPSG:2056) that the model
never saw in training (``assets/MODEL_CARD.md``).

Writes ``result.geojson`` (EPSG:4326), ``result.gpkg`` (EPSG:2056, the raster's CRS),
``overlay.png`` and ``truth.geojson`` (the hand-digitised block, for comparison).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS

from ocgnet_geo.geo.boxes import reproject_geometries
from ocgnet_geo.geo.export import write_geojson
from ocgnet_geo.locate.bundled import DEMO_DATA


@dataclass(frozen=True)
class DemoCase:
    """The bundled query, click (photo pixels), raster and true object (raster CRS)."""

    query: Path
    click: tuple[float, float]
    raster: Path
    truth: shapely.Polygon
    truth_crs: CRS
    name: str
    credit: str


@dataclass
class DemoRun:
    """A demo's result, the true object's box IoU per candidate and the files written."""

    result: object  # LocateResult
    case: DemoCase
    ious: list[float]
    files: dict[str, Path]


def demo_case(folder: Path = DEMO_DATA) -> DemoCase:
    """Read ``demo.json`` of the bundled demo data."""
    meta = json.loads((folder / "demo.json").read_text(encoding="utf-8"))
    obj = meta["object"]
    return DemoCase(
        query=folder / meta["query"],
        click=(float(meta["click"][0]), float(meta["click"][1])),
        raster=folder / meta["raster"],
        truth=shapely.Polygon(obj["polygon"]),
        truth_crs=CRS.from_user_input(obj["crs"]),
        name=obj["name"],
        credit=meta["credit"],
    )


def box_iou_with(polygon: shapely.Geometry, truth: shapely.Geometry) -> float:
    """IoU of the two geometries' envelopes (the model predicts and is scored on boxes)."""
    a, b = shapely.envelope(polygon), shapely.envelope(truth)
    union = shapely.union(a, b).area
    return float(shapely.intersection(a, b).area / union) if union else 0.0


def run_demo(out_dir: str | os.PathLike = "demo-output", top_k: int = 5, locator=None) -> DemoRun:
    """Run the bundled case with the bundled model (or ``locator``) and write the outputs."""
    from ocgnet_geo.locate import Locator

    case = demo_case()
    loc = locator or Locator.demo()
    result = loc.locate(case.query, case.click, case.raster, top_k=top_k)
    truth = reproject_geometries(np.array([case.truth]), case.truth_crs, result.crs)[0]
    ious = [box_iou_with(c.polygon, truth) for c in result.candidates]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "result.geojson": result.to_geojson(out / "result.geojson"),
        "result.gpkg": result.to_gpkg(out / "result.gpkg"),
        "overlay.png": result.overlay(out / "overlay.png"),
        "truth.geojson": write_geojson(
            out / "truth.geojson", np.array([case.truth]), [{"name": case.name}], case.truth_crs
        ),
    }
    return DemoRun(result, case, ious, files)


__all__ = ["DemoCase", "DemoRun", "box_iou_with", "demo_case", "run_demo"]
