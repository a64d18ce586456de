"""The Processing provider "OCGNet" (id ``ocgnet``)."""

from __future__ import annotations

import os

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithms import LocateAlgorithm, LocateBatchAlgorithm

ICON = os.path.join(os.path.dirname(__file__), "icon.svg")


class OCGNetProvider(QgsProcessingProvider):
    """Holds ``ocgnet:locate`` and ``ocgnet:locatebatch``."""

    def id(self) -> str:
        return "ocgnet"

    def name(self) -> str:
        return "OCGNet"

    def longName(self) -> str:
        return "OCGNet cross-view geo-localization"

    def icon(self) -> QIcon:
        return QIcon(ICON)

    def loadAlgorithms(self) -> None:
        self.addAlgorithm(LocateAlgorithm())
        self.addAlgorithm(LocateBatchAlgorithm())
