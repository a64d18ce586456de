"""The disk feature cache verifies and repairs itself (``ocgnet_geo.locate.cache``)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from ocgnet_geo.cli import main
from ocgnet_geo.locate import Locator
from ocgnet_geo.locate import cache as cache_module
from ocgnet_geo.locate.cache import FeatureCache

CLICK = (120, 80)


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.safetensors"))


def _damage_all(folder: Path, damage) -> None:
    for path in _entries(folder):
        damage(path)


def _rewrite(path: Path, change) -> None:
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as f:
        metadata = f.metadata()
    arrays = load_file(str(path))
    arrays, metadata = change(arrays, metadata)
    save_file(arrays, str(path), metadata=metadata)


def _wrong_shape(arrays, metadata):
    return {k: v[..., :1] for k, v in arrays.items()}, metadata


def _missing_tensor(arrays, metadata):
    return dict(list(arrays.items())[:1]), metadata


def _nan_values(arrays, metadata):
    out = {}
    for k, v in arrays.items():
        v = v.copy()
        if v.dtype.kind == "f":
            v.flat[0] = np.nan
        else:  # bf16 stored as int16 bits: 0x7fc0 is a bf16 NaN
            v.flat[0] = 0x7FC0
        out[k] = v
    return out, metadata


def _old_format(arrays, metadata):
    return arrays, {k: v for k, v in metadata.items() if k == "key"}


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: _rewrite(p, _wrong_shape),
        lambda p: _rewrite(p, _missing_tensor),
        lambda p: _rewrite(p, _nan_values),
        lambda p: _rewrite(p, _old_format),
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),  # truncated
        lambda p: p.write_bytes(b"garbage" * 10),
    ],
    ids=["wrong-shape", "missing-tensor", "nan", "no-format-version", "truncated", "garbage"],
)
def test_a_damaged_entry_is_deleted_reencoded_and_rewritten(
    damage, light_weights: Path, photo: Path, utm_spot_raster: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = Locator.from_weights(light_weights, cache_dir=cache).locate(
        photo, CLICK, utm_spot_raster
    )
    entries = _entries(cache)
    assert entries and first.tiles_encoded == len(entries)
    _damage_all(cache, damage)

    locator = Locator.from_weights(light_weights, cache_dir=cache)
    with pytest.warns(cache_module.CacheRepairWarning, match="damaged") as caught:
        again = locator.locate(photo, CLICK, utm_spot_raster)
    assert len(caught) == len(entries) and all("\n" not in str(w.message) for w in caught)
    assert again.tiles_encoded == len(entries)  # re-encoded ...
    assert [c.box_px for c in again.candidates] == [c.box_px for c in first.candidates]

    third = Locator.from_weights(light_weights, cache_dir=cache)
    with warnings.catch_warnings():
        warnings.simplefilter("error", cache_module.CacheRepairWarning)
        assert third.locate(photo, CLICK, utm_spot_raster).tiles_encoded == 0  # ... and rewritten


def test_stale_temp_files_of_dead_writers_are_removed(tmp_path: Path) -> None:
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"{'a' * 32}.{dead.pid}.tmp"
    stale.write_bytes(b"half")
    mine = tmp_path / f"{'b' * 32}.{os.getpid()}.tmp"
    mine.write_bytes(b"in progress")
    FeatureCache(folder=tmp_path)
    assert not stale.exists() and mine.exists()


@pytest.mark.parametrize("kind", ["file", "unwritable"])
def test_a_bad_cache_dir_is_one_line_at_start(
    kind: str, light_weights: Path, photo: Path, utm_spot_raster: Path, tmp_path: Path, capsys
) -> None:
    if kind == "file":
        bad = tmp_path / "cache.txt"
        bad.write_text("not a folder")
        words = "is a file"
    else:
        bad = Path("/proc/ocgnet-cache")
        words = "cannot write there"
    with pytest.raises(cache_module.CacheDirError, match=words):
        FeatureCache(folder=bad)
    code = main(
        [
            "locate",
            "--query",
            str(photo),
            "--click",
            "120,80",
            "--raster",
            str(utm_spot_raster),
            "--weights",
            str(light_weights),
            "--cache-dir",
            str(bad),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and words in err, err
