"""ResNet-18 with torchvision's parameter names (so its ImageNet state dict loads as is).

No ``avgpool``/``fc``: the trunk ends at ``layer4``. torchvision is not a dependency.
"""

from __future__ import annotations

from torch import Tensor, nn


class BasicBlock(nn.Module):
    """Two 3×3 conv-BN pairs with an identity (or 1×1 conv-BN) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: Tensor) -> Tensor:
        """[B, c_in, H, W] → [B, c_out, H/stride, W/stride]."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """torchvision ResNet-18 trunk (``conv1`` … ``layer4``), 11,176,512 parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._stage(64, 64, 1)
        self.layer2 = self._stage(64, 128, 2)
        self.layer3 = self._stage(128, 256, 2)
        self.layer4 = self._stage(256, 512, 2)

    @staticmethod
    def _stage(c_in: int, c_out: int, stride: int) -> nn.Sequential:
        return nn.Sequential(BasicBlock(c_in, c_out, stride), BasicBlock(c_out, c_out))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """RGB [B, 3, H, W] → (layer4 [B, 512, H/32, W/32], layer1 [B, 64, H/4, W/4])."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        early = self.layer1(x)
        deep = self.layer4(self.layer3(self.layer2(early)))
        return deep, early


class QueryResNet18(nn.Module):
    """Query branch of OCGNet/DetGeo: ``base_model`` = ResNet-18 (keys ``base_model.*``).

    ``forward`` returns ``(deep, early)``: deep [B, 512, H/32, W/32] (stride 32) and early
    = layer1 output [B, 64, H/4, W/4] (stride 4, post-ReLU).
    """

    out_channels = 512

    def __init__(self) -> None:
        super().__init__()
        self.base_model = ResNet18()

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """See class docstring."""
        return self.base_model(x)
