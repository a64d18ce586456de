"""Memory does not grow with the raster: a 40,000 x 40,000 px GeoTIFF is gridded and read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

# Peak RSS from /proc (VmHWM): ru_maxrss survives fork+exec and would report the parent's peak.
CHILD = r"""
import json, sys
from ocgnet_geo.geo.grid import tile_grid
from ocgnet_geo.geo.raster import open_raster, read_tile
info = open_raster(sys.argv[1])
tiles = tile_grid(info, info.gsd_m, tile_px=1024, overlap_px=256)
hit = [t for t in tiles if t.row == 20 and t.col == 20][0]
rgb, valid = read_tile(info, hit)
print(json.dumps({"tiles": len(tiles), "valid": int(valid.sum()), "mean": float(rgb[valid].mean()),
                  "max_rss_mb": int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024}))
"""


@pytest.mark.slow
def test_sparse_40k_raster_grids_and_reads_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.tif"
    size = 40_000
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=size,
        height=size,
        count=3,
        dtype="uint8",
        crs="EPSG:32632",
        transform=Affine(0.3, 0, 465000, 0, -0.3, 5260000),
        tiled=True,
        blockxsize=512,
        blockysize=512,
        sparse_ok=True,
        compress="deflate",
    ) as dst:
        # one painted block under tile r20c20 (tile origin: 20 * 768 px from the corner)
        dst.write(
            np.full((3, 512, 512), 200, np.uint8), window=((15_600, 16_112), (15_600, 16_112))
        )
    assert path.stat().st_size < 5_000_000
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True
    )
    figures = json.loads(out.stdout)
    assert figures["tiles"] == 52 * 52
    assert figures["valid"] == 1024 * 1024  # sparse blocks are zeros, not nodata: all valid
    assert figures["mean"] > 0
    assert figures["max_rss_mb"] < 300, figures
