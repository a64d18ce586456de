"""The engine's rules that need no QGIS (``qgis_plugin/ocgnet_locate/engine.py`` is stdlib
only): venv layouts and QGIS's Python on each OS, where pip takes packages from, pip's
errors in one line, the Python probe. The install itself is tested with real QGIS and pip in
``tests/qgis/test_engine_install.py``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "qgis_plugin"))

from ocgnet_locate import engine


def test_venv_layouts() -> None:
    assert engine.venv_python(Path("e"), "Windows") == Path("e/Scripts/python.exe")
    assert engine.venv_python(Path("e"), "Linux") == Path("e/bin/python")
    assert engine.venv_python(Path("e"), "Darwin") == Path("e/bin/python")


def test_qgis_python_on_windows_osgeo4w(monkeypatch) -> None:
    monkeypatch.setattr(sys, "executable", r"C:\OSGeo4W\bin\qgis-bin.exe")
    monkeypatch.setattr(sys, "_base_executable", r"C:\OSGeo4W\bin\qgis-bin.exe", raising=False)
    monkeypatch.setattr(sys, "exec_prefix", r"C:\OSGeo4W\apps\Python312")
    monkeypatch.setattr(sys, "base_exec_prefix", r"C:\OSGeo4W\apps\Python312")
    found = engine.qgis_python_candidates("Windows")
    assert found[0] == r"C:\OSGeo4W\apps\Python312\python.exe"
    assert r"C:\OSGeo4W\bin\python.exe" in found
    assert not [f for f in found if f.lower().endswith("qgis-bin.exe")]


def test_qgis_python_on_macos(monkeypatch) -> None:
    app = "/Applications/QGIS.app/Contents"
    monkeypatch.setattr(sys, "executable", f"{app}/MacOS/QGIS")
    monkeypatch.setattr(sys, "_base_executable", f"{app}/MacOS/QGIS", raising=False)
    monkeypatch.setattr(sys, "exec_prefix", f"{app}/Frameworks/Python.framework/Versions/3.9")
    monkeypatch.setattr(sys, "base_exec_prefix", sys.exec_prefix)
    found = engine.qgis_python_candidates("Darwin")
    assert f"{app}/MacOS/bin/python3" in found
    assert not [f for f in found if f.endswith("/QGIS")]


def test_qgis_python_on_linux(monkeypatch) -> None:
    monkeypatch.setattr(sys, "executable", "/usr/bin/qgis.bin")
    monkeypatch.setattr(sys, "_base_executable", "/usr/bin/qgis.bin", raising=False)
    monkeypatch.setattr(sys, "exec_prefix", "/usr")
    monkeypatch.setattr(sys, "base_exec_prefix", "/usr")
    major, minor = sys.version_info[:2]
    assert engine.qgis_python_candidates("Linux") == [
        f"/usr/bin/python{major}.{minor}",
        "/usr/bin/python3",
    ]


@pytest.mark.parametrize(
    ("config", "build", "wheelhouse", "system", "args", "why"),
    [
        ({}, "cpu", "/w", "Linux", ["--no-index", "--find-links", "/w"], "offline"),
        ({"global.find-links": "/opt/wheels"}, "cpu", "", "Linux", [], "your pip configuration"),
        ({":env:.index-url": "http://mirror"}, "gpu", "", "Windows", [], "your pip configuration"),
        ({}, "cpu", "", "Linux", ["--extra-index-url", engine.PYTORCH_CPU_INDEX], "CPU-only"),
        ({}, "cpu", "", "Windows", [], "CPU build"),
        ({}, "cpu", "", "Darwin", [], "CPU build"),
        ({}, "gpu", "", "Linux", [], "CUDA build"),
        (
            {},
            "gpu",
            "",
            "Windows",
            ["--extra-index-url", engine.PYTORCH_CUDA_INDEX_WINDOWS],
            "CUDA",
        ),
        (
            {"global.timeout": "60", "global.cert": "/c"},
            "cpu",
            "",
            "Linux",
            ["--extra-index-url", engine.PYTORCH_CPU_INDEX],
            "CPU-only",
        ),
    ],
)
def test_pip_sources(config, build, wheelhouse, system, args, why) -> None:
    got, sentence = engine.pip_sources(config, build, wheelhouse, system)
    assert got == args
    assert why in sentence


def test_pip_problem_is_one_line() -> None:
    tail = [
        "Collecting numpy>=1.24",
        "ERROR: Could not find a version that satisfies the requirement numpy>=1.24",
        "ERROR: No matching distribution found for numpy>=1.24",
    ]
    problem = engine._pip_problem(tail)
    assert problem.startswith("No matching distribution found for numpy>=1.24 (is the package")
    assert "\n" not in problem
    assert engine._pip_problem(["OSError: [Errno 28] No space left on device"]) == (
        "the disk is full"
    )


def test_probe_rejects_what_cannot_build_an_engine(tmp_path: Path) -> None:
    assert engine.probe_python(str(tmp_path / "none"))[1] == "not an executable file"
    old = tmp_path / "python3"
    old.write_text('#!/bin/sh\necho \'{"version": [3, 9, 2], "venv": true, "ensurepip": true}\'\n')
    old.chmod(0o755)
    assert engine.probe_python(str(old))[1] == "is Python 3.9.2, older than 3.10"
    old.write_text(
        '#!/bin/sh\necho \'{"version": [3, 12, 1], "venv": true, "ensurepip": false}\'\n'
    )
    assert "sudo apt install python3-venv" in engine.probe_python(str(old))[1]
    facts, problem = engine.probe_python(sys.executable)
    assert problem == "" and facts["version"][:2] == tuple(sys.version_info[:2])
    with pytest.raises(engine.EngineError) as err:
        engine.find_base_python([(str(old), "test")])
    assert err.value.code == "no_python" and "OCGNET_BASE_PYTHON" in err.value.message


def test_versions_and_sizes() -> None:
    assert engine.version_key("0.10.0") > engine.version_key("0.9.1")
    assert engine.human_bytes(2_500_000_000) == "2.5 GB"
    assert engine.human_bytes(300_000_000) == "300.0 MB"


def test_clean_env_drops_what_points_python_elsewhere() -> None:
    env = engine.clean_env({"PYTHONPATH": "/x", "PYTHONHOME": "/y", "PIP_INDEX_URL": "u", "A": "1"})
    assert env["PIP_INDEX_URL"] == "u" and env["A"] == "1"
    assert "PYTHONPATH" not in env and "PYTHONHOME" not in env
