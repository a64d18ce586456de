"""Worker requests: read one line, parse it and check it (limits, shape, parameter types).

Everything a client can send is checked here, before any work: a line longer than
:data:`MAX_LINE_BYTES`, not UTF-8, not JSON, nested deeper than :data:`MAX_DEPTH`, holding a
non-finite number (``NaN``, ``Infinity``, ``1e999``), or a request whose ``params`` have
the wrong types raises :class:`ProtocolError` with the error code and one-line message the
worker answers with. The worker itself never sees anything it cannot echo back.

Unknown parameters are ignored (clients may be newer than the worker); known ones are
type-checked. Value ranges (a photo that exists, a bbox inside the raster, ...) are the
library's business and come back as ``bad_input`` from it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

#: Longest request line accepted, in bytes (newline excluded).
MAX_LINE_BYTES = 1 << 20
#: Deepest nesting of arrays and objects accepted in a request (the request object is 1).
MAX_DEPTH = 16
#: Longest string parameter accepted (paths, CRS definitions), in characters.
MAX_STRING_CHARS = 16_384


class ProtocolError(Exception):
    """A request the worker refuses: ``code`` and one-line ``message`` of the error answer,
    ``request_id`` the id to answer with (None when the line has no usable id)."""

    def __init__(self, code: str, message: str, request_id: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.request_id = request_id


@dataclass(frozen=True)
class Request:
    """A request that passed :func:`parse_request`: ``id`` as sent (any finite JSON value),
    ``method`` and ``params`` (an object; ``{}`` when left out or null)."""

    id: Any
    method: str
    params: dict[str, Any]


# --- reading and parsing ---------------------------------------------------------------------


def read_line(stream: BinaryIO, limit: int = MAX_LINE_BYTES) -> bytes | None:
    """The next line of ``stream`` without its newline, None at end of input. A line longer
    than ``limit`` bytes is consumed to its end and returned as its first ``limit + 1`` bytes
    (so :func:`parse_request` can refuse it) without holding the rest in memory."""
    line = stream.readline(limit + 1)
    if not line:
        return None
    if line.endswith(b"\n"):
        return line[:-1]
    if len(line) > limit:  # oversized: skip to the end of this line
        while True:
            rest = stream.readline(1 << 16)
            if not rest or rest.endswith(b"\n"):
                break
    return line


def json_key(value: Any) -> str:
    """A hashable, canonical key for a JSON value (ids are any JSON value, lists included)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]}: out of the range of a double")
    return value


def _no_constant(name: str) -> float:
    raise ValueError(f"{name}: not a JSON number (RFC 8259 has no NaN or Infinity)")


def _depth(value: Any) -> int:
    """Nesting depth of arrays and objects (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            return level
        stack.extend((child, level + 1) for child in children)
    return deepest


def parse_request(raw: bytes) -> Request:
    """Check one request line (bytes, no newline) and return it as a :class:`Request`.

    Raises :class:`ProtocolError`: ``bad_input`` for a line over :data:`MAX_LINE_BYTES` or
    nested deeper than :data:`MAX_DEPTH`; ``parse_error`` for text that is not UTF-8 or not
    JSON (non-finite numbers included); ``invalid_request`` for anything but an object with
    a string ``method`` and an object (or no) ``params``."""
    if len(raw) > MAX_LINE_BYTES:
        raise ProtocolError(
            "bad_input", f"request line longer than the limit of {MAX_LINE_BYTES} bytes"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProtocolError(
            "parse_error", f"not UTF-8 text: byte 0x{raw[err.start]:02x} at offset {err.start}"
        ) from None
    try:
        request = json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)
    except json.JSONDecodeError as err:
        raise ProtocolError(
            "parse_error", f"not a JSON line: {err.msg} at column {err.colno}"
        ) from None
    except RecursionError:
        raise ProtocolError(
            "bad_input", f"request nested deeper than the limit of {MAX_DEPTH} levels"
        ) from None
    except ValueError as err:  # from _finite_float / _no_constant, or huge integers
        raise ProtocolError("parse_error", f"not a JSON line: {_one_line(err)}") from None
    if _depth(request) > MAX_DEPTH:
        raise ProtocolError(
            "bad_input", f"request nested deeper than the limit of {MAX_DEPTH} levels"
        )
    if not isinstance(request, dict):
        raise ProtocolError(
            "invalid_request",
            f'expected an object {{"id", "method", "params"}}, got {_kind(request)}',
        )
    request_id = request.get("id")
    method = request.get("method")
    if not isinstance(method, str):
        raise ProtocolError(
            "invalid_request", f"method: expected a string, got {_kind(method)}", request_id
        )
    params = request.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ProtocolError("invalid_request", "params must be an object", request_id)
    return Request(request_id, method, params)


def _one_line(err: object) -> str:
    lines = str(err).strip().splitlines()
    return lines[0][:200] if lines else type(err).__name__


def _kind(value: Any) -> str:
    """The JSON type name of a parsed value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


# --- parameter types ---------------------------------------------------------------------------

Check = Callable[[str, str, Any], Any]


def _bad(method: str, name: str, expected: str, value: Any) -> ProtocolError:
    shown = json.dumps(value)[:60] if not isinstance(value, (dict, list)) else _kind(value)
    return ProtocolError("bad_input", f"{method}: params.{name} {shown}: expected {expected}")


def text(method: str, name: str, value: Any) -> str:
    """A non-empty string without NUL characters (paths, names, CRS definitions)."""
    if (
        not isinstance(value, str)
        or not value.strip()
        or "\x00" in value
        or len(value) > MAX_STRING_CHARS
    ):
        raise _bad(
            method, name, f"a non-empty string (at most {MAX_STRING_CHARS} characters)", value
        )
    return value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def positive_number(method: str, name: str, value: Any) -> float:
    if not _number(value) or value <= 0:
        raise _bad(method, name, "a number > 0", value)
    return float(value)


def positive_int(method: str, name: str, value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _bad(method, name, "a whole number >= 1", value)
    return value


def view(method: str, name: str, value: Any) -> str:
    if value not in ("drone", "ground"):
        raise _bad(method, name, '"drone" or "ground"', value)
    return value


def click(method: str, name: str, value: Any) -> Any:
    """``[x, y]`` (two finite numbers) or ``"x,y"`` (parsed by the library)."""
    if isinstance(value, str) and 0 < len(value) <= 100:
        return value
    if isinstance(value, list) and len(value) == 2 and all(_number(v) for v in value):
        return value
    raise _bad(method, name, '[x, y] (two numbers, photo pixels) or "x,y"', value)


def bbox(method: str, name: str, value: Any) -> list[float]:
    if isinstance(value, list) and len(value) == 4 and all(_number(v) for v in value):
        return [float(v) for v in value]
    raise _bad(method, name, "[minx, miny, maxx, maxy] (four numbers)", value)


def crs(method: str, name: str, value: Any) -> str | int:
    """A CRS as a string ("EPSG:4326", WKT, PROJ) or an EPSG code."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return text(method, name, value)


def any_value(method: str, name: str, value: Any) -> Any:
    return value


#: Per method: parameter -> (check, required). ``null`` counts as left out.
PARAMS: dict[str, dict[str, tuple[Check, bool]]] = {
    "load": {
        "weights": (text, False),  # absent: the bundled matcher
        "view": (view, False),
        "sigma": (positive_number, False),
        "gsd_m": (positive_number, False),
        "device": (text, False),
        "cache_dir": (text, False),
        "precision": (text, False),
        "threads": (positive_int, False),
        "batch_mb": (positive_number, False),
    },
    "locate": {
        "query": (text, True),
        "click": (click, True),
        "raster": (text, True),
        "view": (view, False),
        "top_k": (positive_int, False),
        "bbox": (bbox, False),
        "bbox_crs": (crs, False),
        "max_tiles": (positive_int, False),
        "heading": (any_value, False),  # checked by the library (a number or "DEG±TOL")
        "refine": (text, False),
        "priors": (text, False),  # auto | off, checked by the library
        "register": (text, False),  # auto | sift | xfeat | off, checked by the library
        "outline": (text, False),  # photo | raster | both, checked by the library
    },
    "priors": {
        "query": (text, True),
        "click": (click, True),
        "raster": (text, True),
        "bbox": (bbox, False),
        "bbox_crs": (crs, False),
        "heading": (any_value, False),
        "priors": (text, False),
    },
    "cancel": {"target": (any_value, False)},
}


def check_params(method: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` of ``method`` with known parameters type-checked and nulls dropped.

    Raises :class:`ProtocolError`: ``invalid_params`` when a required parameter is missing,
    ``bad_input`` naming the parameter when one has the wrong type."""
    schema = PARAMS.get(method, {})
    given = {k: v for k, v in params.items() if v is not None}
    missing = [k for k, (_, required) in schema.items() if required and k not in given]
    if missing:
        raise ProtocolError("invalid_params", f"{method}: missing params {', '.join(missing)}")
    checked = dict(given)
    for name, (check, _) in schema.items():
        if name in given:
            checked[name] = check(method, name, given[name])
    return checked
