"""Fixtures of the locate tests (photos, rasters, light weights) for the command tests."""

from pathlib import Path

from tests.locate.conftest import light_weights, photo, utm_spot_raster  # noqa: F401


def locate_args(
    photo_path: Path, raster: Path, weights: Path | str, *extra: str, as_json: bool = True
) -> list[str]:
    """``ocgnet-geo locate`` arguments for the photo's click (120, 80), JSON output unless
    ``as_json`` is False, then ``extra``."""
    return [
        "locate",
        "--query",
        str(photo_path),
        "--click",
        "120,80",
        "--raster",
        str(raster),
        "--weights",
        str(weights),
        *(["--json"] if as_json else []),
        *extra,
    ]
