"""Settings: the engine (install / repair / remove, diagnostics; ``engine_box.py``), the
worker's Python interpreter, default weights (empty: the bundled matcher) and precision,
with a "Test" button that shows the worker's ``hello`` answer (fetched on a background
task)."""

from __future__ import annotations

import json

from qgis.core import QgsApplication, QgsTask
from qgis.gui import QgsFileWidget
from qgis.PyQt.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from . import settings
from .engine_box import EngineBox
from .inputs import BUNDLED_LABEL
from .worker_client import WorkerClient, WorkerError


def hello_of(python: str | None) -> dict:
    """Start a throw-away worker with ``python`` (None: the resolved one) and ask ``hello``."""
    client = WorkerClient(
        lambda: settings.worker_command(python or None),
        lambda: settings.worker_env(python or None),
    )
    try:
        return client.hello(timeout=60)
    finally:
        client.shutdown()


class SettingsDialog(QDialog):
    """Edit the plugin settings; "Test" runs ``hello`` against the chosen interpreter."""

    def __init__(self, parent=None, iface=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("OCGNet Locate settings")
        if iface is None:
            from qgis.utils import iface
        layout = QVBoxLayout(self)
        self.engine = EngineBox(iface, self, on_installed=self._engine_installed)
        layout.addWidget(self.engine)
        form = QFormLayout()
        self.python = QgsFileWidget(self)
        self.python.setFilePath(settings.get("python"))
        self.python.setDialogTitle("Python interpreter with ocgnet-geo installed")
        self.python.lineEdit().setPlaceholderText("empty: the installed engine")
        self.python.setToolTip(
            "Set by Install engine; advanced: any Python with ocgnet-geo installed"
        )
        form.addRow("Worker Python", self.python)
        python, source = settings.resolve_python()
        self.resolved = QLabel(f"in use: {python or '—'} ({source})")
        self.resolved.setWordWrap(True)
        form.addRow("", self.resolved)
        self.weights = QgsFileWidget(self)
        self.weights.setFilter("Models (*.safetensors *.pth.tar *.pth);;All files (*)")
        self.weights.setFilePath(settings.get("weights"))
        self.weights.lineEdit().setPlaceholderText(f"empty: {BUNDLED_LABEL}")
        self.weights.setToolTip(
            "The weights the panel and Processing use by default; empty: the model bundled "
            "with the worker's ocgnet-geo (the matcher, for drone and aerial photos)"
        )
        form.addRow("Default weights", self.weights)
        self.precision = QComboBox(self)
        self.precision.addItems(list(settings.PRECISIONS))
        self.precision.setCurrentText(settings.precision())
        self.precision.setToolTip(
            "Arithmetic of the satellite-tile encoder. auto: bf16 where the CPU computes it "
            "natively (AVX-512 BF16 / AMX), else fp32. bf16 is about twice as fast with the "
            "same boxes (docs/precision.md); fp32 is the reference arithmetic."
        )
        form.addRow("Precision", self.precision)
        layout.addLayout(form)

        self.test_button = QPushButton("Test", self)
        self.test_button.clicked.connect(self.test)
        layout.addWidget(self.test_button)
        self.output = QPlainTextEdit(self)
        self.output.setReadOnly(True)
        self.output.setPlaceholderText("Press Test to start the worker and show its hello answer")
        layout.addWidget(self.output)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.test_task: QgsTask | None = None

    def _engine_installed(self, python: str) -> None:
        """The engine was installed (or removed, python ""): the field follows."""
        self.python.setFilePath(python)
        resolved, source = settings.resolve_python()
        self.resolved.setText(f"in use: {resolved or '—'} ({source})")

    def test(self) -> QgsTask:
        """Ask a worker started with the interpreter in the field for ``hello``."""
        python = self.python.filePath().strip() or None
        self.output.setPlainText("starting the worker…")
        self.test_button.setEnabled(False)

        def run(task):
            return hello_of(python)

        def done(exception, result=None) -> None:
            try:
                self.test_button.setEnabled(True)
                if exception is None:
                    self.output.setPlainText(json.dumps(result, indent=2))
                elif isinstance(exception, WorkerError):
                    self.output.setPlainText(f"error ({exception.code}): {exception.message}")
                else:
                    self.output.setPlainText(f"error: {exception}")
            except RuntimeError:  # dialog closed meanwhile
                pass

        self.test_task = QgsTask.fromFunction("OCGNet: test worker", run, on_finished=done)
        QgsApplication.taskManager().addTask(self.test_task)
        return self.test_task

    def accept(self) -> None:
        self.engine.save()
        settings.put("python", self.python.filePath().strip())
        settings.put("weights", self.weights.filePath().strip())
        settings.put("precision", self.precision.currentText())
        super().accept()
