"""OCGNet Locate: a QGIS plugin for object-level cross-view geo-localization.

The plugin imports only ``qgis.*`` and the standard library. The model runs in a separate
process (``ocgnet-geo worker``), so torch and rasterio never enter QGIS's Python.
"""

from __future__ import annotations


def classFactory(iface):
    """Return the plugin instance QGIS asks for."""
    from .plugin import OCGNetLocatePlugin

    return OCGNetLocatePlugin(iface)
