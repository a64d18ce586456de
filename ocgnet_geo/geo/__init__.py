"""The geo layer: rasters, tiling grids, pixel box <-> polygon, export. Never imports torch.

Coordinates always travel with their CRS: polygons live in the raster's (or the tile grid's)
CRS, GeoJSON output is EPSG:4326 lon/lat, GeoPackage output keeps the raster's CRS.
"""

from ocgnet_geo.geo.boxes import boxes_to_polygons, nms_geo, polygons_to_boxes, reproject_geometries
from ocgnet_geo.geo.export import RESULT_FIELDS, to_geodataframe, write_geojson, write_gpkg
from ocgnet_geo.geo.grid import TileSpec, tile_grid, xyz_grid
from ocgnet_geo.geo.raster import RasterInfo, open_raster, read_tile

__all__ = [
    "RESULT_FIELDS",
    "RasterInfo",
    "TileSpec",
    "boxes_to_polygons",
    "nms_geo",
    "open_raster",
    "polygons_to_boxes",
    "read_tile",
    "reproject_geometries",
    "tile_grid",
    "to_geodataframe",
    "write_geojson",
    "write_gpkg",
    "xyz_grid",
]
