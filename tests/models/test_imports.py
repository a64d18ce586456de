"""model/ depends only on torch, numpy, safetensors, the standard library and ocgnet_geo."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MODEL = Path(__file__).resolve().parents[2] / "ocgnet_geo" / "model"
ALLOWED = {"torch", "numpy", "safetensors", "ocgnet_geo", "__future__"}


def test_model_imports_only_torch_numpy_safetensors_and_stdlib() -> None:
    offenders = []
    for path in MODEL.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in ALLOWED and top not in sys.stdlib_module_names:
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []


def test_model_never_imports_the_geo_layer() -> None:
    for path in MODEL.rglob("*.py"):
        assert "ocgnet_geo.geo" not in path.read_text(), path.name
