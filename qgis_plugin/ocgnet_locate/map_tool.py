"""A map tool that draws the search rectangle (press, drag, release) with a rubber band."""

from __future__ import annotations

from qgis.core import QgsGeometry, QgsPointXY, QgsRectangle, QgsWkbTypes
from qgis.gui import QgsMapCanvas, QgsMapTool, QgsRubberBand
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtGui import QColor


class RectangleMapTool(QgsMapTool):
    """Emits :attr:`rectangleDrawn` with the rectangle in the canvas CRS."""

    rectangleDrawn = pyqtSignal(QgsRectangle)

    def __init__(self, canvas: QgsMapCanvas) -> None:
        super().__init__(canvas)
        self._start: QgsPointXY | None = None
        self.band = QgsRubberBand(canvas, QgsWkbTypes.PolygonGeometry)
        self.band.setStrokeColor(QColor(0, 120, 255))
        self.band.setFillColor(QColor(0, 120, 255, 40))
        self.band.setWidth(2)

    def canvasPressEvent(self, event) -> None:
        self._start = self.toMapCoordinates(event.pos())
        self.band.reset(QgsWkbTypes.PolygonGeometry)

    def canvasMoveEvent(self, event) -> None:
        if self._start is not None:
            self._show(QgsRectangle(self._start, self.toMapCoordinates(event.pos())))

    def canvasReleaseEvent(self, event) -> None:
        if self._start is None:
            return
        rect = QgsRectangle(self._start, self.toMapCoordinates(event.pos()))
        self._start = None
        if rect.width() > 0 and rect.height() > 0:
            self._show(rect)
            self.rectangleDrawn.emit(rect)

    def _show(self, rect: QgsRectangle) -> None:
        self.band.setToGeometry(QgsGeometry.fromRect(rect), None)

    def clear(self) -> None:
        self.band.reset(QgsWkbTypes.PolygonGeometry)

    def remove(self) -> None:
        """Take the rubber band off the canvas (on unload)."""
        self.clear()
        scene = self.canvas().scene()
        if scene is not None and self.band.scene() is scene:
            scene.removeItem(self.band)
