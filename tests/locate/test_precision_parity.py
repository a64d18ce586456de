"""Box parity of bf16 against fp32: a small run of ``benchmarks/parity.py`` (light model)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PARITY = Path(__file__).resolve().parents[2] / "benchmarks" / "parity.py"


def _parity_module():
    """``benchmarks/parity.py`` (a script, not a package module), imported once."""
    if "benchmarks_parity" not in sys.modules:
        spec = importlib.util.spec_from_file_location("benchmarks_parity", PARITY)
        module = importlib.util.module_from_spec(spec)
        sys.modules["benchmarks_parity"] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules["benchmarks_parity"]


def test_bf16_top1_boxes_match_fp32(tmp_path: Path, capsys) -> None:
    parity = _parity_module()
    case = parity.light_case(tmp_path, n=20)
    outcomes = parity.run_case(case, ["bf16"])
    summary = parity.summarise(outcomes)
    parity.print_report(outcomes)  # the distribution, in the test log on failure
    assert summary["queries"] == 20
    assert summary["share_iou_ge_0.9"] >= parity.REQUIRED_SHARE, capsys.readouterr().out
    assert summary["unexplained"] == 0, capsys.readouterr().out


def test_a_moved_top1_is_reported_with_its_score_gap(tmp_path: Path) -> None:
    """The parity report's explanation of a swap (a constructed near tie)."""
    parity = _parity_module()
    moved = parity.Outcome(
        "set", 3, "bf16", 0.0, 0.20, 0.21, 0.005, 2, {"reduced #1 was fp32 rank": 2}
    )
    assert not moved.matched and moved.explained
    line = parity.explain(moved)
    assert "#2 in bf16" in line and "gap 0.50 %" in line and "near tie" in line
    far = parity.Outcome("set", 4, "bf16", 0.1, 0.5, 0.4, 0.4, None, {})
    assert not far.explained and "NOT a near tie" in parity.explain(far)
