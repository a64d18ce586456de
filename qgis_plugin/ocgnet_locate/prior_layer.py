"""The temporary layers of the photo-metadata priors: the camera position and the search
area the worker derived from the photo's GPS and altitude, drawn before the search starts.

Main thread only (it creates layers). Memory layers in EPSG:4326 (the worker's ``priors``
answer is lon/lat); the previous run's pair is removed when a new one is drawn.
"""

from __future__ import annotations

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsField,
    QgsGeometry,
    QgsPointXY,
    QgsProject,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QVariant

CAMERA_NAME = "OCGNet camera (photo metadata)"
AREA_NAME = "OCGNet search area (photo metadata)"


def _memory_layer(kind: str, name: str) -> QgsVectorLayer:
    layer = QgsVectorLayer(f"{kind}?crs=EPSG:4326", name, "memory")
    layer.dataProvider().addAttributes(
        [QgsField("what", QVariant.String), QgsField("status", QVariant.String)]
    )
    layer.updateFields()
    layer.setCustomProperty("ocgnet/temporary", "priors")
    return layer


def prior_layers(answer: dict) -> list[QgsVectorLayer]:
    """The camera point and the search-area polygon of the worker's ``priors`` answer (none
    when the photo has no GPS position)."""
    layers = []
    priors = answer.get("priors") or {}
    status = (priors.get("area") or {}).get("status", "")
    camera = answer.get("camera_lonlat")
    if camera:
        layer = _memory_layer("Point", CAMERA_NAME)
        f = QgsFeature(layer.fields())
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(float(camera[0]), float(camera[1]))))
        f.setAttributes(["camera (EXIF GPS)", status])
        layer.dataProvider().addFeature(f)
        layer.updateExtents()
        layers.append(layer)
    ring = answer.get("search_area_epsg4326")
    if ring:
        layer = _memory_layer("Polygon", AREA_NAME)
        f = QgsFeature(layer.fields())
        f.setGeometry(QgsGeometry.fromPolygonXY([[QgsPointXY(x, y) for x, y in ring]]))
        f.setAttributes(["search area (GPS + altitude + margin)", status])
        layer.dataProvider().addFeature(f)
        layer.updateExtents()
        symbol = layer.renderer().symbol()
        symbol.setOpacity(0.35)
        layers.append(layer)
    assert all(lay.crs() == QgsCoordinateReferenceSystem("EPSG:4326") for lay in layers)
    return layers


def replace_prior_layers(answer: dict) -> list[QgsVectorLayer]:
    """Remove the previous run's prior layers and add this run's; returns the new ones."""
    project = QgsProject.instance()
    old = [
        lay.id()
        for lay in project.mapLayers().values()
        if lay.customProperty("ocgnet/temporary") == "priors"
    ]
    if old:
        project.removeMapLayers(old)
    layers = prior_layers(answer)
    for layer in layers:
        project.addMapLayer(layer)
    return layers
