"""The bundled demo end to end: the real bundled model on the bundled photo and Zürich crop
(held out of its training data) finds the clicked apartment block."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import CRS

from ocgnet_geo.demo import box_iou_with, demo_case, run_demo
from ocgnet_geo.locate import Locator
from ocgnet_geo.models_found import DEMO_MODEL, MODEL_CARD, bundled_models, demo_model

SCRIPT = str(Path(sys.executable).with_name("ocgnet-geo"))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    return run_demo(tmp_path_factory.mktemp("demo"))


def test_bundle_is_small_fp16_and_documented() -> None:
    assert demo_model() == DEMO_MODEL and DEMO_MODEL in bundled_models()
    assert DEMO_MODEL.stat().st_size <= 15 * 2**20
    assert DEMO_MODEL.with_suffix(".json").is_file()
    card = MODEL_CARD.read_text(encoding="utf-8")
    for needle in ("held-out", "acc@0.5", "synthetic", "not a substitute"):
        assert needle in card
    from safetensors import safe_open

    with safe_open(str(DEMO_MODEL), framework="pt") as f:
        dtypes = {f.get_slice(k).get_dtype() for k in f.keys()}
    assert "F16" in dtypes and "F32" not in dtypes


def test_top1_is_the_true_block(demo_run) -> None:
    """The acceptance check of the demo: top-1 box IoU >= 0.5 with the hand-digitised block."""
    assert demo_run.ious[0] >= 0.5, demo_run.ious
    top = demo_run.result.candidates[0]
    truth = demo_run.case.truth  # EPSG:2056, the raster's CRS
    assert CRS.from_user_input(demo_run.result.crs) == CRS.from_epsg(2056)
    assert top.polygon.intersects(truth)
    assert box_iou_with(top.polygon, truth) == pytest.approx(demo_run.ious[0])


def test_outputs_are_written_in_their_crs(demo_run) -> None:
    files = demo_run.files
    gj = json.loads(files["result.geojson"].read_text())
    assert len(gj["features"]) == len(demo_run.result.candidates) >= 1
    lon, lat = np.asarray(gj["features"][0]["geometry"]["coordinates"][0]).mean(axis=0)
    assert 8.48 < lon < 8.50 and 47.37 < lat < 47.38  # Zürich-Altstetten, lon/lat order
    info = pyogrio.read_info(files["result.gpkg"])
    assert CRS.from_user_input(info["crs"]) == CRS.from_epsg(2056)
    assert files["overlay.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    truth = json.loads(files["truth.geojson"].read_text())["features"][0]["geometry"]
    assert shapely.geometry.shape(truth).is_valid


def test_demo_case_points_into_the_bundled_raster() -> None:
    case = demo_case()
    import rasterio

    with rasterio.open(case.raster) as ds:
        assert ds.crs.to_epsg() == 2056 and ds.res == (0.5, 0.5)
        assert shapely.box(*ds.bounds).contains(case.truth)


def test_locator_demo_uses_the_bundled_model() -> None:
    loc = Locator.demo()
    assert loc.model.model_id.startswith("ocgnet-lite-demo")
    assert loc.model.tile_px == 256 and loc.model.gsd_m == 0.5


def test_cli_demo_prints_ranked_candidates(tmp_path: Path) -> None:
    done = subprocess.run(
        [SCRIPT, "demo", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "#1" in done.stdout and "IoU" in done.stdout and "swisstopo" in done.stdout
    for name in ("result.geojson", "result.gpkg", "overlay.png"):
        assert (tmp_path / "out" / name).is_file()
