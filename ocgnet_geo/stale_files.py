"""Temp files left by writers that were killed (SIGKILL, power loss) before they could
rename or delete them.

Writers that may die name their temp files with their process id; a later writer to the same
folder removes the ones whose process no longer runs. Files of running processes, of other
users' processes and of processes whose state cannot be read are left alone.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` may still be running (True when it cannot be told).

    On Windows ``os.kill(pid, 0)`` would terminate the process, so there the answer is
    always True (stale files are then kept, never a live writer's deleted)."""
    if sys.platform == "win32":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else (or unknown): leave its file alone
    return True


def remove_stale(folder: Path, pattern: str, pid_of: Callable[[str], str]) -> int:
    """Delete the files in ``folder`` matching the glob ``pattern`` whose writer's process
    id (``pid_of(file name)``, a string of digits or anything else to skip the file) is not
    this process and no longer runs; returns how many were deleted."""
    removed = 0
    for path in folder.glob(pattern):
        pid = pid_of(path.name)
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            try:
                path.unlink()
            except OSError:
                continue
            removed += 1
    return removed
