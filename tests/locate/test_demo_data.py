"""The bundled demo data (photo, click, Zürich crop, true outline) and `ocgnet-geo demo` with
the bundled default model (the matcher): a real end-to-end locate with an asserted IoU."""

from __future__ import annotations

import json

import numpy as np
import pyogrio
import rasterio
import shapely
from PIL import Image

from ocgnet_geo.cli import main
from ocgnet_geo.cli.demo import box_iou_with, demo_case
from ocgnet_geo.locate import bundled as models_found


def test_demo_case_is_consistent() -> None:
    case = demo_case()
    with rasterio.open(case.raster) as ds:
        assert ds.crs.to_epsg() == 2056 and ds.res == (0.5, 0.5)
        assert shapely.box(*ds.bounds).contains(case.truth)
        rgb = ds.read()
    assert rgb.shape[0] == 3 and rgb.std() > 10  # real imagery, not a blank tile
    with Image.open(case.query) as im:
        w, h = im.size
    assert 0 <= case.click[0] < w and 0 <= case.click[1] < h
    assert 300 < case.truth.area < 1500  # an apartment block, m²
    assert "swisstopo" in case.credit


def test_box_iou_uses_envelopes() -> None:
    a = shapely.box(0, 0, 10, 10)
    assert box_iou_with(a, a) == 1.0
    assert box_iou_with(a, shapely.box(5, 0, 15, 10)) == 50 / 150
    diamond = shapely.Polygon([(5, 0), (10, 5), (5, 10), (0, 5)])
    assert box_iou_with(diamond, a) == 1.0
    assert np.isclose(box_iou_with(a, shapely.box(20, 20, 30, 30)), 0.0)


def test_missing_bundled_model_is_one_clear_line(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setattr(models_found, "DEFAULT_MODEL", tmp_path / "gone.safetensors")
    assert main(["demo", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "gone.safetensors" in err and "reinstall" in err
    assert not (tmp_path / "out").exists()


def test_demo_finds_the_block_with_the_bundled_matcher(tmp_path, capsys) -> None:
    """`ocgnet-geo demo` end to end: the photo registers, the top-1 outline lies on the
    hand-digitised block (its centre inside the block) and overlaps it (box IoU 0.50 on the
    reference machine: the raster-side cut takes the sunlit side of the gable roof; 0.4 here
    leaves room for other CPUs' SIFT)."""
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["iou_with_truth"][0] >= 0.4
    frame = pyogrio.read_dataframe(out / "result.gpkg")
    assert frame.crs.to_epsg() == demo_case().truth_crs.to_epsg() == 2056
    assert bool(frame["registered"][0])
    assert demo_case().truth.contains(shapely.box(*frame.geometry[0].bounds).centroid)
    for name in ("result.geojson", "result.gpkg", "overlay.png", "truth.geojson"):
        assert (out / name).stat().st_size > 0
    frame = pyogrio.read_dataframe(out / "result.gpkg")
    assert frame.crs.to_epsg() == 2056 and frame["rank"].tolist()[0] == 1
    assert frame["model"][0].startswith("matcher-")
    assert {"refined", "inliers"} <= set(frame.columns)
