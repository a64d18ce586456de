"""ocgnet-geo: object-level cross-view geo-localization (OCGNet).

Importing this package is cheap: it imports neither torch nor rasterio. ``Locator`` and
``LocateResult`` are loaded on first use; the geo layer lives in :mod:`ocgnet_geo.geo`, the
network in :mod:`ocgnet_geo.models.ocgnet` (torch).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["LocateResult", "Locator", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("Locator", "LocateResult"):
        from ocgnet_geo import locate

        return getattr(locate, name)
    raise AttributeError(f"module 'ocgnet_geo' has no attribute {name!r}")
