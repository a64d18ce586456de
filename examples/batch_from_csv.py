"""Locate every click of a CSV (columns query,click_x,click_y and optionally id) in one raster
and collect all candidates in one GeoPackage, skipping rows that fail.

    python examples/batch_from_csv.py --weights model.safetensors --csv clicks.csv \
        --raster ortho.tif --out all.gpkg

The same is available without Python: ``ocgnet-geo locate-batch clicks.csv --raster ...``.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from ocgnet_geo import Locator
from ocgnet_geo.errors import InputError
from ocgnet_geo.geo.export import write_gpkg


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--weights", required=True)
    parser.add_argument("--csv", required=True)
    parser.add_argument("--raster", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    locator = Locator.from_weights(args.weights)
    polygons, records, crs = [], [], None
    with open(args.csv, newline="", encoding="utf-8-sig") as f:
        for n, row in enumerate(csv.DictReader(f), start=1):
            query = Path(args.csv).parent / row["query"]
            try:
                result = locator.locate(
                    query, (row["click_x"], row["click_y"]), args.raster, top_k=3
                )
            except InputError as err:  # one bad row does not stop the batch
                print(f"row {n}: skipped: {err}")
                continue
            crs = result.crs
            polygons.extend(result.polygons)
            records.extend({**r, "query_id": row.get("id") or str(n)} for r in result.records())
            print(f"row {n}: best score {result.candidates[0].score:.3f}")
    if records:
        write_gpkg(args.out, polygons, records, crs)
        print(f"wrote {args.out} ({len(records)} candidates)")


if __name__ == "__main__":
    main()
