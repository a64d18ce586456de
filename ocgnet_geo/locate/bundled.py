"""Models and demo data this installation can find without being told (no downloads, ever).

The bundled default model is the click-template matcher (``assets/MODEL_CARD.md``): a
frozen ImageNet MobileNetV2 trunk (``features[0:7]``, float16, about 130 kB) plus its
calibrated numbers, for drone and aerial photos.
"""

from __future__ import annotations

from pathlib import Path

from ocgnet_geo.errors import InputError

ASSETS = Path(__file__).parent.parent / "assets"
DEFAULT_MODEL = ASSETS / "matcher-mobilenetv2-s8.safetensors"
DEMO_DATA = ASSETS / "demo"
#: How the plugin and ``info`` describe the bundled model.
DEFAULT_MODEL_LABEL = "bundled matcher, drone/aerial photos"


class MissingDefaultModelError(InputError):
    """The bundled default model is not in this installation (a broken install)."""


def bundled_models() -> list[Path]:
    """The ``.safetensors`` models shipped in ``ocgnet_geo/assets``."""
    return sorted(ASSETS.glob("*.safetensors")) if ASSETS.is_dir() else []


def default_model() -> Path:
    """The bundled default model file (the matcher)."""
    if not DEFAULT_MODEL.is_file():
        raise MissingDefaultModelError(
            f"bundled model {DEFAULT_MODEL.name}: missing from this installation "
            "(reinstall ocgnet-geo, or rebuild it with `make matcher-model`)"
        )
    return DEFAULT_MODEL
