"""``ocgnet-geo worker`` as a real subprocess: JSON lines in, JSON lines out."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from queue import Empty, Queue

import pytest

from tests.locate.conftest import RASTERS, spot_raster

SCRIPT = str(Path(sys.executable).with_name("ocgnet-geo"))


class WorkerProcess:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [SCRIPT, "worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.lines: Queue = Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def send(self, payload: dict | str) -> None:
        self.proc.stdin.write((payload if isinstance(payload, str) else json.dumps(payload)) + "\n")
        self.proc.stdin.flush()

    def next(self, timeout: float = 120) -> dict:
        try:
            return self.lines.get(timeout=timeout)
        except Empty:
            pytest.fail(
                f"worker said nothing for {timeout} s; stderr: {self.proc.stderr.read() if self.proc.poll() is not None else ''}"
            )

    def answer(self, request_id: object, timeout: float = 120) -> tuple[dict, list[dict]]:
        """The final answer to ``request_id`` and the progress events before it."""
        events = []
        while True:
            message = self.next(timeout)
            if message.get("id") == request_id and "progress" in message:
                events.append(message)
            elif message.get("id") == request_id:
                return message, events

    def close(self) -> int:
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait(10)


@pytest.fixture
def worker():
    w = WorkerProcess()
    yield w
    w.close()


def test_hello_load_locate_shutdown(
    worker: WorkerProcess, photo: Path, utm_spot_raster: Path, light_weights: Path
) -> None:
    worker.send({"id": 1, "method": "hello"})
    hello, _ = worker.answer(1)
    assert (
        hello["result"]["protocol"] == 1
        and "locate" in hello["result"]["methods"]
        and hello["result"]["model"] is None
    )

    worker.send(
        {
            "id": "no-model",
            "method": "locate",
            "params": {"query": str(photo), "click": [1, 1], "raster": str(utm_spot_raster)},
        }
    )
    assert worker.answer("no-model")[0]["error"]["code"] == "no_model"

    worker.send({"id": 2, "method": "load", "params": {"weights": str(light_weights)}})
    loaded, _ = worker.answer(2)
    assert loaded["result"]["view"] == "drone" and loaded["result"]["tile_px"] == 256

    request = {
        "id": 3,
        "method": "locate",
        "params": {
            "query": str(photo),
            "click": [120, 80],
            "raster": str(utm_spot_raster),
            "top_k": 3,
        },
    }
    worker.send(request)
    answer, events = worker.answer(3)
    result = answer["result"]
    assert events and events[-1]["progress"] == 1.0 and all("message" in e for e in events)
    assert result["crs_authid"] == "EPSG:32632"
    raster_fc, wgs84_fc = result["candidates_raster_crs"], result["candidates_epsg4326"]
    assert len(raster_fc["features"]) == len(wgs84_fc["features"]) == 3
    assert raster_fc["features"][0]["geometry"]["coordinates"][0][0][0] > 1000  # UTM metres
    assert -180 <= wgs84_fc["features"][0]["geometry"]["coordinates"][0][0][0] <= 180
    assert wgs84_fc["features"][0]["properties"]["rank"] == 1

    worker.send(request | {"id": 4})  # same area: served from the feature cache
    assert worker.answer(4)[0]["result"]["tiles_encoded"] == 0

    worker.send({"id": 5, "method": "shutdown"})
    assert worker.answer(5)[0]["result"] == {}
    assert worker.proc.wait(30) == 0


def test_malformed_lines_get_errors_and_the_worker_goes_on(worker: WorkerProcess) -> None:
    worker.send("this is not json")
    assert worker.next()["error"]["code"] == "parse_error"
    worker.send({"id": 7, "method": "fly"})
    assert worker.answer(7)[0]["error"]["code"] == "unknown_method"
    worker.send({"id": 8, "method": "locate", "params": "nope"})
    assert worker.answer(8)[0]["error"]["code"] == "invalid_request"
    worker.send({"id": 9, "method": "load", "params": {"weights": "/no/such/file.safetensors"}})
    error = worker.answer(9)[0]["error"]
    assert error["code"] == "bad_input" and "not found" in error["message"]
    worker.send({"id": 10, "method": "hello"})
    assert worker.answer(10)[0]["result"]["name"] == "ocgnet-geo"


def test_cancel_stops_a_running_search(
    worker: WorkerProcess, photo: Path, light_weights: Path, tmp_path: Path
) -> None:
    big = spot_raster(
        tmp_path / "big.tif", *RASTERS["utm"], size=(2000, 2000)
    )  # 100 tiles of 256 px
    worker.send({"id": "load", "method": "load", "params": {"weights": str(light_weights)}})
    worker.answer("load")
    worker.send(
        {
            "id": "long",
            "method": "locate",
            "params": {"query": str(photo), "click": [5, 5], "raster": str(big)},
        }
    )
    first = worker.next()
    assert first["id"] == "long" and "progress" in first
    worker.send({"id": "stop", "method": "cancel", "params": {"target": "long"}})
    answers = {}
    while len(answers) < 2:
        message = worker.next()
        if "progress" not in message:
            answers[message["id"]] = message
    assert answers["stop"]["result"] == {"cancelled": True}
    assert answers["long"]["error"]["code"] == "cancelled"
    worker.send({"id": "again", "method": "cancel", "params": {"target": "long"}})
    assert worker.answer("again")[0]["result"] == {"cancelled": False}


def test_priors_method_and_param(
    worker: WorkerProcess, utm_spot_raster: Path, light_weights: Path
) -> None:
    """``priors`` answers what ``locate`` would use; a wrong ``priors`` value is bad input."""
    dji = Path(__file__).parents[1] / "geo" / "data" / "brighton_beach_dji_0018_small.jpg"
    worker.send({"id": 1, "method": "load", "params": {"weights": str(light_weights)}})
    worker.answer(1)
    params = {"query": str(dji), "click": [200, 110], "raster": str(utm_spot_raster)}
    worker.send({"id": 2, "method": "priors", "params": params})
    result = worker.answer(2)[0]["result"]
    # the Duluth (Minnesota) photo lies outside the test raster: rejected, one warning
    assert result["priors"]["area"]["status"] == "rejected"
    assert result["camera_lonlat"] == pytest.approx([-91.9945599, 46.8426071])
    assert result["search_area_epsg4326"] is None
    assert len(result["warnings"]) == 1 and "outside raster" in result["warnings"][0]
    worker.send({"id": 3, "method": "locate", "params": {**params, "priors": "wrong"}})
    error = worker.answer(3)[0]["error"]
    assert error == {"code": "bad_input", "message": "priors 'wrong': expected one of auto, off"}
