"""The bundled default model: a click-template matcher on a shared frozen ImageNet trunk
(OCGNet's ideas at CPU scale: Gaussian click weighting, cosine cross-view correlation,
ranked boxes; a few calibrated numbers and one small learned head that outlines the clicked
object in the photo). Drone and aerial photos only."""

from ocgnet_geo.models.matcher.config import MatcherConfig
from ocgnet_geo.models.matcher.network import ClickTemplateMatcher, Templates
from ocgnet_geo.models.matcher.weights import (
    build_from_torchvision,
    family_of,
    load_matcher,
    save_matcher,
    with_segment_head,
)

__all__ = [
    "ClickTemplateMatcher",
    "MatcherConfig",
    "Templates",
    "build_from_torchvision",
    "family_of",
    "load_matcher",
    "save_matcher",
    "with_segment_head",
]
