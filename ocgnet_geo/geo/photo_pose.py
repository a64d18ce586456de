"""What a photo knows about where it was taken: EXIF + XMP metadata as one :class:`PhotoPose`.

Read with Pillow (already a dependency; no exiftool binary, no other library):

* **EXIF** (JPEG APP1, TIFF IFD0, PNG ``eXIf``, WebP): GPS latitude/longitude (degrees,
  EPSG:4326, south and west negative from their ``Ref`` tags), GPS altitude (metres above
  sea level, ``GPSAltitudeRef`` 1 = below), the timestamp (``DateTimeOriginal``, else
  ``DateTime``; the local time the camera recorded, with ``OffsetTimeOriginal`` when given),
  focal length (mm) and its 35 mm equivalent, the focal-plane resolution (-> sensor width,
  mm), make, model and orientation (1-8).
* **XMP** (JPEG APP1 ``http://ns.adobe.com/xap/1.0/``, TIFF tag 700, PNG ``iTXt``): DJI's
  ``drone-dji:`` GimbalYaw/Pitch/RollDegree, FlightYaw/Pitch/RollDegree, RelativeAltitude
  (metres above the take-off point), AbsoluteAltitude (metres, as the aircraft reports it);
  the generic ``Camera:`` Yaw/Pitch/Roll (Pix4D's camera namespace) and ``GPano:``
  PoseHeadingDegrees/PosePitchDegrees/PoseRollDegrees, as attributes or elements.

HEIC/HEIF is not read (Pillow cannot open it without a plugin): such a photo is refused by the
pipeline anyway.

Every value is optional and names its source (``sources[field]``, e.g. ``"EXIF GPSLatitude"``
or ``"XMP drone-dji:GimbalYawDegree"``). Metadata that is there but unusable (a zero
denominator, a latitude of 300°, XMP that is not XML) never raises: the value is reported
absent and the reason is listed in ``problems``.

Angles are degrees: yaw/heading clockwise from north; DJI gimbal pitch 0 = horizon, -90 =
straight down (GPano likewise); :meth:`PhotoPose.off_nadir_deg` turns it into the angle from
straight down.
"""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ocgnet_geo.errors import InputError

#: XMP namespaces read.
NS_DJI = "http://www.dji.com/drone-dji/1.0/"
NS_CAMERA = "http://pix4d.com/camera/1.0/"
NS_GPANO = "http://ns.google.com/photos/1.0/panorama/"
_XMP_APP1 = b"http://ns.adobe.com/xap/1.0/\x00"
#: Diagonal of a 36 x 24 mm frame: a 35 mm-equivalent focal length relates to the diagonal
#: of the image (CIPA DC-008), so f_px = f35 x diagonal_px / 43.27.
FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)

# (field, namespace, local name) of the XMP values read, all floats
_XMP_FIELDS = (
    ("gimbal_yaw_deg", NS_DJI, "GimbalYawDegree", "drone-dji"),
    ("gimbal_pitch_deg", NS_DJI, "GimbalPitchDegree", "drone-dji"),
    ("gimbal_roll_deg", NS_DJI, "GimbalRollDegree", "drone-dji"),
    ("flight_yaw_deg", NS_DJI, "FlightYawDegree", "drone-dji"),
    ("flight_pitch_deg", NS_DJI, "FlightPitchDegree", "drone-dji"),
    ("flight_roll_deg", NS_DJI, "FlightRollDegree", "drone-dji"),
    ("relative_altitude_m", NS_DJI, "RelativeAltitude", "drone-dji"),
    ("absolute_altitude_m", NS_DJI, "AbsoluteAltitude", "drone-dji"),
    ("camera_yaw_deg", NS_CAMERA, "Yaw", "Camera"),
    ("camera_pitch_deg", NS_CAMERA, "Pitch", "Camera"),
    ("camera_roll_deg", NS_CAMERA, "Roll", "Camera"),
    ("pano_heading_deg", NS_GPANO, "PoseHeadingDegrees", "GPano"),
    ("pano_pitch_deg", NS_GPANO, "PosePitchDegrees", "GPano"),
    ("pano_roll_deg", NS_GPANO, "PoseRollDegrees", "GPano"),
)
# plausible ranges: a value outside is malformed, not a pose
_RANGES = {
    "deg": (-360.0, 360.0),
    "altitude": (-1000.0, 100_000.0),
}


class PhotoMetaError(InputError):
    """Raised only by :func:`read_pose` for a photo path that is not a file."""


@dataclass(frozen=True)
class PhotoPose:
    """A photo's metadata, every value optional. Units: degrees, metres, millimetres, pixels.

    ``width``/``height`` are the stored pixels (before EXIF orientation); ``lat``/``lon`` are
    EPSG:4326 degrees; ``gps_altitude_m`` metres above sea level; ``relative_altitude_m``
    metres above the take-off point (DJI); ``sources`` names where each present value came
    from; ``problems`` lists metadata found but not usable (reported absent)."""

    path: str
    format: str | None = None
    width: int | None = None
    height: int | None = None
    orientation: int | None = None
    make: str | None = None
    model: str | None = None
    timestamp: str | None = None
    lat: float | None = None
    lon: float | None = None
    gps_altitude_m: float | None = None
    focal_mm: float | None = None
    focal_35mm: float | None = None
    sensor_width_mm: float | None = None
    gimbal_yaw_deg: float | None = None
    gimbal_pitch_deg: float | None = None
    gimbal_roll_deg: float | None = None
    flight_yaw_deg: float | None = None
    flight_pitch_deg: float | None = None
    flight_roll_deg: float | None = None
    relative_altitude_m: float | None = None
    absolute_altitude_m: float | None = None
    camera_yaw_deg: float | None = None
    camera_pitch_deg: float | None = None
    camera_roll_deg: float | None = None
    pano_heading_deg: float | None = None
    pano_pitch_deg: float | None = None
    pano_roll_deg: float | None = None
    sources: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    # --- derived values the priors use -----------------------------------------------------

    @property
    def has_gps(self) -> bool:
        return self.lat is not None and self.lon is not None

    def display_size(self) -> tuple[int, int] | None:
        """(width, height) as shown, after the EXIF orientation (5-8 swap the sides)."""
        if self.width is None or self.height is None:
            return None
        if self.orientation in (5, 6, 7, 8):
            return self.height, self.width
        return self.width, self.height

    def heading(self) -> tuple[float, str] | None:
        """(degrees clockwise from north that the *displayed* photo's top faces, source):
        the gimbal yaw, else the flight yaw, else ``Camera:Yaw``, else ``GPano`` heading;
        the EXIF orientation turns it (6: the stored top is shown on the right, so the shown
        top faces yaw - 90°; 8: yaw + 90°; 3: yaw + 180°)."""
        for name in ("gimbal_yaw_deg", "flight_yaw_deg", "camera_yaw_deg", "pano_heading_deg"):
            value = getattr(self, name)
            if value is not None:
                turn = {3: 180.0, 4: 180.0, 6: -90.0, 5: -90.0, 8: 90.0, 7: 90.0}
                return (value + turn.get(self.orientation or 1, 0.0)) % 360.0, self.sources[name]
        return None

    def off_nadir_deg(self) -> tuple[float, str] | None:
        """(angle of the optical axis from straight down, degrees 0-90, source) from the DJI
        gimbal pitch or the GPano pitch (both 0 = horizon, -90 = down). ``Camera:Pitch`` is
        not used: vendors disagree on its zero."""
        for name in ("gimbal_pitch_deg", "pano_pitch_deg"):
            value = getattr(self, name)
            if value is not None:
                return min(90.0, max(0.0, 90.0 + value)), self.sources[name]
        return None

    def height_above_ground_m(self) -> tuple[float, str] | None:
        """(metres above the ground, source): DJI's altitude above the take-off point (the
        ground only if the object is at the take-off height). GPS and absolute altitudes are
        above sea level or the ellipsoid: not a height above the ground, not used."""
        if self.relative_altitude_m is not None and self.relative_altitude_m > 0:
            return self.relative_altitude_m, self.sources["relative_altitude_m"]
        return None

    def focal_px(self) -> tuple[float, str] | None:
        """(focal length in stored-image pixels, source): focal length over the sensor width
        (from the focal-plane resolution) when known, else from the 35 mm equivalent over
        the image diagonal; None without a usable focal length."""
        if self.width is None or self.height is None:
            return None
        if self.focal_mm and self.sensor_width_mm:
            return (
                self.focal_mm / self.sensor_width_mm * self.width,
                "EXIF FocalLength / sensor width",
            )
        if self.focal_35mm:
            diagonal = math.hypot(self.width, self.height)
            return (
                self.focal_35mm * diagonal / FULL_FRAME_DIAGONAL_MM,
                "EXIF FocalLengthIn35mmFilm",
            )
        return None

    def as_dict(self) -> dict[str, Any]:
        """Present values with their source: ``{field: {"value": v, "source": s}}``, plus
        ``problems``."""
        out: dict[str, Any] = {"path": self.path}
        for f in fields(self):
            if f.name in ("path", "sources", "problems"):
                continue
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = {"value": value, "source": self.sources.get(f.name, "")}
        out["problems"] = list(self.problems)
        return out


def read_pose(path: str | os.PathLike) -> PhotoPose:
    """The metadata of the photo at ``path``. Never raises for what the file contains: a file
    that is not an image gives a pose with only ``problems``; a missing file raises
    :class:`PhotoMetaError`."""
    p = Path(path)
    if not p.is_file():
        raise PhotoMetaError(f"photo {str(path)!r}: file not found")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    problems: list[str] = []
    try:
        from PIL import Image

        with Image.open(p) as im:
            values["format"] = im.format
            values["width"], values["height"] = im.size
            sources.update(format="image header", width="image header", height="image header")
            _read_exif(im, values, sources, problems)
            packet = _xmp_packet(p, im)
    except Exception as err:  # not an image, truncated file: metadata absent
        problems.append(f"image: cannot be read ({type(err).__name__})")
        packet = None
    if packet is not None:
        _read_xmp(packet, values, sources, problems)
    return PhotoPose(path=str(path), sources=sources, problems=tuple(problems), **values)


# --- EXIF --------------------------------------------------------------------------------------

_IFD_EXIF, _IFD_GPS = 0x8769, 0x8825


def _read_exif(im: Any, values: dict, sources: dict, problems: list) -> None:
    try:
        exif = im.getexif()
    except Exception as err:
        problems.append(f"EXIF: cannot be parsed ({type(err).__name__})")
        return
    ifd_exif = _ifd(exif, _IFD_EXIF, problems)
    gps = _ifd(exif, _IFD_GPS, problems)

    def put(name: str, value: Any, source: str) -> None:
        if value is not None:
            values[name], sources[name] = value, source

    put("make", _text(exif.get(0x010F)), "EXIF Make")
    put("model", _text(exif.get(0x0110)), "EXIF Model")
    orientation = _number(exif.get(0x0112))
    if orientation is not None:
        if orientation in (1, 2, 3, 4, 5, 6, 7, 8):
            put("orientation", int(orientation), "EXIF Orientation")
        else:
            problems.append(f"EXIF Orientation {orientation!r}: not 1-8")
    stamp = _text(ifd_exif.get(0x9003))
    if stamp:
        offset = _text(ifd_exif.get(0x9011))
        put("timestamp", _iso_time(stamp, offset, problems), "EXIF DateTimeOriginal")
    elif _text(exif.get(0x0132)):
        put("timestamp", _iso_time(_text(exif.get(0x0132)), None, problems), "EXIF DateTime")
    focal = _number(ifd_exif.get(0x920A))
    if focal is not None:
        if focal > 0:
            put("focal_mm", focal, "EXIF FocalLength")
        else:
            problems.append(f"EXIF FocalLength {focal:g}: not a focal length")
    f35 = _number(ifd_exif.get(0xA405))
    if f35 is not None:
        if f35 > 0:
            put("focal_35mm", f35, "EXIF FocalLengthIn35mmFilm")
        else:
            problems.append(f"EXIF FocalLengthIn35mmFilm {f35:g}: not a focal length")
    put("sensor_width_mm", _sensor_width(ifd_exif, problems), "EXIF FocalPlaneXResolution")

    lat = _gps_degrees(gps, 2, 1, "NS", "GPSLatitude", 90.0, problems)
    lon = _gps_degrees(gps, 4, 3, "EW", "GPSLongitude", 180.0, problems)
    if (lat is None) != (lon is None):
        problems.append("EXIF GPS: latitude or longitude missing; position not used")
        lat = lon = None
    if lat is not None and lon is not None:
        put("lat", lat, "EXIF GPSLatitude/GPSLatitudeRef")
        put("lon", lon, "EXIF GPSLongitude/GPSLongitudeRef")
    alt = _number(gps.get(6))
    if alt is not None:
        ref = _number(gps.get(5))
        ref_byte = gps.get(5)
        if isinstance(ref_byte, bytes) and ref_byte:
            ref = ref_byte[0]
        alt = -alt if ref == 1 else alt
        if _in_range(alt, "altitude"):
            put("gps_altitude_m", alt, "EXIF GPSAltitude/GPSAltitudeRef")
        else:
            problems.append(f"EXIF GPSAltitude {alt:g}: implausible")


def _ifd(exif: Any, tag: int, problems: list) -> dict:
    try:
        return dict(exif.get_ifd(tag))
    except Exception as err:
        problems.append(f"EXIF IFD 0x{tag:04x}: cannot be parsed ({type(err).__name__})")
        return {}


def _number(value: Any) -> float | None:
    """A finite float from an int, a rational or a 1-tuple; None otherwise."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bytes) or value is None or isinstance(value, str):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value or None


def _iso_time(stamp: str, offset: str | None, problems: list) -> str | None:
    """EXIF ``YYYY:MM:DD HH:MM:SS`` (+ ``±HH:MM``) as ISO 8601; None when malformed."""
    m = re.fullmatch(r"(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d+)?", stamp)
    if not m:
        problems.append(f"EXIF timestamp {stamp!r}: not YYYY:MM:DD HH:MM:SS")
        return None
    iso = f"{m[1]}-{m[2]}-{m[3]}T{m[4]}:{m[5]}:{m[6]}"
    if offset and re.fullmatch(r"[+-]\d{2}:\d{2}", offset):
        iso += offset
    return iso


def _gps_degrees(
    gps: dict, tag: int, ref_tag: int, refs: str, name: str, limit: float, problems: list
) -> float | None:
    raw = gps.get(tag)
    if raw is None:
        return None
    try:
        parts = [float(v) for v in raw]
    except (TypeError, ValueError, ZeroDivisionError):
        problems.append(f"EXIF {name}: not degrees/minutes/seconds")
        return None
    if len(parts) != 3 or not all(math.isfinite(v) for v in parts):
        problems.append(f"EXIF {name}: not three finite numbers")
        return None
    degrees = parts[0] + parts[1] / 60.0 + parts[2] / 3600.0
    ref = _text(gps.get(ref_tag))
    if ref is None or ref.upper()[:1] not in refs:
        problems.append(f"EXIF {name}Ref {ref!r}: not {refs[0]} or {refs[1]}; position not used")
        return None
    if ref.upper()[:1] == refs[1]:
        degrees = -degrees
    if not -limit <= degrees <= limit:
        problems.append(f"EXIF {name} {degrees:g}: outside ±{limit:g}°")
        return None
    return degrees


def _sensor_width(ifd_exif: dict, problems: list) -> float | None:
    """Sensor width (mm) from ``PixelXDimension / FocalPlaneXResolution`` in its unit."""
    res = _number(ifd_exif.get(0xA20E))
    width_px = _number(ifd_exif.get(0xA002))
    unit = _number(ifd_exif.get(0xA210)) or 2
    mm_per_unit = {2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}.get(int(unit))
    if res is None or width_px is None or mm_per_unit is None or res <= 0:
        return None
    width = width_px / res * mm_per_unit
    if not 1.0 <= width <= 100.0:
        problems.append(f"EXIF FocalPlaneXResolution: sensor width {width:g} mm implausible")
        return None
    return width


def _in_range(value: float, kind: str) -> bool:
    lo, hi = _RANGES[kind]
    return lo <= value <= hi


# --- XMP ---------------------------------------------------------------------------------------


def _xmp_packet(path: Path, im: Any) -> bytes | None:
    """The raw XMP packet: from the JPEG APP1 segment, TIFF tag 700 or PNG/WebP info."""
    if im.format in ("JPEG", "MPO"):  # MPO: a JPEG with more images (DJI's previews)
        return _jpeg_xmp(path)
    if im.format == "TIFF":
        raw = getattr(im, "tag_v2", {}).get(700)
        return raw if isinstance(raw, bytes) else raw.encode() if isinstance(raw, str) else None
    raw = im.info.get("XML:com.adobe.xmp") or im.info.get("xmp")
    if isinstance(raw, str):
        return raw.encode("utf-8")
    return raw if isinstance(raw, bytes) else None


def _jpeg_xmp(path: Path) -> bytes | None:
    """The XMP APP1 segment of a JPEG, walking its marker segments up to the image data."""
    with open(path, "rb") as fh:
        if fh.read(2) != b"\xff\xd8":
            return None
        while True:
            marker = fh.read(2)
            if len(marker) < 2 or marker[0] != 0xFF:
                return None
            if marker[1] in (0xDA, 0xD9):  # start of scan / end: no more metadata
                return None
            size_bytes = fh.read(2)
            if len(size_bytes) < 2:
                return None
            size = int.from_bytes(size_bytes, "big") - 2
            if size < 0:
                return None
            body = fh.read(size)
            if marker[1] == 0xE1 and body.startswith(_XMP_APP1):
                return body[len(_XMP_APP1) :]


def _read_xmp(packet: bytes, values: dict, sources: dict, problems: list) -> None:
    text = packet.decode("utf-8", "replace")
    start, end = text.find("<x:xmpmeta"), text.rfind("</x:xmpmeta>")
    if start >= 0 and end > start:
        text = text[start : end + len("</x:xmpmeta>")]
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        problems.append(f"XMP: not well-formed XML ({err}); XMP values not used")
        return
    found: dict[tuple[str, str], str] = {}
    for element in root.iter():
        for key, value in element.attrib.items():
            found.setdefault(_split(key), value)
        if isinstance(element.tag, str) and element.text and element.text.strip():
            found.setdefault(_split(element.tag), element.text.strip())
    for name, ns, local, prefix in _XMP_FIELDS:
        raw = found.get((ns, local))
        if raw is None:
            continue
        try:
            value = float(raw.strip())
        except ValueError:
            problems.append(f"XMP {prefix}:{local} {raw!r}: not a number")
            continue
        kind = "altitude" if name.endswith("_m") else "deg"
        if not (math.isfinite(value) and _in_range(value, kind)):
            problems.append(f"XMP {prefix}:{local} {raw!r}: implausible")
            continue
        values[name], sources[name] = value, f"XMP {prefix}:{local}"


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag
