"""The registration stage's geometry: hypotheses, photo turns and reductions, headings,
windows over a search area, outlines carried through a homography."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import CRS

from ocgnet_geo.geo.tile import TileSpec
from ocgnet_geo.locate.register import (
    Registration,
    hypotheses,
    rotations_for_heading,
    turned_and_scaled,
)
from ocgnet_geo.locate.registration_stage import (
    RegisterModeError,
    area_window,
    check_outline,
    check_register,
    photo_scales,
    registered_outline,
)


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_turned_and_scaled_moves_a_marked_pixel_where_its_map_says(rotation, scale) -> None:
    """A 2x2 block of bright pixels: its centre, mapped by the returned affine, is the centre
    of the bright block in the turned and reduced image (an oracle from the pixels)."""
    image = np.zeros((40, 60, 3), dtype=np.uint8)
    image[10:12, 44:46] = 255  # block centre at continuous (45, 11)
    out, a = turned_and_scaled(image, rotation, scale)
    expected_shape = (40, 60) if rotation in (0, 180) else (60, 40)
    assert out.shape[:2] == tuple(round(s * scale) for s in expected_shape)
    rows, cols = np.nonzero(out[..., 0] > 60)
    weights = out[rows, cols, 0].astype(float)
    centre = (np.average(cols + 0.5, weights=weights), np.average(rows + 0.5, weights=weights))
    mapped = a @ np.array([45.0, 11.0, 1.0])
    assert mapped[:2] == pytest.approx(centre, abs=0.3)


def test_turn_direction_is_clockwise() -> None:
    """Turning clockwise by 90 puts the image's top-left corner at the top-right."""
    image = np.zeros((20, 30, 3), dtype=np.uint8)
    image[0, 0] = 255
    out, _ = turned_and_scaled(image, 90, 1.0)
    assert out[0, -1, 0] == 255


def test_hypotheses_sift_once_xfeat_every_turn_and_scale() -> None:
    assert hypotheses("sift") == [(0, 1.0)]
    xfeat = hypotheses("xfeat")
    assert len(xfeat) == 12 and xfeat[:4] == [(0, 1.0), (90, 1.0), (180, 1.0), (270, 1.0)]
    assert hypotheses("xfeat", [90], [0.5]) == [(90, 0.5)]


def test_rotations_for_heading_nearest_first() -> None:
    # a photo whose top faces 100 deg becomes north-up when turned clockwise by ~260 deg
    assert rotations_for_heading((100.0, 10.0)) == [270]
    assert rotations_for_heading((100.0, 60.0))[0] == 270
    assert set(rotations_for_heading(None)) == {0, 90, 180, 270}
    assert rotations_for_heading((0.0, 180.0)) == [0, 90, 270, 180]


def test_photo_scales_nearest_ladder_step_first() -> None:
    assert photo_scales(None) is None
    assert photo_scales(0.3)[0] == pytest.approx(0.3)
    assert photo_scales(5.0)[0] == 1.0
    assert photo_scales(float("nan")) is None


def test_modes_are_checked_in_one_line() -> None:
    assert check_register(None) == "auto" and check_outline(None) == "both"
    with pytest.raises(RegisterModeError, match="register 'orb'"):
        check_register("orb")
    with pytest.raises(RegisterModeError, match="outline 'box'"):
        check_outline("box")


def _reference(gsd=0.5) -> TileSpec:
    t = Affine(gsd, 0, 500000.0, 0, -gsd, 5000000.0)
    return TileSpec("t", CRS.from_epsg(32632), t, 512, 512, gsd)


class _Info:
    pixel_size_m = (0.15, 0.15)


def test_area_window_follows_the_raster_resolution() -> None:
    """A 200 m area of a 0.15 m raster is registered at 0.15 m (not the tiles' 0.5 m); a
    1 km area at 1000 / 2048 m; a 5 km area not as one window."""
    small = area_window(shapely.box(500000, 4999800, 500200, 5000000), _reference(), _Info())
    assert small.gsd_m == pytest.approx(0.15) and small.width == pytest.approx(200 / 0.15, abs=1)
    assert small.transform @ (0, 0) == pytest.approx((500000, 5000000))
    km = area_window(shapely.box(500000, 4999000, 501000, 5000000), _reference(), _Info())
    assert km.gsd_m == pytest.approx(1000 / 2048) and max(km.width, km.height) <= 2048
    assert area_window(shapely.box(500000, 4995000, 505000, 5000000), _reference(), _Info()) is None


def test_area_window_in_web_mercator_uses_ground_metres() -> None:
    """EPSG:3857 units are 1/cos(lat) ground metres: the window's gsd_m is ground metres."""
    factor = 1.466  # ~47 N
    t = Affine(0.5 * factor, 0, 900000.0, 0, -0.5 * factor, 5900000.0)
    ref = TileSpec("t", CRS.from_epsg(3857), t, 512, 512, 0.5)
    area = shapely.box(900000, 5900000 - 300 * factor, 900000 + 300 * factor, 5900000)
    window = area_window(area, ref, _Info())
    assert window.gsd_m == pytest.approx(0.15)
    assert window.transform.a == pytest.approx(0.15 * factor)


def _registration(h: np.ndarray) -> Registration:
    return Registration(h, 50, 100, "sift", 1.0, 0.5, 0, 1.0, 0.99, (0.0, 0.0))


def test_outline_carried_through_the_homography_to_the_map() -> None:
    """A pure scaling homography (window px = 2 x photo px + 10): the photo hull lands where
    the window transform puts those pixels; the footprint covers the mapped photo corners."""
    h = np.array([[2.0, 0, 10], [0, 2.0, 10], [0, 0, 1]])
    window = TileSpec("w", CRS.from_epsg(32632), Affine(0.5, 0, 1000, 0, -0.5, 2000), 400, 400, 0.5)
    hull = np.array([[10, 10], [30, 10], [30, 20], [10, 20]], dtype=float)
    placed = registered_outline(window, None, _registration(h), (100, 80), hull, "photo")
    assert placed.outline_source == "photo"
    # photo (10, 10) -> window (30, 30) -> map (1015, 1985); photo (30, 20) -> (70, 50) -> (1035, 1975)
    assert placed.outline.bounds == pytest.approx((1015, 1975, 1035, 1985))
    assert placed.footprint.bounds == pytest.approx((1005, 1915, 1105, 1995))
    assert placed.box_px == pytest.approx((30, 30, 70, 50))


def test_outline_without_a_segment_is_a_small_square_at_the_click() -> None:
    h = np.array([[2.0, 0, 10], [0, 2.0, 10], [0, 0, 1]])
    window = TileSpec("w", CRS.from_epsg(32632), Affine(0.5, 0, 1000, 0, -0.5, 2000), 400, 400, 0.5)
    reg = Registration(h, 50, 100, "sift", 1.0, 0.5, 0, 1.0, 0.99, (110.0, 90.0))
    placed = registered_outline(window, None, reg, (100, 80), None, "photo")
    assert placed.outline_source == "fallback"
    assert placed.outline.centroid.coords[0] == pytest.approx((1055, 1955))
