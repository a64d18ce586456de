"""The segmentation head in leave-one-place-out evaluation: one head per held-out place.

For every place, a head is fitted on the footprint views of the *other* places
(:func:`fold_heads`); every view's clicked object is then measured by each fold's head
(:func:`fold_segments`) and attached to the search runs (:func:`attach_fold_segments`), so
that :func:`~ocgnet_geo.train.matcher_eval.leave_one_place_out` fits the box factor and
scores the held-out place with sizes from a head that never saw it. The head for the bundled
model is fitted on all places (fold ``ALL``). Heads (safetensors) and measurements (JSON) are
cached under the runs folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ocgnet_geo.data.records import Record, dataset_folders, load_split, split_path

#: Channels of the segmentation head (``MatcherConfig.segment_width``).
SEGMENT_WIDTH = 24
#: The fold whose head is fitted on every place (the bundled model's).
ALL = "all places"
#: Version of the cached heads and measurements (another version is fitted again).
FOLDS_VERSION = 1


def samples_in_order(root: Path, every: int = 1) -> Iterator[tuple[str, Path, Record]]:
    """(place, dataset folder, record) of every ``every``-th test sample under ``root``, in
    the order of :func:`~ocgnet_geo.train.matcher_eval.collect_all`."""
    for place, folders in dataset_folders(root).items():
        for folder in folders:
            for rec in load_split(split_path(folder.parent, folder.name, "test"))[:: max(1, every)]:
                yield place, folder, rec


def _photo(folder: Path, rec: Record) -> np.ndarray:
    with Image.open(folder / "query" / rec.query_name) as q:
        return np.asarray(q.convert("RGB"))


def footprint_samples(root: Path, places: set[str], every: int = 1) -> list[tuple]:
    """(place, photo, click, mask) of the footprint views (class not ``region``) of
    ``places``, in :func:`samples_in_order`."""
    from ocgnet_geo.train.segment_fit import view_masks

    by_folder: dict[Path, tuple[str, list[Record]]] = {}
    for place, folder, rec in samples_in_order(root, every):
        if place in places and rec.class_name != "region":
            by_folder.setdefault(folder, (place, []))[1].append(rec)
    out = []
    for folder, (place, recs) in by_folder.items():
        for rec, mask in zip(recs, view_masks(folder, recs), strict=True):
            out.append((place, _photo(folder, rec), rec.click_xy, mask))
    return out


def fold_heads(trunk: Path, root: Path, cache: Path, every: int = 1) -> dict[str, Path]:
    """Matcher files with a fitted head per fold: every place held out, and :data:`ALL`
    (cached as ``cache/head_<fold>_every<N>_v<V>.safetensors``). A fold that holds out a
    place without footprint views trains on the same views as :data:`ALL` and shares its
    head; a fold whose training places have no footprint views keeps ``trunk`` as it is (its
    head if it has one, else the colour segmentation). The heads' inputs (the frozen trunk's
    features of every view in 8 orientations) are computed once for all folds."""
    places = set(dataset_folders(root))
    with_footprints = {p for p, _, r in samples_in_order(root, every) if r.class_name != "region"}
    heads: dict[str, Path] = {}
    todo: dict[str, tuple[set[str], Path]] = {}
    for fold in [ALL, *sorted(places)]:
        train = places if fold == ALL else places - {fold}
        if fold != ALL and with_footprints <= train:
            continue  # the same views as ALL
        if not train & with_footprints:
            heads[fold] = Path(trunk)
            continue
        path = cache / f"head_{fold.replace(' ', '-')}_every{every}_v{FOLDS_VERSION}.safetensors"
        if not path.is_file():
            todo[fold] = (train, path)
        heads[fold] = path
    if todo:
        _fit_heads(trunk, footprint_samples(root, with_footprints, every), todo)
    return {fold: heads.get(fold, heads[ALL]) for fold in [ALL, *sorted(places)]}


def _fit_heads(trunk: Path, samples: list[tuple], todo: dict[str, tuple[set[str], Path]]):
    """Fit and save one head per fold of ``todo`` (fold -> (training places, file)) on the
    ``samples`` (:func:`footprint_samples`) of its training places."""
    import copy

    import torch

    from ocgnet_geo.models.matcher import load_matcher, save_matcher, with_segment_head
    from ocgnet_geo.train.segment_fit import fit_head, training_tensors

    net = with_segment_head(load_matcher(trunk), SEGMENT_WIDTH)
    encoder = copy.deepcopy(net).prepare()
    inputs, masks = training_tensors(encoder.encode, [s[1:] for s in samples])
    per_view = len(inputs) // max(1, len(samples))  # orientations
    row_place = np.repeat([s[0] for s in samples], per_view)
    for train, path in todo.values():
        rows = torch.from_numpy(np.nonzero(np.isin(row_place, sorted(train)))[0])
        fit_head(net.segment_head, inputs[rows], masks[rows], progress=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_matcher(net, path)


def fold_segments(heads: dict[str, Path], root: Path, cache: Path, every: int = 1) -> list[dict]:
    """Per sample (in :func:`samples_in_order`), ``{fold: (size px, hull (n, 2) relative to
    the click)}`` of the clicked object measured by each fold's head (cached as JSON)."""
    from ocgnet_geo.locate.extent import clicked_segment
    from ocgnet_geo.models.matcher import load_matcher

    path = cache / f"segments_every{every}_v{FOLDS_VERSION}.json"
    if path.is_file():
        doc = json.loads(path.read_text(encoding="utf-8"))
        return [
            {k: (v[0], np.asarray(v[1], float).reshape(-1, 2)) for k, v in d.items()} for d in doc
        ]
    if not heads:
        raise FileNotFoundError(f"{path}: no stored measurements and no heads to measure with")
    nets = {str(p): load_matcher(p).prepare() for p in set(heads.values())}
    out = []
    samples = list(samples_in_order(root, every))
    for _, folder, rec in tqdm(samples, desc="segments per fold"):
        photo = _photo(folder, rec)
        values = {
            key: segment_values(clicked_segment(net, photo, rec.click_xy), rec.click_xy)
            for key, net in nets.items()
        }
        out.append({fold: values[str(p)] for fold, p in heads.items()})
    doc = [{k: [float(v[0]), v[1].tolist()] for k, v in d.items()} for d in out]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    tmp.replace(path)
    return out


def segment_values(segment, click: tuple[float, float]) -> tuple[float, np.ndarray]:
    """(size px, hull relative to ``click``) as the runs store a :class:`~ocgnet_geo.locate.
    extent.Segment` (0 and no hull for None)."""
    if segment is None:
        return 0.0, np.zeros((0, 2))
    return segment.size_px, segment.hull - np.asarray(click)


def attach_fold_segments(runs, segments: list[dict]):
    """A copy of ``runs`` (all samples, in :func:`samples_in_order`) with the folds'
    measurements attached (:attr:`~ocgnet_geo.train.matcher_eval.Runs.folds`)."""
    if len(segments) != len(runs):
        raise ValueError(f"{len(segments)} fold measurements for {len(runs)} runs")
    import dataclasses

    return dataclasses.replace(runs, folds=list(segments))
