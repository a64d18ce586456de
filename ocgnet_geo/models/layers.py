"""Small shared building blocks."""

from __future__ import annotations

from torch import nn

#: BatchNorm momentum of the reference's conv-BN-LeakyReLU blocks. In PyTorch's convention
#: 0.999 makes the running statistics ≈ the last training batch's statistics (a TF-style value
#: used verbatim by the reference); kept for identical training dynamics.
REFERENCE_CBR_BN_MOMENTUM = 0.999


class ConvBNLeaky(nn.Sequential):
    """Conv2d (no bias) → BatchNorm2d → LeakyReLU(0.1): the reference's "CBR" block.

    Children are named ``conv``, ``bn``, ``relu`` so state-dict keys read
    ``<name>.conv.weight`` and ``<name>.bn.{weight,bias,running_mean,running_var,...}``.
    Input [B, c_in, H, W] → output [B, c_out, H', W'] with the usual conv arithmetic.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int = 1,
        stride: int = 1,
        padding: int = 0,
        bn_momentum: float = REFERENCE_CBR_BN_MOMENTUM,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=1e-5, momentum=bn_momentum)
        self.relu = nn.LeakyReLU(0.1)
