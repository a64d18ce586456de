"""Request checking of the worker protocol (``ocgnet_geo.cli.protocol``), in process."""

from __future__ import annotations

import io
import json

import pytest

from ocgnet_geo.cli.protocol import (
    MAX_DEPTH,
    MAX_LINE_BYTES,
    ProtocolError,
    check_params,
    json_key,
    parse_request,
    read_line,
)


@pytest.mark.parametrize(
    ("line", "code", "words"),
    [
        (b'{"id": NaN, "method": "hello"}', "parse_error", "NaN"),
        (b'{"id": Infinity, "method": "hello"}', "parse_error", "Infinity"),
        (b'{"id": 1e999, "method": "hello"}', "parse_error", "1e999"),
        (b"[" * 100_000 + b"]" * 100_000, "bad_input", f"limit of {MAX_DEPTH} levels"),
        (b'{"id": ' + b"[" * 40 + b"]" * 40 + b', "method": "hello"}', "bad_input", "levels"),
        (b"\xff\xfe{}", "parse_error", "not UTF-8"),
        (b'{"id": 1, "method": 5}', "invalid_request", "method"),
        (b'{"id": 1, "method": "hello", "params": [1]}', "invalid_request", "params"),
        (b"12", "invalid_request", "object"),
    ],
)
def test_bad_lines_are_refused_with_a_code(line: bytes, code: str, words: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_request(line)
    assert caught.value.code == code and words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_oversized_line_is_consumed_and_refused() -> None:
    stream = io.BytesIO(b"x" * (MAX_LINE_BYTES + 10) + b'\n{"id": 2, "method": "hello"}\n')
    first = read_line(stream)
    assert len(first) == MAX_LINE_BYTES + 1
    with pytest.raises(ProtocolError, match=f"limit of {MAX_LINE_BYTES} bytes"):
        parse_request(first)
    assert parse_request(read_line(stream)).id == 2  # the next line is intact
    assert read_line(stream) is None


def test_ids_of_any_json_type_get_a_key() -> None:
    request = parse_request(b'{"id": [1, {"b": 2, "a": 1}], "method": "cancel"}')
    assert request.id == [1, {"b": 2, "a": 1}]
    assert json_key(request.id) == json_key([1, {"a": 1, "b": 2}])
    assert json_key(1) != json_key("1")


@pytest.mark.parametrize(
    ("method", "params", "words"),
    [
        ("locate", {"query": 5, "click": [1, 2], "raster": "r.tif"}, "params.query 5"),
        ("locate", {"query": "p.jpg", "click": [1, 2], "raster": [1]}, "params.raster"),
        ("locate", {"query": "p.jpg", "click": [1, "a"], "raster": "r.tif"}, "params.click"),
        ("locate", {"query": "p.jpg", "click": [1, 2], "raster": "r", "top_k": True}, "top_k"),
        ("locate", {"query": "p", "click": [1, 2], "raster": "r", "bbox": [1, 2, 3]}, "bbox"),
        ("locate", {"query": "a\x00b", "click": [1, 2], "raster": "r"}, "params.query"),
        ("load", {"weights": "w.safetensors", "gsd_m": "abc"}, 'params.gsd_m "abc"'),
        ("load", {"weights": "w.safetensors", "threads": 2.5}, "params.threads"),
        ("load", {"weights": "w.safetensors", "view": "sky"}, "params.view"),
    ],
)
def test_wrongly_typed_params_are_bad_input(method: str, params: dict, words: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        check_params(method, params)
    assert caught.value.code == "bad_input" and words in str(caught.value)


def test_missing_params_are_invalid_params_and_null_counts_as_missing() -> None:
    with pytest.raises(ProtocolError) as caught:
        check_params("locate", {"query": "p.jpg", "click": [1, 2], "raster": None})
    assert caught.value.code == "invalid_params" and "raster" in str(caught.value)
    checked = check_params("locate", {"query": "p", "click": "1,2", "raster": "r", "x": 1})
    assert checked["x"] == 1  # unknown params pass through (newer clients)
    json.dumps(checked)
