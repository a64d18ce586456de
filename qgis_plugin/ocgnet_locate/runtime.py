"""The one worker client shared by the panel and the Processing algorithms."""

from __future__ import annotations

import threading

from . import settings
from .worker_client import WorkerClient

_lock = threading.Lock()
_client: WorkerClient | None = None


def shared_client() -> WorkerClient:
    """The plugin-wide :class:`WorkerClient` (the worker itself starts at the first request)."""
    global _client
    with _lock:
        if _client is None:
            _client = WorkerClient(settings.worker_command, settings.worker_env)
        return _client


def shutdown_shared_client() -> None:
    """Stop the worker (plugin unload, QGIS exit)."""
    global _client
    with _lock:
        client, _client = _client, None
    if client is not None:
        client.shutdown()
