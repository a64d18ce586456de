"""Exceptions for bad input to the model layer.

Each class derives from :class:`ocgnet_geo.errors.InputError` (a ``ValueError``), so the CLI
maps it to exit status 2. Messages are one line and name the file or argument at fault.
"""

from __future__ import annotations

from ocgnet_geo.errors import InputError


class WeightsError(InputError):
    """A weights file is missing, truncated, of the wrong kind or does not fit the model."""


class ModelConfigError(InputError):
    """A model configuration value (or config JSON) is invalid."""


class ClickOutsideQueryError(InputError):
    """A click point lies outside the query image."""


class ModelInputError(InputError):
    """An input tensor has the wrong shape, dtype or batch size for the model."""
