"""OCGNet and DetGeo (one class, switched by :class:`ModelConfig`).

Inputs follow the reference: ImageNet-normalised RGB query ``[B, 3, Hq, Wq]`` (256×256 drone,
256×512 ground), click map ``[B, Hq, Wq]`` in (0, 1], satellite tile ``[B, 3, T, T]``
(T = 1024 for the official models). Output: raw head ``[B, 45, T/16, T/16]`` (channel
``anchor·5 + k``, k = tx, ty, tw, th, conf) and the cross-view attention ``[B, T/16, T/16]``.

The forward is split so a tile is encoded once: ``encode_reference(satellite)`` runs the heavy
satellite branch; ``locate(query, clickmap, ref)`` runs the rest. ``forward`` is exactly
``locate(query, clickmap, encode_reference(satellite))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ocgnet_geo.models.backbones import (
    Darknet53YOLOv3,
    QueryConvNeXtTiny,
    QueryMobileNetV2,
    QueryResNet18,
    ReferenceMobileNetV2,
)
from ocgnet_geo.models.errors import ModelInputError
from ocgnet_geo.models.layers import ConvBNLeaky
from ocgnet_geo.models.ocgnet.attention import MultiHeadCrossAttention
from ocgnet_geo.models.ocgnet.clickmap import ClickLike, ClickMapEncoder
from ocgnet_geo.models.ocgnet.config import ModelConfig
from ocgnet_geo.models.ocgnet.fusion import (
    cross_view_fusion,
    location_enhancement,
    normalize_reference,
)
from ocgnet_geo.models.ocgnet.head import NUM_ANCHORS

#: Kernel (= stride) of the max-pool that shrinks satellite features before MHCA.
MHCA_POOL = 8


@dataclass
class ReferenceFeatures:
    """Encoded satellite tiles, reusable for any number of clicks.

    Attributes:
        normalized: ``reference_mapping_visu`` output L2-normalised over channels,
            [B, 512, T/16, T/16].
        pooled: the un-normalised mapped features max-pooled 8×8/8, [B, 512, T/128, T/128]
            (the MHCA keys/values).
    """

    normalized: Tensor
    pooled: Tensor

    @property
    def batch_size(self) -> int:
        """Number of encoded tiles."""
        return self.normalized.shape[0]

    @property
    def grid_hw(self) -> tuple[int, int]:
        """Output grid (rows, columns) = tile size / 16."""
        return self.normalized.shape[-2], self.normalized.shape[-1]

    def expand(self, batch: int) -> ReferenceFeatures:
        """Broadcast a single encoded tile to ``batch`` queries (no copy)."""
        if self.batch_size == batch:
            return self
        if self.batch_size != 1:
            raise ModelInputError(
                f"ref: {self.batch_size} encoded tiles for a batch of {batch} queries "
                "(need 1 or the same number)"
            )
        return ReferenceFeatures(
            self.normalized.expand(batch, -1, -1, -1), self.pooled.expand(batch, -1, -1, -1)
        )


@dataclass
class QueryFeatures:
    """An encoded query (photo + click map), reusable for every tile of a search.

    Attributes:
        mapped: ``query_mapping_visu`` output [B, 512, Hq/32, Wq/32].
        position: location-enhancement weights [B, 1, Hq/32, Wq/32], or None when the
            config switches location enhancement off.
    """

    mapped: Tensor
    position: Tensor | None


class OCGNet(nn.Module):
    """OCGNet (and DetGeo with ``arch="detgeo"``); see the module docstring for I/O.

    Submodule names (and so state-dict keys) follow the official checkpoints:
    ``query_resnet``, ``reference_darknet``, ``combine_clickptns_conv1`` (DetGeo:
    ``combine_clickptns_conv``), ``combine_clickptns_conv2``, ``queryreferencefusion``,
    ``query_mapping_visu``, ``reference_mapping_visu``, ``fcn_out``. The light variant uses
    ``query_mobilenet`` / ``reference_mobilenet``; the ConvNeXt-Tiny query branch keeps the
    name ``query_resnet``, as in its official checkpoints. ``click_encoder`` builds click maps and
    only has a state-dict key (``click_encoder.sigma``) when sigma is learnable.
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        cfg = config if config is not None else ModelConfig()
        self.config = cfg
        if cfg.query_backbone == "resnet18":
            self.query_resnet = QueryResNet18()
            self._query_name = "query_resnet"
        elif cfg.query_backbone == "convnext_tiny":  # the official name stays query_resnet
            self.query_resnet = QueryConvNeXtTiny()
            self._query_name = "query_resnet"
        else:
            self.query_mobilenet = QueryMobileNetV2()
            self._query_name = "query_mobilenet"
        if cfg.reference_backbone == "darknet53":
            self.reference_darknet = Darknet53YOLOv3()
            self._reference_name = "reference_darknet"
        else:
            self.reference_mobilenet = ReferenceMobileNetV2()
            self._reference_name = "reference_mobilenet"
        self._click_fusion_name = (
            "combine_clickptns_conv1" if cfg.arch == "ocgnet" else "combine_clickptns_conv"
        )
        self.add_module(self._click_fusion_name, ConvBNLeaky(4, 3))
        if cfg.location_enhancement:
            self.downsampling_pooling = nn.AvgPool2d(kernel_size=4, stride=4)
            self.combine_clickptns_conv2 = ConvBNLeaky(2, 1, kernel=8, stride=8)
        if cfg.mhca:
            self.queryreferencefusion = MultiHeadCrossAttention(512, heads=8)
        self.query_mapping_visu = ConvBNLeaky(512, 512)
        self.reference_mapping_visu = ConvBNLeaky(512, 512)
        self.fcn_out = nn.Sequential(ConvBNLeaky(512, 256), nn.Conv2d(256, NUM_ANCHORS * 5, 1))
        self.click_encoder = ClickMapEncoder(
            cfg.clickmap, cfg.query_hw, cfg.sigma, cfg.learnable_sigma
        )

    # --- named parts -------------------------------------------------------------------

    @property
    def query_backbone(self) -> nn.Module:
        """Query branch: (deep [B,512,H/32,W/32], early [B,C,H/4,W/4]) from RGB (C = 64
        ResNet-18, 24 MobileNetV2, 96 ConvNeXt-Tiny)."""
        return getattr(self, self._query_name)

    @property
    def reference_backbone(self) -> nn.Module:
        """Satellite branch: RGB [B,3,T,T] → [B,512,T/16,T/16]."""
        return getattr(self, self._reference_name)

    @property
    def click_fusion(self) -> nn.Module:
        """The 4→3 1×1 conv-BN-LeakyReLU fusing RGB and click map at the input."""
        return getattr(self, self._click_fusion_name)

    @property
    def sigma(self) -> float:
        """Current Gaussian sigma (fraction of the query diagonal)."""
        return self.click_encoder.current_sigma()

    # --- entry points ------------------------------------------------------------------

    def make_clickmap(self, clicks: ClickLike) -> Tensor:
        """Click map(s) [B, Hq, Wq] for clicks (x, y) in query pixels, as the config says.

        With ``learnable_sigma`` the map keeps the autograd graph to sigma.
        """
        device = next(self.parameters()).device
        return self.click_encoder(clicks, device)

    def encode_reference(self, satellite: Tensor) -> ReferenceFeatures:
        """Run the satellite branch once: [B, 3, T, T] (T multiple of 128) → features."""
        if satellite.ndim != 4 or satellite.shape[1] != 3:
            raise ModelInputError(f"satellite: expected [B, 3, T, T], got {tuple(satellite.shape)}")
        if satellite.shape[-1] % 128 or satellite.shape[-2] % 128:
            raise ModelInputError(
                f"satellite: height and width must be multiples of 128, got "
                f"{tuple(satellite.shape[-2:])}"
            )
        mapped = self.reference_mapping_visu(self.reference_backbone(satellite))
        return ReferenceFeatures(
            normalized=normalize_reference(mapped),
            pooled=F.max_pool2d(mapped, kernel_size=MHCA_POOL),
        )

    def locate(
        self, query: Tensor, clickmap: Tensor, ref: ReferenceFeatures
    ) -> tuple[Tensor, Tensor]:
        """Query branch + fusion + head on encoded tiles.

        Args:
            query: ImageNet-normalised RGB [B, 3, Hq, Wq] (Hq, Wq multiples of 32).
            clickmap: [B, Hq, Wq] (see :mod:`ocgnet_geo.models.ocgnet.clickmap`).
            ref: from :meth:`encode_reference`, batch B or 1 (shared by all queries).

        Returns:
            ``(raw [B, 45, T/16, T/16], attention [B, T/16, T/16])``.
        """
        return self.match(self.encode_query(query, clickmap), ref)

    def encode_query(self, query: Tensor, clickmap: Tensor) -> QueryFeatures:
        """The tile-independent part of :meth:`locate`: query branch and click weights."""
        self._check_query(query, clickmap)
        m = clickmap.unsqueeze(1).to(query.dtype)
        deep, early = self.query_backbone(self.click_fusion(torch.cat([query, m], dim=1)))
        position = None
        if self.config.location_enhancement:
            position = location_enhancement(
                early, m, self.downsampling_pooling, self.combine_clickptns_conv2
            )
        return QueryFeatures(self.query_mapping_visu(deep), position)

    def match(self, query: QueryFeatures, ref: ReferenceFeatures) -> tuple[Tensor, Tensor]:
        """The tile-dependent part of :meth:`locate`: MHCA, fusion and head (same outputs)."""
        ref = ref.expand(query.mapped.shape[0])
        fused = query.mapped
        if self.config.mhca:
            fused = self.queryreferencefusion(query.mapped, ref.pooled)
        if query.position is not None:
            fused = fused * query.position
        context, attn = cross_view_fusion(fused.mean(dim=(2, 3)), ref.normalized)
        return self.fcn_out(context), attn.squeeze(1)

    def forward(self, query: Tensor, satellite: Tensor, clickmap: Tensor) -> tuple[Tensor, Tensor]:
        """Reference-compatible call: ``locate(query, clickmap, encode_reference(satellite))``."""
        self._check_query(query, clickmap)  # fail before the expensive satellite branch
        return self.locate(query, clickmap, self.encode_reference(satellite))

    @staticmethod
    def _check_query(query: Tensor, clickmap: Tensor) -> None:
        if query.ndim != 4 or query.shape[1] != 3:
            raise ModelInputError(f"query: expected [B, 3, Hq, Wq], got {tuple(query.shape)}")
        h, w = query.shape[-2:]
        if h % 32 or w % 32:
            raise ModelInputError(f"query: height and width must be multiples of 32, got {h}x{w}")
        if tuple(clickmap.shape) != (query.shape[0], h, w):
            raise ModelInputError(
                f"clickmap: expected [{query.shape[0]}, {h}, {w}] to match the query, "
                f"got {tuple(clickmap.shape)}"
            )
