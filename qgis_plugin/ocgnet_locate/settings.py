"""Plugin settings (``QgsSettings`` under ``ocgnet_locate/``) and how the worker is found.

The worker's Python interpreter is taken, in this order, from the ``OCGNET_PYTHON``
environment variable (for ``qgis_process`` and scripts), the plugin setting, then
auto-detection: QGIS's own Python when it can import ``ocgnet_geo``, else an ``ocgnet-geo``
script on ``PATH``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

from qgis.core import QgsSettings

from .worker_client import WorkerError

PREFIX = "ocgnet_locate"
ENV_PYTHON = "OCGNET_PYTHON"
ENV_WEIGHTS = "OCGNET_WEIGHTS"
#: Precision modes offered (the worker's ``load`` ``precision``); ``auto`` lets the worker
#: pick bf16 on CPUs with native bf16 and fp32 elsewhere.
PRECISIONS = ("auto", "fp32", "bf16")


def get(key: str, default: str = "") -> str:
    """A string setting of the plugin."""
    value = QgsSettings().value(f"{PREFIX}/{key}", default)
    return str(value) if value is not None else default


def put(key: str, value: str) -> None:
    QgsSettings().setValue(f"{PREFIX}/{key}", value)


def _qgis_python() -> str | None:
    """QGIS's own interpreter, when it is a real ``python`` executable that has ocgnet_geo."""
    if importlib.util.find_spec("ocgnet_geo") is None:
        return None
    candidates = [sys.executable, getattr(sys, "_base_executable", ""), shutil.which("python3")]
    for candidate in candidates:
        if (
            candidate
            and Path(candidate).name.startswith("python")
            and os.access(candidate, os.X_OK)
        ):
            return candidate
    return None


def resolve_python() -> tuple[str | None, str]:
    """``(interpreter or None, where it came from)``."""
    from_env = os.environ.get(ENV_PYTHON, "").strip()
    if from_env:
        return from_env, f"environment variable {ENV_PYTHON}"
    configured = get("python").strip()
    if configured:
        return configured, "plugin setting"
    detected = _qgis_python()
    if detected:
        return detected, "auto-detected (QGIS's Python can import ocgnet_geo)"
    return None, "not found"


def worker_command(python: str | None = None) -> list[str]:
    """The command line that starts ``ocgnet-geo worker``; raises ``WorkerError``
    (``worker_missing``) with advice when nothing suitable is found."""
    source = "given"
    if python is None:
        python, source = resolve_python()
    if python:
        if not (os.path.isfile(python) and os.access(python, os.X_OK)):
            raise WorkerError(
                "worker_missing",
                f"Python interpreter {python!r} ({source}) is not an executable file; "
                "set it in Plugins › OCGNet Locate › Settings",
            )
        return [python, "-m", "ocgnet_geo.cli", "worker"]
    script = shutil.which("ocgnet-geo")
    if script:
        return [script, "worker"]
    raise WorkerError(
        "worker_missing",
        "no OCGNet worker found: install ocgnet-geo in a Python environment "
        "(pip install ocgnet-geo) and choose its interpreter in "
        "Plugins › OCGNet Locate › Settings",
    )


def precision() -> str:
    """The precision setting (``auto`` when unset or not one of :data:`PRECISIONS`)."""
    value = get("precision", "auto").strip().lower()
    return value if value in PRECISIONS else "auto"


def default_weights() -> str:
    """The weights file from ``OCGNET_WEIGHTS`` or the plugin setting; '' when neither is
    set, which means the worker's bundled model (the matcher, drone/aerial photos)."""
    return os.environ.get(ENV_WEIGHTS, "").strip() or get("weights").strip()
