"""``ocgnet-geo worker``: a JSON-lines server on stdin/stdout around :class:`Locator`.

One request per line: ``{"id": ..., "method": ..., "params": {...}}``. Answers, one JSON
object per line on stdout: ``{"id", "result"}``, ``{"id", "error": {"code", "message"}}`` or,
while a locate runs, progress events ``{"id", "progress", "message"}``. Logging goes to
stderr only. The model and its feature cache stay alive between requests; nothing listens
on a network port. The protocol is documented in ``docs/worker-protocol.md``.

Methods: ``hello``, ``load``, ``locate``, ``cancel``, ``shutdown``. ``load`` and ``locate``
run one at a time on a background thread, so ``cancel`` (stops a locate between tiles) and
``hello`` are answered while a search is running.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TextIO

from ocgnet_geo import __version__
from ocgnet_geo.errors import InputError
from ocgnet_geo.geo.crs import crs_label

PROTOCOL_VERSION = 1
METHODS = ("hello", "load", "locate", "cancel", "shutdown")
log = logging.getLogger("ocgnet_geo.cli.worker")


class WorkerError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Worker:
    """Reads requests from ``stdin`` and answers on ``stdout`` until ``shutdown`` or EOF."""

    def __init__(
        self,
        stdin: TextIO,
        stdout: TextIO,
        locator: Any = None,
        load_defaults: dict | None = None,
    ) -> None:
        self.stdin, self.stdout = stdin, stdout
        self.locator = locator
        #: ``load`` params used when a request leaves them out (from the command line:
        #: device, precision, threads, batch_mb)
        self.load_defaults = dict(load_defaults or {})
        self._write_lock = threading.Lock()
        self._jobs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocgnet-job")
        self._cancel_events: dict[Any, threading.Event] = {}

    # --- transport -------------------------------------------------------------------------

    def send(self, message: dict) -> None:
        line = json.dumps(message, separators=(",", ":"), allow_nan=False)
        with self._write_lock:
            self.stdout.write(line + "\n")
            self.stdout.flush()

    def error(self, request_id: Any, code: str, message: str) -> None:
        self.send({"id": request_id, "error": {"code": code, "message": message}})

    def serve(self) -> int:
        """Answer requests until ``shutdown`` or end of input; returns the exit status."""
        try:
            for line in self.stdin:
                if not line.strip():
                    continue
                if self._handle_line(line) == "shutdown":
                    break
        finally:
            for event in list(self._cancel_events.values()):
                event.set()
            self._jobs.shutdown(wait=True)
        return 0

    def _handle_line(self, line: str) -> str | None:
        try:
            request = json.loads(line)
        except json.JSONDecodeError as err:
            self.error(None, "parse_error", f"not a JSON line: {err.msg} at column {err.colno}")
            return None
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            self.error(
                request.get("id") if isinstance(request, dict) else None,
                "invalid_request",
                'expected {"id", "method", "params"}',
            )
            return None
        request_id, method = request.get("id"), request["method"]
        params = request.get("params") or {}
        if not isinstance(params, dict):
            self.error(request_id, "invalid_request", "params must be an object")
            return None
        if method == "hello":
            self.send({"id": request_id, "result": self.hello()})
        elif method == "cancel":
            self.send(
                {"id": request_id, "result": {"cancelled": self.cancel(params.get("target"))}}
            )
        elif method == "shutdown":
            for event in self._cancel_events.values():
                event.set()
            self.send({"id": request_id, "result": {}})
            return "shutdown"
        elif method in ("load", "locate"):
            self._cancel_events[request_id] = threading.Event()
            self._jobs.submit(self._run_job, request_id, method, params)
        else:
            self.error(
                request_id, "unknown_method", f"method {method!r}: not one of {', '.join(METHODS)}"
            )
        return None

    # --- methods ---------------------------------------------------------------------------

    def hello(self) -> dict:
        model = None
        if self.locator is not None:
            m = self.locator.model
            model = {
                "id": m.model_id,
                "view": m.view,
                "gsd_m": m.gsd_m,
                "tile_px": m.tile_px,
                "precision": self.locator.precision,
                "precision_reason": getattr(m, "precision_reason", self.locator.precision),
                "batch_size": self.locator.batch_size,
                "family": "matcher" if hasattr(m, "heading") else "ocgnet",
                "default_refine": getattr(m, "default_refine", "none"),
            }
        return {
            "name": "ocgnet-geo",
            "version": __version__,
            "protocol": PROTOCOL_VERSION,
            "methods": list(METHODS),
            "views": ["drone", "ground"],
            "outputs": ["raster_crs", "epsg4326"],
            "bundled_model": _bundled_model_name(),
            "model": model,
        }

    def cancel(self, target: Any) -> bool:
        event = self._cancel_events.get(target)
        if event is None:
            return False
        event.set()
        return True

    def _run_job(self, request_id: Any, method: str, params: dict) -> None:
        try:
            answer = {
                "id": request_id,
                "result": self._load(params)
                if method == "load"
                else self._locate(request_id, params),
            }
        except WorkerError as err:
            answer = {"id": request_id, "error": {"code": err.code, "message": str(err)}}
        except InputError as err:
            answer = {"id": request_id, "error": {"code": "bad_input", "message": str(err)}}
        except Exception as err:  # a bug: report it, keep serving
            log.exception("internal error in %s", method)
            answer = {
                "id": request_id,
                "error": {"code": "internal", "message": f"{type(err).__name__}: {err}"},
            }
        self._cancel_events.pop(request_id, None)  # before answering: a later cancel finds nothing
        self.send(answer)

    def _load(self, params: dict) -> dict:
        from ocgnet_geo.locate import DEFAULT_BATCH_BYTES, Locator

        params = {**self.load_defaults, **{k: v for k, v in params.items() if v is not None}}
        weights = params.get("weights")
        if weights is None or weights == "":
            from ocgnet_geo.locate.bundled import default_model

            weights = str(default_model())  # the bundled matcher
        if not isinstance(weights, str):
            raise WorkerError(
                "invalid_params", "load: params.weights must be the path of a weights file"
            )
        batch_mb = params.get("batch_mb", DEFAULT_BATCH_BYTES / (1 << 20))
        if isinstance(batch_mb, bool) or not isinstance(batch_mb, (int, float)) or batch_mb <= 0:
            raise WorkerError(
                "invalid_params", f"load: batch_mb {batch_mb!r}: must be a number > 0"
            )
        self.locator = Locator.from_weights(
            weights,
            device=params.get("device", "cpu"),
            view=params.get("view"),
            sigma=params.get("sigma"),
            gsd_m=params.get("gsd_m"),
            cache_dir=params.get("cache_dir"),
            precision=params.get("precision", "auto"),
            threads=params.get("threads"),
            batch_bytes=int(batch_mb * (1 << 20)),
        )
        return self.hello()["model"]

    def _locate(self, request_id: Any, params: dict) -> dict:
        from ocgnet_geo.locate import Cancelled

        if self.locator is None:
            raise WorkerError(
                "no_model", "locate: no model loaded (send load with a weights file first)"
            )
        missing = [k for k in ("query", "click", "raster") if k not in params]
        if missing:
            raise WorkerError("invalid_params", f"locate: missing params {', '.join(missing)}")
        event = self._cancel_events[request_id]

        def progress(fraction: float, message: str) -> None:
            self.send({"id": request_id, "progress": round(float(fraction), 4), "message": message})

        try:
            result = self.locator.locate(
                params["query"],
                params["click"],
                params["raster"],
                view=params.get("view"),
                top_k=params.get("top_k", 5),
                bbox=params.get("bbox"),
                bbox_crs=params.get("bbox_crs", "EPSG:4326"),
                progress=progress,
                cancel=event.is_set,
                heading=params.get("heading"),
                refine=params.get("refine"),
            )
        except Cancelled as err:
            raise WorkerError("cancelled", f"locate: {err}") from None
        return {
            "crs": result.crs.to_wkt(),
            "crs_authid": crs_label(result.crs) if result.crs.to_authority() else None,
            "candidates_raster_crs": result.geojson(crs="raster"),
            "candidates_epsg4326": result.geojson(),
            "tiles_searched": result.tiles_searched,
            "tiles_encoded": result.tiles_encoded,
            "seconds": round(result.seconds, 3),
            "model": result.model,
            "precision": result.precision,
            "refine": result.refine,
        }


def _bundled_model_name() -> str | None:
    """File name of the bundled default model (what ``load`` without weights loads)."""
    from ocgnet_geo.locate.bundled import DEFAULT_MODEL

    return DEFAULT_MODEL.name if DEFAULT_MODEL.is_file() else None


def run_worker(weights: str | None = None, **load_params: Any) -> int:
    """Entry point of ``ocgnet-geo worker``: serve stdin/stdout; optionally preload weights.
    ``load_params`` (device, view, precision, threads, batch_mb) are also the defaults of
    later ``load`` requests that leave them out."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="worker: %(message)s")
    defaults = {k: v for k, v in load_params.items() if v is not None and k != "view"}
    worker = Worker(sys.stdin, sys.stdout, load_defaults=defaults)
    if weights:
        worker._load(
            {"weights": weights, **{k: v for k, v in load_params.items() if v is not None}}
        )
        log.info(
            "model %s, %s",
            worker.locator.model.model_id,
            worker.hello()["model"]["precision_reason"],
        )
    log.info("ready (protocol %d)", PROTOCOL_VERSION)
    return worker.serve()
