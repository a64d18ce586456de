"""The examples run as a user would run them."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return done


def test_locate_from_script(
    photo: Path, utm_spot_raster: Path, light_weights: Path, tmp_path: Path
) -> None:
    out = tmp_path / "results"
    done = run_example(
        "locate_from_script.py",
        "--weights",
        str(light_weights),
        "--query",
        str(photo),
        "--click",
        "120,80",
        "--raster",
        str(utm_spot_raster),
        "--out-dir",
        str(out),
    )
    assert "#1" in done.stdout
    assert {p.name for p in out.iterdir()} == {"result.geojson", "result.gpkg", "overlay.png"}


def test_batch_from_csv(
    photo: Path, utm_spot_raster: Path, light_weights: Path, tmp_path: Path
) -> None:
    queries = photo.parent / "clicks.csv"
    with queries.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["query", "click_x", "click_y", "id"])
        writer.writerow([photo.name, 120, 80, "a"])
        writer.writerow(["missing.jpg", 1, 1, "b"])
    out = tmp_path / "all.gpkg"
    done = run_example(
        "batch_from_csv.py",
        "--weights",
        str(light_weights),
        "--csv",
        str(queries),
        "--raster",
        str(utm_spot_raster),
        "--out",
        str(out),
    )
    assert "row 2: skipped" in done.stdout and out.exists()


def test_walkthrough(photo: Path, utm_spot_raster: Path, light_weights: Path) -> None:
    done = run_example(
        "walkthrough.py",
        "--weights",
        str(light_weights),
        "--query",
        str(photo),
        "--raster",
        str(utm_spot_raster),
        "--click",
        "120,80",
        "--click2",
        "300,200",
    )
    assert "0 tiles encoded" in done.stdout and "lon " in done.stdout
