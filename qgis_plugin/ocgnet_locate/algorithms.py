"""Processing algorithms ``ocgnet:locate`` and ``ocgnet:locatebatch`` (Toolbox, Modeler,
batch mode, ``processing.run`` and ``qgis_process``), backed by the shared worker."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeatureSink,
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsRasterLayer,
    QgsWkbTypes,
)

from . import settings
from .fields import features_from_collection, footprint_fields, result_fields
from .inputs import BUNDLED_LABEL, VIEWS, InputError, check_weights, parse_heading, raster_file
from .runtime import shared_client
from .worker_client import WorkerError


@dataclass
class _Common:
    """The parameters shared by both algorithms, checked, and the output sink."""

    layer: QgsRasterLayer
    raster: str
    weights: str  # "" = the worker's bundled model
    heading: float | str | None
    bbox: list[float] | None
    top_k: int
    sink: QgsFeatureSink
    dest: str
    #: the optional FOOTPRINT output (registered photo outlines), None when not asked for
    footprint_sink: QgsFeatureSink | None = None
    footprint_dest: str | None = None

    def add_result(self, result: dict) -> int:
        """Add one worker ``locate`` result's candidates (and its registered photo's
        footprint, when there is one and FOOTPRINT is asked for); returns the candidates."""
        features = features_from_collection(result["candidates_raster_crs"], result_fields())
        self.sink.addFeatures(features, QgsFeatureSink.FastInsert)
        if self.footprint_sink is not None:
            footprint = features_from_collection(
                result.get("photo_footprint_raster_crs"), footprint_fields()
            )
            self.footprint_sink.addFeatures(footprint, QgsFeatureSink.FastInsert)
        return len(features)

    def outputs(self) -> dict:
        """The algorithm's outputs: OUTPUT, and FOOTPRINT when it was asked for."""
        outputs = {"OUTPUT": self.dest}
        if self.footprint_sink is not None:
            outputs["FOOTPRINT"] = self.footprint_dest
        return outputs

    def locate_params(self, query: str, click: list[float], view: str, heading=None) -> dict:
        """The worker's ``locate`` params; ``heading`` (text, e.g. a CSV cell) overrides
        the HEADING parameter when not empty. Raises ``QgsProcessingException``."""
        params = {
            "query": query,
            "click": click,
            "raster": self.raster,
            "view": view,
            "top_k": self.top_k,
        }
        if self.bbox is not None:
            params.update(bbox=self.bbox, bbox_crs="EPSG:4326")
        try:
            row_heading = parse_heading(heading)
        except InputError as err:
            raise QgsProcessingException(str(err)) from None
        chosen = row_heading if row_heading is not None else self.heading
        if chosen is not None:
            params["heading"] = chosen
        return params


class _LocateBase(QgsProcessingAlgorithm):
    """Shared parameters and the worker call."""

    def group(self) -> str:
        return "Geo-localization"

    def groupId(self) -> str:
        return "geolocalization"

    def _add_common(self) -> None:
        self.addParameter(
            QgsProcessingParameterRasterLayer("INPUT", "Raster (file-based, georeferenced)")
        )
        self.addParameter(
            QgsProcessingParameterExtent(
                "EXTENT", "Search extent (default: whole raster)", optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterFile(
                "WEIGHTS",
                "Model weights (.safetensors / .pth.tar; empty: the plugin setting, "
                f"else the {BUNDLED_LABEL})",
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                "HEADING",
                "Heading (° clockwise from north the photo's top faces: DEG or DEG±TOL; "
                "empty: all headings)",
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                "TOP_K",
                "Candidates per photo (top-k)",
                QgsProcessingParameterNumber.Integer,
                5,
                False,
                1,
                100,
            )
        )
        self.addParameter(
            QgsProcessingParameterFeatureSink(
                "OUTPUT", "Candidates", QgsProcessing.TypeVectorPolygon
            )
        )
        self.addParameter(
            QgsProcessingParameterFeatureSink(
                "FOOTPRINT",
                "Photo footprint (the registered photo's outline)",
                QgsProcessing.TypeVectorPolygon,
                optional=True,
                createByDefault=False,
            )
        )

    def _common(self, parameters, context):
        layer = self.parameterAsRasterLayer(parameters, "INPUT", context)
        try:
            raster = raster_file(layer)
            weights = check_weights(
                self.parameterAsFile(parameters, "WEIGHTS", context) or settings.default_weights()
            )
            heading = parse_heading(self.parameterAsString(parameters, "HEADING", context))
        except InputError as err:
            raise QgsProcessingException(str(err)) from None
        bbox = None
        if parameters.get("EXTENT") not in (None, ""):
            wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
            rect = self.parameterAsExtent(parameters, "EXTENT", context, wgs84)
            if not rect.isNull() and not rect.isEmpty():
                bbox = [rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum()]
        top_k = self.parameterAsInt(parameters, "TOP_K", context)
        (sink, dest) = self.parameterAsSink(
            parameters, "OUTPUT", context, result_fields(), QgsWkbTypes.Polygon, layer.crs()
        )
        if sink is None:
            raise QgsProcessingException("could not create the output layer")
        common = _Common(layer, raster, weights, heading, bbox, top_k, sink, dest)
        # optional: no sink (None) when FOOTPRINT is not asked for
        common.footprint_sink, common.footprint_dest = self.parameterAsSink(
            parameters, "FOOTPRINT", context, footprint_fields(), QgsWkbTypes.Polygon, layer.crs()
        )
        return common

    @staticmethod
    def _locate(params: dict, weights: str, view: str, feedback, share=(0.0, 1.0)) -> dict | None:
        """One worker ``locate``; None when cancelled. Raises ``QgsProcessingException``."""
        client = shared_client()
        start, width = share
        try:
            restarted = client.ensure_running()
            if restarted:
                feedback.reportError(restarted)
            client.ensure_model(weights, view, settings.precision())
            return client.request(
                "locate",
                params,
                on_progress=lambda f, m: feedback.setProgress(100.0 * (start + width * f)),
                should_cancel=feedback.isCanceled,
            )
        except WorkerError as err:
            if err.code == "cancelled":
                return None
            raise QgsProcessingException(err.message) from None


class LocateAlgorithm(_LocateBase):
    """``ocgnet:locate``: one photo, one click."""

    def name(self) -> str:
        return "locate"

    def displayName(self) -> str:
        return "Locate object from photo"

    def shortHelpString(self) -> str:
        return (
            "Finds the object at pixel (CLICK_X, CLICK_Y) of a drone or street photo in a "
            "georeferenced raster. Output: ranked candidate polygons (rank, score, …, refined, "
            "inliers, registered, method, reprojection_px) in the raster's CRS; score is the "
            "probability that the candidate is the object (below 0.5: not confident). "
            "FOOTPRINT (optional): the registered photo's outline, when the engine "
            "registered one. Without WEIGHTS it uses the bundled matcher (drone "
            "and aerial photos). Runs in the ocgnet-geo worker (see the plugin settings, or "
            "set OCGNET_PYTHON)."
        )

    def createInstance(self):
        return LocateAlgorithm()

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(
            QgsProcessingParameterFile(
                "QUERY",
                "Photo",
                extension="",
                fileFilter="Images (*.jpg *.jpeg *.png *.tif *.tiff *.bmp *.webp)",
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                "CLICK_X", "Click x (photo pixels)", QgsProcessingParameterNumber.Double, minValue=0
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                "CLICK_Y",
                "Click y (photo pixels, down)",
                QgsProcessingParameterNumber.Double,
                minValue=0,
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum("VIEW", "View", options=list(VIEWS), defaultValue=0)
        )
        self._add_common()

    def processAlgorithm(self, parameters, context, feedback):
        photo = self.parameterAsFile(parameters, "QUERY", context)
        if not photo or not os.path.isfile(photo):
            raise QgsProcessingException(f"photo {photo!r}: file not found")
        view = VIEWS[self.parameterAsEnum(parameters, "VIEW", context)]
        common = self._common(parameters, context)
        click = [
            self.parameterAsDouble(parameters, "CLICK_X", context),
            self.parameterAsDouble(parameters, "CLICK_Y", context),
        ]
        params = common.locate_params(os.path.abspath(photo), click, view)
        result = self._locate(params, common.weights, view, feedback)
        if result is not None:
            count = common.add_result(result)
            feedback.pushInfo(f"{count} candidates in {result.get('seconds', 0):.1f} s")
            if result.get("status"):
                feedback.pushInfo(f"status: {result['status']}")
        return common.outputs()


class LocateBatchAlgorithm(_LocateBase):
    """``ocgnet:locatebatch``: every row of a CSV ``query,click_x,click_y[,view][,heading]``."""

    def name(self) -> str:
        return "locatebatch"

    def displayName(self) -> str:
        return "Locate objects from CSV"

    def shortHelpString(self) -> str:
        return (
            "Locates every row of a CSV with columns query,click_x,click_y and optional view "
            "(drone/ground; default: the VIEW parameter) and heading (DEG or DEG±TOL; default: "
            "the HEADING parameter). Relative photo paths are read beside "
            "the CSV. All candidates go into one layer in the raster's CRS, the registered "
            "photos' outlines into FOOTPRINT (optional); rows that fail are reported and "
            "skipped."
        )

    def createInstance(self):
        return LocateBatchAlgorithm()

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterFile("CSV", "Queries CSV", extension="csv"))
        self.addParameter(
            QgsProcessingParameterEnum("VIEW", "Default view", options=list(VIEWS), defaultValue=0)
        )
        self._add_common()

    def processAlgorithm(self, parameters, context, feedback):
        path = self.parameterAsFile(parameters, "CSV", context)
        default_view = VIEWS[self.parameterAsEnum(parameters, "VIEW", context)]
        try:
            with open(path, newline="", encoding="utf-8-sig") as f:
                rows = list(csv.DictReader(f))
        except OSError as err:
            raise QgsProcessingException(f"CSV {path!r}: {err}") from None
        missing = {"query", "click_x", "click_y"} - set(rows[0].keys() if rows else [])
        if not rows or missing:
            raise QgsProcessingException(
                f"CSV {path!r}: needs rows with columns query,click_x,click_y"
                + (f" (missing {', '.join(sorted(missing))})" if rows else "")
            )
        common = self._common(parameters, context)
        folder = os.path.dirname(os.path.abspath(path))
        located = 0
        for n, row in enumerate(rows, start=2):
            if feedback.isCanceled():
                break
            view = (row.get("view") or "").strip() or default_view
            query = row["query"].strip()
            query = query if os.path.isabs(query) else os.path.join(folder, query)
            share = ((n - 2) / len(rows), 1.0 / len(rows))
            try:
                params = common.locate_params(
                    query, [float(row["click_x"]), float(row["click_y"])], view, row.get("heading")
                )
                result = self._locate(params, common.weights, view, feedback, share)
            except QgsProcessingException as err:
                feedback.reportError(f"{path} line {n}: skipped: {err}")
                continue
            if result is None:
                break
            common.add_result(result)
            located += 1
        feedback.pushInfo(f"{located} of {len(rows)} rows located")
        return common.outputs()
