"""The matcher's weights file: our safetensors format (tensors + config JSON in the header
metadata, never pickle), holding only the trunk blocks the matcher runs.

Built once from torchvision's ImageNet MobileNetV2 file (``mobilenet_v2-b0353104.pth``,
BSD-3-Clause) by :func:`build_from_torchvision`; the calibrated numbers live in the config.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ocgnet_geo.models.errors import ModelConfigError, WeightsError
from ocgnet_geo.models.matcher.config import FAMILY, MatcherConfig
from ocgnet_geo.models.matcher.network import ClickTemplateMatcher

FORMAT_NAME = "ocgnet-geo"


def family_of(path: str | Path) -> str | None:
    """The model family named in a safetensors file's metadata (``matcher``), or None for
    OCGNet files (which predate the field) and files that cannot be read."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            return (f.metadata() or {}).get("family")
    except (SafetensorError, OSError, ValueError):
        return None


def save_matcher(
    model: ClickTemplateMatcher, path: str | Path, dtype: torch.dtype = torch.float16
) -> Path:
    """Write the trunk (``dtype``, default float16: half the size) and the config."""
    p = Path(path)
    tensors = {
        k: (v.to(dtype) if v.is_floating_point() else v).contiguous()
        for k, v in model.state_dict().items()
    }
    meta = {"format": FORMAT_NAME, "family": FAMILY, "config": model.config.to_json()}
    tmp = p.with_name(p.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(p)
    return p


def load_matcher(path: str | Path, **overrides: object) -> ClickTemplateMatcher:
    """Load a matcher saved by :func:`save_matcher` (float32, eval mode); ``overrides``
    replace config values (e.g. ``tile_gsd_m``)."""
    p = Path(path)
    try:
        with safe_open(str(p), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k).float() for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise WeightsError(f"{p}: not a readable safetensors file ({err})") from None
    if meta.get("family") != FAMILY or "config" not in meta:
        raise WeightsError(f"{p}: not a matcher weights file (no matcher config in its metadata)")
    try:
        config = MatcherConfig.from_json(meta["config"], source=f"{p} (metadata)")
        if overrides:
            config = MatcherConfig.from_dict({**_as_dict(config), **overrides}, source=str(p))
    except ModelConfigError as err:
        raise WeightsError(str(err)) from None
    model = ClickTemplateMatcher(config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise WeightsError(
            f"{p}: tensors do not match the config ({len(missing)} missing, "
            f"{len(unexpected)} unexpected)"
        )
    return model.eval()


def with_segment_head(model: ClickTemplateMatcher, width: int) -> ClickTemplateMatcher:
    """A copy of ``model`` (its trunk and numbers) with a freshly initialised segmentation
    head of ``width`` channels (config ``segment_width``), to be fitted by
    :func:`~ocgnet_geo.train.segment_fit.fit_head`."""
    config = MatcherConfig.from_dict({**_as_dict(model.config), "segment_width": int(width)})
    out = ClickTemplateMatcher(config)
    out.trunk.load_state_dict(model.trunk.state_dict(), strict=True)
    return out.eval()


def build_from_torchvision(
    mobilenet_path: str | Path, config: MatcherConfig | None = None
) -> ClickTemplateMatcher:
    """A matcher whose trunk is the first ``config.trunk_blocks`` blocks of torchvision's
    ImageNet MobileNetV2 state dict (loaded with ``torch.load(weights_only=True)``)."""
    from ocgnet_geo.models.ocgnet.weights import torch_load_safe

    model = ClickTemplateMatcher(config or MatcherConfig())
    state = torch_load_safe(mobilenet_path)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    wanted = model.trunk.state_dict()
    missing = [k for k in wanted if k not in state or state[k].shape != wanted[k].shape]
    if missing:
        raise WeightsError(
            f"{mobilenet_path}: not torchvision's MobileNetV2 state dict ({len(missing)} of "
            f"{len(wanted)} trunk tensors missing or of another shape, e.g. {missing[0]})"
        )
    model.trunk.load_state_dict({k: state[k] for k in wanted}, strict=True)
    return model.eval()


def _as_dict(config: MatcherConfig) -> dict:
    import json

    return json.loads(config.to_json())
