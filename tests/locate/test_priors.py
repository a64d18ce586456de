"""Priors from photo metadata: search area, scale and heading (no model needed)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import CRS, Transformer

from ocgnet_geo.data.photo_meta import dji_xmp, pose_exif, save_jpeg
from ocgnet_geo.geo.photo_pose import read_pose
from ocgnet_geo.locate.priors import (
    ALTITUDE_MARGIN,
    GPS_MARGIN_M,
    PriorsError,
    check_priors,
    click_ray,
    plan_priors,
)

UTM = CRS.from_epsg(32632)
CENTRE = (465_000.0, 5_247_000.0)  # a UTM 32N point near Zürich
FOOTPRINT = shapely.box(CENTRE[0] - 500, CENTRE[1] - 500, CENTRE[0] + 500, CENTRE[1] + 500)
TO_LONLAT = Transformer.from_crs(UTM, 4326, always_xy=True)


def _view(
    tmp_path: Path, name="v.jpg", dx=0.0, f35=24.0, yaw=30.0, pitch=-90.0, alt=50.0, gps=True
):
    lon, lat = TO_LONLAT.transform(CENTRE[0] + dx, CENTRE[1])
    exif = pose_exif(lat=lat if gps else None, lon=lon if gps else None, focal_35mm=f35)
    xmp = dji_xmp(GimbalYawDegree=yaw, GimbalPitchDegree=pitch, RelativeAltitude=alt)
    rgb = np.zeros((300, 400, 3), np.uint8)
    return read_pose(save_jpeg(tmp_path / name, rgb, exif=exif, xmp=xmp))


def _plan(pose, click=(200.0, 150.0), **kw):
    args = dict(
        footprint=FOOTPRINT, grid_crs=UTM, click_shown=click, shown_size=(400, 300),
        working_long_side=400, has_bbox=False, has_heading=False,
    )  # fmt: skip
    args.update(kw)
    return plan_priors(pose, "auto", **args)


def test_click_ray_geometry() -> None:
    assert click_ray(0.0, 100.0, (50, 50), (100, 100))[:2] == pytest.approx((0.0, 1.0))
    assert click_ray(45.0, 100.0, (50, 50), (100, 100))[0] == pytest.approx(1.0)
    # 30° pitch, click 50 px above the centre at f = 100 px: 30° + atan(0.5)
    assert click_ray(30.0, 100.0, (50, 0), (100, 100))[2] == pytest.approx(30 + 26.565, abs=1e-3)


def test_nadir_view_area_scale_heading(tmp_path: Path) -> None:
    pose = _view(tmp_path)
    plan = _plan(pose, click=(300.0, 150.0))
    assert {n: p.status for n, p in plan.priors.items()} == {
        "area": "used",
        "scale": "used",
        "heading": "used",
    }
    f_px = 24.0 * 500.0 / math.hypot(36, 24)  # 35 mm equivalent over the 500 px diagonal
    reach = 50.0 * 100.0 / f_px  # click 100 px right of the centre, straight down
    radius = reach * ALTITUDE_MARGIN + GPS_MARGIN_M
    cx, cy = plan.camera_xy
    assert (cx, cy) == pytest.approx(CENTRE, abs=0.01)
    # the area is the circle of that radius (polygonised) around the camera
    assert plan.area.area == pytest.approx(math.pi * radius**2, rel=0.01)
    assert plan.priors["area"].value["radius_m"] == pytest.approx(radius, abs=0.1)
    # working-photo ground resolution at the click: slant range / focal / sqrt(cos ray)
    slant, ray = math.hypot(50.0, reach), math.atan(100.0 / f_px)
    gsd = slant / f_px / math.sqrt(math.cos(ray))
    lo, hi = plan.photo_gsd_range_m
    assert math.sqrt(lo * hi) == pytest.approx(gsd, rel=1e-6)
    assert plan.heading == (30.0, 45.0)
    assert plan.warnings == []


def test_oblique_view_reaches_farther(tmp_path: Path) -> None:
    nadir = _plan(_view(tmp_path, "a.jpg")).priors["area"].value["radius_m"]
    oblique = _plan(_view(tmp_path, "b.jpg", pitch=-45.0)).priors["area"].value["radius_m"]
    assert oblique == pytest.approx(50.0 * ALTITUDE_MARGIN + GPS_MARGIN_M, abs=0.1)
    assert oblique > nadir


def test_gps_outside_raster_is_rejected_with_one_warning(tmp_path: Path) -> None:
    plan = _plan(_view(tmp_path, dx=5_000.0))
    assert plan.priors["area"].status == "rejected" and plan.area is None
    assert len(plan.warnings) == 1 and "outside" in plan.warnings[0]
    assert plan.priors["scale"].status == "used"  # the others still apply


def test_zero_focal_length(tmp_path: Path) -> None:
    plan = _plan(_view(tmp_path, f35=0.0))
    assert plan.priors["scale"].status == "absent" and plan.photo_gsd_range_m is None
    assert len(plan.warnings) == 1 and "FocalLengthIn35mmFilm 0" in plan.warnings[0]


def test_no_gps_no_metadata_and_overrides(tmp_path: Path) -> None:
    assert _plan(_view(tmp_path, gps=False)).priors["area"].status == "absent"
    plan = _plan(_view(tmp_path), has_bbox=True, has_heading=True)
    assert plan.priors["area"].status == "overridden" and plan.area is None
    assert plan.priors["heading"].status == "overridden" and plan.heading is None
    off = plan_priors(_view(tmp_path), "off", footprint=FOOTPRINT, grid_crs=UTM,
                      click_shown=(1, 1), shown_size=(400, 300), working_long_side=400,
                      has_bbox=False, has_heading=False)  # fmt: skip
    assert not off.narrowed and {p.status for p in off.priors.values()} == {"off"}


def test_area_in_web_mercator_is_metres_on_the_ground(tmp_path: Path) -> None:
    """EPSG:3857 units are ~1/cos(lat) ground metres: the circle must grow accordingly."""
    pose = _view(tmp_path)
    merc = CRS.from_epsg(3857)
    to_merc = Transformer.from_crs(4326, merc, always_xy=True)
    x, y = to_merc.transform(pose.lon, pose.lat)
    plan = _plan(pose, footprint=shapely.box(x - 2000, y - 2000, x + 2000, y + 2000), grid_crs=merc)
    radius_units = math.sqrt(plan.area.area / math.pi)
    expected = plan.priors["area"].value["radius_m"] / math.cos(math.radians(pose.lat))
    assert radius_units == pytest.approx(expected, rel=0.02)


def test_check_priors() -> None:
    assert check_priors("AUTO") == "auto" and check_priors(False) == "off"
    with pytest.raises(PriorsError, match="priors 'wrong': expected one of auto, off"):
        check_priors("wrong")


def test_cli_bad_priors_and_info_photo(tmp_path: Path) -> None:
    script = [sys.executable, "-m", "ocgnet_geo.cli"]
    bad = subprocess.run(
        [*script, "locate", "--query", "x.jpg", "--click", "1,1", "--raster", "r.tif",
         "--priors", "wrong"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "ocgnet-geo: error: priors 'wrong': expected one of auto, off"
    ]
    dji = Path(__file__).parents[1] / "geo" / "data" / "brighton_beach_dji_0018_small.jpg"
    info = subprocess.run([*script, "info", "--photo", str(dji)], capture_output=True, text=True)
    assert info.returncode == 0
    assert "relative_altitude_m: 39.8  (XMP drone-dji:RelativeAltitude)" in info.stdout
    missing = subprocess.run(
        [*script, "info", "--photo", str(tmp_path / "none.jpg")], capture_output=True, text=True
    )
    assert missing.returncode == 2 and "file not found" in missing.stderr
    assert "Traceback" not in missing.stderr


@pytest.mark.parametrize(
    ("verified_at", "calls", "statuses", "says"),
    [
        (0, 1, {"area": "widened", "scale": "used", "heading": "used"}, "found one"),
        (1, 2, {"area": "widened", "scale": "widened", "heading": "widened"}, "without them"),
        (9, 2, {"area": "widened", "scale": "widened", "heading": "widened"}, "without them"),
    ],
)
def test_fallback_widens_the_area_first_then_everything(
    tmp_path: Path, verified_at: int, calls: int, statuses: dict, says: str
) -> None:
    """After the narrowed search: first the whole raster with scale + heading, then (nothing
    verified) no prior; ``verified_at``: the fallback search whose best candidate verifies."""
    import warnings
    from types import SimpleNamespace

    from ocgnet_geo.locate.locator import Locator, PriorFallbackWarning

    plan = _plan(_view(tmp_path))
    seen = []

    def search(**kw):
        seen.append((kw["prior_area"] is None, kw["photo_gsd_range"] is None, kw["heading"]))
        refined = len(seen) - 1 >= verified_at
        return SimpleNamespace(candidates=[SimpleNamespace(refined=refined)])

    loc = Locator.__new__(Locator)
    loc._search = search
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loc._fall_back(plan, {}, None)
    assert len(seen) == calls
    assert seen[0] == (True, False, plan.heading)  # whole raster, scale and heading kept
    if calls == 2:
        assert seen[1] == (True, True, None)  # no prior at all
    assert {n: p.status for n, p in plan.priors.items()} == statuses
    lines = [str(w.message) for w in caught if issubclass(w.category, PriorFallbackWarning)]
    assert len(lines) == 1 and says in lines[0]
