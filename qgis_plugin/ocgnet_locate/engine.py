"""The plugin-managed engine: a venv in the QGIS profile with the bundled ocgnet-geo wheel.

Standard library only (no QGIS): finding a base Python, the venv layout of each OS, the pip
command, the install steps and the marker that says an engine works. The ``QgsTask`` that
runs :func:`install` is in ``engine_task.py``.

Layout of an engine folder (``<profile>/ocgnet_locate/engine/`` by default)::

    engine.json        the marker: written only after the new venv's worker answered hello
                       and loaded the bundled model; names the venv in use
    install.log        venv creation, pip and verification output of the last run
    venv-<ver>-<time>/ one venv per install; an upgrade or repair builds a new one beside
                       the working one and switches the marker only once it is verified

Venv layouts: ``Scripts\\python.exe`` on Windows, ``bin/python`` on Linux and macOS.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from .worker_client import WorkerClient, WorkerError

MIN_PYTHON = (3, 10)
MARKER = "engine.json"
LOG = "install.log"
#: first line of each run in the log (the log keeps every run; the last one is at the end)
LOG_HEADER = "=== OCGNet engine install"
VENV_PREFIX = "venv-"
#: Where ``make plugin`` puts the wheel and its constraints inside the plugin.
WHEEL_DIR = Path(__file__).resolve().parent / "engine_wheels"
CONSTRAINTS = "constraints.txt"
#: Environment variable naming the base Python to build the engine from (checked first).
ENV_BASE_PYTHON = "OCGNET_BASE_PYTHON"
#: PyTorch's CPU-only index: added on Linux, where PyPI's torch is the multi-GB CUDA build,
#: unless the user's pip configuration names its own index or find-links (then it decides).
PYTORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: A CUDA build for Windows (PyPI's Windows torch is CPU-only); on Linux PyPI's is CUDA.
PYTORCH_CUDA_INDEX_WINDOWS = "https://download.pytorch.org/whl/cu128"
TORCH_BUILDS = ("cpu", "gpu")
#: Disk space an install needs (venv + pip's unpacked wheels), from a Linux install with the
#: CPU torch wheel: the venv takes 1.5 GB; the CUDA build with its NVIDIA libraries ~7 GB.
NEEDED_BYTES = {"cpu": 2_500_000_000, "gpu": 10_000_000_000}
#: Environment variables that would make the engine's Python use another installation, or
#: pip install somewhere else than into the engine's venv.
FOREIGN_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONUSERBASE")
FOREIGN_ENV += ("PIP_TARGET", "PIP_PREFIX", "PIP_ROOT", "PIP_USER")

PROBE = r"""
import json, sys
def has(name):
    try:
        __import__(name)
        return True
    except Exception:
        return False
print(json.dumps({
    "version": list(sys.version_info[:3]),
    "executable": sys.executable,
    "base_executable": getattr(sys, "_base_executable", sys.executable),
    "in_venv": sys.prefix != sys.base_prefix,
    "base_prefix": sys.base_prefix,
    "venv": has("venv"),
    "ensurepip": has("ensurepip"),
}))
"""


class EngineError(Exception):
    """An install step failed. ``code``: ``no_python``, ``no_wheel``, ``disk_full``,
    ``venv_failed``, ``pip_failed``, ``verify_failed``, ``cancelled``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- layout ----------------------------------------------------------------------------------


def venv_python(venv: Path, system: str | None = None) -> Path:
    """The interpreter of a venv: ``Scripts\\python.exe`` on Windows, else ``bin/python``."""
    if (system or platform.system()) == "Windows":
        return Path(venv) / "Scripts" / "python.exe"
    return Path(venv) / "bin" / "python"


def worker_command(python: str) -> list[str]:
    """How the engine's worker starts: isolated (``-I``: neither the current folder, nor
    ``PYTHONPATH``, nor the user's site-packages can shadow the engine's packages),
    unbuffered, UTF-8 stdio."""
    return [str(python), "-I", "-u", "-X", "utf8", "-m", "ocgnet_geo.cli", "worker"]


def read_marker(root: Path) -> dict | None:
    """The marker of a working engine, or None (no engine, or never verified)."""
    try:
        data = json.loads((Path(root) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("python") else None


def write_marker(root: Path, data: dict) -> None:
    tmp = Path(root) / (MARKER + ".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, Path(root) / MARKER)


def working_python(root: Path) -> str | None:
    """The interpreter of the engine in ``root`` when its marker exists and the file is
    there; None otherwise."""
    marker = read_marker(root)
    if marker is None:
        return None
    python = marker["python"]
    return python if os.path.isfile(python) else None


def is_inside(path: str | os.PathLike, root: str | os.PathLike) -> bool:
    """Whether ``path`` lies under ``root`` (both made absolute, links not followed; case
    folded on Windows)."""

    def norm(p) -> Path:
        return Path(os.path.normcase(os.path.abspath(p)))

    try:
        norm(path).relative_to(norm(root))
    except ValueError:
        return False
    return True


def clean_env(base: dict | None = None) -> dict:
    """The environment for the engine's processes: no variable that points Python at another
    installation (QGIS on Windows sets PYTHONHOME/PYTHONPATH); pip's own ``PIP_*``
    variables, proxies and certificates stay."""
    env = dict(os.environ if base is None else base)
    for key in FOREIGN_ENV:
        env.pop(key, None)
    env["PYTHONIOENCODING"] = "utf-8"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_bytes(path: Path) -> int:
    """Free space on the disk that holds ``path`` (or its nearest existing parent)."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path.parent != path:
        path = path.parent
    return shutil.disk_usage(path).free


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit in ("B", "kB") else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


# --- the bundled wheel -----------------------------------------------------------------------


@dataclass(frozen=True)
class Wheel:
    path: Path
    version: str
    sha256: str
    constraints: Path | None


def bundled_wheel(wheel_dir: Path | None = None) -> Wheel:
    """The ocgnet-geo wheel the plugin carries (``make plugin`` puts it there)."""
    wheel_dir = Path(wheel_dir or WHEEL_DIR)
    wheels = sorted(wheel_dir.glob("ocgnet_geo-*.whl")) if wheel_dir.is_dir() else []
    if not wheels:
        raise EngineError(
            "no_wheel",
            f"this copy of the plugin carries no ocgnet-geo wheel (in {wheel_dir}); install "
            "the plugin from the ZIP that `make plugin` builds",
        )
    path = max(wheels, key=lambda p: version_key(p.name.split("-")[1]))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    constraints = wheel_dir / CONSTRAINTS
    return Wheel(
        path, path.name.split("-")[1], digest, constraints if constraints.is_file() else None
    )


def version_key(version: str) -> tuple:
    """A sort key for simple versions ("0.1.0", "0.2.0rc1"): numbers compare as numbers."""
    return tuple(int(p) if p.isdigit() else -1 for p in re.split(r"[.+-]|(?<=\d)(?=\D)", version))


# --- the base Python -------------------------------------------------------------------------


@dataclass(frozen=True)
class BasePython:
    path: str
    version: tuple[int, int, int]
    reason: str

    @property
    def version_text(self) -> str:
        return ".".join(str(v) for v in self.version)


def qgis_python_candidates(system: str | None = None) -> list[str]:
    """Where QGIS's own interpreter is: ``sys.executable`` inside QGIS is usually the QGIS
    program itself (``qgis.bin``, ``qgis-bin.exe``, ``QGIS.app/Contents/MacOS/QGIS``)."""
    system = system or platform.system()
    pure = PureWindowsPath if system == "Windows" else PurePosixPath
    major, minor = sys.version_info[:2]
    exe = pure(sys.executable)
    found = [sys.executable, getattr(sys, "_base_executable", "")]
    for prefix in dict.fromkeys([sys.exec_prefix, sys.base_exec_prefix]):
        p = pure(prefix)
        if system == "Windows":  # OSGeo4W / the standalone installer: apps\Python3xx
            found += [str(p / "python.exe"), str(p / "python3.exe")]
        else:
            found += [str(p / "bin" / f"python{major}.{minor}"), str(p / "bin" / "python3")]
    if system == "Darwin":  # QGIS.app ships Contents/MacOS/bin/python3
        found += [str(exe.parent / "bin" / "python3"), str(exe.parent / f"python{major}.{minor}")]
    if system == "Windows":
        found += [str(exe.parent / "python.exe"), str(exe.parent / "python3.exe")]
    return [f for f in dict.fromkeys(found) if f and pure(f).name.lower().startswith("python")]


def path_python_candidates(system: str | None = None) -> list[str]:
    """Pythons on PATH, newest name first."""
    names = [f"python3.{minor}" for minor in range(14, MIN_PYTHON[1] - 1, -1)]
    names += ["python3", "python"]
    found = [shutil.which(name) for name in names]
    return [f for f in dict.fromkeys(found) if f]


QGIS_OWN = "QGIS's own Python"


def _same_prefix(facts: dict) -> bool:
    """Whether a probed interpreter is the installation QGIS runs (same base prefix)."""

    def norm(path: str) -> str:
        return os.path.normcase(os.path.realpath(path))

    return norm(str(facts.get("base_prefix", ""))) == norm(sys.base_prefix)


def default_candidates() -> list[tuple[str, str]]:
    """``(interpreter, why)`` in the order they are tried."""
    out = []
    chosen = os.environ.get(ENV_BASE_PYTHON, "").strip()
    if chosen:
        out.append((chosen, f"set by {ENV_BASE_PYTHON}"))
    out += [(p, QGIS_OWN) for p in qgis_python_candidates()]
    out += [
        (p, "found on PATH (QGIS's own Python is not usable)") for p in path_python_candidates()
    ]
    return out


def probe_python(path: str) -> tuple[dict | None, str]:
    """``(facts, problem)``: facts of a usable interpreter, or None and why not."""
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        return None, "not an executable file"
    try:
        done = subprocess.run(
            [path, "-I", "-c", PROBE],
            capture_output=True,
            text=True,
            timeout=30,
            env=clean_env(),
            **_no_window(),
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, f"does not run ({err})"
    try:
        facts = json.loads(done.stdout.strip().splitlines()[-1])
        version = tuple(int(v) for v in facts["version"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None, f"is not a Python that answers (exit code {done.returncode})"
    if version[:2] < MIN_PYTHON:
        return None, f"is Python {'.'.join(map(str, version))}, older than 3.10"
    if not (facts.get("venv") and facts.get("ensurepip")):
        return None, (
            f"Python {'.'.join(map(str, version[:2]))} has no venv/ensurepip "
            "(Debian/Ubuntu: sudo apt install python3-venv)"
        )
    facts["version"] = version
    return facts, ""


def find_base_python(candidates: Iterable[tuple[str, str]] | None = None) -> BasePython:
    """The first usable interpreter (≥ 3.10 with venv and ensurepip); raises
    :class:`EngineError` ``no_python`` listing what was tried."""
    tried = []
    for path, why in default_candidates() if candidates is None else candidates:
        facts, problem = probe_python(path)
        if facts is not None and why == QGIS_OWN and not _same_prefix(facts):
            # inside QGIS, sys.executable can be a "python3" found on PATH (pyenv, conda)
            facts, problem = (
                None,
                f"is not QGIS's Python (its prefix is {facts.get('base_prefix')})",
            )
        if facts is None:
            tried.append(f"{path} {problem}")
            continue
        base = facts.get("base_executable") or path
        if not os.path.isfile(base):
            base = path
        return BasePython(base, facts["version"], why)
    detail = "; ".join(tried) if tried else "no candidate at all"
    raise EngineError(
        "no_python",
        f"no usable Python ≥ 3.10 with venv found ({detail}); install Python 3.10 or newer, "
        f"or name one in the environment variable {ENV_BASE_PYTHON}",
    )


# --- pip sources -----------------------------------------------------------------------------


def pip_config(python: str) -> dict[str, str]:
    """``pip config list`` of the engine's pip: files and ``PIP_*`` variables."""
    try:
        done = subprocess.run(
            [python, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(),
            **_no_window(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    out = {}
    for line in done.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip().strip("'\"")
    return out


def pip_sources(
    config: dict[str, str],
    torch_build: str = "cpu",
    wheelhouse: str = "",
    system: str | None = None,
) -> tuple[list[str], str]:
    """Extra pip arguments for where packages come from, and a sentence saying why.

    A wheelhouse folder: only it (``--no-index``, for an air gap). A pip configuration that
    names an index, find-links or no-index (pip.conf, ``PIP_*``): exactly that. Otherwise
    PyPI, plus PyTorch's CPU index on Linux for a CPU build (PyPI's Linux torch is CUDA),
    or PyTorch's CUDA index on Windows when a GPU build is asked for."""
    system = system or platform.system()
    if wheelhouse:
        return [
            "--no-index",
            "--find-links",
            wheelhouse,
        ], f"offline, from the wheelhouse {wheelhouse}"
    own = sorted(
        {k.split(".", 1)[-1] for k in config}
        & {"index-url", "extra-index-url", "find-links", "no-index"}
    )
    if own:
        return [], f"your pip configuration ({', '.join(own)}) decides where torch comes from"
    if torch_build == "gpu":
        if system == "Windows":
            return ["--extra-index-url", PYTORCH_CUDA_INDEX_WINDOWS], "PyPI + PyTorch's CUDA index"
        return [], "PyPI (its Linux torch is the CUDA build)"
    if system == "Linux":
        return ["--extra-index-url", PYTORCH_CPU_INDEX], "PyPI + PyTorch's CPU-only index"
    return [], "PyPI (its torch for this OS is a CPU build)"


# --- running steps ---------------------------------------------------------------------------


def _no_window() -> dict:
    """Popen arguments that keep a console window from popping up on Windows."""
    if platform.system() == "Windows":
        return {"creationflags": getattr(subprocess, "CREATE_NO_WINDOW", 0)}
    return {"start_new_session": True}


@dataclass
class Progress:
    """Where :func:`install` reports: ``step(fraction 0..1, text)``, ``log(line)``,
    ``cancelled()``."""

    step: Callable[[float, str], None] = lambda fraction, text: None
    log: Callable[[str], None] = lambda line: None
    cancelled: Callable[[], bool] = lambda: False


def run_step(
    command: list[str],
    progress: Progress,
    on_line: Callable[[str], None] | None = None,
    cwd: str | None = None,
) -> tuple[int, list[str]]:
    """Run ``command`` (output to the log, line by line); kill it when cancelled.
    Returns ``(exit code, last output lines)``; raises ``EngineError`` ``cancelled``."""
    progress.log("$ " + " ".join(command))
    try:
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=clean_env(),
            cwd=cwd,
            **_no_window(),
        )
    except OSError as err:
        return 127, [str(err)]
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line.rstrip())
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    tail: list[str] = []
    while True:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            line = ""
        if progress.cancelled():
            _kill(proc)
            raise EngineError("cancelled", "engine install cancelled")
        if line is None:
            break
        if line:
            progress.log(line)
            tail = [*tail[-19:], line]
            if on_line is not None:
                on_line(line)
    return proc.wait(), tail


def _kill(proc: subprocess.Popen) -> None:
    try:
        if platform.system() == "Windows":
            proc.kill()
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        pass


def _pip_problem(tail: list[str]) -> str:
    """The line of pip's output that says what went wrong."""
    text = "\n".join(tail)
    if "No space left on device" in text or "Errno 28" in text:
        return "the disk is full"
    problem = tail[-1] if tail else "no output"
    for line in reversed(tail):
        if line.startswith("ERROR:"):
            problem = line[len("ERROR:") :].strip()
            break
    unreachable = ("NewConnectionError", "ProxyError", "Failed to establish", "Max retries")
    if "No matching distribution" in problem or any(u in text for u in unreachable):
        problem += (
            " (is the package index reachable? behind a proxy or offline: set pip's proxy, "
            "or choose a wheelhouse folder; details in the pip log)"
        )
    return problem


# --- install / verify / remove ---------------------------------------------------------------


@dataclass
class Options:
    root: Path
    wheel_dir: Path | None = None
    torch_build: str = "cpu"
    wheelhouse: str = ""
    repair: bool = False
    candidates: list[tuple[str, str]] | None = None
    #: free-space probe (tests inject a full disk)
    free_space: Callable[[Path], int] = free_bytes
    extra_pip_args: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    #: ``installed``, ``upgraded``, ``repaired``, ``unchanged``
    action: str
    marker: dict
    seconds: float
    message: str


def plan(options: Options) -> dict:
    """What an install would do, for the dialog before it starts (no subprocess): bundled
    version, installed version, disk needed and free."""
    root = Path(options.root)
    info: dict = {"root": str(root), "needed": NEEDED_BYTES.get(options.torch_build, 0)}
    info["free"] = options.free_space(root)
    try:
        info["wheel"] = bundled_wheel(options.wheel_dir).version
    except EngineError as err:
        info["wheel"], info["error"] = None, err.message
    marker = read_marker(root)
    info["installed"] = marker.get("version") if marker else None
    return info


def verify(python: str, timeout: float = 180.0, load: bool = True) -> dict:
    """Start the engine's worker: ``hello`` (and ``load`` of the bundled model); returns
    ``{"hello": ..., "model": ...}``; raises :class:`WorkerError`."""
    client = WorkerClient(lambda: worker_command(python), env_factory=lambda: clean_env())
    try:
        hello = client.hello(timeout=timeout)
        model = client.request("load", {}, timeout=timeout) if load else None
        return {"hello": hello, "model": model}
    finally:
        client.shutdown()


def install(options: Options, progress: Progress | None = None) -> Outcome:
    """Create or update the engine in ``options.root``; raises :class:`EngineError`.

    A working engine of the bundled wheel (same version and file) is left as it is (after a
    hello). Otherwise a new venv is built beside it, the wheel installed with pip, the
    worker verified (hello + load of the bundled model), and only then the marker switched
    to it; the old venv is removed afterwards. On any failure or cancel the new venv is
    deleted and the marker stays what it was (none after a Repair)."""
    progress = progress or Progress()
    started = time.monotonic()
    root = Path(options.root)
    wheel = bundled_wheel(options.wheel_dir)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOG, "a", encoding="utf-8") as log:

        def tee(line: str) -> None:
            log.write(line + "\n")
            log.flush()
            progress.log(line)

        logged = Progress(progress.step, tee, progress.cancelled)
        tee(f"{LOG_HEADER}, {time.strftime('%Y-%m-%d %H:%M:%S')}, bundled {wheel.path.name}")
        try:
            outcome = _install(options, logged, root, wheel, started)
        except EngineError as err:
            tee(f"failed ({err.code}): {err.message}")
            raise
        tee(outcome.message)
        return outcome


def _install(
    options: Options, progress: Progress, root: Path, wheel: Wheel, started: float
) -> Outcome:
    marker = read_marker(root)
    progress.step(0.01, "checking the installed engine…")
    if marker and not options.repair and _same_build(marker, wheel, options.torch_build):
        try:
            hello = verify(marker["python"], timeout=120, load=False)["hello"]
            if hello.get("version") != wheel.version:
                raise WorkerError("internal", f"it reports version {hello.get('version')}")
        except WorkerError as err:
            progress.log(f"installed engine does not work ({err.message}); reinstalling")
        else:
            return Outcome(
                "unchanged",
                marker,
                time.monotonic() - started,
                f"the OCGNet engine {wheel.version} is installed and works; nothing to do",
            )
    action = "repaired" if options.repair and marker else "installed"
    if marker and not options.repair and marker.get("version") != wheel.version:
        action = "upgraded"
    _sweep(root, keep=marker)
    needed = NEEDED_BYTES.get(options.torch_build, NEEDED_BYTES["cpu"])
    free = options.free_space(root)
    if free < needed:
        raise EngineError(
            "disk_full",
            f"not enough disk space for the OCGNet engine: it needs about "
            f"{human_bytes(needed)}, {human_bytes(free)} free at {root}",
        )
    if options.repair and marker:
        (root / MARKER).unlink(missing_ok=True)  # a repair does not trust the old engine
    progress.step(0.03, "looking for a Python ≥ 3.10…")
    base = find_base_python(options.candidates)
    progress.log(f"base Python: {base.path}, Python {base.version_text} ({base.reason})")
    venv = root / f"{VENV_PREFIX}{wheel.version}-{time.strftime('%Y%m%d%H%M%S')}"
    try:
        outcome_marker = _build(options, progress, base, wheel, venv)
    except BaseException:
        shutil.rmtree(venv, ignore_errors=True)
        raise
    write_marker(root, outcome_marker)
    _sweep(root, keep=outcome_marker)
    progress.step(1.0, "done")
    what = {"installed": "installed", "upgraded": "upgraded to", "repaired": "reinstalled"}
    return Outcome(
        action,
        outcome_marker,
        time.monotonic() - started,
        f"OCGNet engine {what[action]} {wheel.version} (Python {base.version_text}, "
        f"torch {outcome_marker.get('torch_build')}) in {root}",
    )


def _same_build(marker: dict, wheel: Wheel, torch_build: str) -> bool:
    return (
        marker.get("version") == wheel.version
        and marker.get("torch_build") == torch_build
        and marker.get("wheel_sha256") == wheel.sha256
        and os.path.isfile(marker.get("python", ""))
    )


def _build(
    options: Options, progress: Progress, base: BasePython, wheel: Wheel, venv: Path
) -> dict:
    progress.step(0.05, f"creating the environment (Python {base.version_text})…")
    code, tail = run_step([base.path, "-m", "venv", str(venv)], progress)
    python = venv_python(venv)
    if code != 0 or not python.is_file():
        raise EngineError(
            "venv_failed",
            f"could not create the engine's venv with {base.path}: {_pip_problem(tail)}",
        )
    progress.step(0.12, "reading pip's configuration…")
    sources, why = pip_sources(pip_config(str(python)), options.torch_build, options.wheelhouse)
    progress.log(f"package sources: {why}")
    command = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    command += ["--progress-bar", "off", "--no-input", *sources, *options.extra_pip_args]
    if wheel.constraints is not None:
        command += ["-c", str(wheel.constraints)]
    command.append(str(wheel.path))
    state = {"collected": 0}

    def on_line(line: str) -> None:
        if line.startswith(("Collecting ", "Processing ")):
            state["collected"] += 1
            name = line.split()[1].split("/")[-1]
            if name.endswith(".whl"):
                name = name.split("-")[0]
            # about 40 packages: resolving takes 0.15 .. 0.55 of the bar
            fraction = 0.15 + 0.4 * min(1.0, state["collected"] / 40)
            progress.step(fraction, f"pip: collecting {name}…")
        elif line.startswith("Installing collected packages"):
            progress.step(0.6, "pip: installing the packages (torch takes a while)…")

    progress.step(0.15, f"pip: installing ocgnet-geo {wheel.version} ({why})…")
    code, tail = run_step(command, progress, on_line=on_line, cwd=str(venv))
    if code != 0:
        raise EngineError("pip_failed", f"pip could not install the engine: {_pip_problem(tail)}")
    progress.step(0.9, "starting the new engine's worker…")
    if progress.cancelled():
        raise EngineError("cancelled", "engine install cancelled")
    try:
        checked = verify(str(python))
    except WorkerError as err:
        raise EngineError(
            "verify_failed", f"the new engine's worker did not work: {err.message}"
        ) from None
    hello = checked["hello"]
    progress.log("hello: " + json.dumps(hello))
    if hello.get("version") != wheel.version:
        raise EngineError(
            "verify_failed",
            f"the new engine reports ocgnet-geo {hello.get('version')}, not {wheel.version}",
        )
    if progress.cancelled():
        raise EngineError("cancelled", "engine install cancelled")
    return {
        "version": wheel.version,
        "wheel": wheel.path.name,
        "wheel_sha256": wheel.sha256,
        "python": str(python),
        "venv": venv.name,
        "base_python": base.path,
        "base_reason": base.reason,
        "python_version": base.version_text,
        "torch_build": options.torch_build,
        "sources": why,
        "hello": hello,
        "model": checked["model"],
        "installed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _sweep(root: Path, keep: dict | None) -> None:
    """Delete venvs the marker does not name (left by failed, cancelled or replaced runs)."""
    keep_name = (keep or {}).get("venv")
    for child in Path(root).glob(VENV_PREFIX + "*"):
        if child.is_dir() and child.name != keep_name:
            shutil.rmtree(child, ignore_errors=True)


def remove(root: Path) -> None:
    """Delete the engine folder (the marker first, so a half-deleted one never looks
    working)."""
    root = Path(root)
    (root / MARKER).unlink(missing_ok=True)
    shutil.rmtree(root, ignore_errors=True)
