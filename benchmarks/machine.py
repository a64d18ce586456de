"""The line every benchmark prints first: CPU model, its vector/bf16/int8 flags, the
precision ``auto`` resolves to on it, torch's version and thread count (figures from
different machines are only comparable with it)."""

from __future__ import annotations

import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (``platform.processor()`` elsewhere)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def machine_line() -> str:
    """``CPU: <model>; flags: <flags>; auto → <precision>: <reason>; torch <v>, <n> threads``."""
    import torch

    from ocgnet_geo.locate.precision import cpu_report

    report = cpu_report()
    return (
        f"CPU: {cpu_model()}; flags: {report['CPU flags']}; {report['precision auto']}; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
