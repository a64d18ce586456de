"""Evaluation reports: JSON, a Markdown table and PNG plots in a folder.

``report.json`` holds the overall summary, per-class summaries (per sample, see
:mod:`.metrics`), the run's settings and ``gt_boxes``: the overall summary against GT boxes
truncated as the reference does (``int``, the paper's arithmetic) and against the exact
boxes (``float``); ``summary`` and ``per_class`` use the convention ``settings["gt_boxes"]``
names. ``report.md`` has the same as tables; ``iou_hist.png``
the IoU histogram, ``per_class.png`` per-class acc@0.5 and, when several runs with
different σ are given, ``acc_vs_sigma.png``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ocgnet_geo.data.records import class_group
from ocgnet_geo.train.metrics import MetricAccumulator
from ocgnet_geo.train.plots import bar_chart, histogram, line_chart

COLUMNS = ("n", "acc25", "acc50", "miou", "acc_centre", "top3", "median_err_m")


#: Row labels of the two GT-box conventions in ``report.md``.
GT_LABELS = {"int": "all, GT boxes int (reference)", "float": "all, GT boxes float (exact)"}


def build_report(
    acc: MetricAccumulator,
    settings: dict[str, Any],
    baselines: dict[str, dict[str, float]] | None = None,
    by_gt_boxes: dict[str, MetricAccumulator] | None = None,
) -> dict[str, Any]:
    """The report dict: ``summary``, ``per_class`` (reference groups), ``settings`` and,
    when given, ``baselines`` (summaries of :mod:`.baselines` on the same samples) and
    ``gt_boxes`` (the overall summary per GT-box convention, ``int`` and ``float``)."""
    report = {
        "summary": acc.summary(),
        "per_class": acc.per_class(class_group),
        "settings": settings,
    }
    if by_gt_boxes:
        report["gt_boxes"] = {mode: a.summary() for mode, a in by_gt_boxes.items()}
    if baselines:
        report["baselines"] = baselines
    return report


def markdown(report: dict[str, Any]) -> str:
    def fmt(v: float) -> str:
        return (
            "—"
            if isinstance(v, float) and math.isnan(v)
            else (str(v) if isinstance(v, int) else f"{v:.4f}")
        )

    head = "| set | " + " | ".join(COLUMNS) + " |\n|" + "---|" * (len(COLUMNS) + 1) + "\n"
    rows = [("all", report["summary"])]
    rows += [(GT_LABELS.get(k, k), v) for k, v in report.get("gt_boxes", {}).items()]
    rows += list(report["per_class"].items())
    rows += [(f"baseline: {k}", v) for k, v in report.get("baselines", {}).items()]
    body = "".join(
        f"| {name} | " + " | ".join(fmt(s[c]) for c in COLUMNS) + " |\n" for name, s in rows
    )
    settings = "".join(f"- {k}: {v}\n" for k, v in report["settings"].items())
    note = (
        "\nacc@t counts IoU strictly greater than t. Per-class values are means over the "
        "samples of each class (the reference credits each sample with its batch mean). "
        "GT boxes int: truncated to whole pixels as the reference loader does (the paper's "
        "numbers); float: the exact boxes.\n"
    )
    return f"# Evaluation\n\n{settings}\n{head}{body}{note}"


def write_report(
    out: Path,
    acc: MetricAccumulator,
    settings: dict[str, Any],
    sweep: list[dict[str, Any]] | None = None,
    baselines: dict[str, dict[str, float]] | None = None,
    by_gt_boxes: dict[str, MetricAccumulator] | None = None,
) -> dict[str, Any]:
    """Write report.json, report.md and the PNG plots into ``out``; returns the report."""
    out.mkdir(parents=True, exist_ok=True)
    report = build_report(acc, settings, baselines, by_gt_boxes)
    if sweep:
        report["sigma_sweep"] = sweep
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(markdown(report), encoding="utf-8")
    histogram(
        acc.arrays()["iou"], 10, 0.0, 1.0, "IoU of the best box per sample", out / "iou_hist.png"
    )
    classes = report["per_class"]
    bar_chart(
        list(classes),
        [c["acc50"] for c in classes.values()],
        "acc@0.5 per class",
        out / "per_class.png",
        1.0,
    )
    if sweep and len(sweep) > 1:
        sweep = sorted(sweep, key=lambda r: r["sigma"])
        line_chart(
            [r["sigma"] for r in sweep],
            {k: [r[k] for r in sweep] for k in ("acc50", "acc25", "miou")},
            "accuracy vs click-map sigma",
            out / "acc_vs_sigma.png",
        )
    return report
