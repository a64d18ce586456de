"""The worker survives any line: a real ``ocgnet-geo worker`` subprocess fed bytes.

The property test sends thousands of arbitrary JSON values, request-shaped objects and byte
strings and checks that every line gets exactly one answer and that ``hello`` still works.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from queue import Empty, Queue

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.locate.conftest import RASTERS, spot_raster

SCRIPT = str(Path(sys.executable).with_name("ocgnet-geo"))


class RawWorker:
    """A worker subprocess written to in bytes; answers are parsed JSON lines."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [SCRIPT, "worker", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: Queue = Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def send(self, line: bytes | dict) -> None:
        data = json.dumps(line).encode() if isinstance(line, dict) else line
        self.proc.stdin.write(data + b"\n")
        self.proc.stdin.flush()

    def next(self, timeout: float = 60) -> dict:
        try:
            message = self.lines.get(timeout=timeout)
        except Empty:
            pytest.fail(f"worker said nothing for {timeout} s")
        if message is None:
            self.proc.wait(10)
            pytest.fail(
                f"worker died (exit {self.proc.returncode}): {self.proc.stderr.read()[-2000:]!r}"
            )
        return message

    def answer(self, request_id: object, timeout: float = 120) -> dict:
        while True:
            message = self.next(timeout)
            if message.get("id") == request_id and "progress" not in message:
                return message

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def worker():
    w = RawWorker()
    yield w
    w.close()


ISSUE_LINES = [
    b'{"id": NaN, "method": "hello"}',
    b'{"id": Infinity, "method": "hello"}',
    b'{"id": 1e999, "method": "hello"}',
    b'{"id": [1, 2], "method": "load", "params": {"weights": "/no/such.safetensors"}}',
    b'{"id": {"a": 1}, "method": "locate", "params": {"query": "q", "click": [1, 1], "raster": "r"}}',
    b'{"id": 5, "method": "cancel", "params": {"target": [1, 2]}}',
    b"[" * 100_000 + b"]" * 100_000,
    b"x" * (2 << 20),
    b"\xff\xfe not utf-8",
    b'{"id": 6, "method": "load", "params": {"weights": "w.safetensors", "gsd_m": "abc"}}',
    b'{"id": 7, "method": "load", "params": {"weights": "/no/such.safetensors", "threads": 99999}}',
]


def test_each_bad_line_of_the_issue_gets_one_answer_and_the_worker_goes_on(
    worker: RawWorker,
) -> None:
    for n, line in enumerate(ISSUE_LINES):
        worker.send(line)
        worker.send({"id": ["probe", n], "method": "hello"})
        seen = []
        while len([m for m in seen if m.get("id") != ["probe", n]]) < 1 or not any(
            m.get("id") == ["probe", n] for m in seen
        ):
            seen.append(worker.next())
        others = [m for m in seen if m.get("id") != ["probe", n]]
        assert len(others) == 1, (line[:80], others)
        if b"cancel" in line:
            assert others[0]["result"] == {"cancelled": False}
        else:
            assert "\n" not in others[0]["error"]["message"], others
            assert others[0]["error"]["code"] != "internal", others
    worker.send({"id": "last", "method": "hello"})
    assert worker.answer("last")["result"]["name"] == "ocgnet-geo"


def test_list_ids_are_echoed_and_cancel_finds_them(worker: RawWorker) -> None:
    worker.send({"id": [1, {"k": None}], "method": "load", "params": {"weights": "/no/w.pth"}})
    answer = worker.answer([1, {"k": None}])
    assert answer["error"]["code"] == "bad_input"
    worker.send({"id": {"c": 1}, "method": "cancel", "params": {"target": [1, {"k": None}]}})
    assert worker.answer({"c": 1})["result"] == {"cancelled": False}


def test_typed_params_and_duplicate_ids_with_a_model(
    worker: RawWorker, light_weights: Path, photo: Path, utm_spot_raster: Path
) -> None:
    worker.send({"id": "load", "method": "load", "params": {"weights": str(light_weights)}})
    assert "result" in worker.answer("load")
    good = {"query": str(photo), "click": [120, 80], "raster": str(utm_spot_raster)}
    for n, change in enumerate([{"query": 5}, {"raster": [1]}, {"query": None}, {"top_k": "3"}]):
        worker.send({"id": n, "method": "locate", "params": {**good, **change}})
        error = worker.answer(n)["error"]
        assert error["code"] in ("bad_input", "invalid_params"), error
        assert error["code"] == ("invalid_params" if None in change.values() else "bad_input")
    worker.send({"id": "dup", "method": "locate", "params": good})
    worker.send({"id": "dup", "method": "locate", "params": good})
    answers = [worker.answer("dup"), worker.answer("dup")]
    codes = sorted(a["error"]["code"] if "error" in a else "result" for a in answers)
    assert codes == ["invalid_request", "result"], answers
    worker.send({"id": "dup", "method": "locate", "params": good})  # free again once answered
    assert "result" in worker.answer("dup")


def test_sigterm_cancels_the_search_and_exits_cleanly(
    light_weights: Path, photo: Path, tmp_path: Path
) -> None:
    big = spot_raster(tmp_path / "big.tif", *RASTERS["utm"], size=(2000, 2000))
    cache = tmp_path / "cache"
    w = RawWorker()
    try:
        w.send(
            {
                "id": 0,
                "method": "load",
                "params": {"weights": str(light_weights), "cache_dir": str(cache)},
            }
        )
        assert "result" in w.answer(0)
        w.send(
            {
                "id": "long",
                "method": "locate",
                "params": {"query": str(photo), "click": [5, 5], "raster": str(big)},
            }
        )
        assert "progress" in w.next()
        start = time.monotonic()
        w.proc.send_signal(signal.SIGTERM)
        assert w.proc.wait(60) == 0
        assert time.monotonic() - start < 30
        assert b"SIGTERM" in w.proc.stderr.read()
    finally:
        w.close()
    assert list(cache.glob("*.safetensors"))  # it was encoding when the signal came
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]


def _json_values():
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=20)
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    )


PARAM_NAMES = [
    "weights",
    "query",
    "click",
    "raster",
    "view",
    "top_k",
    "bbox",
    "bbox_crs",
    "target",
    "threads",
    "gsd_m",
    "sigma",
    "device",
    "precision",
    "batch_mb",
    "cache_dir",
    "max_tiles",
]


def _requests():
    methods = st.sampled_from(["hello", "load", "locate", "cancel", "fly", ""]) | st.text(
        max_size=8
    )
    params = (
        st.dictionaries(st.sampled_from(PARAM_NAMES), _json_values(), max_size=5) | _json_values()
    )
    return st.fixed_dictionaries(
        {"id": _json_values(), "method": methods}, optional={"params": params}
    )


def _lines():
    as_json = (_json_values() | _requests()).map(lambda v: json.dumps(v).encode())
    raw = st.binary(max_size=60).filter(lambda b: b"\n" not in b)
    return st.lists(as_json | raw, min_size=1, max_size=6)


def _is_blank(line: bytes) -> bool:
    return not line.strip()


def _is_shutdown(line: bytes) -> bool:
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return False
    return isinstance(value, dict) and value.get("method") == "shutdown"


@pytest.fixture(scope="module")
def shared_worker():
    w = RawWorker()
    yield w
    w.close()


SENT = {"lines": 0}


@settings(
    max_examples=700,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(lines=_lines())
def test_property_every_line_gets_one_answer(shared_worker: RawWorker, lines: list[bytes]) -> None:
    for line in lines:
        if _is_shutdown(line):
            continue
        probe = ["probe", SENT["lines"]]
        shared_worker.send(line)
        shared_worker.send({"id": probe, "method": "hello"})
        SENT["lines"] += 1
        expected = 0 if _is_blank(line) else 1
        others, probed = [], False
        while not probed or len(others) < expected:
            message = shared_worker.next(30)
            if message.get("id") == probe and "result" in message:
                probed = True
            else:
                others.append(message)
        assert len(others) == expected, (line[:100], others)
        assert all("error" in m or "result" in m for m in others)


def test_property_test_sent_enough_lines(shared_worker: RawWorker) -> None:
    """Runs after the property test (file order): at least 2,000 lines were answered."""
    print(f"property test: {SENT['lines']} lines answered")
    assert SENT["lines"] >= 2000, SENT
    shared_worker.send({"id": "end", "method": "hello"})
    assert shared_worker.answer("end")["result"]["name"] == "ocgnet-geo"


def test_requests_queued_at_end_of_input_are_answered_cancelled(light_weights: Path) -> None:
    w = RawWorker()
    try:
        for n in range(3):
            w.send({"id": n, "method": "load", "params": {"weights": str(light_weights)}})
        w.proc.stdin.close()
        answers = [w.answer(n) for n in range(3)]
        assert w.proc.wait(60) == 0
    finally:
        w.close()
    assert all("result" in a or a["error"]["code"] == "cancelled" for a in answers), answers
