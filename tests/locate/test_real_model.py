"""End to end through the real network (random weights) on rasters in several CRSs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely

from ocgnet_geo.geo.boxes import reproject_geometries
from ocgnet_geo.geo.raster import open_raster
from ocgnet_geo.locate import Locator
from ocgnet_geo.locate.tile_model import WeightsFileError
from ocgnet_geo.models.ocgnet import WeightsError


def test_real_model_in_each_crs(
    any_spot_raster: Path, photo: Path, light_weights: Path, tmp_path: Path
) -> None:
    locator = Locator.from_weights(light_weights)
    assert locator.model.gsd_m == 0.5 and locator.model.tile_px == 256
    result = locator.locate(photo, (120, 80), any_spot_raster, top_k=4)
    info = open_raster(any_spot_raster)
    assert result.crs == info.crs and 1 <= len(result.candidates) <= 4
    scores = [c.score for c in result.candidates]
    assert (
        all(0 < s <= 1 for s in scores)
        and scores == sorted(scores, reverse=True)
        and sum(scores) <= 1 + 1e-9
    )
    footprint = info.footprint.buffer(max(info.pixel_size_m) * 256 * 2 / min(info.pixel_size_m))
    for c in result.candidates:
        assert c.polygon.is_valid and c.polygon.area > 0
        assert footprint.intersects(c.polygon)  # in the raster's CRS, near the raster
        x0, y0, x1, y1 = c.box_px
        assert x1 > x0 and y1 > y0
    doc = json.loads(result.to_geojson(tmp_path / "r.geojson").read_text())
    lonlat = reproject_geometries(np.array([result.candidates[0].polygon]), info.crs, "EPSG:4326")[
        0
    ]
    got = shapely.Polygon(doc["features"][0]["geometry"]["coordinates"][0])
    assert shapely.hausdorff_distance(got, lonlat) < 1e-6
    assert result.best_attention.shape == (16, 16)


def test_second_click_skips_the_encoder(
    utm_spot_raster: Path, photo: Path, light_weights: Path
) -> None:
    locator = Locator.from_weights(light_weights)
    first = locator.locate(photo, (120, 80), utm_spot_raster)
    second = locator.locate(photo, (300, 200), utm_spot_raster)
    assert first.tiles_encoded == first.tiles_searched > 0 and second.tiles_encoded == 0


def test_weights_for_the_other_view_are_refused(light_weights: Path) -> None:
    with pytest.raises(WeightsFileError, match="drone-view model, not ground"):
        Locator.from_weights(light_weights, view="ground")


def test_corrupt_or_missing_weights(tmp_path: Path) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(WeightsError):
        Locator.from_weights(bad)
    with pytest.raises(WeightsFileError, match="not found"):
        Locator.from_weights(tmp_path / "missing.safetensors")
    with pytest.raises(WeightsFileError, match="unknown format"):
        (tmp_path / "w.onnx").write_bytes(b"x")
        Locator.from_weights(tmp_path / "w.onnx")


def test_channels_last_gives_the_same_boxes(light_weights: Path) -> None:
    """The shipped inference layout (NHWC) computes the same candidates as NCHW."""
    from ocgnet_geo.locate.tile_model import TorchTileModel
    from ocgnet_geo.models.ocgnet import load_model

    rng = np.random.default_rng(5)
    tile = rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)
    query = rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)
    nhwc = TorchTileModel(load_model(light_weights), "m", channels_last=True)
    nchw = TorchTileModel(load_model(light_weights), "m", channels_last=False)
    a = nhwc.find(query, (100.0, 60.0), nhwc.encode(tile), 5)
    b = nchw.find(query, (100.0, 60.0), nchw.encode(tile), 5)
    np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-2)
    np.testing.assert_allclose(a.logits, b.logits, atol=1e-3)
    np.testing.assert_allclose(a.attention, b.attention, atol=1e-5)
