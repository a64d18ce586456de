"""The locate pipeline's plumbing, with the deterministic BrightSpotModel double."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from PIL import Image

from ocgnet_geo.errors import BBoxOutsideRasterError, EmptySearchAreaError
from ocgnet_geo.geo.crs import transformer
from ocgnet_geo.geo.raster import open_raster
from ocgnet_geo.locate import Cancelled, LargeSearchWarning, Locator, TopKError, ViewMismatchError
from ocgnet_geo.locate.photo import ClickError, PhotoError
from tests.doubles import BrightSpotModel
from tests.geo.rasters import write_raster
from tests.locate.conftest import RASTERS, SPOT, SPOT_PX, spot_raster


def _spot_polygon(raster: Path) -> shapely.Polygon:
    """The bright square's outline in the raster's CRS."""
    info = open_raster(raster)
    col, row = SPOT
    corners = [
        info.transform @ (c, r)
        for c, r in (
            (col, row),
            (col + SPOT_PX, row),
            (col + SPOT_PX, row + SPOT_PX),
            (col, row + SPOT_PX),
        )
    ]
    return shapely.Polygon(corners)


def test_best_polygon_lands_on_the_object(any_spot_raster: Path, photo: Path) -> None:
    locator = Locator(BrightSpotModel())
    result = locator.locate(photo, (200, 150), any_spot_raster, top_k=3)
    info = open_raster(any_spot_raster)
    assert result.crs == info.crs
    best = result.candidates[0]
    assert best.rank == 1 and best.score > 10 * result.candidates[1].score
    truth = _spot_polygon(any_spot_raster)
    # within one pixel: corners compared in ground metres through the grid CRS
    grid_crs = best.tile_spec.crs
    to_grid = transformer(info.crs, grid_crs)
    got = np.array(to_grid.transform(*np.array(best.polygon.exterior.coords).T)).T
    want = np.array(to_grid.transform(*np.array(truth.exterior.coords).T)).T
    got_bounds = np.r_[got.min(0), got.max(0)]
    want_bounds = np.r_[want.min(0), want.max(0)]
    assert np.abs(got_bounds - want_bounds).max() <= 0.5 + 1e-6, (got_bounds, want_bounds)


def test_candidates_from_overlapping_tiles_merge(utm_spot_raster: Path, photo: Path) -> None:
    model = BrightSpotModel(tile_px=128)
    result = Locator(model).locate(photo, (10, 10), utm_spot_raster, top_k=50)
    tiles_seeing_spot = [c for c in result.candidates if c.score > 0.01]
    assert len(tiles_seeing_spot) == 1  # seen by several overlapping tiles, reported once
    polygons = result.polygons
    for i in range(len(polygons)):
        for j in range(i + 1, len(polygons)):
            inter = shapely.intersection(polygons[i], polygons[j]).area
            union = shapely.union(polygons[i], polygons[j]).area
            assert inter / union <= 0.5
    assert [c.rank for c in result.candidates] == list(range(1, len(result.candidates) + 1))
    assert np.all(np.diff([c.score for c in result.candidates]) <= 0)
    assert sum(c.score for c in result.candidates) <= 1.0 + 1e-9


def test_second_click_uses_the_feature_cache(utm_spot_raster: Path, photo: Path) -> None:
    model = BrightSpotModel()
    locator = Locator(model)
    first = locator.locate(photo, (10, 10), utm_spot_raster)
    encoded = model.encode_calls
    second = locator.locate(photo, (300, 200), utm_spot_raster)
    assert first.tiles_encoded == encoded > 0
    assert second.tiles_encoded == 0 and model.encode_calls == encoded
    assert second.candidates[0].polygon.equals(first.candidates[0].polygon)


def test_disk_cache_survives_a_new_locator(
    utm_spot_raster: Path, photo: Path, tmp_path: Path
) -> None:
    Locator(BrightSpotModel(), cache_dir=tmp_path / "cache").locate(
        photo, (10, 10), utm_spot_raster
    )
    model = BrightSpotModel()
    locator = Locator(model, cache_dir=tmp_path / "cache")
    result = locator.locate(photo, (10, 10), utm_spot_raster)
    assert model.encode_calls == 0 and result.tiles_encoded == 0 and locator.cache.disk_hits > 0


def test_changed_raster_is_not_served_from_cache(utm_spot_raster: Path, photo: Path) -> None:
    model = BrightSpotModel()
    locator = Locator(model)
    locator.locate(photo, (10, 10), utm_spot_raster)
    calls = model.encode_calls
    import os

    st = os.stat(utm_spot_raster)
    os.utime(utm_spot_raster, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    locator.locate(photo, (10, 10), utm_spot_raster)
    assert model.encode_calls == 2 * calls


def test_progress_and_cancel(utm_spot_raster: Path, photo: Path) -> None:
    seen: list[tuple[float, str]] = []
    Locator(BrightSpotModel()).locate(
        photo, (10, 10), utm_spot_raster, progress=lambda f, m: seen.append((f, m))
    )
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0) and len(seen) > 1
    checks = iter([False, True])
    model = BrightSpotModel()
    with pytest.raises(Cancelled):
        Locator(model).locate(photo, (10, 10), utm_spot_raster, cancel=lambda: next(checks))
    assert model.encode_calls == 1


def test_bbox_limits_the_search(utm_spot_raster: Path, photo: Path) -> None:
    model = BrightSpotModel()
    info = open_raster(utm_spot_raster)
    x, y = info.transform @ (SPOT[0] + 4, SPOT[1] + 4)
    result = Locator(model).locate(
        photo, (10, 10), utm_spot_raster, bbox=(x - 5, y - 5, x + 5, y + 5), bbox_crs=info.crs
    )
    assert result.tiles_searched == 1
    with pytest.raises(BBoxOutsideRasterError):
        Locator(model).locate(photo, (10, 10), utm_spot_raster, bbox=(0, 0, 1, 1))


def test_nodata_tiles_are_skipped(tmp_path: Path, photo: Path) -> None:
    crs, transform = RASTERS["utm"]
    data = np.zeros((3, 240, 320), np.uint8)
    data[:, :, :100] = 60
    path = write_raster(tmp_path / "half.tif", crs, transform, 320, 240, data=data, nodata=0)
    model = BrightSpotModel()
    result = Locator(model).locate(photo, (10, 10), path)
    assert 0 < result.tiles_encoded < result.tiles_searched
    empty = write_raster(
        tmp_path / "empty.tif",
        crs,
        transform,
        320,
        240,
        data=np.zeros((3, 240, 320), np.uint8),
        nodata=0,
    )
    with pytest.raises(EmptySearchAreaError, match="only nodata"):
        Locator(model).locate(photo, (10, 10), empty)


def test_large_search_warns_with_an_estimate(tmp_path: Path, photo: Path) -> None:
    raster = spot_raster(tmp_path / "big.tif", *RASTERS["utm"], size=(640, 640))
    with pytest.warns(LargeSearchWarning, match=r"tiles .*min"):
        Locator(BrightSpotModel(tile_px=64)).locate(photo, (10, 10), raster)


def test_exports(utm_spot_raster: Path, photo: Path, tmp_path: Path) -> None:
    result = Locator(BrightSpotModel()).locate(photo, (200, 150), utm_spot_raster, top_k=2)
    doc = json.loads(result.to_geojson(tmp_path / "r.geojson").read_text())
    assert [f["properties"]["rank"] for f in doc["features"]] == [1, 2]
    props = doc["features"][0]["properties"]
    assert (
        props["click_x"] == 200
        and props["view"] == "drone"
        and props["model"] == "bright-spot-double"
    )
    assert props["raster"] == str(utm_spot_raster) and props["query"] == str(photo)
    frame = pyogrio.read_dataframe(result.to_gpkg(tmp_path / "r.gpkg"))
    assert frame.crs.to_epsg() == 32632 and len(frame) == 2
    assert result.to_geodataframe().crs.to_epsg() == 32632
    raster_doc = result.geojson(crs="raster")
    assert (
        raster_doc["features"][0]["geometry"]["coordinates"][0][0][0] > 1000
    )  # UTM metres, not degrees
    png = result.overlay(tmp_path / "overlay.png")
    with Image.open(png) as im:
        assert im.format == "PNG" and im.width > 900


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"query": "missing.jpg"}, PhotoError, "not found"),
        ({"click": (500, 10)}, ClickError, "outside photo"),
        ({"click": "a,b"}, ClickError, "two numbers"),
        ({"top_k": 0}, TopKError, "top_k"),
        ({"view": "ground"}, ViewMismatchError, "drone"),
    ],
)
def test_bad_input(
    utm_spot_raster: Path, photo: Path, kwargs: dict, error: type, message: str
) -> None:
    args = {"query": photo, "click": (10, 10), "raster": utm_spot_raster, **kwargs}
    with pytest.raises(error, match=message) as err:
        Locator(BrightSpotModel()).locate(**args)
    assert "\n" not in str(err.value)


def test_photo_that_is_not_an_image_or_tiny(tmp_path: Path, utm_spot_raster: Path) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    with pytest.raises(PhotoError, match="not an image"):
        Locator(BrightSpotModel()).locate(text, (1, 1), utm_spot_raster)
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (20, 40)).save(tiny)
    with pytest.raises(PhotoError, match="too small"):
        Locator(BrightSpotModel()).locate(tiny, (1, 1), utm_spot_raster)


def test_exif_orientation_and_click_scaling(tmp_path: Path) -> None:
    from ocgnet_geo.locate.photo import prepare_query

    image = Image.new("RGB", (400, 200), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 40, 20))  # white patch in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif.tobytes())
    q = prepare_query(path, (150, 20), (64, 64))
    assert q.original_size == (200, 400)  # displayed upright: 200 wide, 400 tall
    assert q.click == pytest.approx((150 * 64 / 200, 20 * 64 / 400))
    assert q.rgb[:3, -6:].mean() > 200  # the white patch is now at the displayed top-right


def test_warning_free_on_small_searches(utm_spot_raster: Path, photo: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Locator(BrightSpotModel()).locate(photo, (10, 10), utm_spot_raster)
