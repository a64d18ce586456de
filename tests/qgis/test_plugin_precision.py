"""The plugin's precision setting: dialog, stored value, and what the worker is asked for."""

from __future__ import annotations

from pathlib import Path

import pytest
from qgis.core import QgsProject, QgsRasterLayer


@pytest.fixture
def saved_precision(plugin_package: Path):
    """Restore the stored precision setting after the test."""
    from ocgnet_locate import settings

    before = settings.get("precision", "")
    yield settings
    settings.put("precision", before)


def test_dialog_offers_and_stores_the_precision(qgis_app, saved_precision) -> None:
    from ocgnet_locate.settings_dialog import SettingsDialog

    settings = saved_precision
    settings.put("precision", "bf16")
    dialog = SettingsDialog()
    combo = dialog.precision
    assert [combo.itemText(i) for i in range(combo.count())] == ["auto", "fp32", "bf16"]
    assert combo.currentText() == "bf16"
    combo.setCurrentText("fp32")
    dialog.accept()
    assert settings.precision() == "fp32"
    settings.put("precision", "int8")  # not offered (docs/precision.md): falls back to auto
    assert settings.precision() == "auto"
    dialog.deleteLater()


def test_request_and_worker_load_carry_the_precision(
    dock, scene: Path, light_weights: Path, saved_precision
) -> None:
    from ocgnet_locate.runtime import shared_client

    settings = saved_precision
    settings.put("precision", "fp32")
    ortho = QgsRasterLayer(str(scene / "ortho_utm.tif"), "ortho", "gdal")
    QgsProject.instance().addMapLayer(ortho)
    dock.raster_combo.setLayer(ortho)
    dock.set_photo(str(scene / "photo.jpg"))
    dock.photo_view.set_click(10, 20)
    dock.weights_combo.setEditText(str(light_weights))
    request = dock.build_request()
    assert request.precision == "fp32"

    client = shared_client()
    loaded = client.ensure_model(request.weights, request.view, request.precision)
    if loaded is None:  # an earlier test loaded these weights in fp32 already
        loaded = client.hello()["model"]
    assert loaded["precision"] == "fp32"
    assert client.ensure_model(request.weights, request.view, "fp32") is None  # no reload
    again = client.ensure_model(request.weights, request.view, "bf16")
    assert again is not None and again["precision"] == "bf16"
    assert client.hello()["model"]["precision"] == "bf16"
