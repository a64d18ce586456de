"""Models and demo data this installation can find without being told (no downloads, ever)."""

from __future__ import annotations

from pathlib import Path

from ocgnet_geo.errors import InputError

ASSETS = Path(__file__).parent / "assets"
DEMO_MODEL = ASSETS / "ocgnet-lite-demo.safetensors"
DEMO_DATA = ASSETS / "demo"
MODEL_CARD = ASSETS / "MODEL_CARD.md"


class MissingDemoModelError(InputError):
    """The bundled demo model is not in this installation."""


def bundled_models() -> list[Path]:
    """The ``.safetensors`` models shipped in ``ocgnet_geo/assets``."""
    return sorted(ASSETS.glob("*.safetensors")) if ASSETS.is_dir() else []


def demo_model() -> Path:
    """The bundled OCGNet-lite demo model (see ``assets/MODEL_CARD.md``)."""
    if not DEMO_MODEL.is_file():
        raise MissingDemoModelError(
            f"demo model {DEMO_MODEL}: not found (a source checkout without the assets?)"
        )
    return DEMO_MODEL
