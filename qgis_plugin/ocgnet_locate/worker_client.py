"""Client of ``ocgnet-geo worker``: a subprocess spoken to in JSON lines (stdlib only).

The protocol is documented in ``docs/worker-protocol.md``. One :class:`WorkerClient` keeps one
worker process alive between requests (the worker keeps the model and its tile-feature cache),
starts it again when it has died, and keeps the tail of its stderr for error messages.

:meth:`WorkerClient.request` blocks its caller until the answer arrives, so call it from a
background thread (a ``QgsTask`` or a Processing algorithm), never from the GUI thread.
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

#: Marker put in a waiting queue when the worker's stdout closes.
_EOF = {"_eof": True}


class WorkerError(Exception):
    """An error answer of the worker (``code`` as in the protocol) or a transport failure
    (``worker_missing``, ``worker_died``, ``timeout``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class WorkerClient:
    """One ``ocgnet-geo worker`` subprocess, started lazily.

    ``command_factory`` returns the command line (for example
    ``[python, "-m", "ocgnet_geo.cli", "worker"]``); it is called at every (re)start, so a
    changed interpreter setting takes effect at the next start. It raises
    :class:`WorkerError` (``worker_missing``) when no worker can be found. ``env_factory``
    (optional) gives the worker's environment, also at every start (default: QGIS's).
    """

    def __init__(
        self,
        command_factory: Callable[[], list[str]],
        env_factory: Callable[[], dict] | None = None,
    ) -> None:
        self._command_factory = command_factory
        self._env_factory = env_factory
        self._proc: subprocess.Popen | None = None
        self._lock = threading.RLock()
        self._write_lock = threading.Lock()
        self._pending: dict[int, queue.Queue] = {}
        self._ids = itertools.count(1)
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        #: ``(weights, view, precision)`` of the model loaded in the running worker, or None
        #: (weights "" = the bundled model).
        self.loaded: tuple[str, str | None, str | None] | None = None
        self.command: list[str] | None = None
        #: the worker's answer to the last ``load`` (precision, precision_reason, ...)
        self.loaded_model: dict | None = None
        #: the last error of a request or start, as "code: message" (for diagnostics)
        self.last_error: str | None = None

    # --- process ---------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs."""
        return self._proc.pid if self.is_running() else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def ensure_running(self) -> str | None:
        """Start the worker if needed. Returns a user message when it had died and was
        restarted (None on a first start or when it was running)."""
        with self._lock:
            if self.is_running():
                return None
            died = self._proc is not None
            code = self._proc.returncode if died else None
            tail = self.stderr_tail(3)
            self._start()
            if died:
                detail = f": {tail}" if tail else ""
                return f"The OCGNet worker had stopped (exit code {code}){detail}; restarted it."
            return None

    def _start(self) -> None:
        try:
            command = self._command_factory()
        except WorkerError as err:
            self.last_error = f"{err.code}: {err.message}"
            raise
        base = self._env_factory() if self._env_factory is not None else os.environ
        env = dict(base, PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
        if os.name == "nt":  # no console window for the worker
            flags = {"creationflags": getattr(subprocess, "CREATE_NO_WINDOW", 0)}
        else:
            flags = {"start_new_session": True}
        try:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                bufsize=1,
                env=env,
                **flags,
            )
        except OSError as err:
            self.last_error = f"worker_missing: could not start {command[0]!r}: {err}"
            raise WorkerError(
                "worker_missing", f"could not start the OCGNet worker {command[0]!r}: {err}"
            ) from None
        self._proc, self.command, self.loaded = proc, command, None
        self._stderr.clear()
        threading.Thread(target=self._pump_stdout, args=(proc,), daemon=True).start()
        threading.Thread(target=self._pump_stderr, args=(proc,), daemon=True).start()

    def _pump_stdout(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                self._stderr.append(f"(stdout) {line.rstrip()}")
                continue
            waiting = self._pending.get(message.get("id")) if isinstance(message, dict) else None
            if waiting is not None:
                waiting.put(message)
        proc.wait()
        for waiting in list(self._pending.values()):
            waiting.put(_EOF)

    def _pump_stderr(self, proc: subprocess.Popen) -> None:
        for line in proc.stderr:
            if line.strip():
                self._stderr.append(line.rstrip())

    def stderr_tail(self, lines: int = 5) -> str:
        """The last lines the worker wrote on stderr (its log and tracebacks)."""
        return " | ".join(list(self._stderr)[-lines:])

    def kill(self) -> None:
        """Kill the worker at once (it is started again by the next request)."""
        if self.is_running():
            self._proc.kill()
            self._proc.wait(5)

    def shutdown(self, timeout: float = 3.0) -> None:
        """Ask the worker to exit; kill it if it does not within ``timeout`` seconds."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        try:
            self._send({"id": None, "method": "shutdown"})
            proc.stdin.close()
            proc.wait(timeout)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait(5)

    # --- requests --------------------------------------------------------------------------

    def _send(self, message: dict) -> None:
        with self._write_lock:
            self._proc.stdin.write(json.dumps(message) + "\n")
            self._proc.stdin.flush()

    def request(
        self,
        method: str,
        params: dict | None = None,
        on_progress: Callable[[float, str], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        timeout: float | None = None,
    ) -> dict:
        """Send one request and wait for its answer (blocking; call off the GUI thread).

        ``on_progress(fraction, message)`` receives progress events; ``should_cancel`` is
        polled every 0.1 s and, once it returns True, a ``cancel`` request is sent (the
        worker then answers with error ``cancelled``). Raises :class:`WorkerError`.
        """
        with self._lock:
            self.ensure_running()
            request_id = next(self._ids)
            waiting: queue.Queue = queue.Queue()
            self._pending[request_id] = waiting
            try:
                self._send({"id": request_id, "method": method, "params": params or {}})
            except (OSError, ValueError) as err:
                self._pending.pop(request_id, None)
                raise WorkerError("worker_died", f"the OCGNet worker is gone: {err}") from None
        deadline = None if timeout is None else time.monotonic() + timeout
        cancel_sent = False
        try:
            while True:
                try:
                    message = waiting.get(timeout=0.1)
                except queue.Empty:
                    message = None
                if should_cancel is not None and not cancel_sent and should_cancel():
                    cancel_sent = True
                    self._send_cancel(request_id)
                if deadline is not None and time.monotonic() > deadline:
                    raise WorkerError(
                        "timeout", f"{method}: no answer from the worker in {timeout:.0f} s"
                    )
                if message is None:
                    continue
                if message is _EOF:
                    code = self._proc.returncode if self._proc is not None else None
                    tail = self.stderr_tail()
                    raise WorkerError(
                        "worker_died",
                        f"the OCGNet worker stopped during {method} (exit code {code})"
                        + (f": {tail}" if tail else ""),
                    )
                if "progress" in message:
                    if on_progress is not None:
                        on_progress(float(message["progress"]), str(message.get("message", "")))
                    continue
                if "error" in message:
                    error = message["error"] or {}
                    raise WorkerError(
                        str(error.get("code", "internal")), str(error.get("message", ""))
                    )
                return message.get("result") or {}
        except WorkerError as err:
            if err.code != "cancelled":
                self.last_error = f"{method}: {err.code}: {err.message}"
            raise
        finally:
            self._pending.pop(request_id, None)

    def _send_cancel(self, request_id: int) -> None:
        try:
            self._send(
                {"id": f"cancel-{request_id}", "method": "cancel", "params": {"target": request_id}}
            )
        except (OSError, ValueError):
            pass  # the worker is gone; the EOF marker ends the wait

    def hello(self, timeout: float = 60.0) -> dict:
        """The worker's ``hello`` answer (name, version, protocol, loaded model)."""
        return self.request("hello", timeout=timeout)

    def ensure_model(
        self, weights: str | None, view: str | None = None, precision: str | None = None
    ) -> dict | None:
        """Load ``weights`` (a file; "" or None: the worker's bundled model, ``load``
        without ``weights``) in ``precision`` (auto, fp32, bf16; None = the worker's default)
        unless the running worker has them loaded so already."""
        weights = weights or ""
        key = (weights, view, precision)
        if self.is_running() and self.loaded == key:
            return None
        params: dict[str, Any] = {"weights": weights} if weights else {}
        if view and not weights.endswith((".safetensors", ".json")):
            # official .pth.tar files do not record their view; the bundled matcher answers
            # bad_input for a view it cannot serve
            params["view"] = view
        if precision:
            params["precision"] = precision
        model = self.request("load", params)
        self.loaded, self.loaded_model = key, model
        return model
