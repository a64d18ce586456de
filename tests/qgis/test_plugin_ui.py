"""The plugin in real QGIS (offscreen): load/unload, the photo view, input checks."""

from __future__ import annotations

from pathlib import Path

from qgis.core import Qgis, QgsApplication, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QPointF, Qt
from qgis.PyQt.QtTest import QTest
from qgis.PyQt.QtWidgets import QAction, QDockWidget, QPushButton

from tests.qgis.conftest import flush_deletes, wait_for


def test_plugin_loads_and_unloads_cleanly(qgis_iface, plugin_package: Path) -> None:
    import ocgnet_locate
    from ocgnet_locate.map_tool import RectangleMapTool

    registry = QgsApplication.processingRegistry()
    main = qgis_iface.mainWindow()
    canvas = qgis_iface.mapCanvas()
    plugin = ocgnet_locate.classFactory(qgis_iface)
    plugin.initGui()
    try:
        provider = registry.providerById("ocgnet")
        assert provider is not None and provider.name() == "OCGNet"
        assert {a.id() for a in provider.algorithms()} == {"ocgnet:locate", "ocgnet:locatebatch"}
        assert [
            a.objectName()
            for a in main.findChildren(QAction)
            if a.objectName().startswith("ocgnet")
        ]
        plugin.show_panel(True)
        assert main.findChildren(QDockWidget, "OCGNetLocateDock")
        plugin.dock.start_drawing()
        assert isinstance(canvas.mapTool(), RectangleMapTool)
    finally:
        plugin.unload()
    flush_deletes()
    assert registry.providerById("ocgnet") is None
    assert not main.findChildren(QDockWidget, "OCGNetLocateDock")
    assert not [a for a in main.findChildren(QAction) if a.objectName().startswith("ocgnet")]
    assert not isinstance(canvas.mapTool(), RectangleMapTool)
    assert plugin.dock is None and plugin.provider is None and plugin.actions == []


def test_click_in_photo_view_sets_click(dock, scene: Path) -> None:
    dock.set_photo(str(scene / "photo.jpg"))
    view = dock.photo_view
    view.resize(400, 300)
    dock.show()
    view.show()
    QgsApplication.processEvents()
    view.fit()
    assert view.photo_size() == (400, 300)
    for target in ((120.0, 80.0), (300.0, 210.0)):
        pos = view.mapFromScene(QPointF(*target))
        QTest.mouseClick(view.viewport(), Qt.LeftButton, Qt.NoModifier, pos)
        x, y = view.click
        assert abs(x - target[0]) <= 2 and abs(y - target[1]) <= 2
        assert dock.click_label.text().startswith("click: x = ")
    markers = [i for i in view.scene().items() if i.zValue() == 10]
    assert len(markers) == 1  # a new click replaces the old marker
    assert markers[0].pos() == QPointF(*view.click)
    dock.hide()


def warnings_of(qgis_iface) -> list[str]:
    return qgis_iface.messageBar().get_messages(Qgis.Warning)


def test_bad_input_shows_a_message_and_starts_nothing(dock, qgis_iface, scene: Path) -> None:
    tasks = QgsApplication.taskManager()
    ortho = QgsRasterLayer(str(scene / "ortho_utm.tif"), "ortho", "gdal")
    plain = QgsRasterLayer(str(scene / "plain.png"), "plain", "gdal")
    QgsProject.instance().addMapLayers([ortho, plain])
    dock.raster_combo.setLayer(ortho)

    assert dock.locate() is None  # no photo
    assert "photo" in warnings_of(qgis_iface)[-1]

    dock.set_photo(str(scene / "photo.jpg"))
    assert dock.locate() is None  # no click
    assert "click" in warnings_of(qgis_iface)[-1]

    dock.photo_view.set_click(100, 100)
    dock.raster_combo.setLayer(plain)
    assert dock.locate() is None  # not georeferenced
    assert "not georeferenced" in warnings_of(qgis_iface)[-1]
    assert "not georeferenced" in dock.raster_note.text()

    dock.raster_combo.setLayer(ortho)
    dock.weights_combo.setEditText(str(scene / "missing.safetensors"))
    assert dock.locate() is None  # weights file missing
    assert "weights" in warnings_of(qgis_iface)[-1]

    assert dock.task is None
    assert not [t for t in tasks.tasks() if t.description() == "OCGNet: locate object"]
    assert len(QgsProject.instance().mapLayers()) == 2


def test_missing_worker_shows_a_message_and_starts_nothing(
    dock, qgis_iface, scene: Path, light_weights: Path, monkeypatch
) -> None:
    from ocgnet_locate import settings
    from ocgnet_locate.worker_client import WorkerClient

    monkeypatch.setenv("OCGNET_PYTHON", str(scene / "no-such-python"))
    dock.client = WorkerClient(settings.worker_command)
    ortho = QgsRasterLayer(str(scene / "ortho_utm.tif"), "ortho", "gdal")
    QgsProject.instance().addMapLayer(ortho)
    dock.raster_combo.setLayer(ortho)
    dock.set_photo(str(scene / "photo.jpg"))
    dock.photo_view.set_click(100, 100)
    dock.weights_combo.setEditText(str(light_weights))
    qgis_iface.messageBar().clearWidgets()
    assert dock.locate() is None
    # one message-bar line with an "Install engine…" button (issue 16)
    (item,) = qgis_iface.messageBar().items()
    assert "no-such-python" in item.text() and item.level() == Qgis.Warning
    assert [b.text() for b in item.findChildren(QPushButton)] == ["Install engine…"]
    assert not dock.client.is_running()


def test_results_go_beside_a_saved_project(tmp_path: Path, plugin_package: Path) -> None:
    from ocgnet_locate.result_layer import results_folder, results_gpkg

    project = QgsProject()
    project.setFileName(str(tmp_path / "survey.qgz"))
    first = results_gpkg("locate_photo_1", project)
    assert first == str(tmp_path / "survey_ocgnet" / "locate_photo_1.gpkg")
    Path(first).touch()
    assert results_gpkg("locate_photo_1", project).endswith("locate_photo_1_2.gpkg")
    assert Path(results_folder(QgsProject())).name == "ocgnet_locate"


def test_settings_dialog_test_button_shows_hello(qgis_app, worker_env) -> None:
    from ocgnet_locate.settings_dialog import SettingsDialog

    dialog = SettingsDialog()
    task = dialog.test()
    wait_for(lambda: '"protocol": 1' in dialog.output.toPlainText(), 60)
    assert '"name": "ocgnet-geo"' in dialog.output.toPlainText()
    wait_for(lambda: dialog.test_button.isEnabled(), 10)
    del task
    dialog.deleteLater()


IMPORT_CHECK = r"""
import pkgutil, sys
sys.path.insert(0, sys.argv[1])
from qgis.core import QgsApplication
app = QgsApplication([], False)
app.initQgis()
import ocgnet_locate
for module in pkgutil.iter_modules(ocgnet_locate.__path__):
    __import__(f"ocgnet_locate.{module.name}")
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "rasterio", "ocgnet_geo", "pyproj", "geopandas", "shapely"})
print(",".join(heavy) or "none")
app.exitQgis()
"""


def test_plugin_imports_no_heavy_library(plugin_package: Path) -> None:
    """All plugin modules import with qgis + stdlib only (checked in a fresh process)."""
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", IMPORT_CHECK, str(plugin_package.parent)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "none"


def test_search_area_from_canvas_extent_and_drawn_rectangle(
    dock, qgis_iface, scene: Path, light_weights: Path
) -> None:
    from ocgnet_locate.dock import AREA_CANVAS, AREA_LAYER
    from qgis.core import QgsCoordinateReferenceSystem, QgsRectangle

    ortho = QgsRasterLayer(str(scene / "ortho_utm.tif"), "ortho", "gdal")
    QgsProject.instance().addMapLayer(ortho)
    dock.raster_combo.setLayer(ortho)
    dock.set_photo(str(scene / "photo.jpg"))
    dock.photo_view.set_click(10, 20)
    dock.weights_combo.setEditText(str(light_weights))
    assert dock.build_request().locate_params().get("bbox") is None  # whole layer

    canvas = qgis_iface.mapCanvas()
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:32632"))
    canvas.resize(400, 400)
    canvas.setExtent(QgsRectangle(500000, 5199900, 500100, 5200000))
    dock.area_combo.setCurrentIndex(dock.area_combo.findData(AREA_CANVAS))
    west, south, east, north = dock.build_request().locate_params()["bbox"]
    assert 8.99 < west < east < 9.01 and 46.9 < south < north < 47.0  # UTM 32N, x = 500 km
    assert dock.build_request().locate_params()["bbox_crs"] == "EPSG:4326"

    dock.start_drawing()
    dock.map_tool.rectangleDrawn.emit(QgsRectangle(500010, 5199950, 500050, 5199990))
    assert dock.area_combo.currentData() == "drawn"
    drawn = dock.build_request().bbox
    assert west < drawn[0] < drawn[2] < east and south < drawn[1] < drawn[3] < north
    dock.area_combo.setCurrentIndex(dock.area_combo.findData(AREA_LAYER))
