"""The registration stage end to end on a real photo: a NUST Islamabad UAV frame against an
orthomosaic of another flight (committed fixture, BSD-2-Clause, ``data/nust/README.md``)."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio
import shapely

from ocgnet_geo import Locator
from ocgnet_geo.cli import main
from ocgnet_geo.train.real_eval import (
    read_objects,
    registered_click_hit,
    score_candidate,
    truth_box,
)

NUST = Path(__file__).parent / "data" / "nust"
OBJECTS = read_objects(NUST)


@pytest.fixture(scope="module")
def locator() -> Locator:
    return Locator.demo()


@pytest.fixture(scope="module")
def registered(locator):
    obj = OBJECTS[0]  # building with two red octagonal roofs
    return obj, locator.locate(obj.photo, obj.click, obj.raster)


def test_real_photo_registers_and_the_outline_is_the_object(registered) -> None:
    obj, result = registered
    best = result.candidates[0]
    assert result.status == "registered" and result.confident
    assert best.registered and best.method in ("sift", "xfeat") and best.inliers >= 15
    assert best.score >= 0.5
    assert best.reprojection_px is not None and 0 <= best.reprojection_px < 4
    truth, unit = truth_box(obj)
    # the registered click lands in the object's box (the registration is right) ...
    assert registered_click_hit(result, truth)
    # ... and the outline cut at it overlaps the box (IoU 0.46 on the reference machine)
    scored = score_candidate(best.polygon, truth, unit)
    assert scored["point_hit"] and scored["iou"] > 0.3, scored
    # every other candidate is template-only, capped below confidence
    assert all(c.score <= 0.25 and not c.registered for c in result.candidates[1:])


def test_photo_footprint_covers_the_object_and_is_in_the_raster_crs(registered) -> None:
    obj, result = registered
    truth, _ = truth_box(obj)
    footprint = result.photo_footprint
    assert isinstance(footprint, shapely.Polygon) and footprint.is_valid
    assert footprint.contains(truth.centroid)
    # the frame is about 230 x 130 m at ~0.27 m/px: its footprint is that large, within 2x
    assert 0.5 * 230 * 130 < footprint.area < 2 * 230 * 130


def test_outputs_carry_the_registration_fields_and_the_footprint_layer(
    registered, tmp_path
) -> None:
    _, result = registered
    gpkg = result.to_gpkg(tmp_path / "r.gpkg")
    layers = [name for name, _ in pyogrio.list_layers(gpkg)]
    assert layers == ["candidates", "photo_footprint"]
    frame = pyogrio.read_dataframe(gpkg, layer="candidates")
    with rasterio.open(result.raster) as ds:
        assert frame.crs == ds.crs
    assert bool(frame["registered"][0]) and frame["method"][0] in ("sift", "xfeat")
    footprint = pyogrio.read_dataframe(gpkg, layer="photo_footprint")
    assert len(footprint) == 1 and footprint.crs == frame.crs
    assert footprint.geometry[0].equals_exact(result.photo_footprint, 1e-6)
    doc = json.loads(result.to_geojson(tmp_path / "r.geojson").read_text())
    assert doc["ocgnet"]["status"] == "registered"
    feature = doc["photo_footprint"]["features"][0]
    lon, lat = np.array(feature["geometry"]["coordinates"][0]).mean(axis=0)
    assert 72.9 < lon < 73.1 and 33.6 < lat < 33.7  # Islamabad
    assert doc["features"][0]["properties"]["registered"] is True


def test_overlay_draws_the_registered_view(registered, tmp_path) -> None:
    _, result = registered
    from PIL import Image

    image = np.asarray(Image.open(result.overlay(tmp_path / "o.png")))
    blue = (image[..., 2] > 200) & (image[..., 0] < 80) & (image[..., 1] > 90)
    red = (image[..., 0] > 220) & (image[..., 1] < 60) & (image[..., 2] < 60)
    assert blue.sum() > 200 and red.sum() > 50  # the footprint and the outline are drawn


def test_a_photo_of_another_place_is_no_confident_match(locator, tmp_path) -> None:
    """The NUST frame searched in the bundled Zürich crop: nothing registers; exit 0, the
    weak candidates are written and marked as such."""
    from ocgnet_geo.cli.demo import demo_case

    raster = demo_case().raster
    out = tmp_path / "weak.geojson"
    code = main(
        ["locate", "--query", str(OBJECTS[0].photo), "--click", "60,345", "--raster",
         str(raster), "--out", str(out), "--json"]
    )  # fmt: skip
    assert code == 0
    doc = json.loads(out.read_text())
    assert doc["ocgnet"]["status"] == "no_confident_match"
    assert doc["features"] and all(f["properties"]["score"] < 0.5 for f in doc["features"])
    assert "photo_footprint" not in doc


def test_register_off_is_the_template_search_with_capped_scores(locator) -> None:
    obj = OBJECTS[0]
    result = locator.locate(obj.photo, obj.click, obj.raster, register="off")
    assert result.register == "off" and result.photo_footprint is None
    assert all(c.score <= 0.25 for c in result.candidates)
    assert result.status == "no_confident_match"


def test_a_located_click_needs_no_network(monkeypatch) -> None:
    """Sockets are blocked: loading XFeat from the installed package and registering work."""

    def refuse(*args, **kwargs):
        raise OSError("network access attempted during a located click")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    obj = OBJECTS[0]
    result = Locator.demo().locate(obj.photo, obj.click, obj.raster, register="xfeat")
    assert result.candidates[0].registered and result.candidates[0].method == "xfeat"


def test_a_damaged_weights_file_inside_the_package_is_named(monkeypatch, tmp_path, capsys) -> None:
    from ocgnet_geo.locate import features

    damaged = tmp_path / "xfeat.pt"
    shutil.copy(features.xfeat_weights_path(), damaged)
    damaged.write_bytes(damaged.read_bytes()[:100_000])  # truncated
    monkeypatch.setattr(features, "xfeat_weights_path", lambda: str(damaged))
    obj = OBJECTS[0]
    code = main(
        ["locate", "--query", str(obj.photo), "--click", "60,345", "--raster", str(obj.raster),
         "--register", "xfeat"]
    )  # fmt: skip
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert code == 2
    assert len(errors) == 1 and str(damaged) in errors[0] and "damaged" in errors[0]


def test_tampered_weights_are_refused_before_the_network_is_built(tmp_path) -> None:
    import torch

    from ocgnet_geo.locate import features

    state = torch.load(features.xfeat_weights_path(), weights_only=True)
    name = next(iter(state))
    state[name] = torch.full_like(state[name], float("nan"))
    path = tmp_path / "nan.pt"
    torch.save(state, path)
    with pytest.raises(features.FeatureWeightsError, match="non-finite"):
        features.load_xfeat(str(path))
    state.pop(name)
    torch.save(state, path)
    with pytest.raises(features.FeatureWeightsError, match="missing"):
        features.load_xfeat(str(path))


def test_evaluate_real_reports_every_method(capsys, tmp_path) -> None:
    code = main(
        ["evaluate", "--real", str(NUST), "--methods", "both", "--no-negatives",
         "--report", str(tmp_path)]
    )  # fmt: skip
    assert code == 0
    report = json.loads((tmp_path / "real-report.json").read_text())
    summary = report["summary"]["both"]
    assert summary["objects"] == 5 and summary["registered_click_hits"] == 5
    assert summary["confident"] == 5 and summary["point_hits"] >= 3
    assert "| both | nust-00990-0 |" in (tmp_path / "real-report.md").read_text()


def test_locate_batch_writes_each_registered_photo_s_footprint(tmp_path) -> None:
    """Two rows of the real frame and a row with a missing photo: the batch GeoPackage holds
    both rows' candidates and their two footprints; the bad row is skipped."""
    csv = tmp_path / "queries.csv"
    photo = OBJECTS[0].photo
    csv.write_text(
        "id,query,click_x,click_y\n"
        f"a,{photo},60,345\nb,{photo},410,137\nc,{tmp_path / 'missing.jpg'},10,10\n"
    )
    out = tmp_path / "batch.gpkg"
    code = main(["locate-batch", str(csv), "--raster", str(OBJECTS[0].raster), "--out", str(out)])
    assert code == 0
    candidates = pyogrio.read_dataframe(out, layer="candidates")
    footprints = pyogrio.read_dataframe(out, layer="photo_footprint")
    assert set(candidates["query_id"]) == {"a", "b"}
    assert sorted(footprints["query_id"]) == ["a", "b"] and footprints.crs == candidates.crs
    best = candidates[candidates["rank"] == 1]
    assert best["registered"].all()


def test_cancel_while_registering_raises_and_returns_nothing() -> None:
    """Cancel pressed once the tiles are searched (during registration): Cancelled, not a
    result from a half-finished registration."""
    from ocgnet_geo.locate import Cancelled

    obj = OBJECTS[0]
    messages: list[str] = []
    with pytest.raises(Cancelled, match="registering"):
        Locator.demo().locate(
            obj.photo,
            obj.click,
            obj.raster,
            progress=lambda fraction, message: messages.append(message),
            cancel=lambda: bool(messages) and "registering" in messages[-1],
        )
