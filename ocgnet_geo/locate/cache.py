"""Feature cache: encoded satellite tiles kept between clicks.

In memory: least-recently-used, bounded in bytes. Optionally on disk: one safetensors file
per tile under a cache folder, so a restarted worker or another session skips the encoder
too. Keys name the raster (path, size, modification time), the tile (CRS, transform, size)
and the model, so a changed raster or other weights never hit stale features.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

#: Default memory budget: about 120 tiles of the official model (8.3 MB each).
DEFAULT_MAX_BYTES = 1 << 30


def raster_cache_key(path: str) -> str:
    """``path|size|mtime_ns`` for a file; the path alone for other sources (e.g. a VRT string)."""
    try:
        st = os.stat(path)
    except OSError:
        return path
    return f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}"


class FeatureCache:
    """LRU of encoded tiles bounded by ``max_bytes``, with an optional disk layer in ``folder``.

    ``to_arrays`` / ``from_arrays`` convert features to named numpy arrays and back (the
    model knows its feature type); they are needed only for the disk layer.
    """

    def __init__(
        self,
        max_bytes: int = DEFAULT_MAX_BYTES,
        folder: str | os.PathLike | None = None,
        to_arrays: Callable[[Any], dict[str, np.ndarray]] | None = None,
        from_arrays: Callable[[dict[str, np.ndarray]], Any] | None = None,
    ) -> None:
        self.max_bytes = int(max_bytes)
        self.folder = Path(folder) if folder is not None else None
        self._to_arrays = to_arrays
        self._from_arrays = from_arrays
        self._entries: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self.bytes = 0
        self.hits = self.misses = self.disk_hits = 0
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Any | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]
        features = self._load(key)
        if features is not None:
            self.disk_hits += 1
            self._remember(key, features)
            return features
        self.misses += 1
        return None

    def put(self, key: str, features: Any) -> None:
        self._remember(key, features)
        self._store(key, features)

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0

    def _remember(self, key: str, features: Any) -> None:
        size = _nbytes(features)
        if key in self._entries:
            self.bytes -= self._entries.pop(key)[1]
        self._entries[key] = (features, size)
        self.bytes += size
        while self.bytes > self.max_bytes and len(self._entries) > 1:
            _, (_, dropped) = self._entries.popitem(last=False)
            self.bytes -= dropped

    def _file(self, key: str) -> Path | None:
        if self.folder is None or self._to_arrays is None or self._from_arrays is None:
            return None
        return self.folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.safetensors"

    def _store(self, key: str, features: Any) -> None:
        path = self._file(key)
        if path is None or path.exists():
            return
        from safetensors.numpy import save_file

        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        save_file(
            {k: np.ascontiguousarray(v) for k, v in self._to_arrays(features).items()},
            str(tmp),
            metadata={"key": key},
        )
        os.replace(tmp, path)

    def _load(self, key: str) -> Any | None:
        path = self._file(key)
        if path is None or not path.exists():
            return None
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="np") as f:
                if (f.metadata() or {}).get("key") != key:
                    return None
                arrays = {name: f.get_tensor(name) for name in f.keys()}
        except Exception:  # a damaged cache file is a miss, never an error
            return None
        return self._from_arrays(arrays)


def _nbytes(features: Any) -> int:
    """Approximate memory of features: sums ``nbytes`` / tensor sizes of their fields."""
    if hasattr(features, "nbytes"):
        return int(features.nbytes)
    if hasattr(features, "element_size"):
        return int(features.element_size() * features.nelement())
    if isinstance(features, dict):
        return sum(_nbytes(v) for v in features.values())
    if hasattr(features, "__dict__"):
        return sum(_nbytes(v) for v in vars(features).values())
    if isinstance(features, (tuple, list)):
        return sum(_nbytes(v) for v in features)
    return 0
