"""The bundled matcher through the panel: default weights entry, the demo block found in the
demo raster (real worker subprocess), heading hints, and the ground view refused."""

from __future__ import annotations

import pytest
from qgis.core import Qgis, QgsApplication, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import Qt, QVariant

from tests.qgis.conftest import box_iou, wait_for

BUNDLED_FILE = "matcher-mobilenetv2-s8.safetensors"


@pytest.fixture
def requests_sent(dock, monkeypatch) -> list[tuple[str, dict]]:
    """Every ``(method, params)`` the panel's worker client sends (the real worker answers)."""
    sent: list[tuple[str, dict]] = []
    original = dock.client.request

    def recording(method, params=None, **kwargs):
        sent.append((method, dict(params or {})))
        return original(method, params, **kwargs)

    monkeypatch.setattr(dock.client, "request", recording)
    return sent


def prepare_demo(dock, demo: dict) -> QgsRasterLayer:
    layer = QgsRasterLayer(demo["raster"], "zurich", "gdal")
    assert layer.isValid()
    QgsProject.instance().addMapLayer(layer)
    dock.raster_combo.setLayer(layer)
    dock.set_photo(demo["query"])
    dock.photo_view.set_click(*demo["click"])
    dock.top_k.setValue(5)
    return layer


def run(dock, timeout: float = 120.0):
    task = dock.locate()
    assert task is not None, "the run did not start"
    wait_for(lambda: task.done, timeout)
    return task


def last_message(qgis_iface, level) -> str:
    """The panel's last message-bar text at ``level`` (pytest-qgis keeps "title:text")."""
    return qgis_iface.messageBar().get_messages(level)[-1].split(":", 1)[1]


def rank_one(layer):
    return next(f for f in layer.getFeatures() if f["rank"] == 1)


def test_weights_combo_offers_the_bundled_matcher_first(dock, tmp_path) -> None:
    from ocgnet_locate.inputs import BUNDLED_LABEL

    combo = dock.weights_combo
    assert combo.itemText(0) == BUNDLED_LABEL == "bundled matcher, drone/aerial photos"
    assert combo.currentText() == BUNDLED_LABEL and dock.weights_path() == ""
    assert not [combo.itemText(i) for i in range(combo.count()) if "demo" in combo.itemText(i)]
    # the worker's hello names the bundled file in the tooltips
    wait_for(lambda: BUNDLED_FILE in combo.toolTip(), 60)
    assert BUNDLED_FILE in combo.itemData(0, Qt.ToolTipRole)
    own = tmp_path / "own.safetensors"
    own.write_bytes(b"")
    combo.setEditText(str(own))
    assert dock.weights_path() == str(own)
    dock.show_bundled_model(BUNDLED_FILE)  # a late hello keeps a typed path
    assert dock.weights_path() == str(own)
    combo.setCurrentIndex(0)
    assert dock.weights_path() == ""


def test_panel_locates_the_demo_block_with_the_bundled_matcher(
    dock, qgis_iface, demo: dict, requests_sent: list
) -> None:
    from ocgnet_locate.fields import FIELD_NAMES

    prepare_demo(dock, demo)
    dock.client.loaded = None  # load again even if an earlier test loaded the matcher
    task = run(dock)
    assert task.error is None, task.error and task.error.message
    loads = [params for method, params in requests_sent if method == "load"]
    assert len(loads) == 1 and "weights" not in loads[0]  # the worker picks its bundled model
    assert dock.client.loaded[0] == ""
    assert dock.client.hello()["model"]["family"] == "matcher"

    layer = dock.last_layer
    assert layer.crs().authid() == "EPSG:2056" == demo["truth_crs"]
    assert len(FIELD_NAMES) == 19 and FIELD_NAMES[14:16] == ("refined", "inliers")
    assert FIELD_NAMES[-3:] == ("registered", "method", "reprojection_px")
    assert [f.name() for f in layer.fields()] == ["fid", *FIELD_NAMES]
    assert layer.fields().field("refined").type() == QVariant.Bool
    assert layer.fields().field("inliers").type() in (QVariant.Int, QVariant.LongLong)
    best = rank_one(layer)
    assert box_iou(best.geometry(), demo["truth"]) >= 0.4  # 0.50 here: the raster-side outline
    assert best["refined"] and best["inliers"] > 0
    # the demo view registers to the raster: the answer is confident and says so
    assert task.result["status"] == "registered" and best["registered"]
    assert task.result["photo_footprint_raster_crs"]["features"]
    assert dock.last_footprint is not None and dock.last_footprint.featureCount() == 1
    # engines with the registration stage say "registered by …", older ones "verified with"
    summary = last_message(qgis_iface, Qgis.Success)
    assert "verified with" in summary or "registered by" in summary

    # a heading hint travels to the worker as typed ("DEG±TOL"); the block is found again
    dock.heading_edit.setText("20 ± 30")
    task = run(dock)
    assert task.error is None, task.error and task.error.message
    locates = [params for method, params in requests_sent if method == "locate"]
    assert "heading" not in locates[0] and locates[-1]["heading"] == "20±30"
    assert box_iou(rank_one(dock.last_layer).geometry(), demo["truth"]) >= 0.4


def test_malformed_heading_shows_a_message_and_starts_no_task(dock, qgis_iface, demo: dict) -> None:
    from ocgnet_locate.inputs import parse_heading

    assert parse_heading("") is None and parse_heading("  ") is None
    assert parse_heading("45") == 45.0 and parse_heading("-10°") == -10.0
    assert parse_heading("45±30") == "45±30" == parse_heading("45 +- 30°")

    prepare_demo(dock, demo)
    for text, why in (("north", "expected DEG or DEG±TOL"), ("45±200", "0-180")):
        dock.heading_edit.setText(text)
        assert dock.locate() is None
        warning = last_message(qgis_iface, Qgis.Warning)
        assert warning.startswith(f"heading {text!r}:") and why in warning
    assert dock.task is None
    tasks = QgsApplication.taskManager().tasks()
    assert not [t for t in tasks if t.description() == "OCGNet: locate object"]


def test_ground_view_with_the_bundled_matcher_shows_the_workers_line(
    dock, qgis_iface, demo: dict
) -> None:
    prepare_demo(dock, demo)
    layers_before = set(QgsProject.instance().mapLayers())
    dock.view_combo.setCurrentText("ground")
    task = run(dock)
    assert task.error is not None and task.error.code == "bad_input"
    critical = last_message(qgis_iface, Qgis.Critical)
    assert critical == task.error.message and "\n" not in critical
    assert critical.startswith("view 'ground':") and "OCGNet ground-view weights" in critical
    assert dock.stage.text() == "failed" and dock.last_layer is None
    assert set(QgsProject.instance().mapLayers()) == layers_before
    assert dock.locate_button.isEnabled()
