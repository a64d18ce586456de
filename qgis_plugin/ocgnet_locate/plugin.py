"""The plugin object: menu/toolbar actions, the dock, the Processing provider, the worker.

``unload()`` removes everything ``initGui()`` added (actions, dock, map tool, provider) and
stops the worker process.
"""

from __future__ import annotations

import os

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction

from . import engine_ui, settings
from .processing_provider import OCGNetProvider
from .runtime import shared_client, shutdown_shared_client
from .worker_client import WorkerError

MENU = "&OCGNet Locate"
ICON = os.path.join(os.path.dirname(__file__), "icon.svg")


class OCGNetLocatePlugin:
    """Created by QGIS through :func:`classFactory`."""

    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider: OCGNetProvider | None = None
        self.dock = None
        self.actions: list[QAction] = []

    # --- Processing (also called alone by qgis_process) -------------------------------------

    def initProcessing(self) -> None:
        if self.provider is None:
            self.provider = OCGNetProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    # --- GUI -------------------------------------------------------------------------------

    def initGui(self) -> None:
        self.initProcessing()
        main = self.iface.mainWindow()
        panel = QAction(QIcon(ICON), "OCGNet Locate panel", main)
        panel.setObjectName("ocgnetLocatePanel")
        panel.setCheckable(True)
        panel.toggled.connect(self.show_panel)
        config = QAction("Settings…", main)
        config.setObjectName("ocgnetLocateSettings")
        config.triggered.connect(self.show_settings)
        self.actions = [panel, config]
        self.iface.addToolBarIcon(panel)
        for action in self.actions:
            self.iface.addPluginToMenu(MENU, action)
        engine_ui.watch(self.iface)  # say so when the engine folder is deleted

    def show_panel(self, visible: bool = True) -> None:
        """Create the dock on first use and show or hide it."""
        if self.dock is None:
            from .dock import LocateDock

            self.dock = LocateDock(self.iface, shared_client(), self.iface.mainWindow())
            self.iface.addDockWidget(Qt.RightDockWidgetArea, self.dock)
            self.dock.visibilityChanged.connect(self._dock_visibility)
            self.offer_engine_if_missing()
        self.dock.setUserVisible(visible)
        if self.actions and self.actions[0].isChecked() != visible:
            self.actions[0].setChecked(visible)

    def _dock_visibility(self, visible: bool) -> None:
        if self.actions and self.actions[0].isChecked() != visible:
            self.actions[0].blockSignals(True)
            self.actions[0].setChecked(visible)
            self.actions[0].blockSignals(False)

    def offer_engine_if_missing(self) -> bool:
        """First use: a message-bar line with *Install engine…* when no worker can be found
        (no subprocess is started; never a dialog). True when it was offered."""
        try:
            settings.worker_command()
        except WorkerError as err:
            engine_ui.offer_install(self.iface, err.message)
            return True
        return False

    def show_settings(self) -> None:
        if engine_ui.open_settings(self.iface) and self.dock is not None:
            self.dock.client = shared_client()

    def unload(self) -> None:
        """Remove actions, dock, map tool and provider; stop the worker."""
        for action in self.actions:
            self.iface.removePluginMenu(MENU, action)
            self.iface.removeToolBarIcon(action)
            action.deleteLater()
        self.actions = []
        if self.dock is not None:
            self.dock.teardown()
            self.iface.removeDockWidget(self.dock)
            self.dock.setParent(None)
            self.dock.deleteLater()
            self.dock = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        engine_ui.stop_watching()
        shutdown_shared_client()
