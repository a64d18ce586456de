"""Build the plugin ZIP with its engine: ``python qgis_plugin/build_plugin.py OUT.zip``.

The ZIP holds ``ocgnet_locate/`` and, in ``ocgnet_locate/engine_wheels/``, the ocgnet-geo
wheel built from this checkout (with the bundled model) and ``constraints.txt`` (the pins the
project is tested with, ``.ci/constraints.txt``). ``--wheels-only DIR`` writes just the wheel
and the constraints to DIR (the tier-3 engine test uses it). Run it with an interpreter that
has setuptools ≥ 77 (the project's .venv): the wheel is built without build isolation, so no
index is needed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "qgis_plugin" / "ocgnet_locate"
CONSTRAINTS_HEADER = """\
# Constraints of the OCGNet engine (the plugin's Install engine passes them to pip with -c).
# The versions ocgnet-geo is tested with; torch==2.13.0 also matches the CPU builds
# (2.13.0+cpu) of PyTorch's CPU index.
"""


def build_wheel(dest: Path) -> Path:
    """Build the ocgnet-geo wheel into ``dest``; check it carries the bundled model."""
    dest.mkdir(parents=True, exist_ok=True)
    for stale in (REPO / "build").glob("lib*"):  # setuptools would reuse deleted files
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"),
                *("--no-build-isolation", "--disable-pip-version-check", str(REPO), "-w", tmp),
            ],
            check=True,
        )
        (wheel,) = Path(tmp).glob("ocgnet_geo-*.whl")
        with zipfile.ZipFile(wheel) as z:
            names = z.namelist()
        models = [
            n for n in names if n.startswith("ocgnet_geo/assets/") and n.endswith(".safetensors")
        ]
        if not models:
            sys.exit(f"{wheel.name}: no ocgnet_geo/assets/*.safetensors inside")
        target = dest / wheel.name
        shutil.copy(wheel, target)
    constraints = (REPO / ".ci" / "constraints.txt").read_text(encoding="utf-8")
    pins = [line for line in constraints.splitlines() if line.strip() and not line.startswith("#")]
    (dest / "constraints.txt").write_text(
        CONSTRAINTS_HEADER + "\n".join(pins) + "\n", encoding="utf-8"
    )
    return target


def build_zip(out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_wheel(Path(tmp) / "engine_wheels")
        out.unlink(missing_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(PLUGIN.rglob("*")):
                rel = path.relative_to(PLUGIN.parent)
                if path.is_file() and "__pycache__" not in rel.parts and path.suffix != ".pyc":
                    if "engine_wheels" not in rel.parts:  # a stale local copy
                        z.write(path, rel.as_posix())
            for path in sorted(wheel.parent.iterdir()):
                z.write(path, f"ocgnet_locate/engine_wheels/{path.name}")
    print(f"built {out} ({out.stat().st_size / 1e6:.1f} MB; engine wheel {wheel.name})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(REPO / "dist" / "ocgnet_locate.zip"))
    parser.add_argument("--wheels-only", metavar="DIR", help="only the wheel + constraints")
    args = parser.parse_args()
    if args.wheels_only:
        print(build_wheel(Path(args.wheels_only)))
    else:
        build_zip(Path(args.out))


if __name__ == "__main__":
    main()
