"""Model configuration: one frozen dataclass, saved as JSON beside the weights.

Sizes are in pixels, ``sigma`` is a fraction of the query-image diagonal, ``tile_gsd_m`` is
the ground sample distance (metres per pixel) of the satellite tiles the model was trained on.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocgnet_geo.models.errors import ModelConfigError

FORMAT_VERSION = "1"

ARCHS = ("ocgnet", "detgeo")
VIEWS = ("drone", "ground")
CLICKMAPS = ("gaussian", "detgeo")
QUERY_BACKBONES = ("resnet18", "mobilenet_v2", "convnext_tiny")
REFERENCE_BACKBONES = ("darknet53", "mobilenet_v2")

#: Query image size (H, W) in pixels per view, as the CVOGL data and the reference code use.
QUERY_HW: dict[str, tuple[int, int]] = {"drone": (256, 256), "ground": (256, 512)}

#: Click-map sigma as a fraction of the query diagonal, per the paper (drone / ground).
PAPER_SIGMA: dict[str, float] = {"drone": 0.075, "ground": 0.15}

#: Sigma used by the released code and therefore by the official checkpoints (both views).
OFFICIAL_SIGMA = 0.10

#: The 9 official anchors (w, h) in pixels of a 1024-px tile, in anchor-index order
#: (the k-means list of the reference, row-reversed: index 0 is the largest).
OFFICIAL_ANCHORS: tuple[tuple[int, int], ...] = (
    (550, 573),
    (395, 342),
    (246, 280),
    (198, 179),
    (194, 82),
    (129, 129),
    (96, 215),
    (78, 84),
    (37, 41),
)

#: Output stride of the detection grid (satellite pixels per grid cell).
GRID_STRIDE = 16


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model and interpret its output.

    ``None`` for ``sigma``, ``clickmap``, ``mhca`` and ``location_enhancement`` means "the
    default for this ``arch``/``view``" and is resolved at construction, so a stored config is
    always explicit.

    Attributes:
        arch: ``"ocgnet"`` or ``"detgeo"`` (DetGeo = no MHCA, no location enhancement, its
            own click map and the attribute name ``combine_clickptns_conv``).
        view: ``"drone"`` (query 256×256) or ``"ground"`` (query 256×512, H×W).
        sigma: Gaussian click-map sigma as a fraction of the query diagonal (paper: 0.075
            drone / 0.15 ground; the official checkpoints use 0.10).
        clickmap: ``"gaussian"`` (GKT) or ``"detgeo"`` (``(1 − d/diag)²``).
        mhca: use multi-head cross attention between query and satellite features.
        location_enhancement: re-inject the click map after layer1 (late embedding).
        learnable_sigma: train sigma as a parameter (then click maps must be built by the
            model, see :meth:`ocgnet_geo.models.ocgnet.network.OCGNet.make_clickmap`).
        query_backbone: ``"resnet18"``, ``"mobilenet_v2"`` (light variant) or
            ``"convnext_tiny"`` (the README's ConvNeXt-Tiny checkpoints).
        reference_backbone: ``"darknet53"`` or ``"mobilenet_v2"`` (light variant).
        tile_size: satellite tile side in pixels (the output grid is ``tile_size // 16``).
        anchors: 9 anchor boxes (w, h) in tile pixels, in anchor-index order.
        tile_gsd_m: metres per pixel of the tiles the model expects (``None`` = unknown).
        training_data: free text naming the training data.
        version: config format version.
    """

    arch: str = "ocgnet"
    view: str = "drone"
    sigma: float | None = None
    clickmap: str | None = None
    mhca: bool | None = None
    location_enhancement: bool | None = None
    learnable_sigma: bool = False
    query_backbone: str = "resnet18"
    reference_backbone: str = "darknet53"
    tile_size: int = 1024
    anchors: tuple[tuple[int, int], ...] = field(default=OFFICIAL_ANCHORS)
    tile_gsd_m: float | None = None
    training_data: str = ""
    version: str = FORMAT_VERSION

    def __post_init__(self) -> None:
        _check_choice("arch", self.arch, ARCHS)
        _check_choice("view", self.view, VIEWS)
        _check_choice("query_backbone", self.query_backbone, QUERY_BACKBONES)
        _check_choice("reference_backbone", self.reference_backbone, REFERENCE_BACKBONES)
        is_ocg = self.arch == "ocgnet"
        defaults = {
            "sigma": PAPER_SIGMA[self.view],
            "clickmap": "gaussian" if is_ocg else "detgeo",
            "mhca": is_ocg,
            "location_enhancement": is_ocg,
        }
        for name, value in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        _check_choice("clickmap", self.clickmap, CLICKMAPS)
        if not is_ocg and (self.mhca or self.location_enhancement):
            raise ModelConfigError(
                "model config: arch 'detgeo' has no MHCA or location enhancement; "
                "use arch 'ocgnet' with switches for ablations"
            )
        sigma = float(self.sigma)  # type: ignore[arg-type]
        if not 0.0 < sigma < 10.0:
            raise ModelConfigError(f"model config: sigma {sigma!r} must be in (0, 10)")
        object.__setattr__(self, "sigma", sigma)
        if self.learnable_sigma and self.clickmap != "gaussian":
            raise ModelConfigError("model config: learnable_sigma needs clickmap 'gaussian'")
        if self.tile_size <= 0 or self.tile_size % 32:
            raise ModelConfigError(
                f"model config: tile_size {self.tile_size!r} must be a positive multiple of 32"
            )
        anchors = tuple((int(w), int(h)) for w, h in self.anchors)
        if len(anchors) != 9 or any(w <= 0 or h <= 0 for w, h in anchors):
            raise ModelConfigError("model config: anchors must be 9 positive (w, h) pairs")
        object.__setattr__(self, "anchors", anchors)
        if self.tile_gsd_m is not None and not self.tile_gsd_m > 0:
            raise ModelConfigError(f"model config: tile_gsd_m {self.tile_gsd_m!r} must be > 0")

    # --- derived values ----------------------------------------------------------------

    @property
    def query_hw(self) -> tuple[int, int]:
        """Query image and click-map size (H, W) in pixels."""
        return QUERY_HW[self.view]

    @property
    def grid_size(self) -> int:
        """Side of the output grid in cells (``tile_size // 16``)."""
        return self.tile_size // GRID_STRIDE

    # --- presets -----------------------------------------------------------------------

    @classmethod
    def official(
        cls, arch: str = "ocgnet", view: str = "drone", query_backbone: str = "resnet18"
    ) -> ModelConfig:
        """The configuration of the released OCGNet/DetGeo checkpoints (sigma 0.10); the
        README's ConvNeXt-Tiny ones have ``query_backbone="convnext_tiny"``."""
        return cls(
            arch=arch,
            view=view,
            sigma=OFFICIAL_SIGMA,
            query_backbone=query_backbone,
            training_data="CVOGL",
        )

    @classmethod
    def light(cls, view: str = "drone", tile_size: int = 512) -> ModelConfig:
        """MobileNetV2 query + reference pair for CPU training on smaller tiles.

        Anchors are the official ones scaled by ``tile_size / 1024``.
        """
        scale = tile_size / 1024
        anchors = tuple(
            (max(1, round(w * scale)), max(1, round(h * scale))) for w, h in OFFICIAL_ANCHORS
        )
        return cls(
            view=view,
            query_backbone="mobilenet_v2",
            reference_backbone="mobilenet_v2",
            tile_size=tile_size,
            anchors=anchors,
        )

    # --- JSON --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict (anchors as lists)."""
        data = dataclasses.asdict(self)
        data["anchors"] = [list(a) for a in self.anchors]
        return data

    def to_json(self) -> str:
        """Indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "model config") -> ModelConfig:
        """Build from a dict, refusing unknown keys (``source`` names it in errors)."""
        if not isinstance(data, dict):
            raise ModelConfigError(f"{source}: expected a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelConfigError(f"{source}: unknown config keys {unknown}")
        values = dict(data)
        if "anchors" in values:
            try:
                values["anchors"] = tuple(tuple(a) for a in values["anchors"])
            except TypeError:  # e.g. "anchors": 5
                raise ModelConfigError(
                    f"{source}: anchors {values['anchors']!r}: expected 9 [w, h] pairs"
                ) from None
        try:  # other wrong types are config errors too, not tracebacks
            return cls(**values)
        except (TypeError, ValueError) as err:
            if isinstance(err, ModelConfigError):
                detail = str(err).removeprefix("model config: ")
                raise ModelConfigError(f"{source}: {detail}") from None
            raise ModelConfigError(f"{source}: invalid config ({err})") from None

    @classmethod
    def from_json(cls, text: str, source: str = "model config") -> ModelConfig:
        """Parse JSON text."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ModelConfigError(f"{source}: not valid JSON ({err.msg})") from None
        return cls.from_dict(data, source)

    def save(self, path: str | Path) -> None:
        """Write the config as JSON to ``path``."""
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> ModelConfig:
        """Read a config JSON file."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as err:
            raise ModelConfigError(f"{p}: cannot read config ({err.strerror})") from None
        return cls.from_json(text, source=str(p))


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ModelConfigError(f"model config: {name} {value!r} is not one of {list(choices)}")
