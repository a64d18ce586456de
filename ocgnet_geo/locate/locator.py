"""The locate pipeline: photo + click + raster -> ranked, georeferenced candidates.

photo -> query size (EXIF applied, click scaled) -> raster -> ``tile_grid`` at the model's
ground resolution over the search area -> ``read_tile`` -> encode each tile (cached; tiles
with only nodata are skipped) -> find the clicked object in each tile -> polygons ->
``nms_geo`` across tiles -> global top-k.

Scores: each tile's head gives a confidence logit per anchor-cell; a box's probability is
its softmax among all anchor-cells of *all* searched tiles (the distribution the network
was trained on, extended from one tile to the whole search area), so it is comparable
across tiles. The same object seen by overlapping tiles is merged into one candidate whose
score is the sum of its copies' probabilities. Scores sum to at most 1.
"""

from __future__ import annotations

import os
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import shapely

from ocgnet_geo.errors import InputError
from ocgnet_geo.geo.boxes import boxes_to_polygons, nms_groups, reproject_geometries
from ocgnet_geo.geo.grid import TileSpec, search_area, tile_grid
from ocgnet_geo.geo.raster import RasterInfo, open_raster, read_tile
from ocgnet_geo.locate.cache import DEFAULT_MAX_BYTES, FeatureCache, raster_cache_key
from ocgnet_geo.locate.hits import TileHits
from ocgnet_geo.locate.limits import check_raster_size, tile_limit
from ocgnet_geo.locate.photo import QueryPhoto, prepare_query
from ocgnet_geo.locate.result import Candidate, LocateResult
from ocgnet_geo.locate.tile_model import check_finite_hits

#: Searches over more tiles than this get a :class:`LargeSearchWarning` with an estimate.
LARGE_SEARCH_TILES = 64
#: Candidates kept per tile before the merge across tiles.
PER_TILE_K = 10
#: Candidates from overlapping tiles with a larger IoU (in a metric CRS) are one object.
MERGE_IOU = 0.5
#: Default bound on the activation memory of one encoding forward, in bytes: tiles are
#: encoded together while their estimated activations fit (1024-px DarkNet tiles: one in
#: fp32, two in bf16, so bf16 spends its memory saving on batching and the peak does not
#: grow; 256-px MobileNetV2 tiles: :data:`MAX_BATCH`). See ``docs/precision.md``.
DEFAULT_BATCH_BYTES = 256 << 20
#: Never more tiles than this in one forward (progress and cancel stay responsive).
MAX_BATCH = 8
#: Validity masks of this many tiles are remembered between clicks (about 0.25 MB each).
MASKS_KEPT = 512

Progress = Callable[[float, str], None]


class LargeSearchWarning(UserWarning):
    """The search area needs many tiles; the first click will take a while."""


class PriorWarning(UserWarning):
    """Photo metadata that a prior cannot use (GPS outside the raster, a zero focal length)."""


class PriorFallbackWarning(UserWarning):
    """The search narrowed by the photo's metadata found nothing that verifies; it was
    repeated without the priors."""


class Cancelled(Exception):
    """``cancel()`` returned True between two tiles."""


class ViewMismatchError(InputError):
    """The requested view (drone / ground) is not the one the model was trained for."""


class TopKError(InputError):
    """``top_k`` is not a positive integer."""


class Locator:
    """Finds a clicked object of a photo in georeferenced rasters.

    Keeps the model and a :class:`~ocgnet_geo.locate.cache.FeatureCache` of encoded tiles, so
    further clicks on the same area run only the query branch.
    """

    def __init__(
        self,
        model: Any,
        cache_bytes: int = DEFAULT_MAX_BYTES,
        cache_dir: str | os.PathLike | None = None,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
    ) -> None:
        self.model = model
        #: Tiles encoded per forward: as many as ``batch_bytes`` of estimated activations
        #: allow (at least 1, at most :data:`MAX_BATCH`); 1 for models without ``encode_batch``.
        self.batch_size = _batch_size(model, batch_bytes)
        self.cache = FeatureCache(
            cache_bytes,
            cache_dir,
            to_arrays=getattr(model, "features_to_arrays", None),
            from_arrays=getattr(model, "features_from_arrays", None),
            check=getattr(model, "check_features", None),
            model_id=getattr(model, "model_id", ""),
        )
        self._nodata_tiles: set[str] = set()
        self._masks: OrderedDict[str, np.ndarray] = OrderedDict()
        from ocgnet_geo.locate.registration_stage import RegistrationStage

        #: Registers photos to raster windows; keeps the windows' features between clicks.
        self.registration = RegistrationStage()

    @classmethod
    def from_weights(
        cls,
        path: str | os.PathLike,
        device: str = "cpu",
        view: str | None = None,
        sigma: float | None = None,
        gsd_m: float | None = None,
        cache_dir: str | os.PathLike | None = None,
        precision: str | None = "auto",
        threads: int | None = None,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
    ) -> Locator:
        """Load our ``.safetensors`` or an official ``.pth.tar`` (``view``/``sigma`` for
        official files, which do not record them; ``gsd_m`` overrides the ground resolution
        the model expects, 0.5 m for official weights). ``precision``: ``auto`` (bf16 on CPUs
        with native bf16, else fp32), ``fp32`` or ``bf16`` (see :mod:`ocgnet_geo.locate.precision`);
        ``threads``: PyTorch threads for the process (default: physical cores);
        ``batch_bytes``: activation memory bound of one encoding forward."""
        from ocgnet_geo.locate.tile_model import load_tile_model

        model = load_tile_model(
            path,
            device=device,
            view=view,
            sigma=sigma,
            gsd_m=gsd_m,
            precision=precision,
            threads=threads,
        )
        return cls(model, cache_dir=cache_dir, batch_bytes=batch_bytes)

    @classmethod
    def demo(
        cls,
        device: str = "cpu",
        cache_dir: str | os.PathLike | None = None,
        precision: str | None = "auto",
        threads: int | None = None,
        gsd_m: float | None = None,
    ) -> Locator:
        """The bundled default model: the click-template matcher (drone and aerial photos,
        512-px tiles at 0.5 m/px unless ``gsd_m`` says otherwise; a small segmentation head
        and the calibration fitted on synthetic views, see ``ocgnet_geo/assets/MODEL_CARD.md``)."""
        from ocgnet_geo.locate.bundled import default_model

        return cls.from_weights(
            default_model(),
            device=device,
            cache_dir=cache_dir,
            precision=precision,
            threads=threads,
            gsd_m=gsd_m,
        )

    #: The same as :meth:`demo`: the model ``locate`` uses when no weights are named.
    default = demo

    @property
    def precision(self) -> str:
        """The mode the model's satellite branch runs in (``fp32`` for models without one)."""
        return getattr(self.model, "precision", "fp32")

    def locate(
        self,
        query: str | os.PathLike,
        click: Sequence[float] | str,
        raster: str | os.PathLike | RasterInfo,
        view: str | None = None,
        top_k: int = 5,
        bbox: Sequence[float] | None = None,
        bbox_crs: object = "EPSG:4326",
        progress: Progress | None = None,
        cancel: Callable[[], bool] | None = None,
        heading: object = None,
        refine: str | None = None,
        max_tiles: int | None = None,
        priors: str | bool | None = "auto",
        register: str | None = "auto",
        outline: str | None = None,
    ) -> LocateResult:
        """Find the object clicked at ``click`` = (x, y) in photo ``query`` inside ``raster``.

        ``bbox`` (minx, miny, maxx, maxy in ``bbox_crs``, x = easting/longitude) limits the
        search; the whole raster otherwise. ``progress(fraction, message)`` is called and
        ``cancel()`` checked between tiles (a True raises :class:`Cancelled`). A search of
        more than ``max_tiles`` tiles (default without a bbox:
        :data:`~ocgnet_geo.locate.limits.DEFAULT_MAX_TILES`) is refused before any work.
        ``heading`` (``DEG``, ``"DEG±TOL"`` or ``(DEG, TOL)``: degrees clockwise from north
        that the photo's top faces; default tolerance 30°) narrows the matcher's rotation
        search; other models ignore it with a warning. ``refine``: ``"geometric"`` verifies
        the best candidates with local features (:mod:`.refine`), ``"none"`` does not;
        default: the model's ``default_refine`` (geometric for the matcher, none for OCGNet).
        ``priors``: ``"auto"`` (default) narrows the search area (without ``bbox``), the scale
        and the heading search (without ``heading``) from the photo's GPS, altitude, focal
        length and yaw (:mod:`.priors`); when the best candidate of that search does not
        verify, the search is repeated without them and a :class:`PriorFallbackWarning` says
        so; ``"off"`` ignores the metadata. ``result.priors`` tells what was used.
        ``register``: ``"auto"`` (default) registers the whole photo to the raster with SIFT
        and XFeat (:mod:`.registered`; drone views only) over the whole search area when it
        fits one window, else around the best template candidates; the registered object
        comes first with a calibrated probability, the photo's footprint in
        ``result.photo_footprint``; ``"sift"``/``"xfeat"`` use one family; ``"off"`` keeps
        the template search (and ``refine``). ``outline``: the registered object's outline:
        ``"both"`` (default) cuts it out of the raster at the registered click, sized by the
        photo's outline (the segmentation head's) carried through the homography;
        ``"photo"`` is that carried outline itself; ``"raster"`` the cut sized from the
        photo's footprint. ``result.status`` says ``registered``, ``unverified`` or
        ``no_confident_match``.
        """
        from ocgnet_geo.locate.priors import check_priors

        start = time.perf_counter()
        priors = check_priors(priors)
        model = self.model
        if view is not None and view != model.view:
            raise ViewMismatchError(
                f"view {view!r}: the loaded model ({model.model_id}) is for {model.view} photos; "
                f"for {view} photos load OCGNet weights trained for {view} views"
            )
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise TopKError(f"top_k {top_k!r}: must be an integer >= 1")
        from ocgnet_geo.locate.refine import check_mode

        refine = check_mode(refine or getattr(model, "default_refine", "none"))
        from ocgnet_geo.locate.registration_stage import check_outline, check_register

        register = check_register(register) if model.view == "drone" else "off"
        outline = check_outline(outline)
        from ocgnet_geo.locate.matcher_model import parse_heading

        parse_heading(heading)  # a malformed heading fails before any work
        long_side = getattr(model, "query_long_side", None)
        if long_side:
            photo = prepare_query(query, click, long_side=long_side)
        else:
            photo = prepare_query(query, click, model.query_hw)
        info = open_raster(raster)
        check_raster_size(
            info.source,
            (info.width * info.pixel_size_m[0], info.height * info.pixel_size_m[1]),
            model.gsd_m,
        )
        plan = self._plan_priors(priors, photo, info, bbox, heading)
        for message in plan.warnings:
            warnings.warn(message, PriorWarning, stacklevel=2)
        search = dict(
            photo=photo, info=info, top_k=top_k, bbox=bbox, bbox_crs=bbox_crs,
            progress=progress, cancel=cancel, refine=refine, max_tiles=max_tiles,
            register=register, outline=outline,
        )  # fmt: skip
        result = self._search(
            **search,
            heading=heading if heading is not None else plan.heading,
            photo_gsd_range=plan.photo_gsd_range_m,
            prior_area=plan.area,
        )
        if plan.narrowed and refine != "none" and not result.candidates[0].refined:
            result = self._fall_back(plan, search, heading)
        result.priors = plan
        result.seconds = time.perf_counter() - start
        return result

    def _fall_back(self, plan, search: dict, heading: object) -> LocateResult:
        """The narrowed search found nothing that verifies: search the whole raster (or the
        user's bbox) with the scale and heading priors kept when the area prior was used and
        they were too, then, still nothing verified, without any prior. One warning says
        what was done; the widened priors are marked ``widened``."""
        used = [n for n, p in plan.priors.items() if p.status == "used"]
        result = None
        if "area" in used and len(used) > 1:
            plan.priors["area"].status = "widened"
            result = self._search(
                **search,
                heading=heading if heading is not None else plan.heading,
                photo_gsd_range=plan.photo_gsd_range_m,
                prior_area=None,
            )
            if result.candidates[0].refined:
                kept = " and ".join(n for n in used if n != "area")
                warnings.warn(
                    "priors: the search area around the photo's GPS position held no verified "
                    f"match; searched the whole raster (with the {kept} priors) and found one",
                    PriorFallbackWarning,
                    stacklevel=3,
                )
                return result
        for name in used:
            plan.priors[name].status = "widened"
        warnings.warn(
            f"priors: no candidate of the search narrowed by the photo's metadata "
            f"({', '.join(used)}) verified; searched "
            + ("the whole raster " if "area" in used else "again ")
            + "without them",
            PriorFallbackWarning,
            stacklevel=3,
        )
        return self._search(**search, heading=heading, photo_gsd_range=None, prior_area=None)

    def plan_priors(
        self,
        query: str | os.PathLike,
        click: Sequence[float] | str,
        raster: str | os.PathLike | RasterInfo,
        bbox: Sequence[float] | None = None,
        heading: object = None,
        priors: str | bool | None = "auto",
    ):
        """What :meth:`locate` would take from the photo's metadata, without searching: a
        :class:`~ocgnet_geo.locate.priors.SearchPriors` (camera position, search area in the
        grid CRS, scale and heading ranges, each prior's status, warnings). For display
        before a search (the QGIS plugin draws the camera and the area)."""
        from ocgnet_geo.locate.priors import check_priors

        mode = check_priors(priors)
        model = self.model
        long_side = getattr(model, "query_long_side", None)
        if long_side:
            photo = prepare_query(query, click, long_side=long_side)
        else:
            photo = prepare_query(query, click, model.query_hw)
        return self._plan_priors(mode, photo, open_raster(raster), bbox, heading)

    def _plan_priors(self, mode: str, photo: QueryPhoto, info: RasterInfo, bbox, heading):
        """The :class:`~ocgnet_geo.locate.priors.SearchPriors` of this search (the model's
        abilities decide which apply: scale and heading only for models that search them)."""
        from ocgnet_geo.geo.grid import grid_crs_for
        from ocgnet_geo.geo.photo_pose import read_pose
        from ocgnet_geo.locate.priors import Prior, plan_priors

        grid_crs = grid_crs_for(info)
        pose = read_pose(photo.path) if mode == "auto" else None
        footprint = reproject_geometries(np.array([info.footprint]), info.crs, grid_crs)[0]
        plan = plan_priors(
            pose,
            mode,
            footprint=footprint,
            grid_crs=grid_crs,
            click_shown=photo.original_click,
            shown_size=photo.original_size,
            working_long_side=max(photo.rgb.shape[:2]),
            has_bbox=bbox is not None,
            has_heading=heading is not None,
            raster_name=f"raster {info.source!r}",
        )
        model = self.model
        for name, attr in (("scale", "photo_gsd_range"), ("heading", "heading")):
            if plan.priors.get(name) and plan.priors[name].status == "used":
                if not hasattr(model, attr):
                    plan.priors[name] = Prior(
                        "ignored", note=f"the model {model.model_id} does not search it"
                    )
                    if name == "scale":
                        plan.photo_gsd_range_m = None
                    else:
                        plan.heading = None
        return plan

    def _search(
        self,
        photo: QueryPhoto,
        info: RasterInfo,
        top_k: int,
        bbox,
        bbox_crs,
        progress,
        cancel,
        refine: str,
        max_tiles,
        heading,
        photo_gsd_range,
        prior_area,
        register: str = "off",
        outline: str = "photo",
    ) -> LocateResult:
        """One search over the tiles of ``bbox`` (or of ``prior_area``, a polygon in the grid
        CRS, when given), with the model's heading and scale searches set."""
        start = time.perf_counter()
        model = self.model
        self._set_heading(heading)
        if hasattr(model, "photo_gsd_range"):
            model.photo_gsd_range = photo_gsd_range
        if prior_area is not None:
            from ocgnet_geo.geo.grid import grid_crs_for

            grid_crs = grid_crs_for(info)
            tiles = tile_grid(
                info,
                model.gsd_m,
                tile_px=model.tile_px,
                overlap_px=model.tile_px // 4,
                bbox=prior_area.bounds,
                bbox_crs=grid_crs,
                max_tiles=tile_limit(None, max_tiles),
            )
            area = shapely.intersection(search_area(info, tiles[0].crs, None, None), prior_area)
        else:
            tiles = tile_grid(
                info,
                model.gsd_m,
                tile_px=model.tile_px,
                overlap_px=model.tile_px // 4,
                bbox=bbox,
                bbox_crs=bbox_crs,
                max_tiles=tile_limit(bbox, max_tiles),
            )
            area = search_area(info, tiles[0].crs, bbox, bbox_crs)
        self._warn_if_large(tiles, info)
        report = progress or (lambda fraction, message: None)
        raster_key = raster_cache_key(info.path)

        hits: list = []
        pending: list[_Pending] = []  # tiles read, waiting for a batched encode + find
        encoded = 0
        key_suffix = f"{model.model_id}|{self.precision}"  # fp32 and bf16 features never mix

        def flush() -> None:
            nonlocal encoded
            todo = [p for p in pending if p.features is None]
            if todo:
                for p, features in zip(todo, self._encode([p.rgb for p in todo]), strict=True):
                    p.features, p.rgb = features, None
                    self.cache.put(p.key, features)
                encoded += len(todo)
            for p in pending:
                valid = self._valid_mask(p.key, info, p.tile, p.valid)
                kept = None
                for k in (PER_TILE_K, 20 * PER_TILE_K):  # more when boxes were dropped
                    found = model.find(photo.rgb, photo.click, p.features, k)
                    found = check_finite_hits(found, p.tile.id, model.model_id)
                    kept = where_searched(found, p.tile, valid, area, PER_TILE_K)
                    if len(kept.boxes) == len(found.boxes):
                        break
                if len(kept.boxes):
                    hits.append((p.tile, kept))
                state = "cached" if p.cached else "encoded"
                report((p.index + 1) / len(tiles), f"tile {p.index + 1}/{len(tiles)} {state}")
            pending.clear()

        for i, tile in enumerate(tiles):
            if cancel is not None and cancel():
                raise Cancelled(f"cancelled after {i} of {len(tiles)} tiles")
            key = f"{raster_key}|{tile.key}|{key_suffix}"
            if key in self._nodata_tiles:
                continue
            features = self.cache.get(key)
            if features is None:
                rgb, valid = read_tile(info, tile)
                if not valid.any():
                    self._nodata_tiles.add(key)
                    flush()  # keep progress in tile order
                    report((i + 1) / len(tiles), f"tile {i + 1}/{len(tiles)}: only nodata, skipped")
                    continue
                pending.append(_Pending(i, tile, key, rgb=rgb, valid=valid))
            else:
                pending.append(_Pending(i, tile, key, features=features, cached=True))
            if (
                sum(p.features is None for p in pending) >= self.batch_size
                or len(pending) >= MAX_BATCH
            ):
                flush()
        flush()
        if not hits:
            from ocgnet_geo.errors import EmptySearchAreaError

            if all(f"{raster_key}|{t.key}|{key_suffix}" in self._nodata_tiles for t in tiles):
                raise EmptySearchAreaError(
                    f"raster {info.source!r}: only nodata in the search area ({len(tiles)} tiles)"
                )
            raise EmptySearchAreaError(
                f"raster {info.source!r}: no candidate on valid pixels of the search area "
                f"({len(tiles)} tiles; nodata or outside the raster everywhere the model looked)"
            )
        if register != "off":
            from ocgnet_geo.locate.matcher_model import parse_heading
            from ocgnet_geo.locate.registered import apply_registration
            from ocgnet_geo.locate.registration_stage import CANDIDATE_WINDOWS

            result = self._rank(
                hits, photo, info, top_k + CANDIDATE_WINDOWS, len(tiles), encoded, 0.0
            )
            _as_probabilities(result)
            apply_registration(
                result, self.registration, model, photo, info, raster_key, area,
                parse_heading(heading), photo_gsd_range, register, outline, top_k,
                cancel=cancel, progress=report,
            )  # fmt: skip
            if cancel is not None and cancel():  # registration stops between hypotheses
                raise Cancelled("cancelled while registering the photo")
        elif refine == "none":
            result = self._rank(hits, photo, info, top_k, len(tiles), encoded, 0.0)
        else:
            from ocgnet_geo.locate.refine import REFINE_TOP, refine_candidates

            # rank a few more: verification may merge candidates that map onto each other
            result = self._rank(hits, photo, info, top_k + REFINE_TOP, len(tiles), encoded, 0.0)
            report(1.0, "verifying the best candidates")
            shape = (
                model.box_shape(photo.rgb, photo.click)
                if hasattr(model, "box_shape")
                else (None, 0.0)
            )
            refined = refine_candidates(
                result.candidates, photo.rgb, photo.click, info, cancel, shape
            )
            result.candidates = refined[:top_k]
            # the overlay shows the (new) best candidate's tile and attention
            result.best_tile = result.candidates[0].tile_spec
            result.best_attention = next(
                h.attention for tile, h in hits if tile is result.best_tile
            )
        if register == "off":
            _as_probabilities(result)
        result.refine = refine if register == "off" else "none"
        result.seconds = time.perf_counter() - start
        return result

    def _set_heading(self, heading: object) -> None:
        """Pass a heading hint to models that search headings; warn for others."""
        if hasattr(self.model, "heading"):
            from ocgnet_geo.locate.matcher_model import parse_heading

            self.model.heading = parse_heading(heading)
        elif heading is not None:
            warnings.warn(
                f"heading {heading!r}: ignored, the model {self.model.model_id} does not search "
                "headings",
                stacklevel=3,
            )

    def _valid_mask(
        self, key: str, info: RasterInfo, tile: TileSpec, valid: np.ndarray | None
    ) -> np.ndarray:
        """The tile's validity mask (True where the raster has data), remembered per tile
        (tiles whose features came from the disk cache are read once more to get it)."""
        mask = self._masks.get(key)
        if mask is None:
            mask = valid if valid is not None else read_tile(info, tile)[1]
            self._masks[key] = mask
            while len(self._masks) > MASKS_KEPT:
                self._masks.popitem(last=False)
        return mask

    def _encode(self, rgbs: list[np.ndarray]) -> list[Any]:
        """Features of tiles, in one forward when the model can batch."""
        if len(rgbs) > 1 and hasattr(self.model, "encode_batch"):
            return self.model.encode_batch(rgbs)
        return [self.model.encode(rgb) for rgb in rgbs]

    def _warn_if_large(self, tiles: list[TileSpec], info: RasterInfo) -> None:
        if len(tiles) <= LARGE_SEARCH_TILES:
            return
        from ocgnet_geo.locate.tile_model import seconds_per_tile_estimate

        area_km2 = shapely.union_all([t.polygon for t in tiles]).area / 1e6
        minutes = len(tiles) * seconds_per_tile_estimate(self.model) / 60
        warnings.warn(
            f"raster {info.source!r}: searching {len(tiles)} tiles (~{area_km2:.1f} km²); the first click "
            f"takes roughly {minutes:.0f} min on a 2-core CPU. Pass a bbox to search a smaller area.",
            LargeSearchWarning,
            stacklevel=3,
        )

    def _rank(
        self,
        hits: list,
        photo: QueryPhoto,
        info: RasterInfo,
        top_k: int,
        searched: int,
        encoded: int,
        seconds: float,
    ) -> LocateResult:
        model = self.model
        log_total = float(np.logaddexp.reduce([h.log_partition for _, h in hits]))
        tiles = [tile for tile, h in hits for _ in range(len(h.boxes))]
        scales = _per_box(hits, "scales")
        headings = _per_box(hits, "headings_deg")
        boxes = np.concatenate([h.boxes for _, h in hits]).reshape(-1, 4)
        scores = np.exp(np.concatenate([h.logits for _, h in hits]) - log_total)
        grid_crs = hits[0][0].crs
        polygons = np.concatenate([boxes_to_polygons(h.boxes, tile) for tile, h in hits])
        groups = nms_groups(polygons, scores, iou=MERGE_IOU, crs=grid_crs)
        merged = np.array([scores[g].sum() for g in groups])
        ranked = np.argsort(-merged, kind="stable")[:top_k]
        keep = [groups[g][0] for g in ranked]
        in_raster_crs = reproject_geometries(polygons[keep], grid_crs, info.crs)
        candidates = [
            Candidate(
                rank=rank + 1,
                score=float(merged[g]),
                polygon=in_raster_crs[rank],
                box_px=tuple(float(v) for v in boxes[i]),
                tile=tiles[i].id,
                tile_spec=tiles[i],
                scale=scales[i],
                heading_deg=headings[i],
            )
            for rank, (g, i) in enumerate(zip(ranked, keep, strict=True))
        ]
        best_tile = candidates[0].tile_spec
        attention = next(h.attention for tile, h in hits if tile is best_tile)
        return LocateResult(
            candidates=candidates,
            crs=info.crs,
            query=photo.path,
            click=photo.original_click,
            view=model.view,
            model=model.model_id,
            raster=info.source,
            gsd_m=model.gsd_m,
            tiles_searched=searched,
            tiles_encoded=encoded,
            seconds=seconds,
            precision=self.precision,
            best_attention=attention,
            best_tile=best_tile,
            raster_info=info,
        )


@dataclass
class _Pending:
    """A tile of the current search waiting for its (batched) encode and its find."""

    index: int
    tile: TileSpec
    key: str
    rgb: np.ndarray | None = None
    features: Any = None
    cached: bool = False
    valid: np.ndarray | None = None


def where_searched(
    hits: TileHits, tile: TileSpec, valid: np.ndarray, area: shapely.Geometry, k: int
) -> TileHits:
    """The ``k`` best of ``hits`` whose box centre lies on a valid pixel of the tile (not
    nodata, inside the raster: ``valid`` True) inside the search ``area`` (grid CRS).

    Dropped boxes are scored zero rather than removed from the softmax: the partition keeps
    every anchor-cell the model scored, so renormalising cannot inflate the boxes that
    remain, and the scores of all candidates still sum to at most 1."""
    if len(hits.boxes) == 0:
        return hits
    cx = (hits.boxes[:, 0] + hits.boxes[:, 2]) / 2
    cy = (hits.boxes[:, 1] + hits.boxes[:, 3]) / 2
    col, row = np.floor(cx).astype(int), np.floor(cy).astype(int)
    inside = (col >= 0) & (row >= 0) & (col < valid.shape[1]) & (row < valid.shape[0])
    keep = inside.copy()
    keep[inside] = valid[row[inside], col[inside]]
    xs, ys = tile.transform @ (cx, cy)
    keep &= shapely.contains_xy(area, xs, ys)
    keep &= np.cumsum(keep) <= k
    if keep.all():
        return hits
    pick = lambda a: None if a is None else a[keep]  # noqa: E731
    return replace(
        hits,
        boxes=hits.boxes[keep],
        logits=hits.logits[keep],
        scales=pick(hits.scales),
        headings_deg=pick(hits.headings_deg),
    )


def _as_probabilities(result: LocateResult) -> None:
    """Template-only scores as capped probabilities (:mod:`.confidence`), ranks kept."""
    from ocgnet_geo.locate.confidence import template_probability

    result.candidates = [replace(c, score=template_probability(c.score)) for c in result.candidates]


def _per_box(hits: list, name: str) -> list[float | None]:
    """Per-box values of an optional :class:`TileHits` field, in box order (None where a
    tile's hits lack it)."""
    out: list[float | None] = []
    for _, h in hits:
        values = getattr(h, name, None)
        out.extend([None] * len(h.boxes) if values is None else [float(v) for v in values])
    return out


def _batch_size(model: Any, batch_bytes: int) -> int:
    """Tiles per encoding forward: ``batch_bytes`` over the model's estimated activation
    bytes per tile, between 1 and :data:`MAX_BATCH`; 1 for models that cannot batch."""
    per_tile = getattr(model, "encode_bytes_per_tile", None)
    if not hasattr(model, "encode_batch") or not per_tile:
        return 1
    return max(1, min(MAX_BATCH, int(batch_bytes) // int(per_tile)))
