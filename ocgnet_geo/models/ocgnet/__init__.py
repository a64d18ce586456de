"""OCGNet / DetGeo in PyTorch (imports torch; ``import ocgnet_geo`` alone does not).

Main entry points: :class:`ModelConfig`, :class:`OCGNet` (``encode_reference`` + ``locate``),
click maps in :mod:`~ocgnet_geo.models.ocgnet.clickmap`, box utilities in :mod:`~ocgnet_geo.models.ocgnet.head`
and weight formats in :mod:`~ocgnet_geo.models.ocgnet.weights`.
"""

from ocgnet_geo.models.errors import (
    ClickOutsideQueryError,
    ModelConfigError,
    ModelInputError,
    WeightsError,
)
from ocgnet_geo.models.ocgnet.clickmap import detgeo_clickmap, gaussian_clickmap
from ocgnet_geo.models.ocgnet.config import ModelConfig
from ocgnet_geo.models.ocgnet.head import build_target, decode_best, decode_topk, detection_loss
from ocgnet_geo.models.ocgnet.network import OCGNet, ReferenceFeatures
from ocgnet_geo.models.ocgnet.weights import (
    convert_official,
    init_from_torchvision,
    load_darknet_weights,
    load_model,
    load_official,
    save_model,
)

__all__ = [
    "ClickOutsideQueryError",
    "ModelConfig",
    "ModelConfigError",
    "ModelInputError",
    "OCGNet",
    "ReferenceFeatures",
    "WeightsError",
    "build_target",
    "convert_official",
    "decode_best",
    "decode_topk",
    "detection_loss",
    "detgeo_clickmap",
    "gaussian_clickmap",
    "init_from_torchvision",
    "load_darknet_weights",
    "load_model",
    "load_official",
    "save_model",
]
