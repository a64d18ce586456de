"""The "OCGNet Locate" dock panel: photo + click, raster, search area, Locate / Cancel.

Checks the inputs on the main thread (a message-bar entry and nothing started when one is
wrong), runs the search as one cancellable :class:`LocateTask`, and builds the result layer
on the main thread when the task has finished.
"""

from __future__ import annotations

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsMapLayerProxyModel,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
)
from qgis.gui import QgsDockWidget, QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from . import settings
from .inputs import (
    BUNDLED_LABEL,
    VIEWS,
    InputError,
    LocateRequest,
    bbox_4326,
    check_click,
    check_photo,
    check_weights,
    parse_heading,
    raster_file,
)
from .map_tool import RectangleMapTool
from .photo_view import PhotoView
from .prior_layer import replace_prior_layers
from .result_layer import best_extent, build_result_layers
from .summary import run_message
from .task import LocateTask
from .worker_client import WorkerClient, WorkerError

TITLE = "OCGNet"
AREA_LAYER, AREA_CANVAS, AREA_DRAWN = "layer", "canvas", "drawn"
WEIGHTS_TIP = (
    "Model: the bundled matcher (drone and aerial photos; no file needed), "
    "or a file: our .safetensors or an official OCGNet .pth.tar"
)
HEADING_TIP = (
    "Which way the photo's top faces, in degrees clockwise from north: DEG (±30°) or "
    "DEG±TOL, e.g. 45 or 45±30. Narrows the matcher's rotation search; empty: all headings"
)

PRIORS_TIP = (
    "Narrow the search with the photo's EXIF/XMP: the area around its GPS position (without a "
    "drawn or canvas area), the scale from altitude and focal length, the heading from the "
    "gimbal yaw. Soft: when nothing verifies, the whole layer is searched without them. The "
    "camera and the derived area are drawn as temporary layers before the search starts."
)


class LocateDock(QgsDockWidget):
    """The panel. ``run_finished`` carries the new result layer, or None (error/cancel)."""

    run_finished = pyqtSignal(object)

    def __init__(self, iface, client: WorkerClient, parent=None) -> None:
        super().__init__("OCGNet Locate", parent)
        self.setObjectName("OCGNetLocateDock")
        self.iface = iface
        self.client = client
        self.task: LocateTask | None = None
        self.last_layer = None
        #: the registered photo's footprint layer of the last run, or None
        self.last_footprint = None
        self.prior_layers: list = []
        self.drawn_rect: QgsRectangle | None = None  # in the canvas CRS at drawing time
        self.drawn_crs = None
        self.map_tool = RectangleMapTool(iface.mapCanvas())
        self.map_tool.rectangleDrawn.connect(self._rectangle_drawn)
        self._build()
        self._fill_weights()
        self._ask_bundled_model()

    # --- layout ----------------------------------------------------------------------------

    def _build(self) -> None:
        body = QWidget(self)
        outer = QVBoxLayout(body)

        self.photo_file = QgsFileWidget(body)
        self.photo_file.setFilter("Photos (*.jpg *.jpeg *.png *.tif *.tiff *.bmp *.webp)")
        self.photo_file.setDialogTitle("Choose the photo")
        self.photo_file.fileChanged.connect(self.set_photo)
        outer.addWidget(QLabel("Photo (click the object):"))
        outer.addWidget(self.photo_file)
        self.photo_view = PhotoView(body)
        self.photo_view.clicked.connect(self._clicked)
        outer.addWidget(self.photo_view, 1)
        self.click_label = QLabel("no click yet")
        outer.addWidget(self.click_label)

        form = QFormLayout()
        self.view_combo = QComboBox(body)
        self.view_combo.addItems(VIEWS)
        form.addRow("View", self.view_combo)

        self.raster_combo = QgsMapLayerComboBox(body)
        self.raster_combo.setFilters(QgsMapLayerProxyModel.RasterLayer)
        self.raster_combo.setAllowEmptyLayer(True)
        self.raster_combo.layerChanged.connect(self._raster_changed)
        form.addRow("Raster", self.raster_combo)
        self.raster_note = QLabel("")
        self.raster_note.setWordWrap(True)
        form.addRow("", self.raster_note)

        area_row = QHBoxLayout()
        self.area_combo = QComboBox(body)
        self.area_combo.addItem("Whole layer", AREA_LAYER)
        self.area_combo.addItem("Current map extent", AREA_CANVAS)
        self.area_combo.addItem("Drawn rectangle", AREA_DRAWN)
        self.draw_button = QToolButton(body)
        self.draw_button.setText("Draw")
        self.draw_button.setToolTip("Draw the search rectangle on the map")
        self.draw_button.clicked.connect(self.start_drawing)
        area_row.addWidget(self.area_combo, 1)
        area_row.addWidget(self.draw_button)
        form.addRow("Search area", area_row)

        weights_row = QHBoxLayout()
        self.weights_combo = QComboBox(body)
        self.weights_combo.setEditable(True)
        self.weights_combo.setToolTip(WEIGHTS_TIP)
        self.weights_combo.currentIndexChanged.connect(self._show_weights_start)
        browse = QToolButton(body)
        browse.setText("…")
        browse.clicked.connect(self._browse_weights)
        weights_row.addWidget(self.weights_combo, 1)
        weights_row.addWidget(browse)
        form.addRow("Weights", weights_row)

        self.heading_edit = QLineEdit(body)
        self.heading_edit.setPlaceholderText("e.g. 45 or 45±30")
        self.heading_edit.setToolTip(HEADING_TIP)
        form.addRow("Heading (° from north, optional)", self.heading_edit)

        self.priors_check = QCheckBox("Use the photo's metadata (GPS, altitude, heading)", body)
        self.priors_check.setChecked(True)
        self.priors_check.setToolTip(PRIORS_TIP)
        form.addRow("Priors", self.priors_check)

        self.top_k = QSpinBox(body)
        self.top_k.setRange(1, 50)
        self.top_k.setValue(5)
        form.addRow("Top-k", self.top_k)
        outer.addLayout(form)

        buttons = QHBoxLayout()
        self.locate_button = QPushButton("Locate", body)
        self.locate_button.clicked.connect(self.locate)
        self.cancel_button = QPushButton("Cancel", body)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        buttons.addWidget(self.locate_button)
        buttons.addWidget(self.cancel_button)
        outer.addLayout(buttons)
        self.progress = QProgressBar(body)
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        outer.addWidget(self.progress)
        self.stage = QLabel("")
        outer.addWidget(self.stage)
        self.setWidget(body)
        self._raster_changed(self.raster_combo.currentLayer())

    # --- small slots -----------------------------------------------------------------------

    def set_photo(self, path: str) -> None:
        """Show ``path`` in the photo view (clears the click)."""
        if self.photo_file.filePath() != path:
            self.photo_file.blockSignals(True)
            self.photo_file.setFilePath(path)
            self.photo_file.blockSignals(False)
        if path and not self.photo_view.load(path):
            self.message(f"photo {path!r}: cannot be read as an image", Qgis.Warning)
        self.click_label.setText("no click yet")

    def _clicked(self, x: float, y: float) -> None:
        self.click_label.setText(f"click: x = {x:.1f}, y = {y:.1f} px")

    def _raster_changed(self, layer) -> None:
        if layer is None:
            self.raster_note.setText("")
            return
        try:
            raster_file(layer)
            self.raster_note.setText(f"{layer.crs().authid() or 'custom CRS'}")
        except InputError as err:
            self.raster_note.setText(f"<span style='color:#b00'>{err}</span>")

    def start_drawing(self) -> None:
        """Activate the rectangle map tool."""
        self.iface.mapCanvas().setMapTool(self.map_tool)

    def _rectangle_drawn(self, rect: QgsRectangle) -> None:
        self.drawn_rect = rect
        self.drawn_crs = self.iface.mapCanvas().mapSettings().destinationCrs()
        self.area_combo.setCurrentIndex(self.area_combo.findData(AREA_DRAWN))

    def _browse_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Model weights", "", "Models (*.safetensors *.pth.tar *.pth);;All files (*)"
        )
        if path:
            self.weights_combo.setEditText(path)

    def _fill_weights(self) -> None:
        """First entry: the bundled matcher; the default weights setting, if any, shown."""
        self.weights_combo.clear()
        self.weights_combo.addItem(BUNDLED_LABEL, "")
        self.weights_combo.setItemData(0, WEIGHTS_TIP, Qt.ToolTipRole)
        default = settings.default_weights()
        if default:
            self.weights_combo.setEditText(default)
        else:
            self.weights_combo.setCurrentIndex(0)
        self._show_weights_start()

    def _show_weights_start(self, *_) -> None:
        """Show the start of a long entry (the bundled label, a path), not its end."""
        self.weights_combo.lineEdit().setCursorPosition(0)

    def _ask_bundled_model(self) -> None:
        """Ask the worker (off the GUI thread) for ``hello.bundled_model`` for the tooltip;
        this also starts the worker early. Silent when no worker answers."""
        from qgis.core import QgsTask

        client = self.client

        def found(exception, result=None) -> None:
            if exception is None and isinstance(result, dict) and result.get("bundled_model"):
                try:
                    self.show_bundled_model(str(result["bundled_model"]))
                except RuntimeError:  # the panel was closed meanwhile
                    pass

        self._hello_task = QgsTask.fromFunction(
            "OCGNet: ask the worker for its bundled model",
            lambda task: client.hello(timeout=60),
            on_finished=found,
        )
        QgsApplication.taskManager().addTask(self._hello_task)

    def show_bundled_model(self, name: str) -> None:
        """Name the bundled model file in the tooltips of its entry and of the combo."""
        tip = f"{WEIGHTS_TIP}. The bundled model of the worker's ocgnet-geo: {name}"
        text = self.weights_combo.currentText()
        # changing the current item's data resets an editable combo's text to the item's
        self.weights_combo.setItemData(0, tip, Qt.ToolTipRole)
        self.weights_combo.setToolTip(tip)
        if self.weights_combo.currentText() != text:
            self.weights_combo.setEditText(text)
        self._show_weights_start()

    def weights_path(self) -> str:
        """The chosen weights file, or "" for the bundled model."""
        text = self.weights_combo.currentText().strip()
        return "" if text == BUNDLED_LABEL else text

    def message(self, text: str, level=Qgis.Info, duration: int = 8) -> None:
        self.iface.messageBar().pushMessage(TITLE, text, level, duration)

    # --- run -------------------------------------------------------------------------------

    def build_request(self) -> LocateRequest:
        """The request from the panel's inputs; raises :class:`InputError`."""
        photo = check_photo(self.photo_view.path or self.photo_file.filePath())
        click = check_click(self.photo_view.click)
        layer = self.raster_combo.currentLayer()
        raster = raster_file(layer)
        weights = check_weights(self.weights_path())
        heading = parse_heading(self.heading_edit.text())
        area = self.area_combo.currentData()
        bbox = None
        if area == AREA_CANVAS:
            canvas = self.iface.mapCanvas()
            bbox = bbox_4326(canvas.extent(), canvas.mapSettings().destinationCrs())
        elif area == AREA_DRAWN:
            if self.drawn_rect is None:
                raise InputError("search area: draw a rectangle on the map first (Draw)")
            bbox = bbox_4326(self.drawn_rect, self.drawn_crs)
        assert isinstance(layer, QgsRasterLayer)
        return LocateRequest(
            photo=photo,
            click=click,
            raster=raster,
            raster_crs=layer.crs(),
            raster_name=layer.name(),
            weights=weights,
            view=self.view_combo.currentText(),
            top_k=self.top_k.value(),
            bbox=bbox,
            precision=settings.precision(),
            heading=heading,
            priors="auto" if self.priors_check.isChecked() else "off",
        )

    def locate(self) -> LocateTask | None:
        """Check the inputs and start the background task; None when nothing started."""
        if self.task is not None and not self.task.done:
            self.message("a search is already running", Qgis.Info)
            return None
        try:
            request = self.build_request()
            # fail fast (no task) when no worker can be found at all
            if not self.client.is_running():
                self.client._command_factory()
        except WorkerError as err:
            from .engine_ui import offer_install

            offer_install(self.iface, str(err))  # with an "Install engine…" button
            return None
        except InputError as err:
            self.message(str(err), Qgis.Warning)
            return None
        self.task = LocateTask(self.client, request, on_finished=self._task_finished)
        self.task.progressChanged.connect(self._task_progress)
        self.task.stageChanged.connect(self.stage.setText)
        self.task.priorsReady.connect(self._show_priors)
        self.locate_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.stage.setText("starting the worker…")
        QgsApplication.taskManager().addTask(self.task)
        return self.task

    def _show_priors(self, answer: dict) -> None:
        """Draw the camera and the search area the worker derived (main thread)."""
        self.prior_layers = replace_prior_layers(answer)
        for line in answer.get("warnings", []):
            self.message(line, Qgis.Warning)

    def _task_progress(self, value: float) -> None:
        self.progress.setValue(int(value))

    def cancel(self) -> None:
        if self.task is not None and not self.task.done:
            self.stage.setText("cancelling…")
            self.task.cancel()

    def _task_finished(self, task: LocateTask) -> None:
        self.locate_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if task.restart_message:
            self.message(task.restart_message, Qgis.Warning)
        layer = self.last_footprint = None
        if task.error is not None:
            if task.error.code == "cancelled":
                self.stage.setText("cancelled")
                self.message("search cancelled; no layer was created", Qgis.Info, 4)
            else:
                self.stage.setText("failed")
                self.message(task.error.message, Qgis.Critical, 0)
        else:
            try:
                layer = self._add_result(task)
            except OSError as err:
                self.message(str(err), Qgis.Critical, 0)
        self.last_layer = layer
        self.run_finished.emit(layer)

    def _add_result(self, task: LocateTask):
        result = task.result
        self.last_footprint = None
        count = len(result["candidates_raster_crs"].get("features", []))
        if count == 0:
            self.stage.setText("no candidates")
            self.message("no candidate found in the search area", Qgis.Warning)
            return None
        layer, footprint = build_result_layers(result, task.request.raster_crs, task.request.photo)
        if footprint is not None:  # below the candidates in the layer tree
            QgsProject.instance().addMapLayer(footprint)
            self.last_footprint = footprint
        QgsProject.instance().addMapLayer(layer)
        canvas = self.iface.mapCanvas()
        rect = best_extent(layer, canvas.mapSettings().destinationCrs())
        if not rect.isEmpty():
            canvas.setExtent(rect)
            canvas.refresh()
        best = next(f for f in layer.getFeatures() if f["rank"] == 1)
        self.progress.setValue(100)
        self.stage.setText(f"done in {result.get('seconds', 0):.1f} s")
        text, level = run_message(result, best, count, task.request.raster_name, layer.name())
        self.message(text, level)
        return layer

    # --- teardown --------------------------------------------------------------------------

    def teardown(self) -> None:
        """Cancel a running search, release the map tool and its rubber band."""
        if self.task is not None and not self.task.done:
            self.task.on_finished = None
            self.task.cancel()
        canvas = self.iface.mapCanvas()
        if canvas.mapTool() is self.map_tool:
            canvas.unsetMapTool(self.map_tool)
        self.map_tool.remove()
