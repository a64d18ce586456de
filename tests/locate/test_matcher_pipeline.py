"""The bundled matcher through the whole pipeline on the committed Zürich crop: the heading
convention, heading hints, geometric refinement, bad input, and candidates only where the
search looked (nodata, outside the raster, outside the bbox)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from PIL import Image
from rasterio.windows import Window

from ocgnet_geo.cli import main
from ocgnet_geo.cli.demo import demo_case
from ocgnet_geo.locate import Locator

CENTRE_PX = (130, 300)  # (col, row) of a roof corner area of the crop, textured


@pytest.fixture(scope="module")
def locator() -> Locator:
    return Locator.demo(threads=2)


def _photo(
    tmp_path: Path,
    heading: float,
    size: int = 160,
    zoom: float = 1.0,
    raster: Path | None = None,
) -> tuple[Path, tuple[float, float], tuple[float, float]]:
    """A nadir "photo" of the crop around CENTRE_PX whose top faces ``heading`` (degrees
    clockwise from north): the map turned counter-clockwise by ``heading``. Returns the file,
    the click (photo centre) and the clicked point in EPSG:2056."""
    raster = raster or demo_case().raster
    col, row = CENTRE_PX
    half = size
    with rasterio.open(raster) as ds:
        data = ds.read(window=Window(col - half, row - half, 2 * half, 2 * half), boundless=True)
        x, y = ds.transform * (col, row)
    big = Image.fromarray(np.moveaxis(data, 0, -1)).rotate(heading, Image.Resampling.BILINEAR)
    if zoom != 1.0:
        big = big.resize(
            (round(big.width * zoom), round(big.height * zoom)), Image.Resampling.BICUBIC
        )
    c = big.width / 2
    photo = big.crop(
        (c - size / 2 * zoom, c - size / 2 * zoom, c + size / 2 * zoom, c + size / 2 * zoom)
    )
    path = tmp_path / f"photo_{heading:g}.png"
    photo.save(path)
    return path, (photo.width / 2, photo.height / 2), (x, y)


@pytest.mark.parametrize("heading", [0.0, 100.0, 240.0])
def test_heading_convention_and_location(locator, tmp_path, heading) -> None:
    photo, click, (x, y) = _photo(tmp_path, heading)
    res = locator.locate(photo, click, demo_case().raster, refine="none")
    best = res.candidates[0]
    cx, cy = best.polygon.centroid.coords[0]
    assert np.hypot(cx - x, cy - y) < 4.0  # metres (8 px at 0.5 m)
    diff = (best.heading_deg - heading + 180) % 360 - 180
    assert abs(diff) <= 20


def test_heading_hint_narrows_the_search(locator, tmp_path) -> None:
    photo, click, _ = _photo(tmp_path, 100.0)
    raster = demo_case().raster
    hinted = locator.locate(photo, click, raster, refine="none", heading="100±20", register="off")
    assert abs(((hinted.candidates[0].heading_deg - 100) + 180) % 360 - 180) <= 20
    wrong = locator.locate(photo, click, raster, refine="none", heading="280±20", register="off")
    assert all(abs(((c.heading_deg - 280) + 180) % 360 - 180) <= 20 for c in wrong.candidates)
    assert wrong.candidates[0].score < hinted.candidates[0].score


def test_geometric_refinement_moves_and_marks_candidates(locator, tmp_path) -> None:
    photo, click, (x, y) = _photo(tmp_path, 30.0, size=200, zoom=2.0)  # a finer photo
    res = locator.locate(photo, click, demo_case().raster, register="off")
    best = res.candidates[0]
    assert best.refined and best.inliers >= 15 and res.refine == "geometric"
    cx, cy = best.polygon.centroid.coords[0]
    assert np.hypot(cx - x, cy - y) < 1.5
    assert sum(c.score for c in res.candidates) <= 1 + 1e-9
    record = res.records()[0]
    assert record["refined"] is True and record["inliers"] == best.inliers


@pytest.mark.parametrize("heading", [30.0, 200.0])
def test_registration_carries_the_click_onto_the_map(locator, tmp_path, heading) -> None:
    """A rendered view at any heading registers (SIFT or XFeat): the clicked point's true
    position lies inside the outline, the outline is near it, and the footprint holds it."""
    photo, click, (x, y) = _photo(tmp_path, heading, size=200, zoom=2.0)
    res = locator.locate(photo, click, demo_case().raster)
    best = res.candidates[0]
    assert res.status == "registered" and best.registered and best.score >= 0.5
    assert best.polygon.buffer(1.0).contains(shapely.Point(x, y))
    assert res.photo_footprint.contains(shapely.Point(x, y))
    assert res.records()[0]["method"] in ("sift", "xfeat")


@pytest.mark.parametrize("heading", [0.0, 90.0])
def test_boxes_take_the_clicked_object_s_proportions(locator, tmp_path, heading) -> None:
    """A red roof four times longer east-west than north-south painted into the crop: seen
    from any heading, the box is wider than tall in the map, refined or not."""
    out = tmp_path / "long_roof.tif"
    with rasterio.open(demo_case().raster) as ds:
        data, profile = ds.read(), ds.profile
    col, row = CENTRE_PX
    data[:, row - 6 : row + 6, col - 24 : col + 24] = np.array([200, 40, 30])[:, None, None]
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data)
    photo, click, _ = _photo(tmp_path, heading, size=200, zoom=2.0, raster=out)
    for refine in ("none", "geometric"):
        res = locator.locate(photo, click, out, refine=refine)
        x0, y0, x1, y1 = res.candidates[0].polygon.bounds
        assert (x1 - x0) / (y1 - y0) > 1.4, (refine, res.candidates[0].refined)


def test_candidates_only_on_valid_pixels_and_inside_the_bbox(locator, tmp_path) -> None:
    """A raster whose left half is nodata, smaller than one 512-px tile, and a bbox in the
    middle of a tile: no candidate centre falls on nodata or outside the bbox."""
    src = demo_case().raster
    out = tmp_path / "half.tif"
    with rasterio.open(src) as ds:
        data, profile = ds.read(), ds.profile
    data[:, :, : data.shape[2] // 2] = 0
    profile.update(nodata=0)
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data)
    photo, click, _ = _photo(tmp_path, 0.0)
    res = locator.locate(photo, click, out, top_k=5, refine="none")
    with rasterio.open(out) as ds:
        left_edge = ds.transform @ (data.shape[2] // 2, 0)
        b = ds.bounds
    for c in res.candidates:
        cx, cy = c.polygon.centroid.coords[0]
        assert cx >= left_edge[0] - 1 and b.bottom <= cy <= b.top
    bbox = (b.left + 40, b.bottom + 60, b.left + 110, b.bottom + 200)
    res = locator.locate(photo, click, src, bbox=bbox, bbox_crs="EPSG:2056", refine="none")
    for c in res.candidates:
        cx, cy = c.polygon.centroid.coords[0]
        assert bbox[0] <= cx <= bbox[2] and bbox[1] <= cy <= bbox[3]


def _run(args: list[str], capsys) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--heading", "north"], "heading 'north'"),
        (["--refine", "sift"], "refine 'sift'"),
        (["--view", "ground"], "view 'ground'"),
    ],
)
def test_bad_matcher_flags_are_one_line_exit_2(tmp_path, capsys, extra, needle) -> None:
    case = demo_case()
    out = tmp_path / "r.geojson"
    code, err = _run(
        [
            "locate",
            "--query",
            str(case.query),
            "--click",
            "262,228",
            "--raster",
            str(case.raster),
            "--out",
            str(out),
            *extra,
        ],
        capsys,
    )
    assert code == 2 and len(err.splitlines()) == 1 and needle in err, err
    assert not out.exists()
    if "ground" in needle:
        assert "OCGNet" in err
