"""Numbers are checked where they enter: gsd, bbox, weights and model outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ocgnet_geo.cli import main
from tests.cli.conftest import locate_args

_locate = locate_args


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--gsd", "0"], "gsd 0: "),
        (["--gsd", "1e9"], "gsd 1e+09: "),
        (["--gsd", "nan"], "gsd nan: "),
        (["--gsd", "-0.5"], "gsd -0.5: "),
        (["--bbox", "8.5,47.3,8.6,91"], "maxy 91 is outside the latitude range -90..90"),
        (["--bbox=-181,47.3,8.6,47.4"], "minx -181 is outside the longitude range"),
        (["--bbox", "8.5,47.3,8.6,inf"], "finite"),
        (
            ["--bbox", "830000,5200000,3000000,5210000", "--bbox-crs", "EPSG:32632"],
            "maxx 3000000 lies 2166021.443 CRS units beyond the x (easting) end",
        ),
    ],
)
def test_bad_numbers_are_one_line_errors(
    extra: list[str],
    words: str,
    photo: Path,
    utm_spot_raster: Path,
    light_weights: Path,
    capsys,
) -> None:
    code = main(_locate(photo, utm_spot_raster, light_weights, *extra))
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and words in err, err


def test_a_projected_bbox_that_cannot_be_transformed_is_one_line(
    photo: Path, utm_spot_raster: Path, light_weights: Path, capsys
) -> None:
    from ocgnet_geo.errors import InvalidBBoxError
    from ocgnet_geo.geo.grid import search_area
    from ocgnet_geo.geo.raster import open_raster

    info = open_raster(utm_spot_raster)
    with pytest.raises(InvalidBBoxError):  # far outside where EPSG:3857 maps back to the UTM zone
        search_area(info, info.crs, (-3e7, -3e7, 3e7, 3e7), "EPSG:3857")


def test_nan_weights_are_refused_at_load(
    photo: Path, utm_spot_raster: Path, tmp_path: Path, capsys
) -> None:
    import torch

    from ocgnet_geo.models.ocgnet import ModelConfig, OCGNet, save_model

    net = OCGNet(
        ModelConfig.from_dict({**ModelConfig.light(tile_size=256).to_dict(), "tile_gsd_m": 0.5})
    ).eval()
    with torch.no_grad():
        next(net.parameters()).fill_(float("nan"))
    weights = tmp_path / "nan.safetensors"
    save_model(net, weights)
    code = main(_locate(photo, utm_spot_raster, weights))
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "non-finite values" in err, err


def test_non_finite_model_outputs_stop_before_geometry(utm_spot_raster: Path, photo: Path) -> None:
    from ocgnet_geo.locate import Locator
    from ocgnet_geo.locate.tile_model import NonFiniteOutputError, TileHits
    from tests.doubles import BrightSpotModel

    class NaNModel(BrightSpotModel):
        def find(self, query_rgb, click, features, k):
            hits = super().find(query_rgb, click, features, k)
            return TileHits(hits.boxes * np.nan, hits.logits, hits.log_partition, hits.attention)

    with pytest.raises(NonFiniteOutputError, match="non-finite outputs"):
        Locator(NaNModel()).locate(photo, (10, 10), utm_spot_raster)


def test_sigma_with_our_weights_warns(
    photo: Path, utm_spot_raster: Path, light_weights: Path, capsys
) -> None:
    assert main(_locate(photo, utm_spot_raster, light_weights, "--sigma", "0.2")) == 0
    err = capsys.readouterr().err
    assert "ocgnet-geo: warning: --sigma 0.2: ignored" in err, err
