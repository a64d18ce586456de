"""Backbones with torchvision-compatible (ResNet-18, MobileNetV2, ConvNeXt-Tiny) or Darknet
parameter names."""

from ocgnet_geo.models.backbones.convnext import ConvNeXtTiny, QueryConvNeXtTiny
from ocgnet_geo.models.backbones.darknet import DARKNET_LAYERS, Darknet53YOLOv3
from ocgnet_geo.models.backbones.mobilenet import (
    MobileNetV2Features,
    QueryMobileNetV2,
    ReferenceMobileNetV2,
)
from ocgnet_geo.models.backbones.resnet import QueryResNet18, ResNet18

__all__ = [
    "DARKNET_LAYERS",
    "ConvNeXtTiny",
    "Darknet53YOLOv3",
    "MobileNetV2Features",
    "QueryConvNeXtTiny",
    "QueryMobileNetV2",
    "QueryResNet18",
    "ReferenceMobileNetV2",
    "ResNet18",
]
