"""Bounded resources: threads, devices, photo pixels, tiles (``ocgnet_geo.locate.limits``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ocgnet_geo.cli import main
from ocgnet_geo.locate.limits import available_cpus

SCRIPT = str(Path(sys.executable).with_name("ocgnet-geo"))


def _locate_args(photo: Path, raster: Path, weights: Path, *extra: str) -> list[str]:
    return [
        "locate",
        "--query",
        str(photo),
        "--click",
        "120,80",
        "--raster",
        str(raster),
        "--weights",
        str(weights),
        *extra,
    ]


def test_huge_thread_count_is_capped_with_one_warning(
    photo: Path, utm_spot_raster: Path, light_weights: Path
) -> None:
    done = subprocess.run(
        [SCRIPT, *_locate_args(photo, utm_spot_raster, light_weights, "--threads", "99999")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    warning = [line for line in done.stderr.splitlines() if "capped" in line]
    assert warning == [
        f"ocgnet-geo: warning: threads 99999: capped at {available_cpus()} "
        "(the CPUs available to this process)"
    ]


@pytest.mark.parametrize(
    ("device", "words"),
    [
        ("gpu9", "not a device name"),
        ("cuda", "cannot use CUDA"),
        ("cuda:7", "CUDA"),
        ("meta", "not supported"),
    ],
)
def test_unusable_devices_are_one_line_errors(
    device: str, words: str, photo: Path, utm_spot_raster: Path, light_weights: Path, capsys
) -> None:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    code = main(_locate_args(photo, utm_spot_raster, light_weights, "--device", device))
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and words in err and repr(device) in err, err
    assert main(["worker", "--device", device]) == 2
