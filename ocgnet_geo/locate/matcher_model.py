"""The bundled matcher seen as a tile model (:class:`~ocgnet_geo.locate.tile_model.TileModel`).

``encode`` runs the frozen trunk on a tile (cached by the pipeline like OCGNet's features);
``find`` builds the click templates once per photo + click (+ heading range) and correlates
them with the tile: the best weighted mean cosine per tile cell over all scales and headings
is the response; its local maxima are the candidates.

Scores: ``response / temperature`` is a logit per tile cell; a candidate's probability is the
softmax mass of the cells around its peak (within ``peak_radius_cells``, cells claimed by a
higher peak excluded) among all cells of all searched tiles, so scores are comparable across
tiles and sum to at most 1, as OCGNet's anchor-cell softmax does. The temperature is fitted
on training places (``docs/matcher.md``).

Boxes: a square centred on the (sub-cell) peak whose side is ``box_factor`` x a length in
working-photo px x the matched scale (tile px per photo px). The length is the photo's width
blended with the clicked object's size measured in the photo (:func:`box_length`), so a
close-up of a house and a wide view of a shed get boxes of their objects' sizes. The matched
scale and heading travel with each hit for the geometric verification stage.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from ocgnet_geo.errors import InputError
from ocgnet_geo.locate.hits import TileHits

#: Bytes of trunk activations per tile pixel (features[:7], float32, channels_last; peak of
#: the 96-channel expansion at half resolution, rounded up).
MATCHER_BYTES_PER_PX = 120


class HeadingError(InputError):
    """A heading hint that is not DEG or DEG±TOL with finite numbers."""


def parse_heading(value: object) -> tuple[float, float] | None:
    """``(centre_deg, tolerance_deg)`` from ``"DEG"``, ``"DEG±TOL"`` / ``"DEG+-TOL"`` or a
    number / pair; None for None. Degrees clockwise from north that the photo's top faces;
    the default tolerance is 30 degrees."""
    import math

    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        centre, tol = float(value), 30.0
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        try:
            centre, tol = float(value[0]), float(value[1])
        except (TypeError, ValueError):
            raise HeadingError(f"heading {value!r}: expected DEG or DEG±TOL") from None
    elif isinstance(value, str):
        text = value.replace(" ", "").replace("+-", "±").replace("+/-", "±")
        parts = text.split("±")
        try:
            centre = float(parts[0])
            tol = float(parts[1]) if len(parts) == 2 else 30.0
        except (ValueError, IndexError):
            raise HeadingError(
                f"heading {value!r}: expected DEG or DEG±TOL (e.g. 45 or 45±30), degrees "
                "clockwise from north"
            ) from None
        if len(parts) > 2:
            raise HeadingError(f"heading {value!r}: expected DEG or DEG±TOL")
    else:
        raise HeadingError(f"heading {value!r}: expected DEG or DEG±TOL")
    if not (math.isfinite(centre) and math.isfinite(tol)) or not 0 <= tol <= 180:
        raise HeadingError(f"heading {value!r}: needs a finite DEG and a tolerance of 0-180°")
    return centre % 360.0, tol


class MatcherTileModel:
    """:class:`TileModel` around a :class:`~ocgnet_geo.models.matcher.ClickTemplateMatcher`.

    ``gsd_m`` overrides the search tiles' ground resolution (default from the config, 0.5 m);
    ``rotation``/``scale`` switch the heading and scale searches off (ablations: heading 0
    only; the single scale ``scale`` x... the geometric mean of the range).
    """

    view = "drone"
    default_refine = "geometric"
    precision = "fp32"
    precision_reason = "fp32 (the matcher's trunk is small; correlation stays fp32)"

    def __init__(
        self,
        net: Any,
        model_id: str,
        gsd_m: float | None = None,
        device: str = "cpu",
        rotation_search: bool = True,
        scale_search: bool = True,
    ) -> None:
        import torch

        self._torch = torch
        self.device = torch.device(device)
        self.net = net.prepare().to(self.device)
        self.config = net.config
        self.model_id = model_id
        self.gsd_m = float(gsd_m or self.config.tile_gsd_m)
        self.tile_px = self.config.tile_px
        self.query_long_side = self.config.working_px
        self.rotation_search = rotation_search
        self.scale_search = scale_search
        self.heading: tuple[float, float] | None = None
        #: Working-photo ground resolutions to search (min, max metres per working px) instead
        #: of the config's range: the scale prior of :mod:`ocgnet_geo.locate.priors`.
        self.photo_gsd_range: tuple[float, float] | None = None
        self._templates: tuple[tuple, Any] | None = None
        #: The last tile's correlation (the pipeline may ask one tile for more peaks).
        self._correlation: tuple[tuple, Any] | None = None
        self._segment: tuple[tuple, Any] | None = None

    @property
    def seconds_per_tile(self) -> float:
        """Rough cold cost of one tile on a 2-core CPU, for the large-search warning: the
        correlation of the full scale x heading search dominates (benchmarks/matcher_bench.py)."""
        return 0.25 * (self.tile_px / 512) ** 2

    @property
    def encode_bytes_per_tile(self) -> int:
        return MATCHER_BYTES_PER_PX * self.tile_px**2

    # --- tiles ----------------------------------------------------------------------------

    def _tensor(self, rgb: np.ndarray):
        t = self._torch.from_numpy(np.require(rgb, dtype=np.uint8, requirements=["C", "W"]))
        return t.to(self.device).permute(2, 0, 1).unsqueeze(0)

    def encode(self, rgb: np.ndarray) -> Any:
        """L2-normalised trunk cells [1, C, h, w] of one uint8 RGB tile (H, W, 3)."""
        return self.encode_batch([rgb])[0]

    def encode_batch(self, rgbs: list[np.ndarray]) -> list[Any]:
        torch = self._torch
        with torch.inference_mode():
            cells = self.net.encode(torch.cat([self._tensor(rgb) for rgb in rgbs]))
            return [cells[i : i + 1].contiguous().clone() for i in range(len(rgbs))]

    def features_to_arrays(self, features: Any) -> dict[str, np.ndarray]:
        return {"cells": features.detach().cpu().numpy()}

    def features_from_arrays(self, arrays: dict[str, np.ndarray]) -> Any:
        return self._torch.from_numpy(arrays["cells"]).to(self.device)

    def check_features(self, features: Any) -> str | None:
        """What is wrong with features read back from the disk cache, or None when they are
        what :meth:`encode` gives: float32 ``(1, channels, T/stride, T/stride)``, finite."""
        grid = self.tile_px // self.config.stride
        shape = (1, self.config.channels, grid, grid)
        if not isinstance(features, self._torch.Tensor):
            return "cells: missing"
        if tuple(features.shape) != shape:
            return f"cells: shape {tuple(features.shape)}, expected {shape}"
        if features.dtype != self._torch.float32:
            return f"cells: dtype {features.dtype}, expected torch.float32"
        if not bool(self._torch.isfinite(features).all()):
            return "cells: non-finite values"
        return None

    # --- search ---------------------------------------------------------------------------

    def scales(self) -> list[float]:
        """Tile px per working-photo px searched: photo ground resolutions / tile resolution
        (the config's range, or ``photo_gsd_range`` in the config's steps)."""
        gsds = self.config.photo_gsds_m()
        if self.photo_gsd_range is not None:
            lo, hi = self.photo_gsd_range
            step = self.config.scale_step
            n = 1 + int(np.floor(np.log(hi / lo) / np.log(step) + 1e-9))
            gsds = [lo * step**i for i in range(n)]
        if not self.scale_search:
            gsds = [float(np.sqrt(gsds[0] * gsds[-1]))]
        return [g / self.gsd_m for g in gsds]

    def headings(self) -> list[float]:
        """Headings searched (degrees clockwise from north): the full circle, the hint's
        range (``heading``), or north only (rotation search off)."""
        if not self.rotation_search:
            return [0.0]
        step = self.config.rotation_step_deg
        if self.heading is None:
            return self.config.headings_deg()
        centre, tol = self.heading
        n = int(np.floor(tol / step + 1e-9))
        return [(centre + i * step) % 360.0 for i in range(-n, n + 1)]

    def templates(self, query_rgb: np.ndarray, click: tuple[float, float]) -> Any:
        """The click templates of this photo and click, built once per search."""
        key = (
            hashlib.blake2b(np.ascontiguousarray(query_rgb), digest_size=16).digest(),
            tuple(click),
            tuple(self.scales()),
            tuple(self.headings()),
        )
        if self._templates is None or self._templates[0] != key:
            with self._torch.inference_mode():
                photo = self._tensor(query_rgb)
                made = self.net.templates(photo, click, list(key[2]), list(key[3]))
            self._templates = (key, made)
        return self._templates[1]

    def find(
        self, query_rgb: np.ndarray, click: tuple[float, float], features: Any, k: int
    ) -> TileHits:
        """The ``k`` best peaks of the click templates' response over one encoded tile."""
        response, peaks = self.peaks(query_rgb, click, features, k)
        hull, weight = self.box_shape(query_rgb, click)
        return peaks_to_hits(
            response,
            peaks,
            temperature=self.config.temperature,
            box_side_per_scale=self.config.box_factor * self.box_length(query_rgb, click),
            hull=hull,
            shape_weight=weight,
        )

    def segment(self, query_rgb: np.ndarray, click: tuple[float, float]) -> Any:
        """The clicked object's :class:`~ocgnet_geo.locate.extent.Segment` (None when not
        measured, or when neither ``extent_weight`` nor ``shape_weight`` uses it), measured
        once per photo + click."""
        if self.config.extent_weight <= 0 and self.config.shape_weight <= 0:
            return None
        key = (hashlib.blake2b(np.ascontiguousarray(query_rgb), digest_size=16).digest(), click)
        if self._segment is None or self._segment[0] != key:
            from ocgnet_geo.locate.extent import clicked_segment

            with self._torch.inference_mode():
                self._segment = (key, clicked_segment(self.net, query_rgb, click))
        return self._segment[1]

    def box_length(self, query_rgb: np.ndarray, click: tuple[float, float]) -> float:
        """Working-photo px behind a box side (:func:`blended_length` of the photo's width
        and the clicked object's size)."""
        segment = self.segment(query_rgb, click)
        extent = None if segment is None else segment.size_px
        return blended_length(query_rgb.shape[1], extent, self.config.extent_weight)

    def box_shape(
        self, query_rgb: np.ndarray, click: tuple[float, float]
    ) -> tuple[np.ndarray | None, float]:
        """(the clicked object's hull relative to the click in working-photo px, or None;
        ``shape_weight``): what :func:`shaped_boxes` needs, here and in the geometric
        refinement (which maps the hull through the verified homography)."""
        segment = self.segment(query_rgb, click) if self.config.shape_weight > 0 else None
        if segment is None:
            return None, 0.0
        return segment.hull - np.asarray(click, dtype=np.float64), self.config.shape_weight

    def peaks(
        self, query_rgb: np.ndarray, click: tuple[float, float], features: Any, k: int
    ) -> tuple[np.ndarray, Peaks]:
        """The response map (h, w) and its ``k`` best peaks (independent of the calibrated
        box factor and temperature, so evaluation can refit those without searching again)."""
        torch = self._torch
        templates = self.templates(query_rgb, click)
        key = (id(features), id(templates))
        if self._correlation is not None and self._correlation[0] == key:
            scores, response, index = self._correlation[1]  # the same tile asked again
        else:
            with torch.inference_mode():
                scores = self.net.correlate(features, templates)
                response, index = scores.max(dim=0)
            self._correlation = (key, (scores, response, index))
        r = response.cpu().numpy().astype(np.float64)
        if not _has_texture(query_rgb, click):
            r = np.zeros_like(r)  # nothing to match: every cell equally likely
        peaks = find_peaks(
            r,
            index.cpu().numpy(),
            scores.cpu().numpy(),
            templates.scales.numpy(),
            templates.headings_deg.numpy(),
            k=k,
            stride=self.config.stride,
            radius=self.config.peak_radius_cells,
        )
        return r, peaks


@dataclass(frozen=True)
class Peaks:
    """Local maxima of a matcher response, best first (all in tile px unless said).

    ``centres`` (K, 2) sub-cell peak positions; ``scales`` (K,) refined matched scales (tile
    px per photo px); ``headings_deg`` (K,); ``cells`` the flat indices of the response cells
    each peak claims (its neighbourhood minus cells of better peaks)."""

    centres: np.ndarray
    scales: np.ndarray
    headings_deg: np.ndarray
    cells: list[np.ndarray]


def find_peaks(
    response: np.ndarray,
    index: np.ndarray,
    scores: np.ndarray,
    scales: np.ndarray,
    headings: np.ndarray,
    k: int,
    stride: int,
    radius: int,
) -> Peaks:
    """The ``k`` best local maxima of ``response`` (h, w; best weighted mean cosine per cell,
    ``index`` the template that gave it, ``scores`` [N, h, w] every template's score).

    Each peak claims the unclaimed cells within ``radius`` (Chebyshev). Its position is refined
    to sub-cell precision by a parabola through its neighbours; its scale between the searched
    steps by a parabola in log-scale through the neighbouring scales at the same heading."""
    h, w = response.shape
    padded = np.pad(response, radius, mode="constant", constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (2 * radius + 1,) * 2)
    is_peak = response >= windows.max(axis=(2, 3))
    rows, cols = np.nonzero(is_peak)
    order = np.argsort(-response[rows, cols], kind="stable")
    claimed = np.zeros((h, w), bool)
    flat = np.arange(h * w).reshape(h, w)
    centres, peak_scales, peak_headings, cells = [], [], [], []
    for i, j in zip(rows[order], cols[order], strict=True):
        if len(centres) >= k:
            break
        if claimed[i, j]:
            continue
        r0, r1, c0, c1 = (
            max(0, i - radius),
            min(h, i + radius + 1),
            max(0, j - radius),
            min(w, j + radius + 1),
        )
        own = ~claimed[r0:r1, c0:c1]
        cells.append(flat[r0:r1, c0:c1][own])
        claimed[r0:r1, c0:c1] = True
        dy, dx = _parabola(response, i, j, axis=0), _parabola(response, i, j, axis=1)
        centres.append(((j + 0.5 + dx) * stride, (i + 0.5 + dy) * stride))
        peak_scales.append(_refined_scale(scores[:, i, j], int(index[i, j]), scales, headings))
        peak_headings.append(float(headings[index[i, j]]) if len(headings) else 0.0)
    return Peaks(
        centres=np.asarray(centres, dtype=np.float64).reshape(-1, 2),
        scales=np.asarray(peak_scales, dtype=np.float64),
        headings_deg=np.asarray(peak_headings, dtype=np.float64),
        cells=cells,
    )


def peak_logits(response: np.ndarray, peaks: Peaks, temperature: float) -> tuple[np.ndarray, float]:
    """Each peak's logit (log-sum-exp of ``response / temperature`` over its cells) and the
    log-sum-exp over all cells (the tile's partition)."""
    logits = response.ravel() / temperature
    per_peak = [float(np.logaddexp.reduce(logits[c])) for c in peaks.cells]
    return np.asarray(per_peak, dtype=np.float64), float(np.logaddexp.reduce(logits))


def box_length(query_rgb: np.ndarray, click: tuple[float, float], extent_weight: float) -> float:
    """Working-photo px behind a box side: ``width ** (1 - w) * extent ** w`` with ``w`` =
    ``extent_weight`` and ``extent`` the clicked object's size in the photo
    (:func:`~ocgnet_geo.locate.extent.object_extent_px`); the width when ``w`` is 0 or the
    object cannot be measured."""
    width = float(query_rgb.shape[1])
    if extent_weight <= 0:
        return width
    from ocgnet_geo.locate.extent import object_extent_px

    extent = object_extent_px(query_rgb, click)
    return blended_length(width, extent, extent_weight)


def blended_length(width: float, extent: float | None, extent_weight: float) -> float:
    """``width ** (1 - extent_weight) * extent ** extent_weight`` (``width`` without an
    extent)."""
    if extent is None or extent <= 0 or extent_weight <= 0:
        return float(width)
    return float(width ** (1 - extent_weight) * extent**extent_weight)


def square_boxes(centres: np.ndarray, sides: np.ndarray) -> np.ndarray:
    """(K, 4) xyxy squares of side ``sides`` (K,) centred on ``centres`` (K, 2)."""
    half = np.asarray(sides, dtype=np.float64).reshape(-1, 1) / 2
    return np.concatenate([centres - half, centres + half], axis=1).reshape(-1, 4)


def linear_maps(scales: np.ndarray, headings_deg: np.ndarray) -> np.ndarray:
    """(K, 2, 2) linear maps photo px -> tile px of matched templates: ``scale`` times the
    rotation by ``heading`` (x right, y down; the template at heading psi samples the photo
    rotated by psi, see :meth:`~ocgnet_geo.models.matcher.network.MatcherNet.templates`)."""
    psi = np.radians(np.asarray(headings_deg, dtype=np.float64))
    c, s = np.cos(psi), np.sin(psi)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    return np.asarray(scales, dtype=np.float64).reshape(-1, 1, 1) * rot


def shaped_boxes(
    centres: np.ndarray,
    sides: np.ndarray,
    maps: np.ndarray,
    hull: np.ndarray | None,
    shape_weight: float,
) -> np.ndarray:
    """(K, 4) xyxy boxes around ``centres`` (K, 2) whose sides follow the clicked object's
    shape: ``hull`` (N, 2) the segment's hull relative to the click (photo px) is mapped into
    the tile by each peak's linear map ``maps`` (K, 2, 2, photo px -> tile px); the box side
    along x is ``sides * r_x ** shape_weight`` with ``r_x`` the mapped hull's width over its
    mean side (``sqrt(width * height)``), likewise along y, so the box area stays ``sides²``
    and only its proportions change. Squares (:func:`square_boxes`) without a hull or at
    weight 0."""
    sides = np.asarray(sides, dtype=np.float64).reshape(-1)
    if hull is None or len(hull) < 3 or shape_weight <= 0 or len(sides) == 0:
        return square_boxes(centres, sides)
    mapped = np.einsum("kij,nj->kni", maps, hull)  # (K, N, 2)
    span = mapped.max(axis=1) - mapped.min(axis=1)  # (K, 2) tile px
    mean = np.sqrt(np.prod(np.maximum(span, 1e-9), axis=1, keepdims=True))
    half = sides[:, None] / 2 * (np.maximum(span, 1e-9) / mean) ** shape_weight
    return np.concatenate([centres - half, centres + half], axis=1).reshape(-1, 4)


def peaks_to_hits(
    response: np.ndarray,
    peaks: Peaks,
    temperature: float,
    box_side_per_scale: float,
    hull: np.ndarray | None = None,
    shape_weight: float = 0.0,
) -> TileHits:
    """Peaks as ranked hits: logits from :func:`peak_logits`, boxes of area
    ``(box_side_per_scale x scale)²`` tile px² shaped by the clicked object's ``hull``
    (:func:`shaped_boxes`; squares without one), and as attention (drawn by the overlay) the
    response's softmax at :data:`ATTENTION_TEMPERATURE` or the score temperature if sharper."""
    logits, log_partition = peak_logits(response, peaks, temperature)
    sharp = min(temperature, ATTENTION_TEMPERATURE)
    attention = np.exp((response - response.max()) / sharp).astype(np.float32)
    return TileHits(
        boxes=shaped_boxes(
            peaks.centres,
            box_side_per_scale * peaks.scales,
            linear_maps(peaks.scales, peaks.headings_deg),
            hull,
            shape_weight,
        ),
        logits=logits,
        log_partition=log_partition,
        attention=attention / attention.sum(),
        scales=peaks.scales,
        headings_deg=peaks.headings_deg,
    )


#: Softmax temperature of the attention map the overlay tints (display only: the fitted score
#: temperature can be so flat that the map shows nothing).
ATTENTION_TEMPERATURE = 0.02
#: Grey-level standard deviation below which the photo around the click has no texture to
#: match (one colour): the response is then flat and the scores uniform (low).
MIN_TEXTURE_STD = 2.0
#: Half side of the photo window (px) whose texture is measured.
TEXTURE_RADIUS_PX = 48


def _has_texture(rgb: np.ndarray, click: tuple[float, float]) -> bool:
    """Whether the working photo varies around the click (grey std >= MIN_TEXTURE_STD)."""
    x, y = int(click[0]), int(click[1])
    r = TEXTURE_RADIUS_PX
    patch = rgb[max(0, y - r) : y + r, max(0, x - r) : x + r].astype(np.float32)
    return bool(patch.size) and float(patch.mean(axis=2).std()) >= MIN_TEXTURE_STD


def _refined_scale(
    at_peak: np.ndarray, best: int, scales: np.ndarray, headings: np.ndarray
) -> float:
    """The matched scale refined by a parabola in log-scale through the scores of the next
    finer and coarser scales at the same heading (``at_peak``: every template's score)."""
    if not len(scales):
        return 1.0
    same = np.nonzero(np.isclose(headings, headings[best]))[0]
    order = same[np.argsort(scales[same])]
    pos = int(np.nonzero(order == best)[0][0])
    if pos == 0 or pos == len(order) - 1:
        return float(scales[best])
    a, b, c = at_peak[order[pos - 1]], at_peak[best], at_peak[order[pos + 1]]
    denom = a - 2 * b + c
    if denom >= 0:
        return float(scales[best])
    offset = float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5))
    log_step = np.log(scales[order[pos + 1]] / scales[best])
    return float(scales[best] * np.exp(offset * log_step))


def _parabola(values: np.ndarray, i: int, j: int, axis: int) -> float:
    """Sub-cell offset (-0.5..0.5) of a peak from a parabola through it and its neighbours."""
    n = values.shape[axis]
    pos = i if axis == 0 else j
    if pos == 0 or pos == n - 1:
        return 0.0
    a, b, c = (
        (values[i - 1, j], values[i, j], values[i + 1, j])
        if axis == 0
        else (values[i, j - 1], values[i, j], values[i, j + 1])
    )
    denom = a - 2 * b + c
    if denom >= 0:
        return 0.0
    return float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5))
