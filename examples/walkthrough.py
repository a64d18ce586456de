"""A walkthrough a GIS scripter can copy: inspect the raster, plan the search, locate twice
(the second click is fast), and look at the results in the raster's CRS and in lon/lat.

    python examples/walkthrough.py --weights model.safetensors --query photo.jpg \
        --raster ortho.tif --click 812,455 --click2 300,200
"""

from __future__ import annotations

import argparse
import time

from ocgnet_geo import Locator
from ocgnet_geo.geo import open_raster, tile_grid


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--weights", required=True)
    parser.add_argument("--query", required=True)
    parser.add_argument("--raster", required=True)
    parser.add_argument("--click", required=True)
    parser.add_argument("--click2", required=True)
    args = parser.parse_args()

    # 1. What is this raster? CRS, ground resolution in metres, size.
    info = open_raster(args.raster)
    print(f"raster: {info.width}x{info.height} px, {info.crs.to_string()}, {info.gsd_m:.3f} m/px")

    # 2. How big is the search? The model looks at tiles at its own ground resolution.
    locator = Locator.from_weights(args.weights)
    model = locator.model
    tiles = tile_grid(info, model.gsd_m, tile_px=model.tile_px, overlap_px=model.tile_px // 4)
    print(f"model: {model.model_id} ({model.view}) wants {model.gsd_m} m/px -> {len(tiles)} tiles")

    # 3. First click encodes every tile; the second reuses them.
    for click in (args.click, args.click2):
        start = time.perf_counter()
        result = locator.locate(args.query, click, info, top_k=3)
        best = result.candidates[0]
        print(
            f"click {click}: {time.perf_counter() - start:.2f} s, {result.tiles_encoded} tiles encoded, best score {best.score:.3f}"
        )

    # 4. Results: polygons in the raster's CRS, GeoJSON in lon/lat, a GeoDataFrame for pandas users.
    frame = result.to_geodataframe()
    print(frame[["rank", "score", "tile"]])
    lonlat = result.geojson()["features"][0]["geometry"]["coordinates"][0][0]
    print(f"best candidate's first corner: lon {lonlat[0]:.6f}, lat {lonlat[1]:.6f}")


if __name__ == "__main__":
    main()
