from __future__ import annotations

from pathlib import Path

import pytest

from ocgnet_geo.errors import InputError
from ocgnet_geo.models.errors import ModelConfigError
from ocgnet_geo.models.ocgnet.config import OFFICIAL_ANCHORS, ModelConfig


def test_defaults_follow_the_paper_and_arch() -> None:
    drone, ground = ModelConfig(view="drone"), ModelConfig(view="ground")
    assert (drone.sigma, ground.sigma) == (0.075, 0.15)
    assert (drone.query_hw, ground.query_hw) == ((256, 256), (256, 512))
    assert drone.clickmap == "gaussian" and drone.mhca and drone.location_enhancement
    det = ModelConfig(arch="detgeo")
    assert det.clickmap == "detgeo" and not det.mhca and not det.location_enhancement
    assert ModelConfig.official("ocgnet", "ground").sigma == 0.10
    assert drone.grid_size == 64 and drone.anchors == OFFICIAL_ANCHORS


def test_json_round_trip(tmp_path: Path) -> None:
    cfg = ModelConfig(view="ground", mhca=False, learnable_sigma=True, tile_gsd_m=0.3)
    path = tmp_path / "c.json"
    cfg.save(path)
    assert ModelConfig.load(path) == cfg
    light = ModelConfig.light("drone")
    assert ModelConfig.from_json(light.to_json()) == light
    assert light.tile_size == 512 and light.anchors[0] == (275, 286)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"arch": "yolo"}, "arch 'yolo'"),
        ({"view": "satellite"}, "view"),
        ({"arch": "detgeo", "mhca": True}, "detgeo"),
        ({"sigma": 0.0}, "sigma"),
        ({"clickmap": "detgeo", "learnable_sigma": True}, "learnable_sigma"),
        ({"tile_size": 1000}, "tile_size"),
        ({"anchors": ((1, 1),)}, "anchors"),
    ],
)
def test_invalid_values_raise_one_line_errors(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ModelConfigError, match=fragment) as info:
        ModelConfig(**kwargs)
    assert isinstance(info.value, InputError) and "\n" not in str(info.value)


def test_bad_json_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"arch": "ocgnet", "colour": 3}')
    with pytest.raises(ModelConfigError, match=r"bad\.json: unknown config keys \['colour'\]"):
        ModelConfig.load(bad)
    bad.write_text("{not json")
    with pytest.raises(ModelConfigError, match=r"bad\.json: not valid JSON"):
        ModelConfig.load(bad)
    with pytest.raises(ModelConfigError, match=r"missing\.json: cannot read"):
        ModelConfig.load(tmp_path / "missing.json")
