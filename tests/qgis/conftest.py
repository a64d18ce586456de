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


# --- fixtures of the plugin tests (tests/qgis/test_plugin_*.py) ------------------------------
# Everything that needs numpy/rasterio/torch runs in a subprocess with the project's
# interpreter (sys.executable); this process imports only qgis.* and the standard library.

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

PLUGIN_DIR = Path(__file__).resolve().parents[2] / "qgis_plugin"
#: The library's bundled demo case (photo, click, Zürich crop, true outline): read as files,
#: the library itself is not imported here.
DEMO_DIR = Path(__file__).resolve().parents[2] / "ocgnet_geo" / "assets" / "demo"

SCENE_WRITER = r"""
import sys
import numpy as np
import rasterio
from affine import Affine
from PIL import Image

out = sys.argv[1]
rng = np.random.default_rng(7)

def raster(name, width, height, crs, transform):
    data = rng.integers(20, 120, (3, height, width), dtype=np.uint8)
    data[:, 90:98, 150:158] = 250
    with rasterio.open(f"{out}/{name}", "w", driver="GTiff", width=width, height=height,
                       count=3, dtype="uint8", crs=crs, transform=transform) as ds:
        ds.write(data)

raster("ortho_utm.tif", 320, 240, "EPSG:32632", Affine(0.5, 0, 500000, 0, -0.5, 5200000))
raster("big_utm.tif", 2048, 2048, "EPSG:32632", Affine(0.5, 0, 600000, 0, -0.5, 5300000))
Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(f"{out}/photo.jpg", quality=90)
Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(f"{out}/plain.png")
"""

WEIGHTS_WRITER = r"""
import sys
import torch
from ocgnet_geo.models.ocgnet import ModelConfig, OCGNet, save_model
torch.manual_seed(0)
config = ModelConfig.from_dict({**ModelConfig.light(tile_size=256).to_dict(), "tile_gsd_m": 0.5})
save_model(OCGNet(config).eval(), sys.argv[1])
"""


@pytest.fixture(scope="session")
def plugin_package() -> Iterator[Path]:
    """``qgis_plugin/`` on sys.path (as QGIS puts a plugins folder); yields the plugin dir."""
    sys.path.insert(0, str(PLUGIN_DIR))
    yield PLUGIN_DIR / "ocgnet_locate"
    from ocgnet_locate.runtime import shutdown_shared_client

    shutdown_shared_client()


@pytest.fixture(scope="session")
def worker_env(plugin_package: Path) -> Iterator[dict]:
    """The plugin finds its worker (this interpreter, so PYTHONPATH reaches it too) by
    environment; no default weights (environment or setting): the bundled matcher."""
    from ocgnet_locate import settings

    saved = {k: os.environ.get(k) for k in ("OCGNET_PYTHON", "OCGNET_WEIGHTS")}
    saved_setting = settings.get("weights")
    os.environ["OCGNET_PYTHON"] = sys.executable
    os.environ.pop("OCGNET_WEIGHTS", None)
    settings.put("weights", "")
    yield {"OCGNET_PYTHON": sys.executable}
    settings.put("weights", saved_setting)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def light_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real OCGNet (MobileNetV2 pair, 256-px tiles at 0.5 m/px) with random weights."""
    path = tmp_path_factory.mktemp("weights") / "light-random.safetensors"
    subprocess.run([sys.executable, "-c", WEIGHTS_WRITER, str(path)], check=True, timeout=300)
    return path


@pytest.fixture(scope="session")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ortho_utm.tif (320x240, EPSG:32632), big_utm.tif (2048x2048),
    photo.jpg (400x300) and plain.png (not georeferenced)."""
    folder = tmp_path_factory.mktemp("scene")
    subprocess.run([sys.executable, "-c", SCENE_WRITER, str(folder)], check=True, timeout=300)
    return folder


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The bundled demo case: ``query``, ``click`` (photo px), ``raster`` (EPSG:2056) and
    ``truth`` (the block's outline as (x, y) pairs in ``truth_crs``). Photo and raster are
    copies: QGIS writes ``.aux.xml`` statistics beside the rasters it opens."""
    import shutil

    meta = json.loads((DEMO_DIR / "demo.json").read_text(encoding="utf-8"))
    folder = tmp_path_factory.mktemp("demo")
    for name in (meta["query"], meta["raster"]):
        shutil.copy(DEMO_DIR / name, folder / name)
    return {
        "query": str(folder / meta["query"]),
        "click": tuple(float(v) for v in meta["click"]),
        "raster": str(folder / meta["raster"]),
        "truth": [tuple(p) for p in meta["object"]["polygon"]],
        "truth_crs": meta["object"]["crs"],
    }


def box_iou(geometry, points: list[tuple[float, float]]) -> float:
    """IoU of the bounding boxes of a ``QgsGeometry`` and of a ring of (x, y) points (same
    CRS): the demo's measure (the model predicts boxes)."""
    from qgis.core import QgsRectangle

    xs, ys = [p[0] for p in points], [p[1] for p in points]
    a, b = geometry.boundingBox(), QgsRectangle(min(xs), min(ys), max(xs), max(ys))
    inter = a.intersect(b)
    overlap = 0.0 if inter.isEmpty() else inter.width() * inter.height()
    union = a.width() * a.height() + b.width() * b.height() - overlap
    return overlap / union if union > 0 else 0.0


def wait_for(condition: Callable[[], bool], timeout: float = 120.0) -> None:
    """Process Qt events until ``condition()`` holds; fail after ``timeout`` seconds."""
    from qgis.core import QgsApplication

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        QgsApplication.processEvents()
        time.sleep(0.02)


def flush_deletes() -> None:
    """Run pending deleteLater() calls."""
    from qgis.core import QgsApplication
    from qgis.PyQt.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    QgsApplication.processEvents()


@pytest.fixture
def dock(qgis_iface, qgis_new_project, worker_env):
    """The OCGNet panel on the pytest-qgis iface; layers are removed afterwards."""
    from ocgnet_locate.dock import LocateDock
    from ocgnet_locate.runtime import shared_client
    from qgis.core import QgsProject

    panel = LocateDock(qgis_iface, shared_client(), qgis_iface.mainWindow())
    qgis_iface.messageBar().clear_messages()
    yield panel
    if panel.task is not None:
        wait_for(lambda: panel.task.done, 60)
    panel.teardown()
    panel.setParent(None)
    panel.deleteLater()
    flush_deletes()
    QgsProject.instance().removeAllMapLayers()
