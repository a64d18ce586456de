"""ocgnet-geo: object-level cross-view geo-localization (OCGNet).

Importing this package is cheap: it imports neither torch nor rasterio. The geo layer lives in
:mod:`ocgnet_geo.geo`, the network in :mod:`ocgnet_geo.model` (torch).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
