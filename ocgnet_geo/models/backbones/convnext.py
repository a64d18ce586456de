"""ConvNeXt-Tiny with torchvision's parameter names, and the OCGNet query branch built on it.

The OCGNet README publishes checkpoints whose query backbone is ConvNeXt-Tiny (drone and
street view). Their ``query_resnet`` holds torchvision's ``convnext_tiny`` as ``base_model``
(``features.*`` and the unused ImageNet ``classifier.*``), the same stem registered again as
``early_stem`` and the stages + downsampling layers again as ``forward_features`` (shared
modules, so the checkpoint lists those tensors twice), and a ``projector`` 1×1 conv 768→512.
torchvision is not a dependency: the modules are written here with its names.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: Blocks per stage and channels per stage of ConvNeXt-Tiny.
DEPTHS = (3, 3, 9, 3)
DIMS = (96, 192, 384, 768)
#: LayerNorm epsilon of every ConvNeXt norm (torchvision: 1e-6).
LN_EPS = 1e-6
#: Initial layer scale (torchvision default; checkpoints overwrite it).
LAYER_SCALE_INIT = 1e-6


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor, at every pixel (torchvision's)."""

    def forward(self, x: Tensor) -> Tensor:
        """[B, C, H, W] → [B, C, H, W]."""
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Permute(nn.Module):
    """``x.permute(*dims)`` as a module (no parameters)."""

    def __init__(self, dims: tuple[int, ...]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: Tensor) -> Tensor:
        return x.permute(*self.dims)


class CNBlock(nn.Module):
    """One ConvNeXt block: depthwise 7×7 → LayerNorm (channels-last) → Linear(C, 4C) → GELU
    → Linear(4C, C), times ``layer_scale`` [C, 1, 1], plus the input. (Stochastic depth is
    off at inference and not implemented.)"""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute((0, 2, 3, 1)),
            nn.LayerNorm(dim, eps=LN_EPS),
            nn.Linear(dim, 4 * dim),
            nn.GELU(),
            nn.Linear(4 * dim, dim),
            Permute((0, 3, 1, 2)),
        )
        self.layer_scale = nn.Parameter(torch.full((dim, 1, 1), LAYER_SCALE_INIT))

    def forward(self, x: Tensor) -> Tensor:
        """[B, C, H, W] → [B, C, H, W]."""
        return x + self.layer_scale * self.block(x)


class Stem(nn.Sequential):
    """torchvision ``Conv2dNormActivation``: ``0`` conv 4×4/4 (with bias), ``1`` LayerNorm2d."""

    def __init__(self, c_out: int = DIMS[0]) -> None:
        super().__init__(
            nn.Conv2d(3, c_out, kernel_size=4, stride=4, bias=True),
            LayerNorm2d(c_out, eps=LN_EPS),
        )


class ConvNeXtTiny(nn.Module):
    """torchvision ``convnext_tiny``: ``features`` [0] stem (stride 4, 96 ch), [1, 3, 5, 7]
    stages, [2, 4, 6] downsampling (LayerNorm2d + 2×2/2 conv); ``classifier`` (LayerNorm2d,
    flatten, Linear 768→1000) for ImageNet, kept so that its weights load."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = [Stem()]
        for i, (depth, dim) in enumerate(zip(DEPTHS, DIMS, strict=True)):
            layers.append(nn.Sequential(*(CNBlock(dim) for _ in range(depth))))
            if i + 1 < len(DIMS):
                layers.append(
                    nn.Sequential(
                        LayerNorm2d(dim, eps=LN_EPS),
                        nn.Conv2d(dim, DIMS[i + 1], kernel_size=2, stride=2),
                    )
                )
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            LayerNorm2d(DIMS[-1], eps=LN_EPS), nn.Flatten(1), nn.Linear(DIMS[-1], num_classes)
        )

    def forward(self, x: Tensor) -> Tensor:
        """RGB [B, 3, H, W] → ImageNet logits [B, num_classes] (not used by OCGNet)."""
        return self.classifier(self.avgpool(self.features(x)))


class QueryConvNeXtTiny(nn.Module):
    """OCGNet's ConvNeXt-Tiny query branch with the official checkpoints' names.

    ``early_stem`` is ``base_model.features[0]`` and ``forward_features`` is
    ``base_model.features[1:]`` (the same modules: their tensors appear under both names in
    a state dict, as in the checkpoints). ``forward`` returns ``(deep, early)``: deep =
    ``projector`` of the last stage [B, 512, H/32, W/32], early = the stem output
    [B, 96, H/4, W/4] (LayerNorm'd, no activation).
    """

    out_channels = 512

    def __init__(self) -> None:
        super().__init__()
        self.base_model = ConvNeXtTiny()
        stages = list(self.base_model.features.children())
        self.early_stem = nn.Sequential(stages[0])
        self.forward_features = nn.Sequential(*stages[1:])
        self.projector = nn.Conv2d(DIMS[-1], self.out_channels, kernel_size=1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """See class docstring."""
        early = self.early_stem(x)
        return self.projector(self.forward_features(early)), early
