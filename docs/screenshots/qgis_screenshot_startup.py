"""Run inside desktop QGIS (``qgis --code``) by ``qgis_screenshot.sh``: open the raster,
start the OCGNet Locate plugin, click the photo, Locate, then write ``$SHOT_DONE``.

Defaults: the bundled demo (``$SHOT_DEMO/demo.json``: photo, click, raster) and the bundled
matcher (the first weights entry); ``SHOT_RASTER``, ``SHOT_PHOTO``, ``SHOT_CLICK`` (x,y)
and ``SHOT_HEADING`` override them (``OCGNET_WEIGHTS`` picks a weights file); ``SHOT_TABLE``
(non-empty) opens the result layer's attribute table."""

import json
import os
from pathlib import Path

import qgis.utils
from qgis.core import QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import Qt, QTimer
from qgis.PyQt.QtWidgets import QDockWidget
from qgis.utils import iface

DEMO = Path(os.environ["SHOT_DEMO"])
META = json.loads((DEMO / "demo.json").read_text(encoding="utf-8"))
RASTER = os.environ.get("SHOT_RASTER") or str(DEMO / META["raster"])
PHOTO = os.environ.get("SHOT_PHOTO") or str(DEMO / META["query"])
CLICK = [float(v) for v in os.environ.get("SHOT_CLICK", "").split(",") if v] or META["click"]
DONE = Path(os.environ["SHOT_DONE"])

layer = QgsRasterLayer(RASTER, Path(RASTER).stem, "gdal")
QgsProject.instance().addMapLayer(layer)
iface.mapCanvas().setExtent(layer.extent())
qgis.utils.loadPlugin("ocgnet_locate")
qgis.utils.startPlugin("ocgnet_locate")
plugin = qgis.utils.plugins["ocgnet_locate"]
plugin.show_panel(True)
dock = plugin.dock
dock.raster_combo.setLayer(layer)
dock.set_photo(PHOTO)
dock.heading_edit.setText(os.environ.get("SHOT_HEADING", ""))
dock.top_k.setValue(5)
iface.mainWindow().setGeometry(0, 0, 1600, 1000)
browser = iface.mainWindow().findChild(QDockWidget, "Browser")
if browser is not None:
    browser.hide()


def finished(result) -> None:
    if os.environ.get("SHOT_TABLE") and result is not None:
        iface.showAttributeTable(result)  # the attribute table of the result layer
    QTimer.singleShot(1500, drop_task_notice)  # QGIS's own "Task complete" hides our summary
    QTimer.singleShot(2000, lambda: DONE.write_text(f"finished {result is not None}\n"))


def drop_task_notice() -> None:
    bar = iface.messageBar()
    for item in bar.items():
        if "Task complete" in item.title() + item.text():
            bar.popWidget(item)


def start() -> None:
    iface.mainWindow().resizeDocks([dock], [560], Qt.Horizontal)  # the whole weights entry
    dock.photo_view.fit()
    dock.photo_view.set_click(*CLICK)
    dock.run_finished.connect(finished)
    if dock.locate() is None:
        DONE.write_text("not started\n")


QTimer.singleShot(4000, start)
