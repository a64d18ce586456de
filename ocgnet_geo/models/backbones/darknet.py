"""DarkNet-53 + the YOLOv3 neck, laid out as the reference's ``yolov3_rs.cfg`` (107 layers).

Parameter names follow the reference: ``module_list.{i}.conv_{i}.weight``,
``module_list.{i}.batch_norm_{i}.*`` and, for the three detection convs (81, 93, 105),
``module_list.{i}.conv_{i}.{weight,bias}``. All layers are built so official checkpoints and
``yolov3.weights`` round-trip, but by default :meth:`Darknet53YOLOv3.forward` runs only the
layers that feed the output of layer 90 (0–79 and 83–90): the stride-16, 512-channel
feature OCGNet and DetGeo use. ``run_all_layers = True`` reproduces the reference's compute
(all 107 layers, YOLO layers as pass-throughs whose outputs are discarded).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class DarknetLayer:
    """One cfg layer.

    ``kind`` ∈ {conv, shortcut, route, upsample, yolo}; ``sources`` are absolute indices of
    the layers whose outputs it reads; conv fields: ``filters``, ``size``, ``stride``, ``bn``
    (BatchNorm, no conv bias) and ``leaky`` (LeakyReLU 0.1, else linear).
    """

    kind: str
    sources: tuple[int, ...]
    filters: int = 0
    size: int = 1
    stride: int = 1
    bn: bool = True
    leaky: bool = True


def _build_layers() -> tuple[DarknetLayer, ...]:
    layers: list[DarknetLayer] = []

    def conv(filters: int, size: int, stride: int = 1, detect: bool = False) -> int:
        i = len(layers)
        layers.append(
            DarknetLayer("conv", (i - 1,), filters, size, stride, bn=not detect, leaky=not detect)
        )
        return i

    def add(kind: str, *rel: int) -> int:
        i = len(layers)
        layers.append(DarknetLayer(kind, tuple(i + r if r < 0 else r for r in rel)))
        return i

    conv(32, 3)
    for filters, repeats in ((64, 1), (128, 2), (256, 8), (512, 8), (1024, 4)):
        conv(filters, 3, 2)
        for _ in range(repeats):
            conv(filters // 2, 1)
            conv(filters, 3)
            add("shortcut", -1, -3)
    route_sources = {1: 61, 2: 36}  # scale → backbone layer concatenated after upsampling
    for scale, width in enumerate((512, 256, 128)):
        if scale:
            add("route", -4)
            conv(width, 1)
            add("upsample", -1)
            add("route", -1, route_sources[scale])
        for _ in range(2):
            conv(width, 1)
            conv(width * 2, 3)
        conv(width, 1)  # "yoloconvolutional": its input is one of the returned features
        conv(width * 2, 3)
        conv(255, 1, detect=True)
        add("yolo", -1)
    return tuple(layers)


#: The 107 layers of ``yolov3_rs.cfg`` in order.
DARKNET_LAYERS: tuple[DarknetLayer, ...] = _build_layers()
#: Layers whose *input* the reference returns (stride 32, 16, 8 features).
YOLO_INPUT_LAYERS = (79, 91, 103)
#: Index of the layer whose output is the stride-16, 512-channel feature OCGNet uses.
FEATURE_LAYER = 90


def _needed(target: int) -> list[int]:
    """Indices of all layers the output of ``target`` depends on (sorted, inclusive)."""
    seen: set[int] = set()
    stack = [target]
    while stack:
        i = stack.pop()
        if i in seen or i < 0:
            continue
        seen.add(i)
        stack.extend(DARKNET_LAYERS[i].sources)
    return sorted(seen)


class _Shortcut(nn.Module):
    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return a + b


class _Route(nn.Module):
    def forward(self, *xs: Tensor) -> Tensor:
        return xs[0] if len(xs) == 1 else torch.cat(xs, dim=1)


class _YoloPassThrough(nn.Module):
    """Stands in for the reference's YOLO decode layer, whose output is never used."""

    def forward(self, x: Tensor) -> Tensor:
        return x


def _make_module(i: int, layer: DarknetLayer, c_in: int) -> nn.Module:
    if layer.kind == "conv":
        block = nn.Sequential()
        pad = (layer.size - 1) // 2
        block.add_module(
            f"conv_{i}",
            nn.Conv2d(c_in, layer.filters, layer.size, layer.stride, pad, bias=not layer.bn),
        )
        if layer.bn:
            block.add_module(f"batch_norm_{i}", nn.BatchNorm2d(layer.filters))
        if layer.leaky:
            block.add_module(f"leaky_{i}", nn.LeakyReLU(0.1))
        return block
    if layer.kind == "upsample":
        return nn.Upsample(scale_factor=2, mode="nearest")
    return {"shortcut": _Shortcut, "route": _Route, "yolo": _YoloPassThrough}[layer.kind]()


class Darknet53YOLOv3(nn.Module):
    """Reference branch: DarkNet-53 + YOLOv3 neck (61,949,149 parameters, 107 layers).

    ``forward(x)``: RGB [B, 3, T, T] (ImageNet-normalised, T a multiple of 32) →
    layer-90 output [B, 512, T/16, T/16].
    """

    out_channels = 512

    def __init__(self) -> None:
        super().__init__()
        channels: list[int] = []
        modules = []
        for i, layer in enumerate(DARKNET_LAYERS):
            c_in = channels[layer.sources[0]] if layer.sources[0] >= 0 else 3
            modules.append(_make_module(i, layer, c_in))
            if layer.kind == "conv":
                channels.append(layer.filters)
            elif layer.kind == "route":
                channels.append(sum(channels[s] for s in layer.sources))
            else:
                channels.append(c_in)
        self.module_list = nn.ModuleList(modules)
        #: If True, run all 107 layers as the reference does (for parity/benchmarks).
        self.run_all_layers = False
        self._pruned_plan = _needed(FEATURE_LAYER)

    def conv_layers(self) -> Iterator[tuple[int, nn.Conv2d, nn.BatchNorm2d | None]]:
        """Yield ``(index, conv, bn or None)`` for the 75 conv layers in cfg order."""
        for i, layer in enumerate(DARKNET_LAYERS):
            if layer.kind == "conv":
                block = self.module_list[i]
                bn = getattr(block, f"batch_norm_{i}", None)
                yield i, getattr(block, f"conv_{i}"), bn

    def _run(self, x: Tensor, plan: list[int], keep: set[int]) -> dict[int, Tensor]:
        """Run the layers in ``plan`` (ascending), freeing outputs after their last use."""
        last_use: dict[int, int] = {}
        for i in plan:
            for s in DARKNET_LAYERS[i].sources:
                last_use[s] = i
        outputs: dict[int, Tensor] = {}
        for i in plan:
            layer = DARKNET_LAYERS[i]
            inputs = [x if s < 0 else outputs[s] for s in layer.sources]
            outputs[i] = self.module_list[i](*inputs)
            for s in layer.sources:
                if last_use.get(s) == i and s not in keep:
                    outputs.pop(s, None)
        return outputs

    def forward_all(self, x: Tensor) -> list[Tensor]:
        """All 107 layers, as the reference: the inputs of layers 79, 91, 103.

        Returns [[B, 1024, T/32, T/32], [B, 512, T/16, T/16], [B, 256, T/8, T/8]].
        """
        keep = {i - 1 for i in YOLO_INPUT_LAYERS}
        outputs = self._run(x, list(range(len(DARKNET_LAYERS))), keep)
        return [outputs[i - 1] for i in YOLO_INPUT_LAYERS]

    def forward(self, x: Tensor) -> Tensor:
        """See class docstring."""
        if self.run_all_layers:
            return self.forward_all(x)[1]
        return self._run(x, self._pruned_plan, {FEATURE_LAYER})[FEATURE_LAYER]
