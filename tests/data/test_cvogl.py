"""The CVOGL reader on a fixture in the exact official format (8-field records, torch.save)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ocgnet_geo.data.augment import augment_satellite, rot90
from ocgnet_geo.data.cvogl import CVOGLDataset
from ocgnet_geo.data.records import class_group, load_split, parse_satellite_name
from ocgnet_geo.errors import InputError
from ocgnet_geo.models.ocgnet import ModelConfig

SAT = "539827_4880079_300_32615.jpg"


@pytest.fixture
def cvogl(tmp_path):
    root = tmp_path / "data" / "CVOGL_DroneAerial"
    (root / "query").mkdir(parents=True)
    (root / "satellite").mkdir()
    Image.new("RGB", (512, 512), (10, 20, 30)).save(root / "query" / "131425_539733_4880095.jpg")
    Image.new("RGB", (1024, 1024), (200, 100, 50)).save(root / "satellite" / SAT)
    rec = (
        131425,
        "131425_539733_4880095.jpg",
        SAT,
        (383, 380),
        (191, 190),
        [258.56, 325.97, 592.76, 657.03],
        [495.99, 325.97, 592.76, 558.05, 355.29, 657.03, 258.56, 424.96],
        "building_retail",
    )
    for split in ("train", "val", "test"):
        torch.save([rec, rec], root / f"CVOGL_DroneAerial_{split}.pth")
    return tmp_path / "data"


def test_reads_official_records(cvogl):
    recs = load_split(cvogl / "CVOGL_DroneAerial" / "CVOGL_DroneAerial_test.pth")
    assert len(recs) == 2 and recs[0].click_xy == (191.0, 190.0)
    assert (
        recs[0].bbox == (258.56, 325.97, 592.76, 657.03)
        and class_group(recs[0].class_name) == "building"
    )


def test_sample_shapes_and_scaling(cvogl):
    cfg = ModelConfig.light(tile_size=256)
    ds = CVOGLDataset(cvogl, "CVOGL_DroneAerial", "test", cfg)
    s = ds[0]
    assert s["query"].shape == (3, 256, 256) and s["satellite"].shape == (3, 256, 256)
    assert s["clickmap"].shape == (256, 256)
    # click scaled 512 -> 256; clickmap peaks there
    assert torch.allclose(s["click"], torch.tensor([95.5, 95.0]))
    assert s["clickmap"][95, 95] == 1.0
    # GT boxes truncated to whole stored pixels (as the reference loader) before scaling
    assert torch.allclose(s["bbox"], torch.tensor([258.0, 325.0, 592.0, 657.0]) / 4)
    assert torch.equal(s["bbox_int"], s["bbox"])
    assert torch.allclose(s["bbox_float"], torch.tensor([258.56, 325.97, 592.76, 657.03]) / 4)
    assert abs(float(s["gsd_m"]) - 300 / 256) < 1e-6
    assert s["class_name"] == "building_retail"


def test_satellite_name_georeferencing():
    g = parse_satellite_name(SAT)
    assert (g.easting, g.northing, g.extent_m, g.epsg) == (539827, 4880079, 300, 32615)
    assert g.pixel_to_map(0, 0, 1024) == (539827 - 150, 4880079 + 150)
    assert parse_satellite_name("foo.jpg") is None


def test_unsafe_split_file_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    root = tmp_path / "X"
    root.mkdir()
    import pickle

    (root / "X_train.pth").write_bytes(pickle.dumps([Evil()]))
    with pytest.raises(InputError, match=r"X_train\.pth"):
        load_split(root / "X_train.pth")


def test_missing_and_malformed(cvogl, tmp_path):
    with pytest.raises(InputError, match="not found"):
        CVOGLDataset(tmp_path / "nope", "CVOGL_DroneAerial", "test", ModelConfig.light())
    torch.save([[1, 2, 3]], cvogl / "CVOGL_DroneAerial" / "CVOGL_DroneAerial_val.pth")
    with pytest.raises(InputError, match="record 0"):
        CVOGLDataset(cvogl, "CVOGL_DroneAerial", "val", ModelConfig.light())


def test_rot90_keeps_box_on_content():
    img = np.zeros((64, 64, 3), np.uint8)
    img[10:20, 30:50] = 255
    box = np.array([30, 10, 50, 20], float)
    for k in range(4):
        out, b = rot90(img, box, k)
        x1, y1, x2, y2 = b.astype(int)
        assert out[y1:y2, x1:x2].min() == 255 and out.sum() == img.sum()


def test_augment_keeps_box_valid():
    rng = np.random.default_rng(0)
    img = np.random.default_rng(1).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    for _ in range(30):
        out, b = augment_satellite(img, np.array([20, 30, 60, 90.0]), rng)
        assert out.shape == (128, 128, 3) and out.dtype == np.uint8
        assert 0 <= b[0] < b[2] <= 128 and 0 <= b[1] < b[3] <= 128
