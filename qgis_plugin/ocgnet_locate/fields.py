"""The result fields of a located candidate and of the photo footprint (DESIGN.md), and
GeoJSON → ``QgsFeature``."""

from __future__ import annotations

from qgis.core import QgsFeature, QgsField, QgsFields, QgsGeometry, QgsPointXY
from qgis.PyQt.QtCore import QVariant

#: ``(name, type)`` in the order of the worker's and the library's GeoPackage output.
RESULT_FIELDS: tuple[tuple[str, QVariant.Type], ...] = (
    ("rank", QVariant.Int),
    ("score", QVariant.Double),
    ("view", QVariant.String),
    ("model", QVariant.String),
    ("query", QVariant.String),
    ("click_x", QVariant.Double),
    ("click_y", QVariant.Double),
    ("raster", QVariant.String),
    ("gsd_m", QVariant.Double),
    ("tile", QVariant.String),
    ("px_xmin", QVariant.Double),
    ("px_ymin", QVariant.Double),
    ("px_xmax", QVariant.Double),
    ("px_ymax", QVariant.Double),
    ("refined", QVariant.Bool),  # geometric verification held and moved the box
    ("inliers", QVariant.Int),  # inliers of its homography (0: not verified)
    # registration (null from engines without it)
    ("registered", QVariant.Bool),  # the photo was registered to the raster here
    ("method", QVariant.String),  # "sift", "xfeat" or "template"
    ("reprojection_px", QVariant.Double),  # the registration's reprojection error (px)
)
FIELD_NAMES = tuple(name for name, _ in RESULT_FIELDS)

#: ``(name, type)`` of the registered photo's footprint (the worker's ``photo_footprint_*``).
FOOTPRINT_FIELDS: tuple[tuple[str, QVariant.Type], ...] = (
    ("query", QVariant.String),
    ("method", QVariant.String),
    ("inliers", QVariant.Int),
    ("reprojection_px", QVariant.Double),
)


def _fields(spec: tuple[tuple[str, QVariant.Type], ...]) -> QgsFields:
    fields = QgsFields()
    for name, kind in spec:
        fields.append(QgsField(name, kind))
    return fields


def result_fields() -> QgsFields:
    """A fresh ``QgsFields`` with the result fields."""
    return _fields(RESULT_FIELDS)


def footprint_fields() -> QgsFields:
    """A fresh ``QgsFields`` with the photo footprint's fields."""
    return _fields(FOOTPRINT_FIELDS)


def geometry_from_geojson(geometry: dict) -> QgsGeometry:
    """A ``QgsGeometry`` from a GeoJSON Polygon or MultiPolygon (coordinates kept as they
    are: the caller knows their CRS)."""

    def rings(polygon: list) -> list[list[QgsPointXY]]:
        return [[QgsPointXY(float(x), float(y)) for x, y, *_ in ring] for ring in polygon]

    kind = geometry.get("type")
    if kind == "Polygon":
        return QgsGeometry.fromPolygonXY(rings(geometry["coordinates"]))
    if kind == "MultiPolygon":
        return QgsGeometry.fromMultiPolygonXY([rings(p) for p in geometry["coordinates"]])
    raise ValueError(f"geometry type {kind!r}: expected Polygon or MultiPolygon")


def features_from_collection(
    collection: dict | None, fields: QgsFields | None = None
) -> list[QgsFeature]:
    """Features (``fields``, default the result fields, + polygon) from a worker
    FeatureCollection (None: no features), ranked best first when ``fields`` has ``rank``.
    Properties missing from the worker's answer (older engines) are null."""
    fields = fields or result_fields()
    features = []
    for item in (collection or {}).get("features") or []:
        feature = QgsFeature(fields)
        feature.setGeometry(geometry_from_geojson(item["geometry"]))
        properties = item.get("properties") or {}
        for name in fields.names():
            if name in properties:
                feature[name] = properties[name]
        features.append(feature)
    if fields.indexOf("rank") >= 0:
        features.sort(key=lambda f: f["rank"])
    return features
