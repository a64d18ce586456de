"""The ``QgsTask`` that installs, upgrades or repairs the engine (``engine.install``).

``run()`` executes on a QGIS worker thread and never touches the GUI; progress and the
current step go out by signals; ``finished()`` (main thread) hands the task to a callback.
"""

from __future__ import annotations

from collections.abc import Callable

from qgis.core import QgsTask
from qgis.PyQt.QtCore import pyqtSignal

from . import engine


class EngineTask(QgsTask):
    """One install run; cancellable (pip is killed, the new venv deleted)."""

    #: the current step ("pip: collecting torch…"), from the task thread, delivered queued
    stageChanged = pyqtSignal(str)
    #: one line of the install log
    logLine = pyqtSignal(str)

    def __init__(
        self,
        options: engine.Options,
        on_finished: Callable[[EngineTask], None] | None = None,
    ) -> None:
        title = "OCGNet: repair the engine" if options.repair else "OCGNet: install the engine"
        super().__init__(title, QgsTask.CanCancel)
        self.options = options
        self.on_finished = on_finished
        self.outcome: engine.Outcome | None = None
        self.error: engine.EngineError | None = None
        self.stage = ""
        self.done = False

    def run(self) -> bool:  # worker thread
        progress = engine.Progress(self._step, self.logLine.emit, self.isCanceled)
        try:
            self.outcome = engine.install(self.options, progress)
            return True
        except engine.EngineError as err:
            self.error = err
        except Exception as err:  # never let an exception escape a task thread
            self.error = engine.EngineError("internal", f"{type(err).__name__}: {err}")
        return False

    def _step(self, fraction: float, text: str) -> None:
        self.stage = text
        self.setProgress(100.0 * max(0.0, min(1.0, fraction)))
        self.stageChanged.emit(text)

    def finished(self, result: bool) -> None:  # main thread
        if not result and self.error is None:
            self.error = engine.EngineError("cancelled", "engine install cancelled")
        self.done = True
        if self.on_finished is not None:
            self.on_finished(self)
