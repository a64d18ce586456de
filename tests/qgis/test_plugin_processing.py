"""The Processing algorithms: ``processing.run`` in this process, ``qgis_process`` in a shell."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from qgis.core import QgsApplication, QgsProcessingException, QgsVectorLayer

QGIS_PROCESS = shutil.which("qgis_process.bin") or "/usr/bin/qgis_process.bin"


@pytest.fixture(scope="module")
def provider(qgis_processing, worker_env):
    from ocgnet_locate.processing_provider import OCGNetProvider

    registry = QgsApplication.processingRegistry()
    provider = OCGNetProvider()
    registry.addProvider(provider)
    yield provider
    registry.removeProvider(provider)


def read_layer(path: Path) -> QgsVectorLayer:
    layer = QgsVectorLayer(str(path), "out", "ogr")
    assert layer.isValid(), path
    return layer


def test_locate_algorithm_runs_through_processing_run(
    provider, scene: Path, light_weights: Path, tmp_path: Path
) -> None:
    import processing

    out = tmp_path / "candidates.gpkg"
    result = processing.run(
        "ocgnet:locate",
        {
            "QUERY": str(scene / "photo.jpg"),
            "CLICK_X": 123,
            "CLICK_Y": 77,
            "VIEW": 0,
            "INPUT": str(scene / "ortho_utm.tif"),
            "WEIGHTS": str(light_weights),
            "TOP_K": 4,
            "OUTPUT": str(out),
        },
    )
    layer = read_layer(Path(result["OUTPUT"]))
    try:
        assert layer.crs().authid() == "EPSG:32632"
        assert layer.featureCount() == 4
        assert sorted(f["rank"] for f in layer.getFeatures()) == [1, 2, 3, 4]
        assert {"score", "px_xmin", "tile"} <= set(layer.fields().names())
    finally:
        del layer


def test_locate_algorithm_uses_the_bundled_matcher_by_default(
    provider, demo: dict, tmp_path: Path
) -> None:
    """No WEIGHTS (and none in the settings): the worker's bundled matcher finds the demo
    block; HEADING reaches the worker."""
    import processing
    from ocgnet_locate.fields import FIELD_NAMES

    from tests.qgis.conftest import box_iou

    result = processing.run(
        "ocgnet:locate",
        {
            "QUERY": demo["query"],
            "CLICK_X": demo["click"][0],
            "CLICK_Y": demo["click"][1],
            "INPUT": demo["raster"],
            "HEADING": "20±30",
            "TOP_K": 3,
            "OUTPUT": str(tmp_path / "demo.gpkg"),
        },
    )
    layer = read_layer(Path(result["OUTPUT"]))
    try:
        assert layer.crs().authid() == "EPSG:2056"
        assert [f.name() for f in layer.fields()] == ["fid", *FIELD_NAMES]
        best = next(f for f in layer.getFeatures() if f["rank"] == 1)
        assert box_iou(best.geometry(), demo["truth"]) >= 0.4 and best["refined"]
    finally:
        del layer
    from ocgnet_locate.runtime import shared_client

    assert shared_client().loaded[0] == ""  # loaded without a weights path


def test_locate_algorithm_rejects_a_malformed_heading(provider, demo: dict) -> None:
    import processing

    with pytest.raises(QgsProcessingException, match="heading 'NE': expected DEG or DEG±TOL"):
        processing.run(
            "ocgnet:locate",
            {
                "QUERY": demo["query"],
                "CLICK_X": 10,
                "CLICK_Y": 10,
                "INPUT": demo["raster"],
                "HEADING": "NE",
                "OUTPUT": "TEMPORARY_OUTPUT",
            },
        )


def test_locate_algorithm_rejects_a_non_georeferenced_raster(provider, scene: Path) -> None:
    import processing

    with pytest.raises(QgsProcessingException, match="not georeferenced"):
        processing.run(
            "ocgnet:locate",
            {
                "QUERY": str(scene / "photo.jpg"),
                "CLICK_X": 10,
                "CLICK_Y": 10,
                "INPUT": str(scene / "plain.png"),
                "OUTPUT": "TEMPORARY_OUTPUT",
            },
        )


def test_batch_algorithm_runs_through_processing_run(
    provider, scene: Path, light_weights: Path, tmp_path: Path
) -> None:
    import processing

    table = tmp_path / "queries.csv"
    photo = tmp_path / "photo.jpg"
    shutil.copy(scene / "photo.jpg", photo)
    table.write_text("query,click_x,click_y,view\nphoto.jpg,123,77,drone\nphoto.jpg,10,20,\n")
    out = tmp_path / "batch.gpkg"
    result = processing.run(
        "ocgnet:locatebatch",
        {
            "CSV": str(table),
            "INPUT": str(scene / "ortho_utm.tif"),
            "WEIGHTS": str(light_weights),
            "TOP_K": 2,
            "OUTPUT": str(out),
        },
    )
    layer = read_layer(Path(result["OUTPUT"]))
    try:
        assert layer.featureCount() == 4
        assert sorted((f["click_x"], f["rank"]) for f in layer.getFeatures()) == [
            (10, 1),
            (10, 2),
            (123, 1),
            (123, 2),
        ]
    finally:
        del layer


def test_qgis_process_runs_ocgnet_locate_from_the_shell(
    plugin_package: Path, scene: Path, light_weights: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"  # a throw-away QGIS profile: `plugins enable` writes settings
    env = dict(
        os.environ,
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        QGIS_CUSTOM_CONFIG_PATH=str(home / "qgis"),  # pytest-qgis sets a shared one
        QGIS_OPTIONS_PATH=str(home / "qgis"),
        QT_QPA_PLATFORM="offscreen",
        QGIS_PLUGINPATH=str(plugin_package.parent),
        OCGNET_PYTHON=sys.executable,
    )
    enable = subprocess.run(
        [QGIS_PROCESS, "plugins", "enable", "ocgnet_locate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert enable.returncode == 0, enable.stderr + enable.stdout
    out = tmp_path / "cli.gpkg"
    done = subprocess.run(
        [
            QGIS_PROCESS,
            "--json",
            "run",
            "ocgnet:locate",
            "--",
            f"QUERY={scene / 'photo.jpg'}",
            "CLICK_X=123",
            "CLICK_Y=77",
            "VIEW=0",
            f"INPUT={scene / 'ortho_utm.tif'}",
            f"WEIGHTS={light_weights}",
            "TOP_K=3",
            f"OUTPUT={out}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    answer = json.loads(done.stdout[done.stdout.index("{") :])
    assert answer["results"]["OUTPUT"].startswith(str(out))
    layer = read_layer(out)
    try:
        assert layer.featureCount() == 3 and layer.crs().authid() == "EPSG:32632"
    finally:
        del layer

    table = tmp_path / "queries.csv"
    table.write_text(
        f"query,click_x,click_y\n{scene / 'photo.jpg'},123,77\n{scene / 'photo.jpg'},50,60\n"
    )
    batch_out = tmp_path / "cli_batch.gpkg"
    done = subprocess.run(
        [
            QGIS_PROCESS,
            "run",
            "ocgnet:locatebatch",
            "--",
            f"CSV={table}",
            f"INPUT={scene / 'ortho_utm.tif'}",
            f"WEIGHTS={light_weights}",
            "TOP_K=2",
            f"OUTPUT={batch_out}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert "2 of 2 rows located" in done.stdout + done.stderr
    layer = read_layer(batch_out)
    try:
        assert layer.featureCount() == 4
    finally:
        del layer
