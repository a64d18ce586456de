"""Exceptions for bad user input.

Every mistake a user can make (a missing file, a raster without georeferencing, a bounding
box in the wrong axis order, ...) raises a subclass of :class:`InputError` whose message is a
single line naming the input and what is wrong. The CLI turns an ``InputError`` into exit
status 2 and the QGIS plugin into a message-bar entry; any other exception is a bug.
"""

from __future__ import annotations


class InputError(ValueError):
    """A user-supplied input is wrong. ``str(err)`` is one line naming the input."""


# --- rasters -------------------------------------------------------------------------------


class RasterFileError(InputError):
    """The raster file is missing or cannot be read."""


class NotARasterError(InputError):
    """The file exists but is not a raster GDAL can read."""


class NotGeoreferencedError(InputError):
    """The raster has no CRS or only an identity (pixel) geotransform."""


class UnknownCRSError(InputError):
    """A CRS string or code that PROJ does not know."""


# --- search area and grid ------------------------------------------------------------------


class InvalidBBoxError(InputError):
    """A bounding box that is malformed, empty or of zero area."""


class BBoxAxisOrderError(InvalidBBoxError):
    """A bounding box whose axes look swapped (lat/lon instead of lon/lat, or N/E)."""


class BBoxOutsideRasterError(InputError):
    """The bounding box does not intersect the raster."""


class TooManyTilesError(InputError):
    """The search area needs more tiles than the limit (counted before the grid is built)."""


class ResolutionOutOfRangeError(InputError):
    """A requested ground resolution the raster cannot honestly provide."""


class EmptySearchAreaError(InputError):
    """The raster holds only nodata in the search area."""


class TileSourceError(InputError):
    """An XYZ tile folder or MBTiles file that cannot be used as a raster."""
