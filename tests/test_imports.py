"""Layering rules of DESIGN.md that a refactor could silently break."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ocgnet_geo"


@pytest.mark.parametrize(
    "module",
    [
        "ocgnet_geo",
        "ocgnet_geo.geo",
        "ocgnet_geo.cli",
        "ocgnet_geo.locate",
        "ocgnet_geo.cli.worker",
    ],
)
def test_import_does_not_load_torch(module: str) -> None:
    code = f"import sys, {module}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_geo_layer_never_mentions_torch() -> None:
    pattern = re.compile(r"^\s*(import torch|from torch)", re.MULTILINE)
    offenders = [p.name for p in (PACKAGE / "geo").glob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_console_script_runs() -> None:
    script = Path(sys.executable).with_name("ocgnet-geo")
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("ocgnet-geo ")
