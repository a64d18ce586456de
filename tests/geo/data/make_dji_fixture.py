"""Rebuild ``brighton_beach_dji_0018_small.jpg``: the shared DJI photo downscaled to 400 px
wide with its EXIF and XMP blocks copied unchanged (BSD-2-Clause, (c) 2017 Piero Toffanin;
see NOTICE). Usage: python tests/geo/data/make_dji_fixture.py SHARED_DATA"""

import sys
from pathlib import Path

from PIL import Image

from ocgnet_geo.data.photo_meta import save_jpeg
from ocgnet_geo.geo.photo_pose import _jpeg_xmp

src = Path(sys.argv[1]) / "brighton_beach_dji_0018.jpg"
with Image.open(src) as im:
    exif = im.getexif()
    sub = dict(exif.get_ifd(0x8769))
    gps = dict(exif.get_ifd(0x8825))
    sub.pop(0x927C, None)  # MakerNote: vendor binary, not needed
    exif[0x8769] = sub
    exif[0x8825] = gps
    small = im.convert("RGB").resize((400, 225), Image.Resampling.LANCZOS)
out = Path(__file__).with_name("brighton_beach_dji_0018_small.jpg")
save_jpeg(out, small, exif=exif, xmp=_jpeg_xmp(src), quality=85)
print(out, out.stat().st_size)
