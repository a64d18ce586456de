"""Inference precision and thread count: what the user asks for, what this machine can do.

Precision modes (``--precision``, ``Locator(..., precision=)``):

* ``fp32``: float32 everywhere (the reference's arithmetic).
* ``bf16``: the satellite branch (DarkNet-53 / MobileNetV2, the heavy part) runs in
  bfloat16 (BatchNorm folded in float32, then its weights cast once, see
  :mod:`ocgnet_geo.locate.inference`); its features are cached in bfloat16 (half the memory);
  the query branch, fusion, head and box decoding run in float32 (they are cheap, and the
  ranking is decided there).
* ``auto``: ``bf16`` on a CPU that computes bfloat16 natively (``avx512_bf16`` or
  ``amx_bf16`` in ``/proc/cpuinfo`` *and* PyTorch's oneDNN reports bf16 support), ``fp32``
  on other CPUs (where bf16 is emulated and slower than fp32); on CUDA, ``bf16`` where the
  GPU supports it, else ``fp16``.

``int8`` (post-training quantisation of the DarkNet convolutions) was measured and left out
(about 20 % faster than bf16 here, but its top-1 boxes disagree with fp32's): see
``docs/precision.md``; asking for it is a one-line :class:`PrecisionError`.

This module imports torch only inside the functions that need it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ocgnet_geo.errors import InputError

#: Values accepted by ``--precision`` and ``Locator(precision=...)``.
PRECISIONS = ("auto", "fp32", "bf16")
#: Modes the model actually runs in (``fp16`` only as ``auto`` on CUDA without bf16).
MODES = ("fp32", "bf16", "fp16")
#: CPU flags (``/proc/cpuinfo``) meaning bfloat16 arithmetic in hardware.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
#: Flags reported by ``ocgnet-geo info`` and the benchmarks (vector width, bf16 and int8 paths).
REPORTED_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512_bf16",
    "amx_bf16",
    "avx512_vnni",
    "avx_vnni",
    "amx_int8",
)
CPUINFO = Path("/proc/cpuinfo")

INT8_REFUSAL = (
    "precision 'int8': not offered: post-training int8 failed the box-parity check against "
    "fp32 (see docs/precision.md); use bf16 or auto"
)


class PrecisionError(InputError):
    """A precision name that is not one of :data:`PRECISIONS`, or one the device cannot run."""


class ThreadsError(InputError):
    """A thread count that is not a positive integer."""


@dataclass(frozen=True)
class Precision:
    """A resolved precision: ``mode`` (one of :data:`MODES`), what was ``requested`` and a
    one-line ``reason`` for people ("auto → bf16: CPU has avx512_bf16, amx_bf16")."""

    mode: str
    requested: str
    reason: str

    @property
    def reduced(self) -> bool:
        """True when the satellite branch runs in 16-bit floats."""
        return self.mode != "fp32"


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The feature flags of the first CPU in ``/proc/cpuinfo`` (empty where there is none,
    e.g. macOS or Windows)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def torch_cpu_bf16() -> bool:
    """Whether PyTorch's oneDNN can run bf16 convolutions natively on this CPU."""
    import torch

    if not torch.backends.mkldnn.is_available():
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # older or unusual builds: ask the CPU helpers
        probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
        return bool(probe()) if probe is not None else False


def cpu_bf16_support(flags: frozenset[str] | None = None) -> tuple[bool, str]:
    """``(native, explanation)``: native bf16 needs a bf16 CPU flag and oneDNN's support."""
    flags = cpu_flags() if flags is None else flags
    found = [f for f in BF16_FLAGS if f in flags]
    if not found:
        return False, f"CPU has none of {', '.join(BF16_FLAGS)}"
    if not torch_cpu_bf16():
        return False, f"CPU has {', '.join(found)} but this PyTorch's oneDNN has no bf16 path"
    return True, f"CPU has {', '.join(found)}"


def resolve_precision(
    requested: str | None, device: str = "cpu", flags: frozenset[str] | None = None
) -> Precision:
    """The mode to run in for ``requested`` (None = ``auto``) on ``device`` ("cpu", "cuda",
    "cuda:1", ...). ``flags`` overrides ``/proc/cpuinfo`` (tests). Raises
    :class:`PrecisionError` for an unknown name."""
    name = "auto" if requested is None else str(requested).strip().lower()
    if name == "int8":
        raise PrecisionError(INT8_REFUSAL)
    if name not in PRECISIONS:
        raise PrecisionError(f"precision {requested!r}: not one of {', '.join(PRECISIONS)}")
    if str(device).startswith("cuda"):
        return _resolve_cuda(name)
    if name == "fp32":
        return Precision("fp32", name, "fp32: requested")
    native, why = cpu_bf16_support(flags)
    if name == "bf16":
        note = why if native else f"{why}: emulated, likely slower than fp32"
        return Precision("bf16", name, f"bf16: requested ({note})")
    return Precision(
        "bf16" if native else "fp32", name, f"auto → {'bf16' if native else 'fp32'}: {why}"
    )


def _resolve_cuda(name: str) -> Precision:
    import torch

    if name == "fp32":
        return Precision("fp32", name, "fp32: requested")
    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if name == "bf16":
        return Precision("bf16", name, "bf16: requested (CUDA autocast)")
    mode = "bf16" if bf16 else "fp16"
    why = "GPU supports bf16" if bf16 else "GPU has no bf16: fp16 autocast"
    return Precision(mode, name, f"auto → {mode}: {why}")


def physical_cores(cpuinfo: Path = CPUINFO) -> int:
    """Physical cores this process may run on.

    Counts distinct (``physical id``, ``core id``) pairs of ``/proc/cpuinfo`` among the CPUs
    in ``os.sched_getaffinity`` (so SMT siblings count once and a container's CPU set is
    respected); falls back to the affinity set or ``os.cpu_count()`` where that information
    is missing. A thread per physical core is what oneDNN convolutions scale with; SMT
    siblings share the core's vector units and mostly add contention.
    """
    try:
        allowed = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        allowed = set(range(os.cpu_count() or 1))
    cores: set[tuple[str, str]] = set()
    try:
        blocks = cpuinfo.read_text(encoding="utf-8", errors="replace").split("\n\n")
    except OSError:
        blocks = []
    for block in blocks:
        fields = {}
        for line in block.splitlines():
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        if "processor" not in fields or "core id" not in fields:
            continue
        if int(fields["processor"]) in allowed:
            cores.add((fields.get("physical id", "0"), fields["core id"]))
    return max(1, len(cores) or len(allowed))


def resolve_threads(threads: int | str | None) -> int:
    """The thread count to use: ``threads`` when given (a positive integer, capped at the
    CPUs available with a warning, see :func:`ocgnet_geo.locate.limits.cap_threads`), else
    :func:`physical_cores`. Raises :class:`ThreadsError`."""
    from ocgnet_geo.locate.limits import cap_threads

    if threads is None:
        return physical_cores()
    try:
        value = int(threads)
    except (TypeError, ValueError):
        value = 0
    if isinstance(threads, bool) or value < 1 or str(value) != str(threads).strip():
        raise ThreadsError(f"threads {threads!r}: must be a whole number >= 1")
    return cap_threads(value)


def apply_threads(threads: int | str | None) -> int:
    """Resolve ``threads`` and set PyTorch's intra-op thread count to it; returns it."""
    import torch

    count = resolve_threads(threads)
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count


def cpu_report(flags: frozenset[str] | None = None) -> dict[str, object]:
    """What ``ocgnet-geo info`` shows: the relevant CPU flags found, oneDNN's bf16 support,
    physical cores and what ``auto`` resolves to on the CPU."""
    flags = cpu_flags() if flags is None else flags
    auto = resolve_precision("auto", "cpu", flags)
    return {
        "CPU flags": " ".join(f for f in REPORTED_FLAGS if f in flags) or "none of interest",
        "oneDNN bf16": torch_cpu_bf16(),
        "physical cores": physical_cores(),
        "precision auto": auto.reason,
    }
