"""The *Engine* section of the settings dialog: what is installed, what an install would do
(Python, package sources, disk space) before it starts, Install / Repair / Remove / Cancel,
progress with the current step, the pip log and *Copy diagnostics*."""

from __future__ import annotations

import platform

from qgis.core import QgsApplication, QgsTask
from qgis.gui import QgsFileWidget
from qgis.PyQt.QtWidgets import (
    QApplication,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from . import diagnostics, engine, engine_ui, settings
from .engine_task import EngineTask
from .runtime import shared_client


class EngineBox(QGroupBox):
    """Engine status and actions. ``iface`` is where results are reported (message bar)."""

    def __init__(self, iface, parent=None, on_installed=None) -> None:
        super().__init__("Engine (the Python environment that runs the model)", parent)
        self.iface = iface
        self.on_installed = on_installed
        self.task: EngineTask | None = None
        self.diagnostics_task: QgsTask | None = None
        layout = QVBoxLayout(self)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.plan = QLabel(self)
        self.plan.setWordWrap(True)
        layout.addWidget(self.plan)
        form = QFormLayout()
        self.torch = QComboBox(self)
        self.torch.addItem("CPU (default)", "cpu")
        if platform.system() != "Darwin":
            self.torch.addItem("GPU (NVIDIA CUDA)", "gpu")
        self.torch.setCurrentIndex(max(0, self.torch.findData(settings.torch_build())))
        self.torch.setToolTip("Which PyTorch build the engine gets; CPU works everywhere")
        self.torch.currentIndexChanged.connect(self.refresh)
        form.addRow("PyTorch", self.torch)
        self.wheelhouse = QgsFileWidget(self)
        self.wheelhouse.setStorageMode(QgsFileWidget.GetDirectory)
        self.wheelhouse.setFilePath(settings.get("wheelhouse"))
        self.wheelhouse.lineEdit().setPlaceholderText(
            "empty: pip's own configuration (index, proxy, PIP_* variables)"
        )
        self.wheelhouse.setToolTip(
            "Offline install: a folder of wheels made with `pip download` (docs/qgis.md)"
        )
        self.wheelhouse.fileChanged.connect(self.refresh)
        form.addRow("Wheelhouse", self.wheelhouse)
        layout.addLayout(form)

        row = QHBoxLayout()
        self.install_button = QPushButton("Install engine…", self)
        self.install_button.clicked.connect(lambda: self.install(repair=False))
        self.repair_button = QPushButton("Repair", self)
        self.repair_button.clicked.connect(lambda: self.install(repair=True))
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.clicked.connect(self.remove)
        self.cancel_button = QPushButton("Cancel install", self)
        self.cancel_button.clicked.connect(self.cancel)
        for button in (self.install_button, self.repair_button, self.remove_button):
            row.addWidget(button)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 100)
        self.stage = QLabel(self)
        self.stage.setWordWrap(True)
        layout.addWidget(self.progress)
        layout.addWidget(self.stage)
        row = QHBoxLayout()
        self.log_button = QPushButton("Show pip log", self)
        self.log_button.clicked.connect(lambda: engine_ui.show_log(self.options().root, self))
        self.diagnostics_button = QPushButton("Copy diagnostics", self)
        self.diagnostics_button.clicked.connect(self.copy_diagnostics)
        row.addWidget(self.log_button)
        row.addWidget(self.diagnostics_button)
        layout.addLayout(row)
        self.diagnostics_text = ""
        running = engine_ui.running_task()
        if running is not None:
            self._follow(running)
        self.refresh()

    def options(self, repair: bool = False) -> engine.Options:
        return engine_ui.options(
            repair=repair,
            torch_build=self.torch.currentData(),
            wheelhouse=self.wheelhouse.filePath().strip(),
        )

    def save(self) -> None:
        settings.put("torch_build", self.torch.currentData())
        settings.put("wheelhouse", self.wheelhouse.filePath().strip())

    def refresh(self, *args) -> None:
        """Status, and the plan of an install: version, Python, sources, disk space."""
        opts = self.options()
        info = engine.plan(opts)
        marker = engine.read_marker(opts.root)
        if marker:
            self.status.setText(
                f"Installed: ocgnet-geo {marker.get('version')}, Python "
                f"{marker.get('python_version')} ({marker.get('base_reason')}), torch "
                f"{marker.get('torch_build')}, in {opts.root}"
            )
        else:
            self.status.setText(f"Not installed (folder: {opts.root})")
        if info.get("error"):
            self.plan.setText(info["error"])
        else:
            try:
                base = engine.find_base_python(opts.candidates)
                python = f"Python {base.version_text} at {base.path} ({base.reason})"
            except engine.EngineError as err:
                python = err.message
            if marker and marker.get("version") == info["wheel"]:
                action = f"The bundled ocgnet-geo {info['wheel']} is installed; Install checks it"
            elif marker:
                action = (
                    f"Install replaces {marker.get('version')} with the bundled {info['wheel']}"
                )
            else:
                action = f"Install sets up the bundled ocgnet-geo {info['wheel']}"
            self.plan.setText(
                f"{action}. It uses {python}. Disk: needs about "
                f"{engine.human_bytes(info['needed'])}, {engine.human_bytes(info['free'])} free."
            )
        busy = engine_ui.running_task() is not None
        self.install_button.setEnabled(not busy and not info.get("error"))
        self.repair_button.setEnabled(not busy and marker is not None and not info.get("error"))
        self.remove_button.setEnabled(not busy and opts.root.exists())
        self.cancel_button.setEnabled(busy)

    def install(self, repair: bool = False) -> EngineTask:
        self.save()
        task = engine_ui.start_install(self.iface, repair=repair, opts=self.options(repair))
        self._follow(task)
        self.refresh()
        return task

    def _follow(self, task: EngineTask) -> None:
        self.task = task
        self.progress.setValue(int(task.progress()))
        self.stage.setText(task.stage or "waiting to start…")
        task.progressChanged.connect(self._progress)
        task.stageChanged.connect(self._stage)
        task.taskCompleted.connect(self._ended)
        task.taskTerminated.connect(self._ended)

    def _progress(self, value: float) -> None:
        try:
            self.progress.setValue(int(value))
        except RuntimeError:  # the dialog was closed meanwhile
            pass

    def _stage(self, text: str) -> None:
        try:
            self.stage.setText(text)
        except RuntimeError:
            pass

    def _ended(self) -> None:
        try:
            task = self.task
            if task is not None and task.outcome is not None:
                self.stage.setText(task.outcome.message)
                if self.on_installed is not None:
                    self.on_installed(task.outcome.marker["python"])
            elif task is not None and task.error is not None:
                self.stage.setText(f"failed: {task.error.message}")
            self.refresh()
        except RuntimeError:
            pass

    def cancel(self) -> None:
        task = engine_ui.running_task()
        if task is not None:
            self.stage.setText("cancelling…")
            task.cancel()

    def remove(self) -> None:
        engine_ui.remove_engine(self.iface, self.options().root)
        if self.on_installed is not None:
            self.on_installed("")
        self.stage.setText("engine removed")
        self.refresh()

    def copy_diagnostics(self) -> QgsTask:
        """Collect on a task; the text goes to the clipboard and into the dialog."""
        self.diagnostics_button.setEnabled(False)
        self.stage.setText("collecting diagnostics…")
        client = shared_client()

        def done(exception, result=None) -> None:
            text = result if exception is None else f"diagnostics failed: {exception}"
            self.diagnostics_text = text
            QApplication.clipboard().setText(text)
            try:
                self.diagnostics_button.setEnabled(True)
                self.stage.setText("diagnostics copied to the clipboard")
                if hasattr(self.window(), "output"):
                    self.window().output.setPlainText(text)
            except RuntimeError:
                pass

        self.diagnostics_task = QgsTask.fromFunction(
            "OCGNet: diagnostics", lambda task: diagnostics.collect(client), on_finished=done
        )
        QgsApplication.taskManager().addTask(self.diagnostics_task)
        return self.diagnostics_task
