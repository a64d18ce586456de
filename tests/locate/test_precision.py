"""Precision modes, thread count and batched tile encoding (issue 8)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ocgnet_geo.cli import main
from ocgnet_geo.locate import Locator, precision
from ocgnet_geo.locate.precision import (
    PrecisionError,
    ThreadsError,
    physical_cores,
    resolve_precision,
    resolve_threads,
)
from tests.doubles import BrightSpotModel
from tests.locate.conftest import RASTERS, spot_raster

# --- resolving a precision ------------------------------------------------------------------


def test_auto_picks_bf16_only_with_a_bf16_flag_and_onednn_support(monkeypatch) -> None:
    monkeypatch.setattr(precision, "torch_cpu_bf16", lambda: True)
    got = resolve_precision("auto", "cpu", frozenset({"avx2", "avx512_bf16", "amx_bf16"}))
    assert got.mode == "bf16" and "avx512_bf16, amx_bf16" in got.reason
    assert got.reason.startswith("auto → bf16")
    plain = resolve_precision(None, "cpu", frozenset({"avx2", "fma"}))
    assert plain.mode == "fp32" and "none of avx512_bf16, amx_bf16" in plain.reason
    monkeypatch.setattr(precision, "torch_cpu_bf16", lambda: False)
    no_onednn = resolve_precision("auto", "cpu", frozenset({"avx512_bf16"}))
    assert no_onednn.mode == "fp32" and "oneDNN" in no_onednn.reason


def test_explicit_modes_are_honoured(monkeypatch) -> None:
    monkeypatch.setattr(precision, "torch_cpu_bf16", lambda: False)
    assert resolve_precision("FP32").mode == "fp32"
    emulated = resolve_precision("bf16", "cpu", frozenset())
    assert emulated.mode == "bf16" and "emulated" in emulated.reason


@pytest.mark.parametrize(
    ("value", "message"), [("int8", "box-parity"), ("fp64", "not one of auto, fp32, bf16")]
)
def test_bad_precision_is_a_one_line_error(value: str, message: str) -> None:
    with pytest.raises(PrecisionError, match=message) as err:
        resolve_precision(value)
    assert "\n" not in str(err.value)


def test_physical_cores_counts_smt_siblings_once(tmp_path: Path) -> None:
    blocks = [
        f"processor\t: {cpu}\nphysical id\t: 0\ncore id\t\t: {cpu // 2}\nflags\t\t: avx2\n"
        for cpu in range(2)  # two hyper-threads of one core (the CPUs this process may use)
    ]
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("\n".join(blocks))
    assert physical_cores(cpuinfo) == 1
    assert physical_cores(tmp_path / "missing") >= 1
    assert precision.cpu_flags(cpuinfo) == frozenset({"avx2"})


@pytest.mark.parametrize("bad", ["0", "-2", "two", True, 1.5])
def test_bad_thread_counts(bad: object) -> None:
    with pytest.raises(ThreadsError, match="whole number"):
        resolve_threads(bad)


def test_thread_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    from ocgnet_geo.locate import limits

    monkeypatch.setattr(limits, "available_cpus", lambda: 4)
    assert resolve_threads("3") == 3 and resolve_threads(1) == 1
    assert resolve_threads(None) == physical_cores()
    with pytest.warns(limits.ResourceCapWarning, match="threads 99999: capped at 4"):
        assert resolve_threads(99999) == 4


# --- the pipeline in reduced precision --------------------------------------------------------


@pytest.fixture
def grid_raster(tmp_path: Path) -> Path:
    """A 640 x 480 px raster: 12 tiles of 256 px for the light model."""
    return spot_raster(tmp_path / "grid.tif", *RASTERS["utm"], size=(640, 480))


def test_batched_encoding_gives_the_same_result_as_one_by_one(
    grid_raster: Path, photo: Path, light_weights: Path
) -> None:
    single = Locator.from_weights(light_weights, precision="fp32", batch_bytes=1)
    batched = Locator.from_weights(light_weights, precision="fp32")
    assert single.batch_size == 1 and batched.batch_size > 2
    calls: list[int] = []
    encode_batch = batched.model.encode_batch
    batched.model.encode_batch = lambda rgbs: calls.append(len(rgbs)) or encode_batch(rgbs)
    a = single.locate(photo, (120, 80), grid_raster, top_k=5)
    b = batched.locate(photo, (120, 80), grid_raster, top_k=5)
    assert max(calls) > 1 and sum(calls) == b.tiles_encoded == a.tiles_encoded
    assert [c.tile for c in a.candidates] == [c.tile for c in b.candidates]
    np.testing.assert_allclose(
        [c.box_px for c in a.candidates], [c.box_px for c in b.candidates], atol=1e-3
    )
    np.testing.assert_allclose(
        [c.score for c in a.candidates], [c.score for c in b.candidates], rtol=1e-4
    )


class BatchingDouble(BrightSpotModel):
    """The bright-spot double with ``encode_batch`` (counts forwards) and a tile size."""

    encode_bytes_per_tile = 1
    precision = "bf16"

    def __init__(self) -> None:
        super().__init__(tile_px=64)
        self.batches: list[int] = []

    def encode_batch(self, rgbs: list[np.ndarray]) -> list[dict]:
        self.batches.append(len(rgbs))
        return [self.encode(rgb) for rgb in rgbs]


def test_progress_and_cancel_with_batches(utm_spot_raster: Path, photo: Path) -> None:
    model = BatchingDouble()
    seen: list[float] = []
    locator = Locator(model, batch_bytes=3)
    result = locator.locate(
        photo, (10, 10), utm_spot_raster, progress=lambda f, m: seen.append(f), register="off"
    )
    assert locator.batch_size == 3 and model.batches[0] == 3
    assert sum(model.batches) == result.tiles_encoded == result.tiles_searched
    assert seen == sorted(seen) and len(seen) == result.tiles_searched and seen[-1] == 1.0
    checks = iter([False, False, True])
    model = BatchingDouble()
    from ocgnet_geo.locate import Cancelled

    with pytest.raises(Cancelled, match="after 2 of"):
        Locator(model, batch_bytes=3).locate(
            photo, (10, 10), utm_spot_raster, cancel=lambda: next(checks)
        )
    assert model.encode_calls == 0  # cancelled before the batch was full: nothing encoded


def test_bf16_result_reports_its_precision_everywhere(
    utm_spot_raster: Path, photo: Path, light_weights: Path, tmp_path: Path
) -> None:
    locator = Locator.from_weights(light_weights, precision="bf16")
    assert locator.precision == "bf16"
    result = locator.locate(photo, (120, 80), utm_spot_raster, top_k=3)
    assert result.precision == "bf16" and result.metadata()["precision"] == "bf16"
    doc = json.loads(result.to_geojson(tmp_path / "r.geojson").read_text())
    assert doc["ocgnet"]["precision"] == "bf16"
    assert "precision" not in doc["features"][0]["properties"]  # the per-feature contract


def test_fp32_and_bf16_features_never_mix_in_the_disk_cache(
    utm_spot_raster: Path, photo: Path, light_weights: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = Locator.from_weights(light_weights, precision="fp32", cache_dir=cache)
    first.locate(photo, (120, 80), utm_spot_raster)
    bf16 = Locator.from_weights(light_weights, precision="bf16", cache_dir=cache)
    assert bf16.locate(photo, (120, 80), utm_spot_raster).tiles_encoded > 0
    again = Locator.from_weights(light_weights, precision="bf16", cache_dir=cache)
    result = again.locate(photo, (120, 80), utm_spot_raster)
    assert result.tiles_encoded == 0 and again.cache.disk_hits > 0


def test_bf16_features_round_trip_the_disk_format_bit_exactly(light_weights: Path) -> None:
    import torch

    from ocgnet_geo.locate.tile_model import load_tile_model

    model = load_tile_model(light_weights, precision="bf16")
    rgb = np.random.default_rng(1).integers(0, 255, (256, 256, 3), dtype=np.uint8)
    features = model.encode(rgb)
    assert features.normalized.dtype == torch.bfloat16
    arrays = model.features_to_arrays(features)
    assert set(arrays) == {"normalized.bf16", "pooled.bf16"}
    back = model.features_from_arrays(arrays)
    assert torch.equal(back.normalized, features.normalized)
    assert torch.equal(back.pooled, features.pooled)


def test_bf16_boxes_match_fp32_on_one_tile(light_weights: Path) -> None:
    """Reduced precision moves boxes by rounding only (random weights, one tile)."""
    from ocgnet_geo.locate.tile_model import load_tile_model

    rng = np.random.default_rng(5)
    tile = rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)
    query = rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)
    fp32 = load_tile_model(light_weights, precision="fp32")
    bf16 = load_tile_model(light_weights, precision="bf16")
    a = fp32.find(query, (100.0, 60.0), fp32.encode(tile), 1)
    b = bf16.find(query, (100.0, 60.0), bf16.encode(tile), 1)
    np.testing.assert_allclose(a.boxes, b.boxes, atol=2.0)
    assert abs(a.log_partition - b.log_partition) < 0.05


def test_query_branch_runs_once_per_click(light_weights: Path) -> None:
    from ocgnet_geo.locate.tile_model import load_tile_model

    model = load_tile_model(light_weights, precision="fp32")
    calls = []
    encode_query = model.net.encode_query
    model.net.encode_query = lambda *a: calls.append(1) or encode_query(*a)
    rng = np.random.default_rng(2)
    tiles = [model.encode(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)) for _ in range(3)]
    query = rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)
    for features in tiles:
        model.find(query, (10.0, 20.0), features, 3)
    assert len(calls) == 1
    model.find(query, (11.0, 20.0), tiles[0], 3)
    assert len(calls) == 2


# --- command line and worker -----------------------------------------------------------------


def test_cli_refuses_int8_and_bad_threads(
    capsys, photo: Path, utm_spot_raster: Path, light_weights: Path
) -> None:
    common = ["locate", "--query", str(photo), "--click", "1,1", "--raster", str(utm_spot_raster)]
    common += ["--weights", str(light_weights)]
    assert main([*common, "--precision", "int8"]) == 2
    err = capsys.readouterr().err.strip()
    assert "int8" in err and "\n" not in err
    assert main([*common, "--threads", "0"]) == 2
    assert "threads" in capsys.readouterr().err
    assert main([*common, "--batch-mb", "0"]) == 2
    assert "--batch-mb" in capsys.readouterr().err


def test_cli_locate_json_reports_precision(
    capsys, photo: Path, utm_spot_raster: Path, light_weights: Path
) -> None:
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
            "--precision",
            "fp32",
            "--threads",
            "1",
            "--json",
        ]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["precision"] == "fp32"


def test_info_shows_flags_and_what_auto_picks(capsys) -> None:
    assert main(["info", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["precision auto"].startswith("auto → ")
    assert "CPU flags" in facts and facts["physical cores"] >= 1


def test_worker_load_takes_precision_and_reports_it(
    light_weights: Path, photo: Path, utm_spot_raster: Path
) -> None:
    import io

    from ocgnet_geo.cli.worker import Worker

    requests = [
        {
            "id": 1,
            "method": "load",
            "params": {"weights": str(light_weights), "precision": "bf16", "threads": 1},
        },
        {
            "id": 2,
            "method": "locate",
            "params": {"query": str(photo), "click": [120, 80], "raster": str(utm_spot_raster)},
        },
        {"id": 3, "method": "load", "params": {"weights": str(light_weights), "precision": "int8"}},
    ]
    out = io.StringIO()
    worker = Worker(io.StringIO(), out)
    for request in requests:  # as the job thread runs them, one after the other
        worker._run_job(request["id"], request["method"], request["params"])
    answers = {
        m["id"]: m for m in map(json.loads, out.getvalue().splitlines()) if "progress" not in m
    }
    assert (
        answers[1]["result"]["precision"] == "bf16"
        and "bf16" in answers[1]["result"]["precision_reason"]
    )
    assert answers[2]["result"]["precision"] == "bf16"
    assert answers[3]["error"]["code"] == "bad_input" and "int8" in answers[3]["error"]["message"]
