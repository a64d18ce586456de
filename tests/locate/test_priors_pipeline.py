"""The priors in the pipeline, with the bundled matcher on the bundled demo case."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import shapely
from PIL import Image
from pyproj import Transformer

from ocgnet_geo.data.photo_meta import pose_exif, save_jpeg

DEMO = Path(__file__).parents[2] / "ocgnet_geo" / "assets" / "demo"


@pytest.fixture(scope="module")
def demo():
    from ocgnet_geo.locate import Locator

    meta = json.loads((DEMO / "demo.json").read_text())
    truth = shapely.Polygon(meta["object"]["polygon"])
    return Locator.demo(), meta, truth


def _with_gps(tmp_path: Path, dx_m: float, name: str) -> Path:
    x, y = shapely.Polygon(
        json.loads((DEMO / "demo.json").read_text())["object"]["polygon"]
    ).centroid.coords[0]
    lon, lat = Transformer.from_crs(2056, 4326, always_xy=True).transform(x + dx_m, y)
    rgb = np.asarray(Image.open(DEMO / "query.jpg").convert("RGB"))
    return save_jpeg(tmp_path / name, rgb, exif=pose_exif(lat=lat, lon=lon))


def test_gps_outside_raster_warns_and_searches_everything(demo, tmp_path: Path) -> None:
    from ocgnet_geo.locate import PriorWarning

    loc, meta, truth = demo
    photo = _with_gps(tmp_path, 50_000.0, "far.jpg")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = loc.locate(photo, meta["click"], DEMO / meta["raster"], top_k=1)
    lines = [str(w.message) for w in caught if issubclass(w.category, PriorWarning)]
    assert len(lines) == 1 and "outside raster" in lines[0]
    assert result.priors.priors["area"].status == "rejected"
    assert result.candidates[0].polygon.intersects(truth)
    doc = json.loads(result.to_geojson(tmp_path / "r.geojson").read_text())
    assert doc["ocgnet"]["priors"]["area"]["status"] == "rejected"


def test_gps_near_object_narrows_area_and_off_ignores_it(demo, tmp_path: Path) -> None:
    loc, meta, truth = demo
    photo = _with_gps(tmp_path, 10.0, "near.jpg")
    on = loc.locate(photo, meta["click"], DEMO / meta["raster"], top_k=1)
    assert on.priors.priors["area"].status in ("used", "widened")
    assert on.priors.priors["scale"].status == "absent"  # no altitude
    assert on.candidates[0].polygon.intersects(truth)
    off = loc.locate(photo, meta["click"], DEMO / meta["raster"], top_k=1, priors="off")
    assert off.priors.priors["area"].status == "off"
    assert off.candidates[0].polygon.intersects(truth)
