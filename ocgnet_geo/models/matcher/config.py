"""Settings of the click-template matcher (lengths in metres, angles in degrees).

The matcher is a frozen ImageNet MobileNetV2 trunk, a handful of numbers and one small
learned part (the head that outlines the clicked object in the photo). ``box_factor`` and ``temperature`` are fitted on training places
(``docs/matcher.md``), never on the place being tested; the rest are design choices measured
in the same document.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields

from ocgnet_geo.models.errors import ModelConfigError

FAMILY = "matcher"


@dataclass(frozen=True)
class MatcherConfig:
    """The matcher's numbers.

    * ``trunk_blocks``: MobileNetV2 ``features[0:trunk_blocks]`` (7: stride 8, 32 channels);
    * ``template_cells``: side of the click-centred template, in trunk cells (stride px each);
    * ``sigma_cells``: standard deviation of the Gaussian click weighting, in cells;
    * ``photo_gsd_range_m``: ground resolution of the *working* photo (long side
      ``working_px``) searched, metres per photo pixel; scales are ``photo_gsd / tile_gsd``
      in steps of ``scale_step``;
    * ``rotation_step_deg``: step of the heading search over the full circle;
    * ``working_px``: photos are reduced (never enlarged) so that their long side is this;
    * ``tile_px`` / ``tile_gsd_m``: the pipeline's search tiles (pixels, metres per pixel);
    * ``box_factor`` and ``extent_weight``: a box's side is ``box_factor`` x ``L`` x the
      matched scale, ``L = width ** (1 - extent_weight) * extent ** extent_weight`` in
      working-photo px: the photo's width blended (geometric mean) with the clicked object's
      size measured in the photo (:mod:`ocgnet_geo.locate.extent`; the width alone when
      ``extent_weight`` is 0 or the measurement fails);
    * ``shape_weight``: the box keeps that area but takes the clicked object's proportions,
      its segment's hull mapped into the tile, raised to this power (0: squares; see
      :func:`~ocgnet_geo.locate.matcher_model.shaped_boxes`);
    * ``segment_width``: channels of the learned head that outlines the clicked object in the
      photo (:mod:`~ocgnet_geo.models.matcher.segment_head`; 0: no head, the colour
      segmentation of :mod:`ocgnet_geo.locate.extent` measures the object instead);
    * ``temperature``: softmax temperature turning mean cosines into probabilities;
    * ``peak_radius_cells``: peaks closer than this (cells) are one candidate.
    """

    trunk_blocks: int = 7
    stride: int = 8
    channels: int = 32
    template_cells: int = 9
    sigma_cells: float = 2.5
    photo_gsd_range_m: tuple[float, float] = (0.04, 1.0)
    scale_step: float = math.sqrt(2.0)
    rotation_step_deg: float = 20.0
    working_px: int = 512
    tile_px: int = 512
    tile_gsd_m: float = 0.5
    box_factor: float = 0.3
    extent_weight: float = 0.0
    shape_weight: float = 0.0
    segment_width: int = 0
    temperature: float = 0.02
    peak_radius_cells: int = 3
    view: str = "drone"
    family: str = FAMILY

    def __post_init__(self) -> None:
        lo, hi = self.photo_gsd_range_m
        checks = [
            (self.trunk_blocks in (4, 7, 14), "trunk_blocks must be 4, 7 or 14"),
            (
                self.template_cells >= 1 and self.template_cells % 2 == 1,
                "template_cells must be odd",
            ),
            (0 < lo <= hi, "photo_gsd_range_m must be 0 < min <= max"),
            (self.scale_step > 1, "scale_step must be > 1"),
            (0 < self.rotation_step_deg <= 360, "rotation_step_deg must be in (0, 360]"),
            (self.working_px >= 64, "working_px must be >= 64"),
            (self.tile_px % self.stride == 0, "tile_px must be a multiple of stride"),
            (self.tile_gsd_m > 0 and self.box_factor > 0, "tile_gsd_m and box_factor must be > 0"),
            (0 <= self.extent_weight <= 1, "extent_weight must be in [0, 1]"),
            (0 <= self.shape_weight <= 2, "shape_weight must be in [0, 2]"),
            (0 <= self.segment_width <= 256, "segment_width must be in [0, 256]"),
            (self.temperature > 0, "temperature must be > 0"),
            (self.view == "drone", "the matcher is for drone/aerial photos only"),
        ]
        for ok, message in checks:
            if not ok:
                raise ModelConfigError(f"matcher config: {message}")

    def photo_gsds_m(self) -> list[float]:
        """The working-photo ground resolutions searched (metres per pixel), finest first."""
        lo, hi = self.photo_gsd_range_m
        n = 1 + math.floor(math.log(hi / lo) / math.log(self.scale_step) + 1e-9)
        return [lo * self.scale_step**i for i in range(n)]

    def headings_deg(self) -> list[float]:
        """Headings searched over the full circle (degrees clockwise from north)."""
        n = max(1, round(360.0 / self.rotation_step_deg))
        return [i * 360.0 / n for i in range(n)]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> MatcherConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelConfigError(f"{source}: unknown matcher setting(s) {', '.join(unknown)}")
        values = dict(data)
        if "photo_gsd_range_m" in values:
            values["photo_gsd_range_m"] = tuple(float(v) for v in values["photo_gsd_range_m"])
        try:
            return cls(**values)
        except TypeError as err:
            raise ModelConfigError(f"{source}: {err}") from None

    @classmethod
    def from_json(cls, text: str, source: str = "config") -> MatcherConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ModelConfigError(f"{source}: not JSON ({err.msg})") from None
        if not isinstance(data, dict):
            raise ModelConfigError(f"{source}: not a JSON object")
        return cls.from_dict(data, source)
