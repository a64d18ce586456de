"""One model tile: a north-up window of ``width`` x ``height`` pixels placed in a CRS.

Its own module so that the grid, the raster reader and the box conversions can all use it
without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import shapely
from affine import Affine
from pyproj import CRS

BBox = tuple[float, float, float, float]


@dataclass(frozen=True, repr=False)
class TileSpec:
    """One model tile: ``width`` x ``height`` pixels placed by ``transform`` in ``crs``.

    ``gsd_m`` is the ground size of a pixel in metres at the tile centre; ``row``/``col`` are
    the tile's position in its grid.
    """

    id: str
    crs: CRS
    transform: Affine
    width: int
    height: int
    gsd_m: float
    row: int = 0
    col: int = 0

    def __repr__(self) -> str:
        return (
            f"TileSpec(id={self.id!r}, crs={self.crs.to_string()!r}, {self.width}x{self.height} px, "
            f"gsd_m={self.gsd_m:.4g}, bounds={tuple(round(v, 3) for v in self.bounds)})"
        )

    @property
    def bounds(self) -> BBox:
        """(minx, miny, maxx, maxy) in ``crs`` units."""
        xs, ys = zip(
            *(self.transform @ (c, r) for c in (0, self.width) for r in (0, self.height)),
            strict=True,
        )
        return (min(xs), min(ys), max(xs), max(ys))

    @property
    def polygon(self) -> shapely.Polygon:
        return shapely.box(*self.bounds)

    @property
    def key(self) -> str:
        """A stable text key (CRS, transform, size) for caches."""
        t = self.transform
        coeffs = ",".join(f"{v:.10g}" for v in (t.a, t.b, t.c, t.d, t.e, t.f))
        return f"{self.crs.to_string()}|{coeffs}|{self.width}x{self.height}"


__all__ = ["BBox", "TileSpec"]
