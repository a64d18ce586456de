"""Tier 3: real QGIS, offscreen, through pytest-qgis (run by `make test` in its own process).

QGIS links Debian's GDAL/PROJ; rasterio and pyogrio bring their own. The tests here therefore
import only qgis.* and the standard library in-process, and run our library in a subprocess
with the project's interpreter, as the QGIS plugin does with its worker.

These tests must fail, not skip, when QGIS cannot be imported: importing qgis.core below
makes collection fail loudly.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from qgis.core import Qgis  # noqa: F401  (fails collection when QGIS is missing)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/qgis/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.qgis)
