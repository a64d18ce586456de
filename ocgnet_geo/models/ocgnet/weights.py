"""Reading and writing model weights. Nothing here executes code from a file.

Formats:

* **ours**: ``<name>.safetensors`` (tensors + the config JSON in the header metadata) and
  ``<name>.json`` beside it (the same config, human-readable). Never pickle.
* **official** OCGNet/DetGeo ``.pth.tar``: ``{"state_dict": ..., "epoch": ..., ...}`` with
  ``module.`` key prefixes, CUDA tensors; read with ``torch.load(weights_only=True,
  map_location="cpu")``. The query backbone (ResNet-18, or the README's ConvNeXt-Tiny) is
  detected from the keys.
* **Darknet** ``yolov3.weights``: 5 int32 header, then float32: per conv layer in cfg order
  BN bias, weight, running mean, running var (or conv bias), then the conv weight (OIHW).
* **torchvision** ResNet-18 / MobileNetV2 / ConvNeXt-Tiny ImageNet state dicts, for
  initialisation.

Every failure is a :class:`WeightsError` with a one-line message naming the file.
"""

from __future__ import annotations

import pickle
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from ocgnet_geo.models.backbones import ConvNeXtTiny, MobileNetV2Features, ResNet18
from ocgnet_geo.models.backbones.darknet import Darknet53YOLOv3
from ocgnet_geo.models.errors import ModelConfigError, WeightsError
from ocgnet_geo.models.ocgnet.config import OFFICIAL_SIGMA, ModelConfig
from ocgnet_geo.models.ocgnet.network import OCGNet

FORMAT_NAME = "ocgnet-geo"
DARKNET_HEADER_INT32 = 5
_MAX_LISTED = 5

PathLike = str | Path


# --- helpers -------------------------------------------------------------------------------


def _one_line(text: object) -> str:
    first = str(text).strip().splitlines()
    return first[0][:200] if first else type(text).__name__


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    more = len(names) - _MAX_LISTED
    return f"{shown} (+{more} more)" if more > 0 else shown


def _refusal_reason(text: str) -> str:
    """What the weights-only unpickler refused, from its long message: the global
    (``posix.system``) when it names one, else its first specific line."""
    found = re.search(r"GLOBAL\s+([\w.]+)", text)
    if found:
        return f"it references the global {found.group(1)}"
    after = text.split("WeightsUnpickler error:", 1)[-1]
    specific = [
        line.strip()
        for line in after.splitlines()
        if line.strip()
        and not line.startswith(("Weights only load failed", "Check the doc"))
        and "weights_only" not in line
    ]
    return specific[0][:160] if specific else "disallowed content"


def _existing_file(path: PathLike) -> Path:
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"{p}: no such weights file")
    return p


def load_state_dict_strict(model: nn.Module, state: Mapping[str, Tensor], source: str) -> None:
    """Load ``state`` into ``model`` requiring the exact key set and shapes.

    Raises :class:`WeightsError` naming ``source`` and listing missing keys, unexpected keys
    and shape mismatches; on error the model is left unchanged.
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys: {_listed(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys: {_listed(unexpected)}")
    if mismatched:
        problems.append(f"{len(mismatched)} shape mismatches: {_listed(mismatched)}")
    if problems:
        raise WeightsError(f"{source}: weights do not fit the model; " + "; ".join(problems))
    model.load_state_dict(dict(state), strict=True)


def torch_load_safe(path: PathLike) -> object:
    """``torch.load(weights_only=True, map_location="cpu")`` with one-line errors.

    A pickle that references anything other than tensors and plain containers (for example
    a ``__reduce__`` that would run code) is refused, never executed.
    """
    p = _existing_file(path)
    with p.open("rb") as f:
        magic = f.read(4)
    if not (magic.startswith(b"PK\x03\x04") or magic.startswith(b"\x80")):
        raise WeightsError(f"{p}: not a PyTorch checkpoint (neither a zip nor a pickle file)")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        text = str(err)
        if "Weights only load failed" in text:
            reason = _refusal_reason(text)
            raise WeightsError(
                f"{p}: refused by the safe loader (only tensors and plain containers are "
                f"allowed; the file may contain code; nothing was executed): {reason}"
            ) from None
        raise WeightsError(f"{p}: not a readable PyTorch checkpoint: {_one_line(err)}") from None
    except Exception as err:  # the weights-only unpickler raises many types on corrupt input
        raise WeightsError(
            f"{p}: not a readable PyTorch checkpoint (truncated or corrupt?): "
            f"{type(err).__name__}: {_one_line(err)}"
        ) from None


# --- official OCGNet / DetGeo checkpoints -----------------------------------------------------


def _official_state_dict(obj: object, source: str) -> dict[str, Tensor]:
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not state:
        raise WeightsError(f"{source}: not an OCGNet/DetGeo checkpoint (no state_dict)")
    if not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()):
        raise WeightsError(f"{source}: state_dict holds entries that are not named tensors")
    return {k.removeprefix("module."): v for k, v in state.items()}


def detect_arch(state: Mapping[str, Tensor]) -> str | None:
    """``"ocgnet"``, ``"detgeo"`` or ``None`` from the click-fusion key of a state dict."""
    if "combine_clickptns_conv1.conv.weight" in state:
        return "ocgnet"
    if "combine_clickptns_conv.conv.weight" in state:
        return "detgeo"
    return None


def detect_query_backbone(state: Mapping[str, Tensor]) -> str:
    """``"convnext_tiny"`` when an official state dict (``module.`` prefix removed) has the
    ConvNeXt-Tiny query-branch keys (``query_resnet.base_model.features.*`` and
    ``query_resnet.projector.*``), else ``"resnet18"`` (whose keys the loader then requires)."""
    if (
        "query_resnet.base_model.features.0.0.weight" in state
        or "query_resnet.projector.weight" in state
    ):
        return "convnext_tiny"
    return "resnet18"


def load_official(
    path: PathLike,
    arch: str | None = None,
    view: str = "drone",
    sigma: float = OFFICIAL_SIGMA,
) -> OCGNet:
    """Build a model from an official OCGNet/DetGeo ``.pth.tar`` (or a bare state dict).

    Args:
        path: checkpoint file; ``module.`` prefixes optional; CUDA tensors are mapped to CPU.
        arch: ``"ocgnet"``/``"detgeo"``; ``None`` detects it from the keys. A checkpoint of
            the other architecture is an error. The query backbone (ResNet-18 or
            ConvNeXt-Tiny) is always detected from the keys.
        view: ``"drone"`` or ``"ground"`` (the file does not record it).
        sigma: click-map sigma the checkpoint was trained with (0.10 for the released ones).

    Returns:
        The model in eval mode, every parameter and buffer from the file.
    """
    p = Path(path)
    state = _official_state_dict(torch_load_safe(p), str(p))
    found = detect_arch(state)
    if found is None:
        raise WeightsError(f"{p}: not an OCGNet/DetGeo checkpoint (no click-fusion conv keys)")
    if arch is not None and arch != found:
        raise WeightsError(f"{p}: this is a {found} checkpoint, not {arch}")
    try:
        config = ModelConfig.official(found, view, query_backbone=detect_query_backbone(state))
        config = ModelConfig.from_dict({**config.to_dict(), "sigma": sigma})
    except ModelConfigError as err:
        raise WeightsError(f"{p}: {err}") from None
    model = OCGNet(config)
    load_state_dict_strict(model, state, str(p))
    return model.eval()


def save_official(model: OCGNet, path: PathLike, epoch: int = 0) -> None:
    """Write the official checkpoint layout (``module.`` prefixed ``state_dict``)."""
    state = {f"module.{k}": v.detach().clone() for k, v in model.state_dict().items()}
    torch.save(
        {"epoch": epoch, "state_dict": state, "best_loss": torch.tensor(0.0), "optimizer": {}},
        Path(path),
    )


# --- our format: safetensors + JSON config -------------------------------------------------


def config_path_for(weights_path: PathLike) -> Path:
    """The JSON config written beside a ``.safetensors`` file (same stem, ``.json``)."""
    return Path(weights_path).with_suffix(".json")


def save_model(model: OCGNet, path: PathLike, dtype: torch.dtype | None = None) -> Path:
    """Save as ``path`` (safetensors, config in its metadata) plus the JSON config beside it.

    A learnable sigma is written into the config as its current value. ``dtype`` (e.g.
    ``torch.float16``, half the size) converts the floating-point tensors; loading converts
    them back to the model's float32. Returns the JSON path.
    """
    p = Path(path)
    config = ModelConfig.from_dict({**model.config.to_dict(), "sigma": model.sigma})
    aliases = state_aliases(model)
    tensors = {
        k: v.detach().contiguous().cpu()
        for k, v in model.state_dict().items()
        if k not in aliases  # a module registered twice is stored once
    }
    if dtype is not None:
        tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    text = config.to_json()
    save_file(tensors, str(p), metadata={"format": FORMAT_NAME, "config": text})
    json_path = config_path_for(p)
    json_path.write_text(text + "\n", encoding="utf-8")
    return json_path


def load_model(path: PathLike) -> OCGNet:
    """Load a model saved by :func:`save_model`; eval mode.

    The config comes from the safetensors metadata; if the ``.json`` beside it exists it must
    agree.
    """
    p = _existing_file(path)
    try:
        with safe_open(str(p), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise WeightsError(f"{p}: not a readable safetensors file: {_one_line(err)}") from None
    if meta.get("format") != FORMAT_NAME or "config" not in meta:
        raise WeightsError(f"{p}: safetensors file without an ocgnet-geo config in its metadata")
    try:
        config = ModelConfig.from_json(meta["config"], source=f"{p} (metadata)")
        side = config_path_for(p)
        if side.is_file() and ModelConfig.load(side) != config:
            raise WeightsError(f"{side}: config disagrees with the metadata of {p.name}")
    except ModelConfigError as err:
        raise WeightsError(str(err)) from None
    model = OCGNet(config)
    for alias, target in state_aliases(model).items():
        if alias not in state and target in state:
            state[alias] = state[target]
    load_state_dict_strict(model, state, str(p))
    return model.eval()


def state_aliases(model: nn.Module) -> dict[str, str]:
    """State-dict keys that name the same tensor as an earlier key (a module registered
    under two names, as ConvNeXt's stem and stages are), mapped to that earlier key."""
    first: dict[tuple[int, tuple[int, ...]], str] = {}
    aliases = {}
    for key, tensor in model.state_dict(keep_vars=True).items():
        ident = (tensor.data_ptr(), tuple(tensor.shape))
        if tensor.numel() and ident in first:
            aliases[key] = first[ident]
        else:
            first.setdefault(ident, key)
    return aliases


def convert_official(
    src: PathLike,
    dst: PathLike,
    arch: str | None = None,
    view: str = "drone",
    sigma: float = OFFICIAL_SIGMA,
) -> ModelConfig:
    """Convert an official ``.pth.tar`` to our safetensors + JSON format; returns the config."""
    model = load_official(src, arch=arch, view=view, sigma=sigma)
    save_model(model, dst)
    return model.config


# --- Darknet yolov3.weights -------------------------------------------------------------------


def _darknet_of(model: nn.Module) -> Darknet53YOLOv3:
    if isinstance(model, Darknet53YOLOv3):
        return model
    darknet = getattr(model, "reference_darknet", None)
    if not isinstance(darknet, Darknet53YOLOv3):
        raise WeightsError("model: has no DarkNet-53 reference branch for yolov3.weights")
    return darknet


def _darknet_tensors(darknet: Darknet53YOLOv3) -> list[Tensor]:
    """Tensors in file order: per conv, BN bias, weight, mean, var (or conv bias), weight."""
    order: list[Tensor] = []
    for _, conv, bn in darknet.conv_layers():
        if bn is not None:
            order += [bn.bias, bn.weight, bn.running_mean, bn.running_var]
        else:
            assert conv.bias is not None
            order.append(conv.bias)
        order.append(conv.weight)
    return order


def darknet_float_count(model: nn.Module) -> int:
    """Number of float32 values after the header (62,001,757 for the official file)."""
    return sum(t.numel() for t in _darknet_tensors(_darknet_of(model)))


def load_darknet_weights(model: nn.Module, path: PathLike) -> tuple[int, ...]:
    """Fill the DarkNet-53/YOLOv3 branch (all 75 convs) from a Darknet ``.weights`` file.

    ``model`` is an :class:`OCGNet` with a DarkNet reference branch or the branch itself.
    The file must hold exactly the expected number of floats. Returns the 5 header int32s.
    """
    p = _existing_file(path)
    darknet = _darknet_of(model)
    tensors = _darknet_tensors(darknet)
    need = sum(t.numel() for t in tensors)
    size = p.stat().st_size
    header_bytes = 4 * DARKNET_HEADER_INT32
    if size < header_bytes or (size - header_bytes) % 4:
        raise WeightsError(f"{p}: not a Darknet weights file ({size} bytes)")
    have = (size - header_bytes) // 4
    if have != need:
        what = "truncated" if have < need else "too long"
        raise WeightsError(f"{p}: {what}: holds {have} floats, YOLOv3 (yolov3_rs.cfg) needs {need}")
    with p.open("rb") as f:
        header = np.fromfile(f, dtype="<i4", count=DARKNET_HEADER_INT32)
        values = np.fromfile(f, dtype="<f4", count=have)
    flat = torch.from_numpy(values.astype(np.float32, copy=False))
    offset = 0
    with torch.no_grad():
        for t in tensors:
            t.copy_(flat[offset : offset + t.numel()].view_as(t))
            offset += t.numel()
    return tuple(int(v) for v in header)


def save_darknet_weights(
    model: nn.Module, path: PathLike, header: tuple[int, ...] = (0, 2, 0, 0, 0)
) -> None:
    """Write the DarkNet branch as a Darknet ``.weights`` file (inverse of the loader)."""
    if len(header) != DARKNET_HEADER_INT32:
        raise WeightsError(f"header: expected {DARKNET_HEADER_INT32} int32 values")
    tensors = _darknet_tensors(_darknet_of(model))
    with Path(path).open("wb") as f:
        np.asarray(header, dtype="<i4").tofile(f)
        for t in tensors:
            t.detach().cpu().numpy().astype("<f4", copy=False).tofile(f)


# --- torchvision ImageNet initialisation -----------------------------------------------------


def _plain_state_dict(obj: object, source: str) -> dict[str, Tensor]:
    if isinstance(obj, dict) and "state_dict" in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise WeightsError(f"{source}: not a state dict of named tensors")
    return obj


def _load_subset(target: nn.Module, state: Mapping[str, Tensor], source: str, what: str) -> None:
    expected = target.state_dict()
    missing = [k for k in expected if k not in state]
    mismatched = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or mismatched:
        bad = missing + mismatched
        raise WeightsError(
            f"{source}: not a torchvision {what} state dict ({len(missing)} keys missing, "
            f"{len(mismatched)} with wrong shape: {_listed(bad)})"
        )
    target.load_state_dict({k: state[k] for k in expected}, strict=True)


def init_from_torchvision(
    model: OCGNet, source: PathLike | Mapping[str, Tensor], backbone: str
) -> list[str]:
    """Initialise backbones from a torchvision ImageNet state dict (file or mapping).

    ``backbone="resnet18"`` fills ``query_resnet.base_model`` (``fc.*`` ignored);
    ``"convnext_tiny"`` fills the ConvNeXt-Tiny ``query_resnet.base_model`` (all of it,
    ``classifier.*`` included); ``"mobilenet_v2"`` fills every MobileNetV2 branch of the
    model with the blocks it has (``classifier.*`` and unused ``features.N`` ignored).
    Returns the filled module names.
    """
    name = str(source) if isinstance(source, (str, Path)) else "state dict"
    raw = torch_load_safe(source) if isinstance(source, (str, Path)) else source
    state = _plain_state_dict(raw, name)
    filled = []
    targets = {
        "resnet18": (["query_resnet"], ResNet18),
        "convnext_tiny": (["query_resnet"], ConvNeXtTiny),
        "mobilenet_v2": (["query_mobilenet", "reference_mobilenet"], MobileNetV2Features),
    }.get(backbone)
    if targets is None:
        raise WeightsError(
            f"backbone: {backbone!r} is not 'resnet18', 'convnext_tiny' or 'mobilenet_v2'"
        )
    attrs, trunk = targets
    for attr in attrs:
        branch = getattr(model, attr, None)
        if branch is not None and isinstance(branch.base_model, trunk):
            _load_subset(branch.base_model, state, name, backbone)
            filled.append(attr)
    if not filled:
        raise WeightsError(f"model: has no {backbone} branch to initialise from {name}")
    return filled
