"""Merge CVOGL-layout datasets (for example synthetic sets of several places) into one.

Query images are renamed ``{part}_{name}`` (synthetic sets all number from ``000000``);
satellite tile names carry their georeferencing and are kept; sample ids are renumbered.
Images are hard-linked when the file system allows it, copied otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ocgnet_geo.data.errors import DatasetError
from ocgnet_geo.data.records import SPLITS, Record, load_split, save_split, split_path


def merge_datasets(
    parts: Sequence[tuple[str | Path, str]], out_root: str | Path, dataset: str
) -> dict[str, int]:
    """Write ``out_root/dataset`` from ``parts`` (``(root, dataset name)`` pairs).

    A split file missing from a part counts as empty. Returns samples per split.
    """
    root = Path(out_root) / dataset
    (root / "query").mkdir(parents=True, exist_ok=True)
    (root / "satellite").mkdir(parents=True, exist_ok=True)
    merged: dict[str, list[Record]] = {s: [] for s in SPLITS}
    next_id = 0
    for k, (part_root, part_name) in enumerate(parts):
        folder = Path(part_root) / part_name
        if not folder.is_dir():
            raise DatasetError(f"dataset folder {folder}: not found")
        for split in SPLITS:
            path = split_path(Path(part_root), part_name, split)
            if not path.is_file():
                continue
            for rec in load_split(path):
                qname = f"p{k}_{rec.query_name}"
                _link(folder / "query" / rec.query_name, root / "query" / qname)
                _link(
                    folder / "satellite" / rec.satellite_name,
                    root / "satellite" / rec.satellite_name,
                )
                merged[split].append(replace(rec, sample_id=next_id, query_name=qname))
                next_id += 1
    for split in SPLITS:
        save_split(merged[split], split_path(Path(out_root), dataset, split))
    counts = {s: len(merged[s]) for s in SPLITS}
    manifest = {
        "generator": "ocgnet-geo merge",
        "parts": [{"root": str(r), "dataset": d} for r, d in parts],
        "samples": counts,
    }
    (root / "merge.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return counts


def _link(src: Path, dst: Path) -> None:
    if dst.exists():
        return
    if not src.is_file():
        raise DatasetError(f"image {src}: not found")
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


__all__ = ["merge_datasets"]
