"""The network behind the locate pipeline, seen as a tile model.

:class:`TileModel` is what :class:`ocgnet_geo.locate.Locator` needs from a network: encode
one satellite tile (uint8 RGB) into reusable features, and find the clicked object in
encoded tiles. :class:`TorchTileModel` wraps :class:`ocgnet_geo.models.ocgnet.OCGNet`; tests may pass
any other object with the same attributes (a deterministic test double).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ocgnet_geo.errors import InputError
from ocgnet_geo.locate.hits import TileHits, TileModel

#: Ground resolution assumed for checkpoints that do not record one: the CVOGL satellite
#: tiles the official weights were trained on are about 0.5 m/px (512 m over 1024 px).
DEFAULT_TILE_GSD_M = 0.5

#: Peak activation memory one more tile adds to a satellite-branch forward in float32, in
#: bytes per tile pixel (VmHWM growth from batch 1 to 2 at 512 px, rounded up; half of it
#: in bf16/fp16; see ``docs/precision.md``). Bounds the batch of tiles per forward.
ENCODE_BYTES_PER_PX = {"darknet53": 200, "mobilenetv2": 250}
#: Bytes per activation element of each precision mode.
MODE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}

#: Ground resolutions a user may ask the model to run at, metres per pixel: from 1 cm
#: (close-range drone) to 100 m (coarser than any raster an object could be found in).
GSD_RANGE_M = (0.01, 100.0)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class TorchTileModel:
    """:class:`TileModel` around an :class:`ocgnet_geo.models.ocgnet.OCGNet` in eval mode (CPU or CUDA).

    ``precision`` is a resolved mode (``fp32``, ``bf16``, ``fp16``; see
    :mod:`ocgnet_geo.locate.precision`): the satellite branch is prepared by
    :func:`ocgnet_geo.locate.inference.prepare_for_inference` (BN folded, cast to the mode's dtype)
    and its features are kept in that dtype (bf16: half the cache memory); the query branch,
    fusion, head and decoding always run in float32. Optional extras beyond
    :class:`TileModel`: ``precision``, :meth:`encode_batch` and :attr:`encode_bytes_per_tile`
    (the pipeline batches tiles when they exist). ``fold_bn=False`` keeps BatchNorm as a
    separate op (the reference's compute, for benchmarks).
    """

    def __init__(
        self,
        model: Any,
        model_id: str,
        gsd_m: float | None = None,
        device: str = "cpu",
        channels_last: bool = True,
        precision: str = "fp32",
        precision_reason: str = "",
        fold_bn: bool = True,
    ) -> None:
        import torch

        from ocgnet_geo.locate.inference import DTYPES, prepare_for_inference
        from ocgnet_geo.locate.precision import MODES, PrecisionError

        if precision not in MODES:
            raise PrecisionError(f"precision mode {precision!r}: not one of {', '.join(MODES)}")

        self._torch = torch
        self.precision = precision
        self.precision_reason = precision_reason or precision
        self._dtype = DTYPES[precision]
        self.device = torch.device(device)
        # channels_last (NHWC) runs the convolutions ~20 % faster on CPU (oneDNN); same maths
        self._format = torch.channels_last if channels_last else torch.contiguous_format
        self.net = prepare_for_inference(model.to(self.device), precision, channels_last, fold_bn)
        config = model.config
        self.config = config
        self.model_id = model_id
        self.view = config.view
        self.query_hw = tuple(config.query_hw)
        self.tile_px = config.tile_size
        self.gsd_m = (
            check_gsd(gsd_m)
            if gsd_m is not None
            else float(config.tile_gsd_m or DEFAULT_TILE_GSD_M)
        )
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)
        self._last_query: tuple[tuple, Any] | None = None

    def _normalise(self, rgb: np.ndarray):
        t = self._torch.from_numpy(np.require(rgb, requirements=["C", "W"])).to(self.device)
        t = t.permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
        return ((t - self._mean) / self._std).contiguous(memory_format=self._format)

    @property
    def encode_bytes_per_tile(self) -> int:
        """Estimated peak activation bytes of encoding one tile in this precision."""
        per_px = ENCODE_BYTES_PER_PX.get(self.config.reference_backbone, 250)
        return per_px * MODE_BYTES.get(self.precision, 4) * self.tile_px**2 // 4

    def encode(self, rgb: np.ndarray) -> Any:
        """Features of one tile, uint8 RGB (tile_px, tile_px, 3)."""
        return self.encode_batch([rgb])[0]

    def encode_batch(self, rgbs: list[np.ndarray]) -> list[Any]:
        """Features of several tiles (uint8 RGB, each (tile_px, tile_px, 3)) in one forward;
        the same features as :meth:`encode` on each, one ``ReferenceFeatures`` per tile."""
        from ocgnet_geo.models.ocgnet.network import ReferenceFeatures

        torch = self._torch
        with torch.inference_mode():
            batch = torch.cat([self._normalise(rgb) for rgb in rgbs]).to(self._dtype)
            features = self.net.encode_reference(batch)
            normalized, pooled = features.normalized, features.pooled
            if len(rgbs) == 1:
                return [ReferenceFeatures(normalized, pooled)]
            # clone: a slice would keep the whole batch's storage alive in the cache
            return [
                ReferenceFeatures(normalized[i : i + 1].clone(), pooled[i : i + 1].clone())
                for i in range(len(rgbs))
            ]

    def find(
        self, query_rgb: np.ndarray, click: tuple[float, float], features: Any, k: int
    ) -> TileHits:
        from ocgnet_geo.models.ocgnet.head import decode_topk, split_raw
        from ocgnet_geo.models.ocgnet.network import ReferenceFeatures

        torch = self._torch
        with torch.inference_mode():
            features = ReferenceFeatures(features.normalized.float(), features.pooled.float())
            raw, attention = self.net.match(self._encoded_query(query_rgb, click), features)
            found = decode_topk(
                raw, k=k, nms_iou=0.5, anchors=self.config.anchors, tile_size=self.tile_px
            )[0]
            logits = split_raw(raw)[:, :, 4].reshape(-1).float()
            log_partition = float(torch.logsumexp(logits, dim=0))
        scores = found.scores.double().cpu().numpy()
        return TileHits(
            boxes=found.boxes.double().cpu().numpy(),
            logits=np.log(np.maximum(scores, 1e-300)) + log_partition,
            log_partition=log_partition,
            attention=attention[0].float().cpu().numpy(),
        )

    def _encoded_query(self, query_rgb: np.ndarray, click: tuple[float, float]) -> Any:
        """The query branch's output for this photo and click, computed once per click: a
        search calls :meth:`find` for every tile with the same photo and click."""
        key = (
            hashlib.blake2b(np.ascontiguousarray(query_rgb), digest_size=16).digest(),
            tuple(click),
        )
        if self._last_query is None or self._last_query[0] != key:
            clickmap = self.net.make_clickmap([click])
            self._last_query = (key, self.net.encode_query(self._normalise(query_rgb), clickmap))
        return self._last_query[1]

    def check_features(self, features: Any) -> str | None:
        """What is wrong with features read back from the disk cache (wrong shape, dtype or
        non-finite values), or None when they are what :meth:`encode` gives: normalized
        ``(1, 512, T/16, T/16)`` and pooled ``(1, 512, T/128, T/128)`` in this precision's
        dtype (see :class:`ocgnet_geo.models.ocgnet.network.ReferenceFeatures`)."""
        grid = self.tile_px // 16
        expected = {"normalized": (1, 512, grid, grid), "pooled": (1, 512, grid // 8, grid // 8)}
        for name, shape in expected.items():
            t = getattr(features, name, None)
            if not isinstance(t, self._torch.Tensor):
                return f"{name}: missing"
            if tuple(t.shape) != shape:
                return f"{name}: shape {tuple(t.shape)}, expected {shape}"
            if t.dtype != self._dtype:
                return f"{name}: dtype {t.dtype}, expected {self._dtype}"
            if not bool(self._torch.isfinite(t).all()):
                return f"{name}: non-finite values"
        return None

    def features_to_arrays(self, features: Any) -> dict[str, np.ndarray]:
        """Named numpy arrays for the disk cache. numpy has no bfloat16: bf16 tensors are
        stored bit for bit as int16 under the name ``<field>.bf16``."""
        arrays = {}
        for name in ("normalized", "pooled"):
            t = getattr(features, name).detach().cpu()
            if t.dtype == self._torch.bfloat16:
                arrays[f"{name}.bf16"] = t.view(self._torch.int16).numpy()
            else:
                arrays[name] = t.numpy()
        return arrays

    def features_from_arrays(self, arrays: dict[str, np.ndarray]) -> Any:
        """Inverse of :meth:`features_to_arrays` (bit-exact)."""
        from ocgnet_geo.models.ocgnet.network import ReferenceFeatures

        t = self._torch

        def tensor(name: str):
            if f"{name}.bf16" in arrays:
                return t.from_numpy(arrays[f"{name}.bf16"].copy()).view(t.bfloat16).to(self.device)
            return t.from_numpy(arrays[name]).to(self.device)

        return ReferenceFeatures(normalized=tensor("normalized"), pooled=tensor("pooled"))


def check_gsd(gsd_m: object) -> float:
    """``gsd_m`` as a float if it is a finite number within :data:`GSD_RANGE_M`; else a
    one-line :class:`~ocgnet_geo.errors.ResolutionOutOfRangeError` (0 is an error, not
    "not given")."""
    from ocgnet_geo.errors import ResolutionOutOfRangeError

    lo, hi = GSD_RANGE_M
    try:
        value = float(gsd_m)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(gsd_m, bool) or not (lo <= value <= hi):  # NaN fails the comparison
        shown = f"{value:g}" if isinstance(gsd_m, (int, float)) else repr(gsd_m)
        raise ResolutionOutOfRangeError(
            f"gsd {shown}: the model's ground resolution must be a number of metres per "
            f"pixel from {lo:g} to {hi:g}"
        )
    return value


class WeightsFileError(InputError):
    """A weights path that does not exist or has an unknown extension."""


class NonFiniteOutputError(InputError):
    """The weights produce NaN or infinite outputs (damaged weights)."""


def check_finite_weights(model: Any, source: str) -> None:
    """Refuse a network with a NaN or infinite parameter or buffer, naming the first one."""
    import torch

    for name, t in model.state_dict().items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise NonFiniteOutputError(
                f"weights {source!r}: tensor {name!r} holds non-finite values (NaN or inf); "
                "the file is damaged"
            )


def check_finite_hits(hits: TileHits, tile: str, model_id: str) -> TileHits:
    """``hits`` if its boxes, logits and partition are finite; else a one-line
    :class:`NonFiniteOutputError` (before any polygon is built from them)."""
    finite = (
        np.isfinite(hits.boxes).all()
        and np.isfinite(hits.logits).all()
        and np.isfinite(hits.log_partition)
    )
    if not finite:
        raise NonFiniteOutputError(
            f"model {model_id!r}: the weights produce non-finite outputs (NaN or inf) on "
            f"tile {tile}; the weights are damaged"
        )
    return hits


def load_tile_model(
    path: str | os.PathLike,
    device: str = "cpu",
    view: str | None = None,
    sigma: float | None = None,
    gsd_m: float | None = None,
    precision: str | None = "auto",
    threads: int | None = None,
) -> TileModel:
    """Load our ``.safetensors`` (config inside: an OCGNet or the matcher) or an official
    ``.pth.tar`` / ``.pth``.

    A matcher file gives a :class:`~ocgnet_geo.locate.matcher_model.MatcherTileModel`
    (drone/aerial photos only: ``view="ground"`` is an error naming what to use instead;
    ``precision`` is validated but the matcher runs fp32).

    For official files, ``view`` (default drone) and ``sigma`` (default 0.10, the released
    checkpoints' value) cannot be read from the file and may be given; for our files a
    ``view`` that disagrees with the file's is an error. ``precision`` (auto, fp32, bf16) is
    resolved for ``device`` by :func:`ocgnet_geo.locate.precision.resolve_precision`; ``threads``
    (default: physical cores) sets PyTorch's thread count for the whole process.
    """
    from ocgnet_geo.locate.limits import check_device
    from ocgnet_geo.locate.precision import apply_threads, resolve_precision
    from ocgnet_geo.models.ocgnet import load_model, load_official

    device = check_device(device)  # bad values fail before any loading
    resolved = resolve_precision(precision, device)
    if gsd_m is not None:
        check_gsd(gsd_m)
    apply_threads(threads)

    p = Path(path)
    if p.is_dir():
        raise WeightsFileError(f"weights {str(path)!r}: is a folder, not a weights file")
    if not p.is_file():
        raise WeightsFileError(f"weights {str(path)!r}: file not found")
    name = p.name.lower()
    if name.endswith(".safetensors") and _family(p) == "matcher":
        return _load_matcher(p, device=device, view=view, gsd_m=gsd_m)
    if name.endswith(".safetensors"):
        model = load_model(p)
        if sigma is not None:
            warnings.warn(
                f"--sigma {sigma:g}: ignored: our weights record their own click-map sigma "
                f"({model.config.sigma:g}); --sigma applies to official .pth.tar files",
                UserWarning,
                stacklevel=2,
            )
        if view is not None and view != model.config.view:
            raise WeightsFileError(
                f"weights {str(path)!r}: a {model.config.view}-view model, not {view} (use weights trained for {view} photos)"
            )
    elif name.endswith((".pth.tar", ".pth", ".pt", ".tar")):
        kwargs = {"view": view or "drone"}
        if sigma is not None:
            kwargs["sigma"] = sigma
        model = load_official(p, **kwargs)
    else:
        raise WeightsFileError(
            f"weights {str(path)!r}: unknown format (use .safetensors or an official .pth.tar)"
        )
    check_finite_weights(model, str(path))
    return TorchTileModel(
        model,
        model_id=weights_id(p),
        gsd_m=gsd_m,
        device=device,
        precision=resolved.mode,
        precision_reason=resolved.reason,
    )


def _family(path: Path) -> str | None:
    from ocgnet_geo.models.matcher import family_of

    return family_of(path)


def _load_matcher(path: Path, device: str, view: str | None, gsd_m: float | None) -> TileModel:
    from ocgnet_geo.locate.matcher_model import MatcherTileModel
    from ocgnet_geo.models.matcher import load_matcher

    if view not in (None, "drone"):
        raise WeightsFileError(
            f"view {view!r}: the matcher ({path.name}) finds objects in drone and aerial photos "
            "only; for street-level photos load OCGNet ground-view weights (an official "
            "street-view checkpoint) with the ground view"
        )
    return MatcherTileModel(
        load_matcher(path), model_id=weights_id(path), gsd_m=gsd_m, device=device
    )


def weights_id(path: Path) -> str:
    """A short stable id for a weights file: its name plus a hash of path, size and mtime."""
    st = path.stat()
    digest = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[
        :10
    ]
    stem = path.name.split(".")[0]
    return f"{stem}-{digest}"


def seconds_per_tile_estimate(model: TileModel) -> float:
    """A rough first-click cost per tile in seconds on a 2-core CPU (for warnings only):
    1.5 s for DarkNet-53 at 1024 px (benchmarks/model_bench.py, channels_last), 0.3 s for
    the MobileNetV2 variant; about half of that in bf16 (benchmarks/precision_bench.py).
    Models that know better say so in a ``seconds_per_tile`` attribute (the matcher)."""
    own = getattr(model, "seconds_per_tile", None)
    if own is not None:
        return float(own)
    backbone = getattr(getattr(model, "config", None), "reference_backbone", "darknet53")
    speed = 0.5 if getattr(model, "precision", "fp32") != "fp32" else 1.0
    return (1.5 if backbone == "darknet53" else 0.3) * speed * (model.tile_px / 1024) ** 2
