"""The result layers: ranked candidates in the raster's CRS, saved to a GeoPackage, styled,
and the registered photo's footprint beside them when the engine registered one.

Main thread only (it creates layers). Each run is one GeoPackage in a folder beside
the project file (``<project>_ocgnet/locate_<photo>_<time>.gpkg``) or, for an unsaved
project, in the temporary folder, so results survive a restart of QGIS. The candidates are
table ``<table>``, the footprint table ``<table>_footprint``. The styles (a confident best
candidate prominent, weak candidates dashed, "rank: score" labels; the footprint a blue
outline) are also stored in the GeoPackage as the tables' default styles.
"""

from __future__ import annotations

import os
import tempfile
import time

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFillSymbol,
    QgsPalLayerSettings,
    QgsProject,
    QgsRectangle,
    QgsRuleBasedRenderer,
    QgsSingleSymbolRenderer,
    QgsTextBufferSettings,
    QgsTextFormat,
    QgsVectorFileWriter,
    QgsVectorLayer,
    QgsVectorLayerSimpleLabeling,
)
from qgis.PyQt.QtGui import QColor

from .fields import features_from_collection, footprint_fields, result_fields

#: "rank: score" with 3 decimals, or 2 significant digits for scores below 0.001
LABEL_EXPRESSION = (
    '"rank" || \': \' || CASE WHEN "score" >= 0.001 OR "score" <= 0 '
    'THEN format_number("score", 3) '
    'ELSE format_number("score" / 10 ^ floor(log10("score")), 1) '
    "|| 'e' || to_string(floor(log10(\"score\"))) END"
)


#: ``score`` is a calibrated probability: below this a candidate is not a confident answer.
CONFIDENT_SCORE = 0.5
#: the candidates' rules, ``(label, filter)``; a feature falls in exactly one of them
RULE_BEST = ("best candidate", f'"rank" = 1 AND "score" >= {CONFIDENT_SCORE}')
RULE_OTHER = ("other confident candidates", f'"rank" > 1 AND "score" >= {CONFIDENT_SCORE}')
RULE_WEAK = (
    f"not confident (score < {CONFIDENT_SCORE:.0%})",
    f'"score" < {CONFIDENT_SCORE} OR "score" IS NULL OR "rank" IS NULL',
)
#: suffix of the footprint's table (``<table>_footprint``) and layer (``<table> footprint``)
FOOTPRINT = "footprint"


def results_folder(project: QgsProject | None = None) -> str:
    """Where result GeoPackages of this project go: ``<project>_ocgnet/`` beside the project
    file, else ``<temp>/ocgnet_locate/`` for an unsaved project (created if needed)."""
    project = project or QgsProject.instance()
    project_file = project.fileName()
    if project_file:
        folder = f"{os.path.splitext(project_file)[0]}_ocgnet"
    else:
        folder = os.path.join(tempfile.gettempdir(), "ocgnet_locate")
    os.makedirs(folder, exist_ok=True)
    return folder


def results_gpkg(table: str, project: QgsProject | None = None) -> str:
    """A new GeoPackage for one run's ``table`` in :func:`results_folder`.

    One file per run: writing the table and its default style never contends with the
    results of earlier runs that are open in the project (SQLite locks)."""
    folder = results_folder(project)
    path = os.path.join(folder, f"{table}.gpkg")
    n = 1
    while os.path.exists(path):
        n += 1
        path = os.path.join(folder, f"{table}_{n}.gpkg")
    return path


def result_crs(result: dict, raster_crs: QgsCoordinateReferenceSystem | None = None):
    """The raster's CRS: the QGIS layer's own when valid, else the worker's WKT/authid."""
    if raster_crs is not None and raster_crs.isValid():
        return raster_crs
    crs = QgsCoordinateReferenceSystem.fromWkt(result.get("crs") or "")
    if not crs.isValid() and result.get("crs_authid"):
        crs = QgsCoordinateReferenceSystem(result["crs_authid"])
    return crs


def memory_layer(result: dict, crs: QgsCoordinateReferenceSystem, name: str) -> QgsVectorLayer:
    """An in-memory polygon layer with the result fields and the ranked candidates."""
    layer = QgsVectorLayer("Polygon", name, "memory")
    layer.setCrs(crs)
    provider = layer.dataProvider()
    provider.addAttributes(result_fields().toList())
    layer.updateFields()
    provider.addFeatures(features_from_collection(result["candidates_raster_crs"], layer.fields()))
    layer.updateExtents()
    return layer


def write_gpkg(layer: QgsVectorLayer, path: str, table: str) -> QgsVectorLayer:
    """Write ``layer`` as table ``table`` of GeoPackage ``path``; return the saved layer."""
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.layerName = table
    options.fileEncoding = "UTF-8"
    options.actionOnExistingFile = (
        QgsVectorFileWriter.CreateOrOverwriteLayer
        if os.path.exists(path)
        else QgsVectorFileWriter.CreateOrOverwriteFile
    )
    context = QgsProject.instance().transformContext()
    error, message, _, _ = QgsVectorFileWriter.writeAsVectorFormatV3(layer, path, context, options)
    if error != QgsVectorFileWriter.NoError:
        raise OSError(f"could not write {path!r}: {message}")
    saved = QgsVectorLayer(f"{path}|layername={table}", table, "ogr")
    if not saved.isValid():
        raise OSError(f"could not open {path!r} (table {table})")
    return saved


def _fill(color: str | None, outline: str, width: float, dashed: bool = False) -> QgsFillSymbol:
    """A fill symbol (``color`` None: no fill); ``width`` in millimetres."""
    props = {
        "color": color or "0,0,0,0",
        "style": "solid" if color else "no",
        "outline_color": outline,
        "outline_width": str(width),
        "outline_width_unit": "MM",
    }
    if dashed:
        props["outline_style"] = "dash"
    return QgsFillSymbol.createSimple(props)


def candidate_renderer() -> QgsRuleBasedRenderer:
    """Rules on ``score`` and ``rank``: a confident best candidate (score ≥ 0.5) has a thick
    red outline over a light fill, other confident ones a dashed orange outline; candidates
    that are not confident (score < 0.5) a thin dashed grey-amber outline and no fill."""
    root = QgsRuleBasedRenderer.Rule(None)
    rules = (
        (RULE_BEST, _fill("255,40,40,60", "230,0,0,255", 0.9)),
        (RULE_OTHER, _fill("255,170,0,25", "255,150,0,255", 0.4, dashed=True)),
        (RULE_WEAK, _fill(None, "190,150,70,255", 0.3, dashed=True)),
    )
    for (label, expression), symbol in rules:
        root.appendChild(QgsRuleBasedRenderer.Rule(symbol, 0, 0, expression, label))
    return QgsRuleBasedRenderer(root)


def style_layer(layer: QgsVectorLayer) -> None:
    """The candidates' style (:func:`candidate_renderer`) and labels "rank: score"."""
    layer.setRenderer(candidate_renderer())

    settings = QgsPalLayerSettings()
    settings.fieldName = LABEL_EXPRESSION
    settings.isExpression = True
    text = QgsTextFormat()
    text.setSize(9)
    text.setColor(QColor(20, 20, 20))
    buffer = QgsTextBufferSettings()
    buffer.setEnabled(True)
    buffer.setSize(1.0)
    buffer.setColor(QColor(255, 255, 255))
    text.setBuffer(buffer)
    settings.setFormat(text)
    layer.setLabeling(QgsVectorLayerSimpleLabeling(settings))
    layer.setLabelsEnabled(True)


def style_footprint(layer: QgsVectorLayer) -> None:
    """The photo footprint: a blue outline, no fill."""
    layer.setRenderer(QgsSingleSymbolRenderer(_fill(None, "30,90,230,255", 0.7)))


def table_name(photo: str) -> str:
    """A new table name per run: ``locate_<photo stem>_<yyyymmdd_hhmmss>``."""
    stem = "".join(c if c.isalnum() else "_" for c in os.path.splitext(os.path.basename(photo))[0])
    return f"locate_{stem[:40]}_{time.strftime('%Y%m%d_%H%M%S')}"


def footprint_features(result: dict) -> list:
    """The registered photo's footprint (0 or 1 feature, raster CRS) of a worker result;
    none from engines without registration."""
    return features_from_collection(result.get("photo_footprint_raster_crs"), footprint_fields())


def build_result_layers(
    result: dict,
    raster_crs: QgsCoordinateReferenceSystem | None,
    photo: str,
    gpkg: str | None = None,
) -> tuple[QgsVectorLayer, QgsVectorLayer | None]:
    """Save the worker's ``locate`` result to one GeoPackage and return the styled layers
    (not yet added to the project): the candidates (table ``<table>``) and the registered
    photo's footprint (table ``<table>_footprint``, layer ``<table> footprint``), or None
    when the result holds no footprint. Both in the raster's CRS (:func:`result_crs`)."""
    table = table_name(photo)
    gpkg = gpkg or results_gpkg(table)
    crs = result_crs(result, raster_crs)
    temporary = memory_layer(result, crs, table)
    try:
        layer = write_gpkg(temporary, gpkg, table)
    finally:
        del temporary
    style_layer(layer)
    layer.saveStyleToDatabase("ocgnet", "OCGNet ranks and scores", True, "")

    features = footprint_features(result)
    if not features:
        return layer, None
    temporary = QgsVectorLayer("Polygon", f"{table} {FOOTPRINT}", "memory")
    temporary.setCrs(crs)
    temporary.dataProvider().addAttributes(footprint_fields().toList())
    temporary.updateFields()
    temporary.dataProvider().addFeatures(features)
    try:
        footprint = write_gpkg(temporary, gpkg, f"{table}_{FOOTPRINT}")
    finally:
        del temporary
    footprint.setName(f"{table} {FOOTPRINT}")
    style_footprint(footprint)
    footprint.saveStyleToDatabase("ocgnet", "OCGNet photo footprint", True, "")
    return layer, footprint


def build_result_layer(
    result: dict,
    raster_crs: QgsCoordinateReferenceSystem | None,
    photo: str,
    gpkg: str | None = None,
) -> QgsVectorLayer:
    """The candidates layer of :func:`build_result_layers` (the footprint table, if any, is
    written to the GeoPackage too)."""
    return build_result_layers(result, raster_crs, photo, gpkg)[0]


def best_extent(layer: QgsVectorLayer, target: QgsCoordinateReferenceSystem) -> QgsRectangle:
    """The best candidate's bounding box in ``target`` CRS, widened for context."""
    features = sorted(layer.getFeatures(), key=lambda f: f["rank"])
    if not features:
        return QgsRectangle()
    rect = features[0].geometry().boundingBox()
    if target.isValid() and target != layer.crs():
        transform = QgsCoordinateTransform(layer.crs(), target, QgsProject.instance())
        rect = transform.transformBoundingBox(rect)
    rect.scale(4.0)
    return rect
