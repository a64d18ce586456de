"""The segmentation head's labels and training: masks from the synthetic views' true cameras,
a head that learns to outline the clicked object on views it was not fitted on."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ocgnet_geo.data.records import load_split
from ocgnet_geo.locate.bundled import DEFAULT_MODEL
from ocgnet_geo.locate.extent import clicked_segment
from ocgnet_geo.models.matcher import load_matcher, with_segment_head
from ocgnet_geo.train.segment_fit import (
    _dihedral,
    _dihedral_click,
    fit_head,
    training_tensors,
    view_masks,
)
from tests.data.fixtures import COLOURS

DS = "CVOGL_DroneAerial"


def _views(out, split):
    folder = out / DS
    recs = load_split(folder / f"{DS}_{split}.pth")
    masks = view_masks(folder, recs)
    photos = [np.asarray(Image.open(folder / "query" / r.query_name).convert("RGB")) for r in recs]
    return [(p, r.click_xy, m) for p, r, m in zip(photos, recs, masks, strict=True)]


def test_masks_from_the_true_camera_cover_the_clicked_object(synth_root):
    out, _ = synth_root
    palette = np.array([*COLOURS, (110, 110, 110)], dtype=float)
    views = _views(out, "train") + _views(out, "test")
    assert views
    for photo, (x, y), mask in views:
        assert mask[int(y), int(x)] == 1  # the click lies in its object's outline
        assert 0.005 < mask.mean() < 0.5
        # the outline's inner pixels are object colours, not the ground's
        inner = mask.astype(bool)
        inner[1:-1, 1:-1] &= inner[:-2, 1:-1] & inner[2:, 1:-1] & inner[1:-1, :-2] & inner[1:-1, 2:]
        pix = photo[inner].astype(float)
        nearest = np.argmin(np.linalg.norm(pix[:, None] - palette[None], axis=2), axis=1)
        assert np.mean(nearest < len(COLOURS)) > 0.8


@pytest.mark.parametrize("k", range(4))
@pytest.mark.parametrize("flip", [False, True])
def test_orientations_move_the_click_with_the_image(k, flip):
    image = np.zeros((6, 10), np.uint8)
    image[4, 7] = 1  # pixel (x 7, y 4): click at its centre
    turned = _dihedral(image, k, flip)
    x, y = _dihedral_click((7.5, 4.5), image.shape, k, flip)
    assert turned[int(y), int(x)] == 1


def _iou(segment, mask, click) -> float:
    if segment is None:
        return 0.0
    import cv2

    hull = np.round((segment.hull) * 8).astype(np.int32)
    pred = np.zeros_like(mask)
    cv2.fillPoly(pred, [hull], 1, shift=3)
    return float((pred & mask).sum() / max(1, (pred | mask).sum()))


def test_a_fitted_head_outlines_objects_of_views_it_never_saw(synth_root):
    out, _ = synth_root
    train, test = _views(out, "train"), _views(out, "val") + _views(out, "test")
    net = with_segment_head(load_matcher(DEFAULT_MODEL), 8)
    encoder = load_matcher(DEFAULT_MODEL).prepare()
    inputs, masks = training_tensors(encoder.encode, train, orientations=2)
    assert inputs.shape[1] == 32 + 7 and masks.shape[1] == 1
    untrained = [_iou(clicked_segment(net, p, c), m, c) for p, c, m in test]
    loss = fit_head(net.segment_head, inputs, masks, steps=150)
    assert np.isfinite(loss)
    fitted = [_iou(clicked_segment(net, p, c), m, c) for p, c, m in test]
    assert np.median(fitted) > 0.5
    assert np.median(fitted) > np.median(untrained) + 0.1
