"""*Copy diagnostics*: the facts users paste into an issue report, as plain text.

QGIS version, OS, the worker's Python and where it came from, the engine's marker, what
``ocgnet-geo info --json`` reports in the worker's environment (ocgnet-geo, torch, GDAL,
PROJ, CPU flags, what ``auto`` precision picks), the precision of the loaded model and the
last worker error. :func:`collect` runs a subprocess: call it off the GUI thread.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

from qgis.core import Qgis

from . import engine, settings
from .worker_client import WorkerClient, WorkerError


def _engine_info(prefix: list[str], env: dict) -> dict | str:
    """``ocgnet-geo info --json`` run like the worker (``prefix``: its command without
    ``worker``)."""
    try:
        done = subprocess.run(
            [*prefix, "info", "--json"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"could not run ({err})"
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        return f"exit code {done.returncode}: {tail}"
    try:
        return json.loads(done.stdout)
    except ValueError:
        return "unreadable output"


def _last_install_error(root: Path) -> str | None:
    try:
        lines = (root / engine.LOG).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    starts = [i for i, line in enumerate(lines) if line.startswith(engine.LOG_HEADER)]
    last_run = lines[starts[-1] :] if starts else lines
    failed = [line for line in last_run if line.startswith("failed (")]
    return failed[-1] if failed else None


def collect(client: WorkerClient | None = None) -> str:
    """The diagnostics text (blocking: runs ``info`` in the worker's environment)."""
    lines = [
        "OCGNet Locate diagnostics",
        f"QGIS: {Qgis.version()}",
        f"OS: {platform.platform()} ({platform.machine()})",
        f"QGIS's Python: {sys.version.split()[0]} ({sys.executable})",
    ]
    root = settings.engine_root()
    marker = engine.read_marker(root)
    if marker:
        lines.append(
            f"engine: ocgnet-geo {marker.get('version')} in {root}, torch build "
            f"{marker.get('torch_build')}, installed {marker.get('installed_at')}"
        )
        lines.append(
            f"engine base Python: {marker.get('base_python')}, Python {marker.get('python_version')} "
            f"({marker.get('base_reason')})"
        )
        lines.append(f"engine package sources: {marker.get('sources')}")
    else:
        lines.append(f"engine: not installed in {root}")
    failed = _last_install_error(root)
    if failed:
        lines.append(f"last engine install: {failed}")
    python, source = settings.resolve_python()
    lines.append(f"worker Python: {python or '—'} ({source})")
    try:
        command = settings.worker_command()
    except WorkerError as err:
        lines.append(f"worker: {err.message}")
        command = None
    if command is not None and "ocgnet_geo.cli" in command:
        info = _engine_info(command[:-1], settings.worker_env())
        if isinstance(info, dict):
            for key in ("ocgnet-geo", "python", "torch", "numpy", "rasterio", "GDAL", "PROJ"):
                lines.append(f"worker {key}: {info.get(key)}")
            for key in ("device", "CPU cores", "physical cores", "torch threads", "CPU flags"):
                lines.append(f"worker {key}: {info.get(key)}")
            lines.append(f"worker oneDNN bf16: {info.get('oneDNN bf16')}")
            lines.append(f"worker precision auto: {info.get('precision auto')}")
        else:
            lines.append(f"worker info: {info}")
    lines.append(f"precision setting: {settings.precision()}")
    if client is not None:
        model = client.loaded_model
        if model:
            lines.append(
                f"loaded model: {model.get('id')} ({model.get('family')}), precision "
                f"{model.get('precision')} ({model.get('precision_reason')})"
            )
        lines.append(f"last worker error: {client.last_error or 'none'}")
        tail = client.stderr_tail(5)
        if tail:
            lines.append(f"worker stderr (last lines): {tail}")
    return "\n".join(lines)
