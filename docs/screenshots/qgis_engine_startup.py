"""Run inside desktop QGIS (``qgis --code``) by ``qgis_engine_screenshot.sh``: the analyst's
path from a fresh profile. *Install from ZIP* (the plugin manager's own installer), open the
panel, press the message bar's *Install engine…*, press *Install engine…* in the dialog,
wait, press *Test*, OK; then the bundled demo photo and raster from the engine, the click,
Locate. Screens go to ``$SHOT_OUT``-install.png (the dialog after the install) and
``$SHOT_OUT``-locate.png (the result); ``$SHOT_DONE`` gets a one-line summary."""

import json
import os
from pathlib import Path

import pyplugin_installer
import qgis.utils
from qgis.core import QgsApplication, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import Qt, QTimer
from qgis.PyQt.QtWidgets import QApplication, QDockWidget, QPushButton
from qgis.utils import iface

ZIP = os.environ["SHOT_ZIP"]
OUT = os.environ["SHOT_OUT"]
DONE = Path(os.environ["SHOT_DONE"])
state: dict = {"log": []}


def note(text: str) -> None:
    state["log"].append(text)
    Path(str(DONE) + ".log").write_text("\n".join(state["log"]) + "\n")


def shoot(name: str) -> None:
    QApplication.primaryScreen().grabWindow(0).save(f"{OUT}-{name}.png")
    note(f"shot {OUT}-{name}.png")


def after(ms: int, step) -> None:
    QTimer.singleShot(ms, step)


def poll(condition, then, every: int = 1000, limit: int = 900) -> None:
    def check(n=0):
        if condition():
            then()
        elif n > limit:
            note("timed out")
            DONE.write_text("timed out\n")
        else:
            QTimer.singleShot(every, lambda: check(n + 1))

    check()


def install_zip() -> None:
    iface.mainWindow().setGeometry(0, 0, 1600, 1000)
    browser = iface.mainWindow().findChild(QDockWidget, "Browser")
    if browser is not None:
        browser.hide()
    pyplugin_installer.instance().installFromZipFile(ZIP)
    if "ocgnet_locate" not in qgis.utils.plugins:
        qgis.utils.loadPlugin("ocgnet_locate")
        qgis.utils.startPlugin("ocgnet_locate")
    note(f"plugins: {sorted(qgis.utils.plugins)}")
    plugin = qgis.utils.plugins["ocgnet_locate"]
    plugin.show_panel(True)  # first use: the message bar offers the engine
    after(2000, press_offer)


def press_offer() -> None:
    bar = iface.messageBar()
    for item in bar.items():
        for button in item.findChildren(QPushButton):
            if button.text() == "Install engine…":
                note(f"offer: {item.text()}")
                after(1500, press_install)
                button.click()  # opens the settings dialog (modal): the timers still run
                return
    note("no Install engine button in the message bar")
    DONE.write_text("no offer\n")


def dialog():
    return QApplication.activeModalWidget()


def press_install() -> None:
    box = dialog().engine
    note(f"plan: {box.plan.text()}")
    box.install_button.click()
    poll(lambda: box.task is not None and box.task.done, lambda: installed(box))


def installed(box) -> None:
    note(f"install: {box.stage.text()}")
    dialog().test()
    poll(lambda: dialog().output.toPlainText().startswith("{"), tested, every=500)


def tested() -> None:
    d = dialog()
    d.resize(900, 900)
    d.move(350, 40)
    after(1500, lambda: (shoot("install"), d.accept(), after(1000, locate)))


def locate() -> None:
    from ocgnet_locate import engine, settings

    marker = engine.read_marker(settings.engine_root())
    site = next(Path(marker["python"]).parents[1].glob("lib*/python*/site-packages"))
    demo = site / "ocgnet_geo" / "assets" / "demo"
    meta = json.loads((demo / "demo.json").read_text(encoding="utf-8"))
    note(f"demo from the engine: {demo}")
    layer = QgsRasterLayer(str(demo / meta["raster"]), Path(meta["raster"]).stem, "gdal")
    QgsProject.instance().addMapLayer(layer)
    iface.mapCanvas().setExtent(layer.extent())
    dock = qgis.utils.plugins["ocgnet_locate"].dock
    iface.mainWindow().resizeDocks([dock], [560], Qt.Horizontal)
    dock.raster_combo.setLayer(layer)
    dock.set_photo(str(demo / meta["query"]))
    dock.photo_view.fit()
    dock.photo_view.set_click(*meta["click"])
    iface.messageBar().clearWidgets()
    dock.run_finished.connect(finished)
    if dock.locate() is None:
        DONE.write_text("locate not started\n")


def finished(layer) -> None:
    bar = iface.messageBar()

    def drop_task_notices() -> None:
        for item in bar.items():
            if "Task complete" in item.title() + item.text():
                bar.popWidget(item)

    after(1500, drop_task_notices)
    after(3000, lambda: (shoot("locate"), DONE.write_text(f"finished {layer is not None}\n")))


QgsApplication.instance().setOverrideCursor(Qt.ArrowCursor)
QgsApplication.instance().restoreOverrideCursor()
after(4000, install_zip)
