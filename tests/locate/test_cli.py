"""The ``ocgnet-geo`` command: the installed console script for the main paths, ``main()``
in-process for the many bad-input cases (same code, no interpreter start-up each time)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pyogrio
import pytest

from ocgnet_geo.cli import main

SCRIPT = str(Path(sys.executable).with_name("ocgnet-geo"))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=600)


def test_locate_writes_geojson_and_overlay(
    photo: Path, utm_spot_raster: Path, light_weights: Path, tmp_path: Path
) -> None:
    out, overlay = tmp_path / "r.geojson", tmp_path / "o.png"
    done = run(
        "locate",
        "--query",
        str(photo),
        "--click",
        "120,80",
        "--raster",
        str(utm_spot_raster),
        "--weights",
        str(light_weights),
        "--top-k",
        "3",
        "--out",
        str(out),
        "--overlay",
        str(overlay),
    )
    assert done.returncode == 0, done.stderr
    assert "#1" in done.stdout and "EPSG:32632" in done.stdout
    assert len(json.loads(out.read_text())["features"]) == 3
    assert overlay.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_locate_json_is_quiet(photo: Path, utm_spot_raster: Path, light_weights: Path) -> None:
    done = run(
        "locate",
        "--query",
        str(photo),
        "--click",
        "120,80",
        "--raster",
        str(utm_spot_raster),
        "--weights",
        str(light_weights),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["candidates"]["type"] == "FeatureCollection" and payload["tiles_searched"] > 0
    assert "%" not in done.stderr  # no progress bar


def test_bad_input_from_the_console_script(
    photo: Path, utm_spot_raster: Path, light_weights: Path
) -> None:
    done = run(
        "locate",
        "--query",
        str(photo),
        "--click",
        "9999,1",
        "--raster",
        str(utm_spot_raster),
        "--weights",
        str(light_weights),
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip().count("\n") == 0
        and "outside photo" in done.stderr
        and "Traceback" not in done.stderr
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--query": "missing.jpg"}, "missing.jpg"),
        ({"--click": "1;2"}, "two numbers"),
        ({"--top-k": "0"}, "--top-k"),
        ({"--out": "no/such/folder/r.geojson"}, "does not exist"),
        ({"--out": "r.kml"}, "unknown extension"),
        ({"--weights": "nope.safetensors"}, "not found"),
        ({"--bbox": "0,0,1,1"}, "does not intersect"),
        ({"--bbox": "1,2,3"}, "four numbers"),
        ({"--raster": "missing.tif"}, "missing.tif"),
        ({"--view": "ground"}, "drone"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    change: dict,
    message: str,
    photo: Path,
    utm_spot_raster: Path,
    light_weights: Path,
    tmp_path: Path,
    capsys,
    monkeypatch,
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    monkeypatch.chdir(out_dir)
    args = {
        "--query": str(photo),
        "--click": "10,10",
        "--raster": str(utm_spot_raster),
        "--weights": str(light_weights),
        "--out": "r.geojson",
        **change,
    }
    code = main(["locate", *[v for kv in args.items() for v in kv]])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "\n" not in err and message in err
    assert list(out_dir.iterdir()) == []  # nothing written, not even a partial file


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_locate_batch_skips_bad_rows(
    photo: Path, utm_spot_raster: Path, light_weights: Path, tmp_path: Path
) -> None:
    rows = [
        {"query": photo.name, "click_x": 120, "click_y": 80, "id": "house"},
        {"query": "missing.jpg", "click_x": 1, "click_y": 1, "id": "ghost"},
        {"query": str(photo), "click_x": 9999, "click_y": 1, "id": "outside"},
        {"query": str(photo), "click_x": 300, "click_y": 200, "id": "bridge"},
    ]
    queries = _write_csv(photo.parent / "queries.csv", rows, ["query", "click_x", "click_y", "id"])
    out = tmp_path / "all.gpkg"
    done = run(
        "locate-batch",
        str(queries),
        "--raster",
        str(utm_spot_raster),
        "--weights",
        str(light_weights),
        "--out",
        str(out),
        "--top-k",
        "2",
    )
    assert done.returncode == 0, done.stderr
    assert "ghost" in done.stderr and "outside" in done.stderr and "2 of 4 rows" in done.stdout
    frame = pyogrio.read_dataframe(out)
    assert sorted(set(frame["query_id"])) == ["bridge", "house"] and len(frame) == 4
    assert frame.crs.to_epsg() == 32632


def test_locate_batch_refuses_missing_columns(
    utm_spot_raster: Path, light_weights: Path, tmp_path: Path, capsys
) -> None:
    queries = _write_csv(tmp_path / "q.csv", [{"query": "a.jpg", "x": 1}], ["query", "x"])
    code = main(
        [
            "locate-batch",
            str(queries),
            "--raster",
            str(utm_spot_raster),
            "--weights",
            str(light_weights),
            "--out",
            str(tmp_path / "o.gpkg"),
        ]
    )
    assert code == 2 and "click_x, click_y" in capsys.readouterr().err
    assert not (tmp_path / "o.gpkg").exists()


def test_info_json() -> None:
    done = run("info", "--json")
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    assert (
        facts["ocgnet-geo"]
        and facts["torch"]
        and facts["device"] in ("cpu", "cuda")
        and facts["torch threads"] >= 1
    )


@pytest.mark.slow
def test_convert_official_weights_then_locate(
    photo: Path, utm_spot_raster: Path, tmp_path: Path
) -> None:
    """A full-size official-format checkpoint converts and locates (1024-px tiles at 0.5 m)."""
    import torch

    from ocgnet_geo.models.ocgnet import ModelConfig, OCGNet
    from ocgnet_geo.models.ocgnet.weights import save_official

    torch.manual_seed(0)
    official = tmp_path / "ocgnet_drone.pth.tar"
    save_official(OCGNet(ModelConfig.official("ocgnet", "drone")), official)
    converted = tmp_path / "ocgnet_drone.safetensors"
    done = run("convert-weights", "--from", str(official), "--to", str(converted), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sigma"] == pytest.approx(0.10)
    official.unlink()  # 300 MB: free the disk before the next one
    done = run(
        "locate",
        "--query",
        str(photo),
        "--click",
        "10,10",
        "--raster",
        str(utm_spot_raster),
        "--weights",
        str(converted),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["tiles_searched"] == 1
