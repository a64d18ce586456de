"""Models this installation can find without being told (no downloads, ever)."""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).parent / "assets"


def bundled_models() -> list[Path]:
    """The ``.safetensors`` models shipped in ``ocgnet_geo/assets`` (none until the demo model lands)."""
    return sorted(ASSETS.glob("*.safetensors")) if ASSETS.is_dir() else []
