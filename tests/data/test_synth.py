"""The generator: layout, georeferenced names, box = footprint, click on the object."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
import rasterio.windows
import shapely
from affine import Affine
from PIL import Image

from ocgnet_geo.data.camera import DroneCamera, apply_homography
from ocgnet_geo.data.records import load_split, parse_satellite_name
from ocgnet_geo.data.synth import SynthOptions, generate
from ocgnet_geo.errors import InputError
from ocgnet_geo.geo.boxes import polygons_to_boxes
from ocgnet_geo.geo.grid import TileSpec
from tests.data.fixtures import COLOURS

DS = "CVOGL_DroneAerial"


def _all(root):
    return [
        (s, r) for s in ("train", "val", "test") for r in load_split(root / DS / f"{DS}_{s}.pth")
    ]


def test_layout_and_counts(synth_root):
    out, summary = synth_root
    root = out / DS
    assert (root / "query").is_dir() and (root / "satellite").is_dir()
    assert summary.samples["train"] > 0 and summary.samples["val"] + summary.samples["test"] > 0
    meta = json.loads((root / "synth.json").read_text())
    assert "drone views only" in meta["note"]
    recs = _all(out)
    assert len(recs) == sum(summary.samples.values())
    assert all(r.class_name == "building_house" for _, r in recs)


def test_box_matches_footprint_within_a_pixel(scene, synth_root):
    _, _, objects = scene
    out, _ = synth_root
    for _, rec in _all(out):
        geo = parse_satellite_name(rec.satellite_name)
        assert geo is not None and geo.epsg == 32633
        g = geo.gsd_m(128)
        tile = TileSpec(
            "t",
            "EPSG:32633",
            Affine(g, 0, geo.easting - geo.extent_m / 2, 0, -g, geo.northing + geo.extent_m / 2),
            128,
            128,
            g,
        )
        boxes = polygons_to_boxes(np.array([p for p, _ in objects]), tile)
        err = np.abs(boxes - np.array(rec.bbox)).max(axis=1)
        assert err.min() < 1.0  # one footprint's envelope, within a pixel
        # the pixels in the box are the object's colour
        sat = np.asarray(
            Image.open(out / DS / "satellite" / rec.satellite_name).convert("RGB")
        ).astype(int)
        x1, y1, x2, y2 = (round(v) for v in rec.bbox)
        inner = sat[y1 + 2 : y2 - 2, x1 + 2 : x2 - 2].reshape(-1, 3).mean(axis=0)
        colour = objects[int(np.argmin(err))][1]
        assert np.abs(inner - colour).max() < 40


def test_click_is_on_the_object(scene, synth_root):
    out, _ = synth_root
    _assert_clicks_on_objects(out)


def _assert_clicks_on_objects(out) -> None:
    palette = np.array([*COLOURS, (110, 110, 110)], dtype=float)
    for _, rec in _all(out):
        q = np.asarray(Image.open(out / DS / "query" / rec.query_name).convert("RGB")).astype(float)
        x, y = (int(v) for v in rec.click_xy)
        pix = q[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2].reshape(-1, 3).mean(axis=0)
        nearest = int(np.argmin(np.linalg.norm(palette - pix, axis=1)))
        # lighting changes the colour; the click must still be on a coloured object, not ground
        assert nearest < len(COLOURS), (rec.query_name, pix)


def test_views_of_a_tall_place_show_its_lower_half(scene, tmp_path):
    """A place twice as tall as wide, held out whole: views of objects in its lower half
    render the raster, not haze (the drone chip once covered only a square at the top)."""
    raster, vec, _ = scene
    tall = tmp_path / "tall.tif"
    with rasterio.open(raster) as src:
        window = rasterio.windows.Window(0, 0, src.width // 2, src.height)
        profile = {**src.profile, "width": window.width, "height": window.height}
        profile["transform"] = src.window_transform(window)
        with rasterio.open(tall, "w", **profile) as dst:
            dst.write(src.read(window=window))
    opts = SynthOptions(
        tile_size=128, tile_gsd_m=0.4, query_size=128, whole_place=True, photometric=False
    )
    generate(tall, tmp_path / "out", None, vec, opts)
    records = [r for _, r in _all(tmp_path / "out")]
    mid_y = 5000000.0 - 80.0  # the raster's middle row, metres
    lower = [r for r in records if parse_satellite_name(r.satellite_name).northing < mid_y - 10]
    assert lower, "no view of the lower half"
    for rec in records:
        q = np.asarray(Image.open(tmp_path / "out" / DS / "query" / rec.query_name))
        assert q.reshape(-1, 3).std(axis=0).max() > 10, rec.query_name  # not one colour
    _assert_clicks_on_objects(tmp_path / "out")


def test_camera_click_back_projects_into_footprint():
    poly = shapely.box(10, 20, 22, 28)
    c = poly.representative_point()
    for pitch, yaw in [(0, 0), (30, 45), (55, 200)]:
        cam = DroneCamera((c.x + 2, c.y - 1), 60.0, pitch, yaw, 60.0, 512, 512)
        click = cam.project(np.array([[c.x, c.y]]))
        back = apply_homography(cam.image_to_ground(), click)[0]
        assert np.allclose(back, [c.x, c.y], atol=1e-6)
        assert poly.contains(shapely.Point(*back))


def test_split_by_area_no_shared_tiles(synth_root):
    out, _ = synth_root
    meta = json.loads((out / DS / "synth.json").read_text())
    blocks = {
        s: [shapely.box(*b["bounds"]) for b in meta["blocks"] if b["split"] == s]
        for s in ("train", "val", "test")
    }
    for split, rec in _all(out):
        geo = parse_satellite_name(rec.satellite_name)
        h = geo.extent_m / 2
        tile = shapely.box(geo.easting - h, geo.northing - h, geo.easting + h, geo.northing + h)
        assert any(b.buffer(1e-6).contains(tile) for b in blocks[split])


def test_regions_without_footprints(scene, tmp_path):
    raster, _, _ = scene
    opts = SynthOptions(
        tile_size=128,
        tile_gsd_m=0.4,
        query_size=64,
        block_factor=1.5,
        regions_per_block=1,
        photometric=False,
    )
    summary = generate(raster, tmp_path, raster, None, opts)
    assert sum(summary.samples.values()) > 0
    assert all(r.class_name == "region" for _, r in _all(tmp_path))


def test_bad_inputs_name_the_file(scene, tmp_path):
    raster, _, _ = scene
    bad = tmp_path / "x.geojson"
    bad.write_text("not json")
    with pytest.raises(InputError, match=r"x\.geojson"):
        generate(raster, tmp_path, None, bad, SynthOptions(tile_size=128, tile_gsd_m=0.4))
    with pytest.raises(InputError, match="tile_gsd_m"):
        generate(raster, tmp_path, None, None, SynthOptions(tile_size=128, tile_gsd_m=0.01))
