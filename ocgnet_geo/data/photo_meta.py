"""Writing photo metadata: EXIF (GPS, focal length, orientation) and DJI-style XMP into JPEGs.

The synthetic generator gives its drone views the metadata a real DJI photo carries, and the
tests build their synthetic EXIF/XMP cases with it. Reading is
:mod:`ocgnet_geo.geo.photo_pose`. Angles in degrees (yaw clockwise from north; gimbal pitch 0 =
horizon, -90 = straight down), altitudes in metres, positions EPSG:4326 degrees.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

_XMP_APP1 = b"http://ns.adobe.com/xap/1.0/\x00"
_IFD_EXIF, _IFD_GPS = 0x8769, 0x8825


def _rational(value: float) -> IFDRational:
    f = Fraction(value).limit_denominator(10000)
    return IFDRational(f.numerator, f.denominator)


def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    """Degrees as (degrees, minutes, seconds) rationals (seconds to 1/10000)."""
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    s = round(((value - d) * 60 - m) * 60 * 10000)
    return IFDRational(d, 1), IFDRational(m, 1), IFDRational(s, 10000)


def pose_exif(
    lat: float | None = None,
    lon: float | None = None,
    gps_altitude_m: float | None = None,
    focal_mm: float | None = None,
    focal_35mm: float | None = None,
    timestamp: str | None = None,
    orientation: int | None = None,
    make: str | None = None,
    model: str | None = None,
    gps_refs: tuple[str, str] | None = None,
) -> Image.Exif:
    """An EXIF block with the given values (None: the tag is left out). ``timestamp`` is
    EXIF's ``YYYY:MM:DD HH:MM:SS``; ``gps_refs`` overrides the latitude/longitude reference
    letters (tests of malformed files)."""
    exif = Image.Exif()
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    if orientation is not None:
        exif[0x0112] = int(orientation)
    sub: dict[int, object] = {}
    if timestamp:
        sub[0x9003] = timestamp
    if focal_mm is not None:
        sub[0x920A] = _rational(focal_mm)
    if focal_35mm is not None:
        sub[0xA405] = round(focal_35mm)
    if sub:
        exif[_IFD_EXIF] = sub
    gps: dict[int, object] = {}
    if lat is not None:
        gps[1], gps[2] = ("N" if lat >= 0 else "S"), _dms(lat)
    if lon is not None:
        gps[3], gps[4] = ("E" if lon >= 0 else "W"), _dms(lon)
    if gps_refs is not None:
        gps[1], gps[3] = gps_refs
    if gps_altitude_m is not None:
        gps[5] = b"\x01" if gps_altitude_m < 0 else b"\x00"
        gps[6] = _rational(abs(gps_altitude_m))
    if gps:
        gps[0] = b"\x02\x03\x00\x00"  # GPSVersionID 2.3
        exif[_IFD_GPS] = gps
    return exif


def dji_xmp(**values: float) -> str:
    """A DJI-style XMP packet with ``drone-dji:`` attributes, e.g.
    ``dji_xmp(GimbalYawDegree=45, GimbalPitchDegree=-90, RelativeAltitude=40)``."""
    attrs = "\n".join(f'   drone-dji:{k}="{v:+.2f}"' for k, v in values.items())
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about="DJI Meta Data"\n'
        '    xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"\n'
        f"{attrs}>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )


def insert_xmp(jpeg: bytes, xmp: str | bytes) -> bytes:
    """``jpeg`` with an XMP APP1 segment inserted after its leading APP0/APP1 segments."""
    packet = xmp.encode("utf-8") if isinstance(xmp, str) else xmp
    body = _XMP_APP1 + packet
    if len(body) + 2 > 0xFFFF:
        raise ValueError("XMP packet larger than one JPEG segment (64 KB)")
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    pos = 2
    while jpeg[pos] == 0xFF and jpeg[pos + 1] in (0xE0, 0xE1):
        pos += 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
    segment = b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body
    return jpeg[:pos] + segment + jpeg[pos:]


def save_jpeg(
    path: str | os.PathLike,
    image: np.ndarray | Image.Image,
    exif: Image.Exif | bytes | None = None,
    xmp: str | bytes | None = None,
    quality: int = 92,
) -> Path:
    """Write ``image`` (uint8 RGB array or PIL image) as a JPEG with ``exif`` and ``xmp``."""
    import io

    im = Image.fromarray(image) if isinstance(image, np.ndarray) else image
    buf = io.BytesIO()
    kwargs: dict = {"quality": quality}
    if exif is not None:
        kwargs["exif"] = exif if isinstance(exif, bytes) else exif.tobytes()
    im.save(buf, format="JPEG", **kwargs)
    data = buf.getvalue()
    if xmp is not None:
        data = insert_xmp(data, xmp)
    out = Path(path)
    out.write_bytes(data)
    return out
