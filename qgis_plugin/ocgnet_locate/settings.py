"""Plugin settings (``QgsSettings`` under ``ocgnet_locate/``) and how the worker is found.

The worker's Python interpreter is taken, in this order, from the ``OCGNET_PYTHON``
environment variable (for ``qgis_process`` and scripts), the plugin setting (which *Install
engine* sets to the engine's interpreter), then auto-detection: the installed engine, QGIS's
own Python when it can import ``ocgnet_geo``, else an ``ocgnet-geo`` script on ``PATH``.

An interpreter inside the engine folder counts only while the engine's marker names it (a
deleted or half-installed engine gives one clear ``worker_missing`` message), and runs
without the variables that point Python elsewhere (``engine.clean_env``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

from qgis.core import QgsSettings

from . import engine
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


def default_engine_root() -> Path:
    """``<profile>/ocgnet_locate/engine`` of the running QGIS profile."""
    from qgis.core import QgsApplication

    return Path(QgsApplication.qgisSettingsDirPath()) / "ocgnet_locate" / "engine"


def engine_root() -> Path:
    """The engine folder: the one of the last install (setting ``engine_dir``), else the
    profile's default."""
    return Path(get("engine_dir").strip() or default_engine_root())


def engine_missing_message(root: Path) -> str:
    return (
        f"the OCGNet engine in {root} is missing or incomplete (deleted, or its install did "
        "not finish): install it again with Plugins › OCGNet Locate › Settings › Install engine"
    )


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
    installed = engine.working_python(engine_root())
    if installed:
        return installed, "the installed engine"
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
        root = engine_root()
        if engine.is_inside(python, root):
            if engine.working_python(root) != python:
                raise WorkerError("worker_missing", engine_missing_message(root))
            return engine.worker_command(python)
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
        "the OCGNet engine is not installed: press Install engine in "
        "Plugins › OCGNet Locate › Settings (or choose a Python with ocgnet-geo there)",
    )


def worker_env(python: str | None = None) -> dict:
    """The worker's environment: QGIS's, without PYTHONPATH/PYTHONHOME & co. when the
    worker (``python``; None: the resolved one) is the installed engine (self-contained)."""
    if python is None:
        try:
            python = worker_command()[0]
        except WorkerError:
            return dict(os.environ)
    if engine.is_inside(python, engine_root()):
        return engine.clean_env()
    return dict(os.environ)


def precision() -> str:
    """The precision setting (``auto`` when unset or not one of :data:`PRECISIONS`)."""
    value = get("precision", "auto").strip().lower()
    return value if value in PRECISIONS else "auto"


def default_weights() -> str:
    """The weights file from ``OCGNET_WEIGHTS`` or the plugin setting; '' when neither is
    set, which means the worker's bundled model (the matcher, drone/aerial photos)."""
    return os.environ.get(ENV_WEIGHTS, "").strip() or get("weights").strip()


def torch_build() -> str:
    """The torch build the engine install asks for: ``cpu`` (default) or ``gpu``."""
    value = get("torch_build", "cpu").strip().lower()
    return value if value in engine.TORCH_BUILDS else "cpu"
