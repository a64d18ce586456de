"""Training and evaluation: presets, the trainer (CPU/CUDA/DDP), metrics and reports.

Submodules import torch; ``import ocgnet_geo.train`` alone does not.
"""
