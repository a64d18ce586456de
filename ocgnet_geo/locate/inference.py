"""Preparing a loaded OCGNet for inference in a precision mode.

The satellite branch (reference backbone + ``reference_mapping_visu``) does >97 % of the
work of a first click, so that is where the effort goes:

1. BatchNorm folded into the preceding convolution (exact up to float rounding; in eval
   mode BN is an affine map per channel), which saves one pass over every activation;
2. weights and activations in ``channels_last`` (NHWC), which oneDNN runs faster on CPU;
3. in ``bf16`` / ``fp16`` the branch's weights are cast once (after folding, so BN's
   statistics are folded in float32). Casting beats ``torch.autocast``, which re-casts every
   weight at every forward (measured in ``docs/precision.md``).

The query branch, fusion and head stay float32 and untouched: they cost a few milliseconds
and decide the ranking.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def fold_batchnorm(module: nn.Module) -> int:
    """Fold every BatchNorm2d that directly follows a Conv2d inside an ``nn.Sequential`` of
    ``module`` (in place; the BN becomes ``nn.Identity``, names are kept). The module must
    be in eval mode. Returns the number of folded pairs."""
    if module.training:
        raise ValueError("fold_batchnorm: the module must be in eval mode")
    folded = 0
    for seq in [m for m in module.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for first, second in itertools.pairwise(names):
            conv, bn = seq._modules[first], seq._modules[second]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                seq._modules[first] = fuse_conv_bn_eval(conv, bn)
                seq._modules[second] = nn.Identity()
                folded += 1
    return folded


def reference_branch(net: nn.Module) -> list[nn.Module]:
    """The modules ``encode_reference`` runs: the satellite backbone and its 512→512 mapping."""
    return [net.reference_backbone, net.reference_mapping_visu]


def prepare_for_inference(
    net: nn.Module, mode: str, channels_last: bool = True, fold_bn: bool = True
) -> nn.Module:
    """Put ``net`` (an OCGNet, already on its device) in eval mode, fold BN in its satellite
    branch (unless ``fold_bn`` is False: the reference's compute, for benchmarks), cast that
    branch to ``mode``'s dtype and set the memory format; in place."""
    net.eval()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    for part in reference_branch(net):
        if fold_bn:
            fold_batchnorm(part)
        part.to(DTYPES[mode])
    return net.to(memory_format=fmt)
