"""Feature cache: encoded satellite tiles kept between clicks.

In memory: least-recently-used, bounded in bytes. Optionally on disk: one safetensors file
per tile under a cache folder, so a restarted worker or another session skips the encoder
too. Keys name the raster (path, size, modification time), the tile (CRS, transform, size)
and the model, so a changed raster or other weights never hit stale features.

The disk layer verifies and repairs itself: every entry records the cache format
(:data:`CACHE_FORMAT`, also part of the file name's hash), its full key and the model id;
an entry that fails to load, belongs to another key, format or model, or whose arrays the
model's ``check_features`` refuses (wrong names, shapes, dtype, non-finite values) is deleted with a one-line
:class:`CacheRepairWarning` and counted as a miss, so the tile is re-encoded and the entry
rewritten. Temp files of writers that died (``<hash>.<pid>.tmp``) are removed on start. A
cache folder that cannot be used is an :class:`CacheDirError` at start; a write that fails
later (disk full) turns the disk layer off with a warning, never fails the search.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ocgnet_geo.errors import InputError
from ocgnet_geo.stale_files import remove_stale

#: Version of the on-disk entry layout; entries of another version are replaced.
CACHE_FORMAT = "2"
#: Default memory budget: about 120 tiles of the official model (8.3 MB each).
DEFAULT_MAX_BYTES = 1 << 30


def raster_cache_key(path: str) -> str:
    """``path|size|mtime_ns`` for a file; the path alone for other sources (e.g. a VRT string)."""
    try:
        st = os.stat(path)
    except OSError:
        return path
    return f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}"


class CacheDirError(InputError):
    """A cache folder that is a file, cannot be created or is not writable."""


class CacheRepairWarning(UserWarning):
    """A damaged disk-cache entry was deleted (its tile is re-encoded)."""


class FeatureCache:
    """LRU of encoded tiles bounded by ``max_bytes``, with an optional disk layer in ``folder``.

    ``to_arrays`` / ``from_arrays`` convert features to named numpy arrays and back (the
    model knows its feature type); they are needed only for the disk layer. ``check``
    (optional) says what is wrong with features read back (None when they are fine);
    ``model_id`` is recorded in every entry and checked on reading.
    """

    def __init__(
        self,
        max_bytes: int = DEFAULT_MAX_BYTES,
        folder: str | os.PathLike | None = None,
        to_arrays: Callable[[Any], dict[str, np.ndarray]] | None = None,
        from_arrays: Callable[[dict[str, np.ndarray]], Any] | None = None,
        check: Callable[[Any], str | None] | None = None,
        model_id: str = "",
    ) -> None:
        self.max_bytes = int(max_bytes)
        self.folder = _usable_folder(Path(folder)) if folder is not None else None
        self._to_arrays = to_arrays
        self._from_arrays = from_arrays
        self._check = check
        self.model_id = str(model_id)
        self._entries: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self.bytes = 0
        self.hits = self.misses = self.disk_hits = self.repaired = 0
        if self.folder is not None:
            remove_stale_temp_files(self.folder)

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
        digest = hashlib.sha256(f"{CACHE_FORMAT}|{key}".encode()).hexdigest()[:32]
        return self.folder / f"{digest}.safetensors"

    def _metadata(self, key: str) -> dict[str, str]:
        return {"key": key, "format": CACHE_FORMAT, "model": self.model_id}

    def _store(self, key: str, features: Any) -> None:
        path = self._file(key)
        if path is None or path.exists():
            return
        from safetensors.numpy import save_file

        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp")
        try:
            save_file(
                {k: np.ascontiguousarray(v) for k, v in self._to_arrays(features).items()},
                str(tmp),
                metadata=self._metadata(key),
            )
            os.replace(tmp, path)
        except OSError as err:  # disk full, folder removed, ...: go on without the disk layer
            warnings.warn(
                f"feature cache {str(self.folder)!r}: cannot write ({err.strerror or err}); "
                "keeping encoded tiles in memory only",
                CacheRepairWarning,
                stacklevel=3,
            )
            self.folder = None
        finally:
            tmp.unlink(missing_ok=True)

    def _load(self, key: str) -> Any | None:
        path = self._file(key)
        if path is None or not path.exists():
            return None
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="np") as f:
                metadata = f.metadata() or {}
                arrays = {name: f.get_tensor(name) for name in f.keys()}
        except Exception as err:  # truncated, garbage, unreadable: repair, never fail
            return self._repair(path, f"unreadable ({type(err).__name__})")
        for field, want in self._metadata(key).items():
            if metadata.get(field) != want:
                return self._repair(path, f"{field} {metadata.get(field)!r}, expected {want!r}")
        try:
            features = self._from_arrays(arrays)
        except Exception as err:  # a missing or misnamed array
            return self._repair(path, f"does not convert ({type(err).__name__}: {err})")
        problem = self._check(features) if self._check is not None else None
        if problem:
            return self._repair(path, problem)
        return features

    def _repair(self, path: Path, reason: str) -> None:
        """Delete a damaged entry (the caller then re-encodes and rewrites it)."""
        self.repaired += 1
        warnings.warn(
            f"feature cache: entry {path.name} damaged ({reason}); deleted, re-encoding the tile",
            CacheRepairWarning,
            stacklevel=4,
        )
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def _usable_folder(folder: Path) -> Path:
    """``folder``, created if missing, after checking a file can be written in it; else
    :class:`CacheDirError` naming it."""
    if folder.exists() and not folder.is_dir():
        raise CacheDirError(f"cache dir {str(folder)!r}: is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".probe.", dir=folder)
    except OSError as err:
        raise CacheDirError(
            f"cache dir {str(folder)!r}: cannot write there ({err.strerror or type(err).__name__})"
        ) from None
    os.close(fd)
    os.unlink(probe)
    return folder


def remove_stale_temp_files(folder: Path) -> int:
    """Delete ``<hash>.<pid>.tmp`` files of writers that are no longer running; returns
    how many were deleted."""
    return remove_stale(folder, "*.*.tmp", lambda name: name.split(".")[-2])


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
