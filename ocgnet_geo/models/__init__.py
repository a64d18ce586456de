"""The model families behind the pipeline's tile-model protocol (import torch).

* :mod:`.ocgnet` — OCGNet / DetGeo, faithful to the paper and its official checkpoints;
* :mod:`.matcher` — the bundled default: a shared frozen ImageNet trunk, click-template
  correlation over scale and rotation;
* :mod:`.backbones` — ResNet-18, MobileNetV2 and DarkNet-53 with the official/torchvision
  parameter names, shared by both families.
"""
