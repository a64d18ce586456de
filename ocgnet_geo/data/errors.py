"""Exceptions for bad dataset input (each a one-line :class:`~ocgnet_geo.errors.InputError`)."""

from __future__ import annotations

from ocgnet_geo.errors import InputError


class DatasetError(InputError):
    """A dataset folder, split file or record that is missing or malformed."""


class SynthError(InputError):
    """An input of the synthetic generator (raster, vector file, option) that cannot be used."""
