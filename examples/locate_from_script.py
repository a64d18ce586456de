"""Locate one clicked object from a Python script and write GeoJSON, GeoPackage and an overlay.

    python examples/locate_from_script.py --weights model.safetensors \
        --query photo.jpg --click 812,455 --raster ortho.tif --out-dir results/
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ocgnet_geo import Locator


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--weights", required=True)
    parser.add_argument("--query", required=True)
    parser.add_argument("--click", required=True, help="x,y in photo pixels")
    parser.add_argument("--raster", required=True)
    parser.add_argument("--out-dir", default="results")
    args = parser.parse_args()

    locator = Locator.from_weights(args.weights)  # keep it: later clicks reuse the encoded tiles
    result = locator.locate(args.query, args.click, args.raster, top_k=5)

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result.to_geojson(out / "result.geojson")  # EPSG:4326, RFC 7946
    result.to_gpkg(out / "result.gpkg")  # the raster's CRS
    result.overlay(out / "overlay.png")
    for c in result.candidates:
        print(f"#{c.rank} score={c.score:.3f} tile={c.tile} polygon={c.polygon.wkt[:60]}...")


if __name__ == "__main__":
    main()
