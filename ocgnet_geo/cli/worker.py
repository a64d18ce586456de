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

import io
import json
import logging
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, TextIO

from ocgnet_geo import __version__
from ocgnet_geo.cli.protocol import (
    ProtocolError,
    Request,
    check_params,
    json_key,
    parse_request,
    read_line,
)
from ocgnet_geo.errors import InputError
from ocgnet_geo.geo.crs import crs_label

PROTOCOL_VERSION = 1
METHODS = ("hello", "load", "locate", "priors", "cancel", "shutdown")
log = logging.getLogger("ocgnet_geo.cli.worker")


class WorkerError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Terminated(BaseException):
    """Raised in the main thread by the SIGTERM handler: ends :meth:`Worker.serve` cleanly
    (a BaseException, so the per-line guard does not swallow it)."""


class Worker:
    """Reads requests from ``stdin`` and answers on ``stdout`` until ``shutdown`` or EOF.

    ``stdin`` is read as bytes (a text stream's ``buffer``), so a line that is not UTF-8 is
    an error answer, not a crash; every line is answered inside one guard.
    """

    def __init__(
        self,
        stdin: TextIO | BinaryIO,
        stdout: TextIO,
        locator: Any = None,
        load_defaults: dict | None = None,
    ) -> None:
        self.stdin, self.stdout = _binary(stdin), stdout
        self.locator = locator
        #: ``load`` params used when a request leaves them out (from the command line:
        #: device, precision, threads, batch_mb)
        self.load_defaults = dict(load_defaults or {})
        self._write_lock = threading.Lock()
        self._jobs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocgnet-job")
        #: cancel events of queued and running jobs, by :func:`json_key` of their id (ids
        #: are any JSON value, lists and objects included)
        self._cancel_events: dict[str, threading.Event] = {}
        self._closed = False

    # --- transport -------------------------------------------------------------------------

    def send(self, message: dict) -> None:
        """Write one answer line. An answer that is not valid JSON (a non-finite number in
        a result) becomes an ``internal`` error for the same id; a closed stdout ends
        serving (the client is gone)."""
        try:
            line = json.dumps(message, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as err:
            log.error("answer to %r not encodable: %s", message.get("id"), err)
            line = json.dumps(
                {
                    "id": message.get("id"),
                    "error": {
                        "code": "internal",
                        "message": f"answer not encodable as JSON: {err}",
                    },
                },
                separators=(",", ":"),
            )
        with self._write_lock:
            if self._closed:
                return
            try:
                self.stdout.write(line + "\n")
                self.stdout.flush()
            except (OSError, ValueError):  # broken pipe or closed stream
                self._closed = True
                log.warning("stdout closed: the client is gone")

    def error(self, request_id: Any, code: str, message: str) -> None:
        self.send({"id": request_id, "error": {"code": code, "message": message}})

    def serve(self) -> int:
        """Answer requests until ``shutdown``, end of input or SIGTERM; returns the exit status."""
        try:
            while not self._closed:
                raw = read_line(self.stdin)
                if raw is None:
                    break
                if not raw.strip():
                    continue
                if self._handle_line(raw) == "shutdown":
                    break
        except Terminated:
            log.info("SIGTERM: cancelling running work and shutting down")
        finally:
            for event in list(self._cancel_events.values()):
                event.set()
            self._jobs.shutdown(wait=True)  # queued jobs answer `cancelled` at once
        return 0

    def _handle_line(self, raw: bytes) -> str | None:
        """Parse, check and answer (or queue) one request line; never raises."""
        request_id = None
        try:
            request = parse_request(raw)
            request_id = request.id
            return self._dispatch(request)
        except ProtocolError as err:
            self.error(err.request_id if request_id is None else request_id, err.code, str(err))
        except Exception as err:  # a bug: report it, keep serving
            log.exception("internal error while handling a request")
            self.error(request_id, "internal", f"{type(err).__name__}: {err}")
        return None

    def _dispatch(self, request: Request) -> str | None:
        request_id, method = request.id, request.method
        if method not in METHODS:
            raise ProtocolError(
                "unknown_method",
                f"method {method[:60]!r}: not one of {', '.join(METHODS)}",
                request_id,
            )
        params = check_params(method, request.params)
        if method == "hello":
            self.send({"id": request_id, "result": self.hello()})
        elif method == "cancel":
            cancelled = self.cancel(params.get("target"))
            self.send({"id": request_id, "result": {"cancelled": cancelled}})
        elif method == "shutdown":
            for event in list(self._cancel_events.values()):
                event.set()
            self.send({"id": request_id, "result": {}})
            return "shutdown"
        else:  # load, locate, priors: one at a time on the job thread
            key = json_key(request_id)
            if key in self._cancel_events:
                raise ProtocolError(
                    "invalid_request",
                    f"id {key[:60]}: a load or locate with this id is still running; use a new id",
                    request_id,
                )
            event = self._cancel_events[key] = threading.Event()
            self._jobs.submit(self._run_job, request_id, method, params, event)
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
        event = self._cancel_events.get(json_key(target))
        if event is None:
            return False
        event.set()
        return True

    def _run_job(
        self, request_id: Any, method: str, params: dict, event: threading.Event | None = None
    ) -> None:
        """Run a ``load`` or ``locate`` (params already type-checked) and send its answer."""
        key = json_key(request_id)
        event = event or self._cancel_events.setdefault(key, threading.Event())
        try:
            if event.is_set():  # cancelled (or shut down) before it started
                raise WorkerError("cancelled", f"{method}: cancelled before it started")
            if method == "load":
                result = self._load(params)
            elif method == "priors":
                result = self._priors(params)
            else:
                result = self._locate(request_id, params, event)
            answer = {"id": request_id, "result": result}
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
        if self._cancel_events.get(key) is event:  # before answering: a later cancel finds nothing
            del self._cancel_events[key]
        self.send(answer)

    def _load(self, params: dict) -> dict:
        from ocgnet_geo.locate import DEFAULT_BATCH_BYTES, Locator

        params = {**self.load_defaults, **params}
        if params.get("weights") in (None, ""):
            from ocgnet_geo.locate.bundled import default_model

            params["weights"] = str(default_model())  # the bundled matcher
        params = check_params("load", params)
        batch_mb = params.get("batch_mb", DEFAULT_BATCH_BYTES / (1 << 20))
        self.locator = Locator.from_weights(
            params["weights"],
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

    def _priors(self, params: dict) -> dict:
        """What ``locate`` would take from the photo's metadata (no search): the camera
        position and search area in EPSG:4326 for display, each prior's status, warnings."""
        import warnings

        from ocgnet_geo.locate.priors import area_lonlat

        if self.locator is None:
            raise WorkerError("no_model", "priors: no model loaded (send load first)")
        params = check_params("priors", params)
        bbox = params.get("bbox")  # only its presence matters: it overrides the area prior
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plan = self.locator.plan_priors(
                params["query"],
                params["click"],
                params["raster"],
                bbox=bbox,
                heading=params.get("heading"),
                priors=params.get("priors", "auto"),
            )
        return {
            "priors": plan.metadata(),
            "camera_lonlat": list(plan.camera_lonlat) if plan.camera_lonlat else None,
            "search_area_epsg4326": area_lonlat(plan),
            "warnings": list(plan.warnings),
        }

    def _locate(self, request_id: Any, params: dict, event: threading.Event) -> dict:
        from ocgnet_geo.locate import Cancelled

        if self.locator is None:
            raise WorkerError(
                "no_model",
                "locate: no model loaded (send load first; without weights it loads the bundled matcher)",
            )
        params = check_params("locate", params)

        def progress(fraction: float, message: str) -> None:
            self.send({"id": request_id, "progress": round(float(fraction), 4), "message": message})

        import warnings

        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
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
                    max_tiles=params.get("max_tiles"),
                    priors=params.get("priors", "auto"),
                    register=params.get("register", "auto"),
                    outline=params.get("outline"),
                )
        except Cancelled as err:
            raise WorkerError("cancelled", f"locate: {err}") from None
        return {
            "crs": result.crs.to_wkt(),
            "crs_authid": crs_label(result.crs) if result.crs.to_authority() else None,
            "candidates_raster_crs": result.geojson(crs="raster"),
            "candidates_epsg4326": result.geojson(),
            "status": result.status,
            "confident": result.confident,
            "register": result.register,
            "photo_footprint_raster_crs": result.footprint_geojson(crs="raster"),
            "photo_footprint_epsg4326": result.footprint_geojson(),
            "tiles_searched": result.tiles_searched,
            "tiles_encoded": result.tiles_encoded,
            "seconds": round(result.seconds, 3),
            "model": result.model,
            "precision": result.precision,
            "refine": result.refine,
            "priors": result.priors.metadata() if result.priors is not None else None,
            "search_area_epsg4326": _search_area(result),
            "warnings": [str(w.message) for w in caught],
        }


def _search_area(result: Any) -> list | None:
    """The prior search area's outer ring (EPSG:4326 lon/lat) when the area prior was used."""
    from ocgnet_geo.locate.priors import area_lonlat

    return area_lonlat(result.priors) if result.priors is not None else None


def _bundled_model_name() -> str | None:
    """File name of the bundled default model (what ``load`` without weights loads)."""
    from ocgnet_geo.locate.bundled import DEFAULT_MODEL

    return DEFAULT_MODEL.name if DEFAULT_MODEL.is_file() else None


def _binary(stream: TextIO | BinaryIO) -> BinaryIO:
    """The byte stream under ``stream`` (its ``buffer``); an in-memory text stream (tests)
    is read whole and encoded."""
    if hasattr(stream, "buffer"):
        return stream.buffer
    if isinstance(stream, io.TextIOBase):
        return io.BytesIO(stream.read().encode("utf-8", "surrogateescape"))
    return stream  # type: ignore[return-value]


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


def run_worker(weights: str | None = None, **load_params: Any) -> int:
    """Entry point of ``ocgnet-geo worker``: serve stdin/stdout; optionally preload weights.
    ``load_params`` (device, view, precision, threads, batch_mb) are also the defaults of
    later ``load`` requests that leave them out. SIGTERM cancels the running search, lets
    it clean up and exits with status 0."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="worker: %(message)s")
    logging.captureWarnings(True)  # e.g. threads capped: to the stderr log
    defaults = {k: v for k, v in load_params.items() if v is not None and k != "view"}
    worker = Worker(sys.stdin, sys.stdout, load_defaults=defaults)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
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
    except Terminated:  # during the preload
        log.info("SIGTERM: shutting down")
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
