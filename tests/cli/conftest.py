"""Fixtures of the locate tests (photos, rasters, light weights) for the command tests."""

from tests.locate.conftest import light_weights, photo, utm_spot_raster  # noqa: F401
