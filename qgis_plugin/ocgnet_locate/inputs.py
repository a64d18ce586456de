"""What one Locate run needs, checked before anything starts (messages are for the user)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsMapLayer,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
)

VIEWS = ("drone", "ground")
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")
#: The weights entry that loads the worker's bundled model (``load`` without ``weights``).
BUNDLED_LABEL = "bundled matcher, drone/aerial photos"


class InputError(ValueError):
    """A user mistake, with a one-line message naming the input."""


@dataclass
class LocateRequest:
    """One locate run: photo + click (photo pixels) + raster file (+ search box)."""

    photo: str
    click: tuple[float, float]
    raster: str
    raster_crs: QgsCoordinateReferenceSystem
    raster_name: str
    #: a weights file, or "" for the worker's bundled model (the matcher)
    weights: str
    view: str = "drone"
    top_k: int = 5
    #: search box (minx, miny, maxx, maxy) in EPSG:4326, or None for the whole raster
    bbox: list[float] | None = None
    #: the worker's precision mode (plugin setting): auto, fp32 or bf16
    precision: str = "auto"
    #: heading hint for the worker (DEG as a number or "DEG±TOL"), None for all headings
    heading: float | str | None = None
    #: "auto": the worker narrows the search with the photo's GPS/altitude/heading; "off"
    priors: str = "auto"
    extra: dict = field(default_factory=dict)

    def locate_params(self) -> dict:
        """The ``params`` of the worker's ``locate`` request."""
        params = {
            "query": self.photo,
            "click": [round(self.click[0], 2), round(self.click[1], 2)],
            "raster": self.raster,
            "view": self.view,
            "top_k": int(self.top_k),
        }
        if self.bbox is not None:
            params["bbox"] = [float(v) for v in self.bbox]
            params["bbox_crs"] = "EPSG:4326"
        if self.heading is not None:
            params["heading"] = self.heading
        params["priors"] = self.priors
        return params

    def priors_params(self) -> dict:
        """The ``params`` of the worker's ``priors`` request (what the search will use)."""
        keys = ("query", "click", "raster", "bbox", "bbox_crs", "heading", "priors")
        return {k: v for k, v in self.locate_params().items() if k in keys}


def check_photo(path: str) -> str:
    if not path:
        raise InputError("photo: choose a photo file first")
    if not os.path.isfile(path):
        raise InputError(f"photo {path!r}: file not found")
    return os.path.abspath(path)


def check_click(click: tuple[float, float] | None) -> tuple[float, float]:
    if click is None:
        raise InputError("click: click the object in the photo first")
    return float(click[0]), float(click[1])


def raster_file(layer: QgsMapLayer | None) -> str:
    """The file behind a georeferenced, GDAL-read raster layer, or :class:`InputError`."""
    if layer is None:
        raise InputError("raster: choose a raster layer")
    if not isinstance(layer, QgsRasterLayer) or not layer.isValid():
        raise InputError(f"layer {layer.name()!r}: not a valid raster layer")
    if layer.providerType() != "gdal":
        raise InputError(
            f"layer {layer.name()!r} comes from the {layer.providerType()!r} provider; "
            "OCGNet needs a file-based raster (e.g. GeoTIFF): save it with "
            "Export › Save As… first"
        )
    path = layer.source().split("|")[0]
    if not os.path.isfile(path):
        raise InputError(
            f"layer {layer.name()!r}: its source {path!r} is not a local file; "
            "save it as a GeoTIFF first"
        )
    extent = layer.extent()
    pixel_grid = QgsRectangle(0, -layer.height(), layer.width(), 0)
    if not layer.crs().isValid() or extent == pixel_grid:
        raise InputError(
            f"layer {layer.name()!r}: not georeferenced (no CRS or no geotransform); "
            "georeference it first (Raster › Georeferencer)"
        )
    return os.path.abspath(path)


def bbox_4326(
    rect: QgsRectangle, crs: QgsCoordinateReferenceSystem, project: QgsProject | None = None
) -> list[float]:
    """``rect`` (in ``crs``) as a lon/lat box for the worker's ``bbox`` parameter."""
    project = project or QgsProject.instance()
    wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
    if crs != wgs84:
        rect = QgsCoordinateTransform(crs, wgs84, project).transformBoundingBox(rect)
    if rect.isEmpty():
        raise InputError("search area: the rectangle is empty")
    return [rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum()]


def check_weights(path: str | None) -> str:
    """The absolute path of a weights file, or "" (empty or :data:`BUNDLED_LABEL`): the
    worker's bundled model."""
    path = (path or "").strip()
    if not path or path == BUNDLED_LABEL:
        return ""
    if not os.path.isfile(path):
        raise InputError(f"weights {path!r}: file not found")
    return os.path.abspath(path)


def _heading_error(text: str, detail: str = "expected DEG or DEG±TOL") -> InputError:
    return InputError(
        f"heading {text!r}: {detail} (e.g. 45 or 45±30), degrees clockwise from north "
        "that the photo's top faces"
    )


def parse_heading(text: str | None) -> float | str | None:
    """The worker's ``heading`` from the user's text: None when empty (search all
    headings), a number for ``DEG``, ``"DEG±TOL"`` for a range (``+-`` and ``°`` accepted);
    :class:`InputError` otherwise. The tolerance is 0-180 degrees."""
    raw = (text or "").strip()
    if not raw:
        return None
    cleaned = raw.replace(" ", "").replace("°", "").replace("+/-", "±").replace("+-", "±")
    parts = cleaned.split("±")
    if len(parts) > 2:
        raise _heading_error(raw)
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        raise _heading_error(raw) from None
    if not all(math.isfinite(n) for n in numbers):
        raise _heading_error(raw, "needs finite numbers")
    if len(numbers) == 1:
        return numbers[0]
    centre, tol = numbers
    if not 0 <= tol <= 180:
        raise _heading_error(raw, f"the tolerance {tol:g} is not within 0-180°")
    return f"{centre:g}±{tol:g}"
