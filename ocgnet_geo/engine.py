"""The network behind the locate pipeline, seen as a tile model.

:class:`TileModel` is what :class:`ocgnet_geo.locate.Locator` needs from a network: encode
one satellite tile (uint8 RGB) into reusable features, and find the clicked object in
encoded tiles. :class:`TorchTileModel` wraps :class:`ocgnet_geo.model.OCGNet`; tests may pass
any other object with the same attributes (a deterministic test double).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ocgnet_geo.errors import InputError

#: Ground resolution assumed for checkpoints that do not record one: the CVOGL satellite
#: tiles the official weights were trained on are about 0.5 m/px (512 m over 1024 px).
DEFAULT_TILE_GSD_M = 0.5

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class TileHits:
    """Candidates found in one encoded tile.

    ``boxes`` (k, 4) xyxy in tile pixels; ``logits`` (k,) the head's confidence logits;
    ``log_partition`` the log-sum-exp of the logits of all anchor-cells of the tile (so the
    scores of several tiles can be normalised together); ``attention`` (G, G) float32, the
    cross-view attention over the tile's output grid.
    """

    boxes: np.ndarray
    logits: np.ndarray
    log_partition: float
    attention: np.ndarray


class TileModel(Protocol):
    """What the pipeline needs from a network (see module docstring)."""

    model_id: str
    view: str
    query_hw: tuple[int, int]
    tile_px: int
    gsd_m: float

    def encode(self, rgb: np.ndarray) -> Any: ...

    def find(
        self, query_rgb: np.ndarray, click: tuple[float, float], features: Any, k: int
    ) -> TileHits: ...

    def features_to_arrays(self, features: Any) -> dict[str, np.ndarray]: ...

    def features_from_arrays(self, arrays: dict[str, np.ndarray]) -> Any: ...


class TorchTileModel:
    """:class:`TileModel` around an :class:`ocgnet_geo.model.OCGNet` in eval mode (CPU or CUDA)."""

    def __init__(
        self,
        model: Any,
        model_id: str,
        gsd_m: float | None = None,
        device: str = "cpu",
        channels_last: bool = True,
    ) -> None:
        import torch

        self._torch = torch
        self.device = torch.device(device)
        # channels_last (NHWC) runs the convolutions ~20 % faster on CPU (oneDNN); same maths
        self._format = torch.channels_last if channels_last else torch.contiguous_format
        self.net = model.to(self.device).to(memory_format=self._format).eval()
        config = model.config
        self.config = config
        self.model_id = model_id
        self.view = config.view
        self.query_hw = tuple(config.query_hw)
        self.tile_px = config.tile_size
        self.gsd_m = float(gsd_m or config.tile_gsd_m or DEFAULT_TILE_GSD_M)
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    def _normalise(self, rgb: np.ndarray):
        t = self._torch.from_numpy(np.require(rgb, requirements=["C", "W"])).to(self.device)
        t = t.permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
        return ((t - self._mean) / self._std).contiguous(memory_format=self._format)

    def encode(self, rgb: np.ndarray) -> Any:
        """Features of one tile, uint8 RGB (tile_px, tile_px, 3)."""
        with self._torch.inference_mode():
            return self.net.encode_reference(self._normalise(rgb))

    def find(
        self, query_rgb: np.ndarray, click: tuple[float, float], features: Any, k: int
    ) -> TileHits:
        from ocgnet_geo.model.head import decode_topk, split_raw

        torch = self._torch
        with torch.inference_mode():
            clickmap = self.net.make_clickmap([click])
            raw, attention = self.net.locate(self._normalise(query_rgb), clickmap, features)
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

    def features_to_arrays(self, features: Any) -> dict[str, np.ndarray]:
        return {
            "normalized": features.normalized.cpu().numpy(),
            "pooled": features.pooled.cpu().numpy(),
        }

    def features_from_arrays(self, arrays: dict[str, np.ndarray]) -> Any:
        from ocgnet_geo.model.network import ReferenceFeatures

        t = self._torch
        return ReferenceFeatures(
            normalized=t.from_numpy(arrays["normalized"]).to(self.device),
            pooled=t.from_numpy(arrays["pooled"]).to(self.device),
        )


class WeightsFileError(InputError):
    """A weights path that does not exist or has an unknown extension."""


def load_tile_model(
    path: str | os.PathLike,
    device: str = "cpu",
    view: str | None = None,
    sigma: float | None = None,
    gsd_m: float | None = None,
) -> TorchTileModel:
    """Load our ``.safetensors`` (config inside) or an official ``.pth.tar`` / ``.pth``.

    For official files, ``view`` (default drone) and ``sigma`` (default 0.10, the released
    checkpoints' value) cannot be read from the file and may be given; for our files a
    ``view`` that disagrees with the file's is an error.
    """
    from ocgnet_geo.model import load_model, load_official

    p = Path(path)
    if not p.is_file():
        raise WeightsFileError(f"weights {str(path)!r}: file not found")
    name = p.name.lower()
    if name.endswith(".safetensors"):
        model = load_model(p)
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
    return TorchTileModel(model, model_id=weights_id(p), gsd_m=gsd_m, device=device)


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
    the MobileNetV2 variant."""
    backbone = getattr(getattr(model, "config", None), "reference_backbone", "darknet53")
    return (1.5 if backbone == "darknet53" else 0.3) * (model.tile_px / 1024) ** 2
