"""Models and demo data this installation can find without being told (no downloads, ever)."""

from __future__ import annotations

from pathlib import Path

from ocgnet_geo.errors import InputError

ASSETS = Path(__file__).parent.parent / "assets"
DEMO_MODEL = ASSETS / "ocgnet-lite-demo.safetensors"
DEMO_DATA = ASSETS / "demo"


class MissingDemoModelError(InputError):
    """The bundled demo model is not in this installation."""


def bundled_models() -> list[Path]:
    """The ``.safetensors`` models shipped in ``ocgnet_geo/assets``."""
    return sorted(ASSETS.glob("*.safetensors")) if ASSETS.is_dir() else []


def demo_model() -> Path:
    """The bundled OCGNet-lite demo model (see ``assets/MODEL_CARD.md``)."""
    if not DEMO_MODEL.is_file():
        raise MissingDemoModelError(
            f"demo model {DEMO_MODEL.name}: not bundled in this version yet "
            "(training status: docs/demo-model.md); use --weights with your own model"
        )
    return DEMO_MODEL
