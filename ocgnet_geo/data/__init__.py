"""Datasets: the CVOGL reader, its augmentations and the synthetic cross-view generator.

Imports torch lazily through its submodules (``import ocgnet_geo.data`` alone is light):
:mod:`~ocgnet_geo.data.records` (split files, satellite-name georeferencing),
:mod:`~ocgnet_geo.data.cvogl` (the torch ``Dataset``), :mod:`~ocgnet_geo.data.augment`
(satellite augmentations), :mod:`~ocgnet_geo.data.camera` (perspective drone camera),
:mod:`~ocgnet_geo.data.synth` (the generator).
"""
