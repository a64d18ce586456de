"""The result fields of a located candidate (DESIGN.md) and GeoJSON → ``QgsFeature``."""

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
)
FIELD_NAMES = tuple(name for name, _ in RESULT_FIELDS)


def result_fields() -> QgsFields:
    """A fresh ``QgsFields`` with the result fields."""
    fields = QgsFields()
    for name, kind in RESULT_FIELDS:
        fields.append(QgsField(name, kind))
    return fields


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


def features_from_collection(collection: dict, fields: QgsFields | None = None) -> list[QgsFeature]:
    """Features (result fields + polygon) from a worker FeatureCollection, ranked best first."""
    fields = fields or result_fields()
    features = []
    for item in collection.get("features", []):
        feature = QgsFeature(fields)
        feature.setGeometry(geometry_from_geojson(item["geometry"]))
        properties = item.get("properties") or {}
        for name in FIELD_NAMES:
            if fields.indexOf(name) >= 0:
                feature[name] = properties.get(name)
        features.append(feature)
    features.sort(key=lambda f: f["rank"])
    return features
