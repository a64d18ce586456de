"""MobileNetV2 with torchvision's parameter names (``features.N.*``), for the light variant.

Width multiplier 1.0. ``MobileNetV2Features(n)`` builds ``features[0:n]`` only (torchvision
has 19 entries, the last being the 320→1280 1×1 conv); ImageNet weights for the built
entries load from a torchvision state dict after adding the wrapper prefix.
"""

from __future__ import annotations

from torch import Tensor, nn

from ocgnet_geo.models.layers import ConvBNLeaky

#: (expand ratio t, output channels c, repeats n, first stride s) per stage, as torchvision.
_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1))
_STAGES += ((6, 160, 3, 2), (6, 320, 1, 1))

#: features index → output stride/channels after it: [0:4] stride 4 (24 ch),
#: [0:14] stride 16 (96 ch), [0:18] stride 32 (320 ch), [0:19] stride 32 (1280 ch).
STRIDE4_END, STRIDE16_END, STRIDE32_END = 4, 14, 18


class ConvBNReLU6(nn.Sequential):
    """torchvision ``Conv2dNormActivation``: children ``0`` conv, ``1`` BN, ``2`` ReLU6."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1):
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """Expand (1×1) → depthwise 3×3 → project (1×1, linear); residual if shapes match."""

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(ConvBNReLU6(c_in, hidden, kernel=1))
        layers += [
            ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        self.conv = nn.Sequential(*layers)
        self.use_res_connect = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        """[B, c_in, H, W] → [B, c_out, H/stride, W/stride]."""
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


def _all_features() -> list[nn.Module]:
    blocks: list[nn.Module] = [ConvBNReLU6(3, 32, stride=2)]
    c_in = 32
    for t, c, n, s in _STAGES:
        for i in range(n):
            blocks.append(InvertedResidual(c_in, c, s if i == 0 else 1, t))
            c_in = c
    blocks.append(ConvBNReLU6(c_in, 1280, kernel=1))
    return blocks


class MobileNetV2Features(nn.Module):
    """``features[0:n_blocks]`` of torchvision's MobileNetV2 (keys ``features.{i}.*``)."""

    def __init__(self, n_blocks: int = 19) -> None:
        super().__init__()
        self.features = nn.Sequential(*_all_features()[:n_blocks])

    def forward(self, x: Tensor) -> Tensor:
        """RGB [B, 3, H, W] → the last built block's output."""
        return self.features(x)


class QueryMobileNetV2(nn.Module):
    """Light query branch: MobileNetV2 to stride 32 plus a 1×1 projection to 512 channels.

    ``forward(x)`` → (deep [B, 512, H/32, W/32], early [B, 24, H/4, W/4]).
    """

    out_channels = 512

    def __init__(self) -> None:
        super().__init__()
        self.base_model = MobileNetV2Features(STRIDE32_END)
        self.proj = ConvBNLeaky(320, 512)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """See class docstring."""
        feats = self.base_model.features
        early = feats[:STRIDE4_END](x)
        deep = feats[STRIDE4_END:](early)
        return self.proj(deep), early


class ReferenceMobileNetV2(nn.Module):
    """Light reference branch: MobileNetV2 to stride 16 (96 ch) → 1×1 projection to 512.

    ``forward(x)``: RGB [B, 3, T, T] → [B, 512, T/16, T/16].
    """

    out_channels = 512

    def __init__(self) -> None:
        super().__init__()
        self.base_model = MobileNetV2Features(STRIDE16_END)
        self.proj = ConvBNLeaky(96, 512)

    def forward(self, x: Tensor) -> Tensor:
        """See class docstring."""
        return self.proj(self.base_model(x))
