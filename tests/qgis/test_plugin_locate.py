"""Locate through the panel with a real worker subprocess: result layer, cancel, restart."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from qgis.core import Qgis, QgsGeometry, QgsProject, QgsRasterLayer, QgsRuleBasedRenderer

from tests.qgis.conftest import wait_for

CLICK = (123.0, 77.0)
TOP_K = 3

LIBRARY_LOCATE = r"""
import json, sys
from ocgnet_geo import Locator
weights, photo, raster, x, y, k = sys.argv[1:]
result = Locator.from_weights(weights).locate(query=photo, click=(float(x), float(y)),
                                              raster=raster, view="drone", top_k=int(k))
print(json.dumps(result.geojson(crs="raster")))
"""


def prepare(dock, scene: Path, weights: Path, raster: str = "ortho_utm.tif") -> QgsRasterLayer:
    """Photo, click, raster and the random-weight OCGNet (these tests check the plumbing:
    the same boxes as the locate API, cancel, restart)."""
    layer = QgsRasterLayer(str(scene / raster), raster, "gdal")
    assert layer.isValid()
    QgsProject.instance().addMapLayer(layer)
    dock.raster_combo.setLayer(layer)
    dock.set_photo(str(scene / "photo.jpg"))
    dock.photo_view.set_click(*CLICK)
    dock.weights_combo.setEditText(str(weights))
    dock.top_k.setValue(TOP_K)
    return layer


def run(dock, timeout: float = 120.0):
    task = dock.locate()
    assert task is not None, "the run did not start"
    wait_for(lambda: task.done, timeout)
    return task


@pytest.fixture(scope="module")
def library_candidates(scene: Path, light_weights: Path) -> dict:
    """What the locate API itself returns for the same inputs (in a subprocess)."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            LIBRARY_LOCATE,
            str(light_weights),
            str(scene / "photo.jpg"),
            str(scene / "ortho_utm.tif"),
            str(CLICK[0]),
            str(CLICK[1]),
            str(TOP_K),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(done.stdout)


def test_locate_makes_a_styled_layer_in_the_raster_crs(
    dock, qgis_iface, scene: Path, light_weights: Path, library_candidates: dict
) -> None:
    from ocgnet_locate.fields import FIELD_NAMES

    raster = prepare(dock, scene, light_weights)
    task = run(dock)
    assert task.error is None, task.error and task.error.message
    layer = dock.last_layer
    assert layer is not None and layer.isValid()
    assert QgsProject.instance().mapLayer(layer.id()) is layer
    assert layer.crs() == raster.crs() and layer.crs().authid() == "EPSG:32632"
    assert layer.providerType() == "ogr" and ".gpkg" in layer.source()
    assert [f.name() for f in layer.fields()] == ["fid", *FIELD_NAMES]
    features = sorted(layer.getFeatures(), key=lambda f: f["rank"])
    assert [f["rank"] for f in features] == list(range(1, TOP_K + 1))

    # placed where the locate API places them, and as the worker answered
    expected = sorted(library_candidates["features"], key=lambda f: f["properties"]["rank"])
    worker = sorted(
        task.result["candidates_raster_crs"]["features"], key=lambda f: f["properties"]["rank"]
    )
    assert len(expected) == TOP_K
    for feature, want, sent in zip(features, expected, worker, strict=True):
        for ref in (want, sent):
            geometry = QgsGeometry.fromWkt(
                "POLYGON(("
                + ",".join(f"{x} {y}" for x, y in ref["geometry"]["coordinates"][0])
                + "))"
            )
            assert feature.geometry().symDifference(geometry).area() < 1e-6
            assert abs(feature["score"] - ref["properties"]["score"]) < 1e-6
            for name in ("tile", "px_xmin", "px_ymax", "click_x", "click_y", "view"):
                assert feature[name] == pytest.approx(ref["properties"][name])
            assert feature["refined"] == ref["properties"]["refined"]
            assert feature["inliers"] == ref["properties"]["inliers"]
        assert raster.extent().intersects(feature.geometry().boundingBox())

    assert isinstance(layer.renderer(), QgsRuleBasedRenderer) and layer.labelsEnabled()
    canvas_extent = qgis_iface.mapCanvas().extent()
    assert canvas_extent.contains(features[0].geometry().boundingBox().center())
    # a success, or (random weights, an engine with calibrated scores) an amber warning
    bar = qgis_iface.messageBar()
    summaries = bar.get_messages(Qgis.Success) + bar.get_messages(Qgis.Warning)
    assert summaries and f"{TOP_K} candidates" in summaries[-1]

    # the GeoPackage holds the table and its default style: it survives a restart
    path = layer.source().split("|")[0]
    table = layer.source().split("layername=")[1]
    from qgis.core import QgsVectorLayer

    reopened = QgsVectorLayer(f"{path}|layername={table}", "again", "ogr")
    assert reopened.featureCount() == TOP_K and isinstance(
        reopened.renderer(), QgsRuleBasedRenderer
    )
    del reopened


def test_cancel_leaves_no_layer_and_next_run_works(dock, scene: Path, light_weights: Path) -> None:
    prepare(dock, scene, light_weights, "big_utm.tif")
    layers_before = set(QgsProject.instance().mapLayers())
    task = dock.locate()
    assert task is not None
    wait_for(lambda: task.progress() > 10 or task.done, 120)  # the model is loaded, tiles run
    task.cancel()
    wait_for(lambda: task.done, 60)
    assert task.error is not None and task.error.code == "cancelled"
    assert dock.last_layer is None
    assert set(QgsProject.instance().mapLayers()) == layers_before
    assert dock.locate_button.isEnabled()

    prepare(dock, scene, light_weights)
    task = run(dock)
    assert task.error is None and dock.last_layer is not None
    assert dock.last_layer.featureCount() == TOP_K


def test_killed_worker_is_restarted_with_a_message(
    dock, qgis_iface, scene: Path, light_weights: Path
) -> None:
    prepare(dock, scene, light_weights)
    dock.client.ensure_running()
    pid = dock.client.pid
    dock.client.kill()
    task = run(dock)
    assert task.error is None and dock.last_layer is not None
    assert dock.client.pid not in (None, pid)
    warnings = qgis_iface.messageBar().get_messages(Qgis.Warning)
    assert any("restarted" in w for w in warnings)


GPS_PHOTO_WRITER = r"""
import sys
import numpy as np
from pyproj import Transformer
from ocgnet_geo.data.photo_meta import dji_xmp, pose_exif, save_jpeg
lon, lat = Transformer.from_crs(32632, 4326, always_xy=True).transform(500080.0, 5199940.0)
rgb = np.random.default_rng(5).integers(0, 255, (300, 400, 3), dtype=np.uint8)
exif = pose_exif(lat=lat, lon=lon, focal_35mm=24)
xmp = dji_xmp(GimbalYawDegree=30.0, GimbalPitchDegree=-90.0, RelativeAltitude=40.0)
save_jpeg(sys.argv[1], rgb, exif=exif, xmp=xmp)
"""


def test_priors_draw_camera_and_search_area_before_the_search(
    dock, scene: Path, light_weights: Path
) -> None:
    from ocgnet_locate.prior_layer import AREA_NAME, CAMERA_NAME
    from qgis.core import QgsPointXY

    photo = scene / "gps.jpg"
    subprocess.run([sys.executable, "-c", GPS_PHOTO_WRITER, str(photo)], check=True, timeout=120)
    prepare(dock, scene, light_weights)
    dock.set_photo(str(photo))
    dock.photo_view.set_click(*CLICK)
    assert dock.priors_check.isChecked()  # on by default
    task = run(dock)
    assert task.error is None, task.error and task.error.message
    assert task.priors is not None and task.priors["priors"]["area"]["status"] == "used"
    layers = {lay.name(): lay for lay in QgsProject.instance().mapLayers().values()}
    camera, area = layers[CAMERA_NAME], layers[AREA_NAME]
    assert camera.crs().authid() == area.crs().authid() == "EPSG:4326"
    point = next(camera.getFeatures()).geometry().asPoint()
    polygon = next(area.getFeatures()).geometry()
    assert polygon.contains(QgsGeometry.fromPointXY(QgsPointXY(point)))
    lon, lat = task.priors["camera_lonlat"]
    assert abs(point.x() - lon) < 1e-9 and abs(point.y() - lat) < 1e-9
    # the worker's result names the priors it used (OCGNet weights: no heading/scale search)
    assert task.result["priors"]["heading"]["status"] == "ignored"
    assert task.result["priors"]["area"]["status"] in ("used", "widened")

    dock.priors_check.setChecked(False)
    dock.photo_view.set_click(*CLICK)
    task = run(dock)
    assert task.error is None and task.priors is None
    assert task.result["priors"]["mode"] == "off"
