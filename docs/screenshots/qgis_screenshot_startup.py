"""Run inside desktop QGIS (``qgis --code``) by ``qgis_screenshot.sh``: open the raster,
start the OCGNet Locate plugin, click the photo, Locate, then write ``$SHOT_DONE``."""

import os
from pathlib import Path

import qgis.utils
from qgis.core import QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtWidgets import QDockWidget
from qgis.utils import iface

RASTER = os.environ["SHOT_RASTER"]
PHOTO = os.environ["SHOT_PHOTO"]
CLICK = [float(v) for v in os.environ.get("SHOT_CLICK", "318,262").split(",")]
DONE = Path(os.environ["SHOT_DONE"])

layer = QgsRasterLayer(RASTER, Path(RASTER).stem, "gdal")
QgsProject.instance().addMapLayer(layer)
iface.mapCanvas().setExtent(layer.extent())
qgis.utils.loadPlugin("ocgnet_locate")
qgis.utils.startPlugin("ocgnet_locate")
dock = (
    qgis.utils.plugins["ocgnet_locate"].show_panel(True) or qgis.utils.plugins["ocgnet_locate"].dock
)
dock.raster_combo.setLayer(layer)
dock.set_photo(PHOTO)
dock.weights_combo.setEditText(os.environ["OCGNET_WEIGHTS"])
dock.top_k.setValue(5)
iface.mainWindow().setGeometry(0, 0, 1600, 1000)
browser = iface.mainWindow().findChild(QDockWidget, "Browser")
if browser is not None:
    browser.hide()


def start() -> None:
    dock.photo_view.fit()
    dock.photo_view.set_click(*CLICK)
    dock.run_finished.connect(lambda result: DONE.write_text(f"finished {result is not None}\n"))
    if dock.locate() is None:
        DONE.write_text("not started\n")


QTimer.singleShot(4000, start)
