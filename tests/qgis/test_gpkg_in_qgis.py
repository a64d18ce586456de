"""A GeoPackage written by ocgnet_geo.geo.export opens in real QGIS with the same CRS,
fields and geometry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from qgis.core import QgsGeometry, QgsVectorLayer

WRITER = r"""
import json, sys
import numpy as np
from affine import Affine
from pyproj import CRS
from ocgnet_geo.geo.boxes import boxes_to_polygons
from ocgnet_geo.geo.export import RESULT_FIELDS, write_gpkg
from ocgnet_geo.geo.grid import TileSpec

tile = TileSpec("r0c0", CRS.from_epsg(2056), Affine(0.5, 0, 2679000.0, 0, -0.5, 1248000.0), 1024, 1024, 0.5)
boxes = np.array([[100.0, 200.0, 180.0, 260.0], [500.0, 500.0, 540.0, 530.5]])
polygons = boxes_to_polygons(boxes, tile)
records = [dict(rank=i + 1, score=0.8 / (i + 1), view="drone", model="test", query="photo.jpg",
                click_x=10.0, click_y=20.0, raster="ortho.tif", gsd_m=0.5, tile="r0c0",
                px_xmin=b[0], px_ymin=b[1], px_xmax=b[2], px_ymax=b[3], refined=i == 0,
                inliers=42 if i == 0 else 0, registered=i == 0,
                method="xfeat" if i == 0 else "template",
                reprojection_px=1.25 if i == 0 else None) for i, b in enumerate(boxes.tolist())]
footprint = polygons[0].buffer(30.0)
write_gpkg(sys.argv[1], polygons, records, tile.crs,
           extra_layers={"photo_footprint": ([footprint], [{"query": "photo.jpg", "inliers": 42}])})
print(json.dumps({"fields": list(RESULT_FIELDS), "wkt": [p.wkt for p in polygons]}))
"""


def test_gpkg_opens_in_qgis_with_crs_fields_and_geometry(qgis_app, tmp_path: Path) -> None:
    path = tmp_path / "candidates.gpkg"
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(path)], capture_output=True, text=True, check=True
    )
    expected = json.loads(done.stdout)

    layer = QgsVectorLayer(f"{path}|layername=candidates", "candidates", "ogr")
    try:
        assert layer.isValid()
        assert layer.crs().authid() == "EPSG:2056"
        assert [f.name() for f in layer.fields()] == ["fid", *expected["fields"]]
        types = {f.name(): f.typeName().lower() for f in layer.fields()}
        assert (
            types["rank"] in ("integer", "integer64")
            and types["score"] == "real"
            and types["view"] == "string"
        )
        features = sorted(layer.getFeatures(), key=lambda f: f["rank"])
        assert [f["rank"] for f in features] == [1, 2]
        assert abs(features[0]["score"] - 0.8) < 1e-12
        assert [(bool(f["refined"]), f["inliers"]) for f in features] == [(True, 42), (False, 0)]
        assert [bool(f["registered"]) for f in features] == [True, False]
        assert [f["method"] for f in features] == ["xfeat", "template"]
        assert abs(features[0]["reprojection_px"] - 1.25) < 1e-12
        for feature, wkt in zip(features, expected["wkt"], strict=True):
            want = QgsGeometry.fromWkt(wkt)
            got = feature.geometry()
            assert got.symDifference(want).area() < 1e-9 and abs(got.area() - want.area()) < 1e-9
        footprint = QgsVectorLayer(f"{path}|layername=photo_footprint", "footprint", "ogr")
        assert footprint.isValid() and footprint.crs().authid() == "EPSG:2056"
        assert footprint.featureCount() == 1
        (ring,) = list(footprint.getFeatures())
        assert ring.geometry().contains(features[0].geometry()) and ring["inliers"] == 42
        del footprint
    finally:
        del layer
