"""The photo view: fit to the panel, wheel to zoom, drag to pan, click to mark the object.

Click positions are reported in photo pixels (x to the right, y down, origin at the top-left
corner of the top-left pixel), the convention of the worker's ``click`` parameter.
"""

from __future__ import annotations

from qgis.PyQt.QtCore import QPointF, QRectF, Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor, QImageReader, QPainter, QPainterPath, QPen, QPixmap
from qgis.PyQt.QtWidgets import (
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
)

#: a press and release closer than this (screen pixels) is a click, not a pan
CLICK_SLOP = 4
ZOOM_STEP = 1.25


class PhotoView(QGraphicsView):
    """Shows one photo; a click places a cross marker (a new click replaces it)."""

    clicked = pyqtSignal(float, float)  #: photo pixels (x, y)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setMinimumHeight(180)
        self._pixmap_item: QGraphicsPixmapItem | None = None
        self._marker: QGraphicsPathItem | None = None
        self._press = None
        self.click: tuple[float, float] | None = None
        self.path = ""

    # --- content ---------------------------------------------------------------------------

    def load(self, path: str) -> bool:
        """Show the photo at ``path`` (EXIF orientation is *not* applied: the worker reads
        raw pixels too). Returns False when it cannot be read. Clears the click."""
        reader = QImageReader(path)
        reader.setAutoTransform(False)
        image = reader.read()
        self.scene().clear()
        self._pixmap_item = self._marker = None
        self.click = None
        self.path = ""
        if image.isNull():
            return False
        self._pixmap_item = self.scene().addPixmap(QPixmap.fromImage(image))
        self.scene().setSceneRect(QRectF(0, 0, image.width(), image.height()))
        self.path = path
        self.fit()
        return True

    def photo_size(self) -> tuple[int, int] | None:
        if self._pixmap_item is None:
            return None
        pixmap = self._pixmap_item.pixmap()
        return pixmap.width(), pixmap.height()

    def fit(self) -> None:
        """Zoom so the whole photo is visible."""
        if self._pixmap_item is not None:
            self.fitInView(self._pixmap_item, Qt.KeepAspectRatio)

    def set_click(self, x: float, y: float) -> None:
        """Place the click (photo pixels) and its cross marker; emits :attr:`clicked`."""
        size = self.photo_size()
        if size is None or not (0 <= x < size[0] and 0 <= y < size[1]):
            return
        self.click = (float(x), float(y))
        if self._marker is None:
            self._marker = QGraphicsPathItem()
            self._marker.setFlag(QGraphicsPathItem.ItemIgnoresTransformations, True)
            path = QPainterPath()
            for dx, dy in ((-12, 0), (0, -12)):
                path.moveTo(dx, dy)
                path.lineTo(-dx, -dy)
            path.addEllipse(QPointF(0, 0), 5, 5)
            self._marker.setPath(path)
            pen = QPen(QColor(255, 0, 0))
            pen.setWidth(2)
            pen.setCosmetic(True)
            self._marker.setPen(pen)
            self._marker.setZValue(10)
            self.scene().addItem(self._marker)
        self._marker.setPos(QPointF(x, y))
        self.clicked.emit(float(x), float(y))

    # --- events ----------------------------------------------------------------------------

    def wheelEvent(self, event) -> None:
        if self._pixmap_item is None:
            return
        factor = ZOOM_STEP if event.angleDelta().y() > 0 else 1 / ZOOM_STEP
        self.scale(factor, factor)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.LeftButton:
            self._press = event.pos()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        if event.button() != Qt.LeftButton or self._press is None:
            return
        moved = (event.pos() - self._press).manhattanLength()
        self._press = None
        if moved <= CLICK_SLOP:
            point = self.mapToScene(event.pos())
            self.set_click(point.x(), point.y())

    def mouseDoubleClickEvent(self, event) -> None:
        self.fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit()
