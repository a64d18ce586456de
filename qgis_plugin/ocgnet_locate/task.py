"""The background ``QgsTask`` of one Locate run: talks to the worker, never touches the GUI.

``run()`` executes on a QGIS worker thread; ``finished()`` runs on the main thread and hands
the outcome to a callback, which creates layers and messages there.
"""

from __future__ import annotations

from collections.abc import Callable

from qgis.core import QgsTask
from qgis.PyQt.QtCore import pyqtSignal

from .inputs import LocateRequest
from .worker_client import WorkerClient, WorkerError

#: Share of the progress bar given to loading the model.
LOAD_SHARE = 10.0


class LocateTask(QgsTask):
    """Load the model if needed, then ``locate``; cancellable between tiles."""

    #: stage text for the panel (emitted from the task thread; delivered queued)
    stageChanged = pyqtSignal(str)
    #: the worker's ``priors`` answer (camera, search area), before the search starts
    priorsReady = pyqtSignal(object)

    def __init__(
        self,
        client: WorkerClient,
        request: LocateRequest,
        on_finished: Callable[[LocateTask], None] | None = None,
    ) -> None:
        super().__init__("OCGNet: locate object", QgsTask.CanCancel)
        self.client = client
        self.request = request
        self.on_finished = on_finished
        #: the worker's locate result (dict) after a successful run
        self.result: dict | None = None
        self.error: WorkerError | None = None
        #: the worker's ``priors`` answer (None with priors off)
        self.priors: dict | None = None
        #: set when the worker had died and was restarted for this run
        self.restart_message: str | None = None
        self.done = False

    def run(self) -> bool:  # worker thread
        try:
            self.restart_message = self.client.ensure_running()
            self.stageChanged.emit("loading model…")
            self.client.ensure_model(
                self.request.weights, self.request.view, self.request.precision
            )
            self.setProgress(LOAD_SHARE)
            if self.isCanceled():
                raise WorkerError("cancelled", "locate: cancelled before it started")
            if self.request.priors == "auto":
                self.stageChanged.emit("reading the photo's metadata…")
                self.priors = self.client.request("priors", self.request.priors_params())
                self.priorsReady.emit(self.priors)
            self.stageChanged.emit("searching…")
            self.result = self.client.request(
                "locate",
                self.request.locate_params(),
                on_progress=self._progress,
                should_cancel=self.isCanceled,
            )
            return True
        except WorkerError as err:
            self.error = err
            return False
        except Exception as err:  # never let an exception escape a task thread
            self.error = WorkerError("internal", f"{type(err).__name__}: {err}")
            return False

    def _progress(self, fraction: float, message: str) -> None:
        self.setProgress(LOAD_SHARE + (100.0 - LOAD_SHARE) * max(0.0, min(1.0, fraction)))
        self.stageChanged.emit(message)

    def finished(self, result: bool) -> None:  # main thread
        if not result and self.error is None:
            self.error = WorkerError("cancelled", "locate: cancelled")
        self.done = True
        if self.on_finished is not None:
            self.on_finished(self)
