"""Held-out strip splits, region density and merging synthetic sets of several places."""

from __future__ import annotations

import json

import pytest
import shapely

from ocgnet_geo.data.errors import SynthError
from ocgnet_geo.data.merge import merge_datasets
from ocgnet_geo.data.records import load_split, parse_satellite_name, split_path
from ocgnet_geo.data.synth import SynthOptions, generate

OPTS = dict(tile_size=64, tile_gsd_m=0.4, query_size=64, photometric=False, seed=3)


def _tile_box(name: str) -> shapely.Geometry:
    geo = parse_satellite_name(name)
    h = geo.extent_m / 2
    return shapely.box(geo.easting - h, geo.northing - h, geo.easting + h, geo.northing + h)


@pytest.fixture(scope="module")
def holdout_root(scene, tmp_path_factory):
    raster, _, _ = scene
    out = tmp_path_factory.mktemp("holdout")
    opts = SynthOptions(dataset="east", holdout=("east", 0.4), regions_per_ha=40, **OPTS)
    summary = generate(raster, out, raster, None, opts)
    return out, summary


def test_east_strip_is_test_and_disjoint_from_train(holdout_root) -> None:
    out, summary = holdout_root
    assert summary.samples["val"] == 0
    assert summary.samples["train"] > 0 and summary.samples["test"] > 0
    meta = json.loads((out / "east" / "synth.json").read_text())
    blocks = {b["split"]: shapely.box(*b["bounds"]) for b in meta["blocks"]}
    train, test = blocks["train"], blocks["test"]
    assert test.bounds[0] == pytest.approx(train.bounds[2])  # east of the train part
    width = test.bounds[2] - train.bounds[0]
    assert (test.bounds[2] - test.bounds[0]) / width == pytest.approx(0.4)
    for split, block, other in (("train", train, test), ("test", test, train)):
        for rec in load_split(split_path(out, "east", split)):
            tile = _tile_box(rec.satellite_name)
            assert block.buffer(1e-6).contains(tile)
            assert tile.intersection(other).area < 1e-6


def test_region_density_scales_with_area(holdout_root) -> None:
    out, summary = holdout_root
    meta = json.loads((out / "east" / "synth.json").read_text())
    areas = {b["split"]: shapely.box(*b["bounds"]).area / 1e4 for b in meta["blocks"]}
    assert summary.objects == sum(round(40 * a) for a in areas.values())


def test_bad_holdout_is_one_clear_error(scene, tmp_path) -> None:
    raster, _, _ = scene
    with pytest.raises(SynthError, match="holdout"):
        generate(raster, tmp_path, raster, None, SynthOptions(holdout=("up", 0.3), **OPTS))
    with pytest.raises(SynthError, match="smaller than one tile"):
        generate(raster, tmp_path, raster, None, SynthOptions(holdout=("east", 0.01), **OPTS))


def test_merge_renames_queries_and_keeps_every_sample(holdout_root, synth_root, tmp_path) -> None:
    a_root, a_summary = holdout_root
    b_root, b_summary = synth_root
    counts = merge_datasets([(a_root, "east"), (b_root, "CVOGL_DroneAerial")], tmp_path, "both")
    for split in ("train", "val", "test"):
        assert counts[split] == a_summary.samples[split] + b_summary.samples[split]
    records = [
        r for s in ("train", "val", "test") for r in load_split(split_path(tmp_path, "both", s))
    ]
    assert sorted(r.sample_id for r in records) == list(range(len(records)))
    assert len({r.query_name for r in records}) == len(records)
    for r in records:
        assert (tmp_path / "both" / "query" / r.query_name).is_file()
        assert (tmp_path / "both" / "satellite" / r.satellite_name).is_file()
