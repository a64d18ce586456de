"""The photo-metadata reader: the real DJI fixture against exiftool's reading, synthetic cases."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocgnet_geo.data.photo_meta import dji_xmp, pose_exif, save_jpeg
from ocgnet_geo.geo.photo_pose import PhotoMetaError, read_pose

DATA = Path(__file__).parent / "data"
DJI = DATA / "brighton_beach_dji_0018_small.jpg"
#: ``exiftool -j -n`` of the fixture (Debian's libimage-exiftool-perl 12.57, installed only to
#: make this file; the command is in the test below).
EXIFTOOL_JSON = DATA / "brighton_beach_dji_0018_small.exiftool.json"
EXIFTOOL_TAGS = [
    "-GPSLatitude", "-GPSLongitude", "-GPSAltitude", "-GPSAltitudeRef", "-DateTimeOriginal",
    "-FocalLength", "-FocalLengthIn35mmFormat", "-ImageWidth", "-ImageHeight", "-Orientation",
    "-Make", "-Model", "-XMP-drone-dji:all",
]  # fmt: skip


def _check_against_exiftool(pose, ref: dict) -> None:
    assert pose.lat == pytest.approx(ref["GPSLatitude"], abs=1e-9)
    assert pose.lon == pytest.approx(ref["GPSLongitude"], abs=1e-9)
    sign = -1 if ref["GPSAltitudeRef"] == 1 else 1
    assert pose.gps_altitude_m == pytest.approx(sign * ref["GPSAltitude"])
    assert pose.timestamp == ref["DateTimeOriginal"].replace(":", "-", 2).replace(" ", "T")
    assert pose.focal_mm == pytest.approx(ref["FocalLength"])
    assert pose.focal_35mm == pytest.approx(ref["FocalLengthIn35mmFormat"])
    assert (pose.width, pose.height) == (ref["ImageWidth"], ref["ImageHeight"])
    assert pose.orientation == ref["Orientation"]
    assert (pose.make, pose.model) == (ref["Make"], ref["Model"])
    pairs = {
        "gimbal_yaw_deg": "GimbalYawDegree",
        "gimbal_pitch_deg": "GimbalPitchDegree",
        "gimbal_roll_deg": "GimbalRollDegree",
        "flight_yaw_deg": "FlightYawDegree",
        "flight_pitch_deg": "FlightPitchDegree",
        "flight_roll_deg": "FlightRollDegree",
        "relative_altitude_m": "RelativeAltitude",
        "absolute_altitude_m": "AbsoluteAltitude",
    }
    for name, tag in pairs.items():
        assert getattr(pose, name) == pytest.approx(float(ref[tag])), name
        assert pose.sources[name] == f"XMP drone-dji:{tag}"


def test_dji_fixture_matches_exiftool_reading() -> None:
    pose = read_pose(DJI)
    _check_against_exiftool(pose, json.loads(EXIFTOOL_JSON.read_text())[0])
    assert pose.problems == ()
    assert pose.heading() == (45.0, "XMP drone-dji:GimbalYawDegree")
    assert pose.off_nadir_deg()[0] == pytest.approx(0.1)
    assert pose.height_above_ground_m() == (39.8, "XMP drone-dji:RelativeAltitude")
    # 20 mm equivalent over a 43.27 mm diagonal: ground resolution at 39.8 m ~ 1.9 cm at
    # the original 4000 px width (the fixture is 10x smaller)
    f_px, _ = pose.focal_px()
    assert 39.8 / (f_px * 10) == pytest.approx(0.0188, abs=5e-4)


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed")
def test_dji_fixture_matches_exiftool_now() -> None:
    out = subprocess.run(
        ["exiftool", "-j", "-n", *EXIFTOOL_TAGS, str(DJI)],
        capture_output=True,
        text=True,
        check=True,
    )
    _check_against_exiftool(read_pose(DJI), json.loads(out.stdout)[0])


def _photo(tmp_path: Path, name: str, exif=None, xmp=None, size=(64, 48)) -> Path:
    rgb = np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    return save_jpeg(tmp_path / name, rgb, exif=exif, xmp=xmp)


def test_no_metadata_at_all(tmp_path: Path) -> None:
    pose = read_pose(_photo(tmp_path, "plain.jpg"))
    assert (pose.width, pose.height) == (64, 48)
    assert not pose.has_gps and pose.heading() is None and pose.focal_px() is None
    assert pose.problems == ()


def test_no_gps_but_camera(tmp_path: Path) -> None:
    exif = pose_exif(focal_mm=4.5, focal_35mm=24, make="ACME", timestamp="2024:01:02 03:04:05")
    pose = read_pose(_photo(tmp_path, "nogps.jpg", exif=exif))
    assert not pose.has_gps and pose.gps_altitude_m is None
    assert pose.focal_mm == pytest.approx(4.5) and pose.focal_35mm == 24
    assert pose.timestamp == "2024-01-02T03:04:05"
    assert pose.sources["focal_35mm"] == "EXIF FocalLengthIn35mmFilm"


def test_gps_without_altitude(tmp_path: Path) -> None:
    pose = read_pose(_photo(tmp_path, "gps.jpg", exif=pose_exif(lat=47.25, lon=8.63)))
    assert pose.lat == pytest.approx(47.25, abs=1e-6) and pose.lon == pytest.approx(8.63, abs=1e-6)
    assert pose.gps_altitude_m is None and pose.height_above_ground_m() is None


@pytest.mark.parametrize(
    ("lat", "lon"), [(-33.8568, 151.2153), (40.6892, -74.0445), (-22.9519, -43.2105)]
)
def test_hemispheres(tmp_path: Path, lat: float, lon: float) -> None:
    exif = pose_exif(lat=lat, lon=lon, gps_altitude_m=-12.5)
    pose = read_pose(_photo(tmp_path, "h.jpg", exif=exif))
    assert pose.lat == pytest.approx(lat, abs=1e-6)
    assert pose.lon == pytest.approx(lon, abs=1e-6)
    assert pose.gps_altitude_m == pytest.approx(-12.5)  # GPSAltitudeRef 1: below sea level


def test_malformed_xmp_is_absent_not_raised(tmp_path: Path) -> None:
    broken = dji_xmp(GimbalYawDegree=90.0).replace("</rdf:Description>", "")
    pose = read_pose(_photo(tmp_path, "bad.jpg", exif=pose_exif(lat=1.0, lon=2.0), xmp=broken))
    assert pose.gimbal_yaw_deg is None and pose.heading() is None
    assert pose.has_gps  # the EXIF part still reads
    assert any("XMP" in p and "XML" in p for p in pose.problems)


def test_malformed_xmp_values(tmp_path: Path) -> None:
    xmp = dji_xmp(GimbalYawDegree=10.0, RelativeAltitude=50.0)
    xmp = xmp.replace('"+10.00"', '"north-ish"').replace('"+50.00"', '"1e309"')
    pose = read_pose(_photo(tmp_path, "vals.jpg", xmp=xmp))
    assert pose.gimbal_yaw_deg is None and pose.relative_altitude_m is None
    assert len(pose.problems) == 2


def test_malformed_exif_values(tmp_path: Path) -> None:
    exif = pose_exif(lat=10.0, lon=20.0, focal_mm=0.0, gps_refs=("Q", "E"))  # no "Q" latitude
    pose = read_pose(_photo(tmp_path, "exif.jpg", exif=exif))
    assert not pose.has_gps and pose.focal_mm is None
    assert any("GPSLatitudeRef" in p for p in pose.problems)
    assert any("FocalLength 0" in p for p in pose.problems)


def test_element_form_and_generic_namespaces(tmp_path: Path) -> None:
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:Camera="http://pix4d.com/camera/1.0/" '
        'xmlns:GPano="http://ns.google.com/photos/1.0/panorama/" GPano:PosePitchDegrees="-60">'
        "<Camera:Yaw>123.5</Camera:Yaw><GPano:PoseHeadingDegrees>200</GPano:PoseHeadingDegrees>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    pose = read_pose(_photo(tmp_path, "generic.jpg", xmp=xmp))
    assert pose.camera_yaw_deg == 123.5 and pose.pano_heading_deg == 200
    assert pose.heading() == (123.5, "XMP Camera:Yaw")
    assert pose.off_nadir_deg() == (30.0, "XMP GPano:PosePitchDegrees")


def test_rotated_orientation_turns_heading_and_size(tmp_path: Path) -> None:
    exif = pose_exif(orientation=6, focal_35mm=28)
    path = _photo(tmp_path, "rot.jpg", exif=exif, xmp=dji_xmp(GimbalYawDegree=30.0))
    pose = read_pose(path)
    assert pose.orientation == 6
    assert pose.display_size() == (48, 64)
    with Image.open(path) as im:  # the size the pipeline sees after exif_transpose
        from PIL import ImageOps

        assert ImageOps.exif_transpose(im).size == pose.display_size()
    assert pose.heading()[0] == pytest.approx(300.0)  # the stored top is shown on the right


def test_not_an_image_and_missing_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\xff\xd8\xff\xe1\x00\x10garbage-garbage")
    pose = read_pose(junk)
    assert pose.width is None and pose.problems
    with pytest.raises(PhotoMetaError, match="file not found"):
        read_pose(tmp_path / "nope.jpg")


def test_png_and_tiff_exif(tmp_path: Path) -> None:
    rgb = np.zeros((40, 50, 3), np.uint8)
    exif = pose_exif(lat=-1.5, lon=-2.5, focal_35mm=35).tobytes()
    for name in ("p.png", "p.tif"):
        Image.fromarray(rgb).save(tmp_path / name, exif=exif)
        pose = read_pose(tmp_path / name)
        assert pose.lat == pytest.approx(-1.5, abs=1e-6) and pose.focal_35mm == 35, name
