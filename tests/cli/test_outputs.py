"""Outputs are checked before the search and written all-or-nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ocgnet_geo.cli import main
from tests.cli.conftest import locate_args

_locate = locate_args
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("option", "name", "words"),
    [
        ("--out", "folder.geojson", "is a folder"),
        ("--overlay", "folder.png", "is a folder"),
        ("--out", "/proc/x.geojson", "cannot create files in folder '/proc'"),
        ("--overlay", "/proc/x.png", "cannot create files"),
    ],
)
def test_unwritable_outputs_are_refused_before_the_search(
    option: str,
    name: str,
    words: str,
    photo: Path,
    utm_spot_raster: Path,
    light_weights: Path,
    tmp_path: Path,
    capsys,
    monkeypatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder.geojson").mkdir()
    (tmp_path / "folder.png").mkdir()
    from ocgnet_geo.locate import locator

    def no_search(*args, **kwargs):
        raise AssertionError("the search started before the outputs were checked")

    monkeypatch.setattr(locator, "tile_grid", no_search)
    code = main(_locate(photo, utm_spot_raster, light_weights, option, name))
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and words in err, err


def test_a_failing_overlay_leaves_no_out_file(
    photo: Path,
    utm_spot_raster: Path,
    light_weights: Path,
    tmp_path: Path,
    capsys,
    monkeypatch,
) -> None:
    from ocgnet_geo.locate import overlay

    def broken(result, path):
        Path(path).write_bytes(b"half a png")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(overlay, "render_overlay", broken)
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    out, png = outputs / "r.geojson", outputs / "o.png"
    code = main(
        _locate(photo, utm_spot_raster, light_weights, "--out", str(out), "--overlay", str(png))
    )
    assert code == 1  # an OSError while writing is not a user mistake here
    assert sorted(p.name for p in outputs.iterdir()) == []  # neither output, no temp files
    capsys.readouterr()


def test_both_outputs_appear_together(
    photo: Path, utm_spot_raster: Path, light_weights: Path, tmp_path: Path, capsys
) -> None:
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    out, png = outputs / "r.gpkg", outputs / "o.png"
    start = time.monotonic()
    assert (
        main(
            _locate(photo, utm_spot_raster, light_weights, "--out", str(out), "--overlay", str(png))
        )
        == 0
    )
    assert time.monotonic() - start < 120
    assert sorted(p.name for p in outputs.iterdir()) == ["o.png", "r.gpkg"]
    capsys.readouterr()


def test_temp_outputs_of_a_killed_command_are_removed_by_the_next(
    photo: Path, utm_spot_raster: Path, light_weights: Path, tmp_path: Path, capsys
) -> None:
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    out = outputs / "r.v1.geojson"  # a dotted stem: the pid is counted from the end
    killed = (
        "import os, signal, sys\n"
        "from ocgnet_geo.cli.outputs import StagedOutputs\n"
        "staged = StagedOutputs()\n"
        "staged.path(sys.argv[1]).write_text('{half a geojson')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", killed, str(out)], cwd=REPO)
    assert proc.wait(timeout=120) == -signal.SIGKILL
    left = sorted(p.name for p in outputs.iterdir())
    assert left == [f".r.v1.{proc.pid}.0.tmp.geojson"]
    live = outputs / f".r.v1.{os.getppid()}.0.tmp.geojson"  # a running writer's: kept
    live.write_text("{}")
    other = outputs / f".s.{proc.pid}.0.tmp.geojson"  # another output's: kept
    other.write_text("{}")

    assert main(_locate(photo, utm_spot_raster, light_weights, "--out", str(out))) == 0

    assert sorted(p.name for p in outputs.iterdir()) == sorted([live.name, other.name, out.name])
    capsys.readouterr()
