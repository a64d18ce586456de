"""Rebuild the demo data bundled in ``ocgnet_geo/assets/demo/`` (run once; needs the Zürich
orthophoto of the shared data folder).

    .venv/bin/python examples/build_demo_assets.py SHARED_DATA

Writes:

* ``zurich_heldout_0.5m_epsg2056.tif``: the part of the Zürich orthophoto inside the
  held-out (test) strip of the demo model's training data (never trained on), unchanged
  pixels, deflate-compressed, EPSG:2056 (© swisstopo);
* ``query.jpg``: a 512 px synthetic drone view of one apartment block of that crop,
  rendered from the crop alone (pixels outside it are haze; heading 20°, pitch 30°, as
  the demo model was trained for) with the generator's camera
  and photometric effects;
* ``demo.json``: the click (query pixels), the block's outline digitised by hand on the
  orthophoto (EPSG:2056 metres) and the credits.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import rasterio
import shapely
from PIL import Image
from pyproj import CRS
from rasterio.windows import from_bounds

from ocgnet_geo.data.camera import DroneCamera
from ocgnet_geo.data.effects import drone_look
from ocgnet_geo.data.synth import SUPERSAMPLE, _warp
from ocgnet_geo.geo.grid import TileSpec

OUT = Path(__file__).resolve().parents[1] / "ocgnet_geo" / "assets" / "demo"
# The held-out strip of the demo training data (east 32 % of the Zürich orthophoto, see
# examples/train_demo_model.sh), reprojected to EPSG:2056 and shrunk to a whole-pixel
# rectangle inside it.
CROP_BOUNDS = (2679361.0, 1247712.5, 2679490.5, 1247993.0)
# An apartment block digitised by hand on the 0.5 m orthophoto (roof corners, EPSG:2056).
BLOCK = [
    (2679441.0, 1247904.25),
    (2679446.3, 1247897.05),
    (2679423.2, 1247878.3),
    (2679414.1, 1247885.8),
]
QUERY_PX = 512


def main(shared: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    src = shared / "zurich_swissimage_0.5m_epsg2056.tif"
    with rasterio.open(src) as ds:
        window = from_bounds(*CROP_BOUNDS, ds.transform).round_offsets().round_lengths()
        data = ds.read(window=window)
        transform = ds.window_transform(window)
        crs = ds.crs
    raster = OUT / "zurich_heldout_0.5m_epsg2056.tif"
    profile = dict(
        driver="GTiff",
        width=data.shape[2],
        height=data.shape[1],
        count=3,
        dtype="uint8",
        crs=crs,
        transform=transform,
        compress="deflate",
        predictor=2,
    )
    with rasterio.open(raster, "w", **profile) as out:
        out.write(data)
        out.update_tags(CREDIT="© swisstopo (SWISSIMAGE 10 cm, resampled to 0.5 m)")

    rgb = np.ascontiguousarray(data.transpose(1, 2, 0))
    spec = TileSpec("crop", CRS.from_epsg(2056), transform, data.shape[2], data.shape[1], 0.5)
    block = shapely.Polygon(BLOCK)
    centre = block.representative_point()
    rng = np.random.default_rng(7)
    n = QUERY_PX * SUPERSAMPLE
    cam = DroneCamera((centre.x - 3.0, centre.y - 5.0), 65.0, 30.0, 20.0, 60.0, n, n)
    assert cam.max_ray_angle_deg() < 80, cam.max_ray_angle_deg()
    img = _warp(rgb, spec, cam)
    img = np.asarray(Image.fromarray(img).reduce(SUPERSAMPLE))
    img = drone_look(img, rng)
    Image.fromarray(img).save(OUT / "query.jpg", quality=92)
    click = cam.project(np.array([[centre.x, centre.y]]))[0] / SUPERSAMPLE
    meta = {
        "query": "query.jpg",
        "click": [round(float(click[0]), 1), round(float(click[1]), 1)],
        "raster": raster.name,
        "object": {
            "name": "apartment block, Zürich-Altstetten (held-out area)",
            "crs": "EPSG:2056",
            "polygon": [list(p) for p in BLOCK],
        },
        "credit": "Orthophoto © swisstopo (SWISSIMAGE); query rendered from it by ocgnet-geo",
    }
    (OUT / "demo.json").write_text(
        json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"wrote {OUT}: raster {data.shape[2]}x{data.shape[1]} px, click {meta['click']}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: build_demo_assets.py SHARED_DATA")
    main(Path(sys.argv[1]))
