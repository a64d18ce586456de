"""A template search's result turned into absolute answers: register the photo where the
search says (or over the whole area) and put the registered object first with its calibrated
probability; the template candidates arrive as capped probabilities (:mod:`.confidence`).

Called by :meth:`~ocgnet_geo.locate.locator.Locator.locate` after the template search; the
result's candidates, scores, ``photo_footprint`` and ``register`` are replaced in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import shapely

from ocgnet_geo.geo.boxes import reproject_geometries
from ocgnet_geo.geo.raster import RasterInfo
from ocgnet_geo.locate.photo import QueryPhoto, prepare_query
from ocgnet_geo.locate.register import rotations_for_heading
from ocgnet_geo.locate.registration_stage import (
    CANDIDATE_WINDOWS,
    PHOTO_LONG_SIDE,
    RegistrationStage,
    area_window,
    candidate_window,
    photo_scales,
    registered_outline,
)

#: Template candidates overlapping the registered outline by more than this IoU (or holding
#: the registered click) are the same object and are dropped.
SAME_OBJECT_IOU = 0.1


def apply_registration(
    result: Any,
    stage: RegistrationStage | None,
    model: Any,
    photo: QueryPhoto,
    info: RasterInfo,
    raster_key: str,
    area: shapely.Geometry,
    heading: tuple[float, float] | None,
    photo_gsd_range: tuple[float, float] | None,
    mode: str,
    outline: str,
    top_k: int,
    cancel: Callable[[], bool] | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> Any:
    """Register (unless ``mode`` is "off") and put the registered object first (module
    docstring); ``result``'s candidates arrive as template-only (capped) probabilities.
    ``photo`` is the template search's working photo; ``area`` the search area in the grid
    CRS; ``heading`` and ``photo_gsd_range`` the priors (working-photo m/px)."""
    templates = result.candidates  # template-only, already capped probabilities
    result.register = mode
    registered = None
    if mode != "off" and stage is not None and templates:
        if progress is not None:
            progress(1.0, "registering the photo to the raster")
        registered = _register(
            stage, model, photo, info, raster_key, area, heading, photo_gsd_range, mode,
            outline, templates, cancel,
        )  # fmt: skip
    if registered is None:
        result.candidates = _ranked(templates)[:top_k]
        return result
    reg = registered.registration
    grid_crs = registered.window.crs
    outline_raster = reproject_geometries(np.array([registered.outline]), grid_crs, info.crs)[0]
    best = replace(
        templates[0],
        score=reg.probability,
        polygon=outline_raster,
        box_px=registered.box_px,
        tile=registered.window.id,
        tile_spec=registered.window,
        refined=True,
        inliers=reg.inliers,
        registered=True,
        method=reg.method,
        reprojection_px=reg.reprojection_px,
        outline_source=registered.outline_source,
    )
    click_point = shapely.Point(registered.window.transform @ reg.click)
    others = [
        c
        for c in templates
        if not _same_object(c.polygon, registered.outline, click_point, info.crs, grid_crs)
    ]
    result.candidates = _ranked([best, *others])[:top_k]
    if registered.footprint is not None:
        result.photo_footprint = reproject_geometries(
            np.array([registered.footprint]), grid_crs, info.crs
        )[0]
    result.registration = reg
    result.best_tile = registered.window
    result.best_attention = None
    return result


def _register(
    stage, model, photo, info, raster_key, area, heading, photo_gsd_range, mode, outline,
    templates, cancel,
):  # fmt: skip
    """The best :class:`~.registration_stage.Registered` over the stage's windows, or None."""
    reg_photo = prepare_query(photo.path, photo.original_click, long_side=PHOTO_LONG_SIDE)
    to_reg = reg_photo.rgb.shape[1] / photo.rgb.shape[1]  # registration px per working px
    reference = templates[0].tile_spec
    rotations = rotations_for_heading(heading)
    windows = []
    whole = area_window(area, reference, info)
    if whole is not None:
        expected = None
        if photo_gsd_range is not None:
            gsd = float(np.sqrt(photo_gsd_range[0] * photo_gsd_range[1])) / to_reg
            expected = gsd / whole.gsd_m
        windows.append((whole, photo_scales(expected), rotations))
    else:
        for cand in templates[:CANDIDATE_WINDOWS]:
            window = candidate_window(cand, max(photo.rgb.shape[:2]), info)
            expected = None
            if cand.scale:
                expected = cand.scale * cand.tile_spec.gsd_m / window.gsd_m / to_reg
            windows.append((window, photo_scales(expected), rotations))
    found = stage.run(mode, reg_photo.rgb, reg_photo.click, windows, info, raster_key, cancel)
    if found is None:
        return None
    window, reg, window_rgb = found
    hull = None
    segment = model.segment(photo.rgb, photo.click) if hasattr(model, "segment") else None
    if segment is not None:
        hull = np.asarray(segment.hull, dtype=np.float64) * to_reg
    size = (reg_photo.rgb.shape[1], reg_photo.rgb.shape[0])
    return registered_outline(window, window_rgb, reg, size, hull, outline)


def _same_object(
    polygon: shapely.Polygon, outline: shapely.Polygon, click: shapely.Point, crs, grid_crs
) -> bool:
    """Whether a template candidate's ``polygon`` (in ``crs``) is the registered object."""
    polygon = reproject_geometries(np.array([polygon]), crs, grid_crs)[0]
    if polygon.contains(click):
        return True
    union = shapely.union(polygon, outline).area
    return union > 0 and shapely.intersection(polygon, outline).area / union > SAME_OBJECT_IOU


def _ranked(cands: list) -> list:
    order = sorted(range(len(cands)), key=lambda i: -cands[i].score)
    return [replace(cands[i], rank=n + 1) for n, i in enumerate(order)]
