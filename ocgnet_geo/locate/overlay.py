"""The overlay PNG of a result: what the analyst clicked, and where the model looked.

Left: the photo with the click marked. Right, when the photo registered: the raster around
the photo's footprint (blue) with the clicked object's outline (red) and the other
candidates; otherwise the best candidate's tile, tinted orange where the model's cross-view
attention is high, with the ranked candidates that fall in it outlined (rank 1 thickest). A
caption names the model, view, precision mode, scores, the answer's status and search size.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from affine import Affine

from ocgnet_geo.geo.boxes import polygons_to_boxes, reproject_geometries
from ocgnet_geo.geo.export import atomic_path
from ocgnet_geo.geo.raster import open_raster, read_tile
from ocgnet_geo.geo.tile import TileSpec
from ocgnet_geo.locate.photo import load_photo

PANEL_PX = 512
RANK_COLOURS = [(255, 40, 40), (255, 160, 0), (255, 230, 0), (80, 200, 255), (190, 120, 255)]


def render_overlay(result: Any, path: str | os.PathLike) -> Path:
    """Write the overlay of ``result`` (a :class:`~ocgnet_geo.locate.locator.LocateResult`,
    duck-typed so that the overlay does not import the pipeline) to ``path`` (PNG, atomically)."""
    from PIL import Image, ImageDraw

    photo = _photo_panel(result)
    registered = getattr(result, "photo_footprint", None) is not None
    tile = _registered_panel(result) if registered else _tile_panel(result)
    priors = getattr(result, "priors", None)
    caption_h = 58 if priors is not None else 40
    canvas = Image.new(
        "RGB",
        (photo.width + tile.width + 30, max(photo.height, tile.height) + caption_h + 20),
        "white",
    )
    canvas.paste(photo, (10, 10))
    canvas.paste(tile, (photo.width + 20, 10))
    draw = ImageDraw.Draw(canvas)
    best = result.candidates[0]
    if getattr(best, "registered", False):
        how = f"registered by {best.method}, {best.inliers} inliers"
    elif getattr(best, "refined", False):
        how = f"verified, {best.inliers} inliers"
    else:
        how = "not registered"
    status = getattr(result, "status", "")
    lines = [
        f"{status.replace('_', ' ')}: best score {format_score(best.score)} ({how})  |  "
        f"model {result.model} ({result.view}, {result.precision})  |  "
        f"{len(result.candidates)} candidates from {result.tiles_searched} tiles",
        f"photo {Path(result.query).name} click ({result.click[0]:.0f}, {result.click[1]:.0f})  |  "
        f"raster {Path(result.raster).name} at {result.gsd_m:.2f} m/px  |  {result.seconds:.1f} s",
    ]
    if priors is not None:
        lines.append(f"photo metadata priors ({priors.mode}): {priors.summary()}")
    font = _font(13)
    for i, line in enumerate(lines):
        draw.text((10, canvas.height - caption_h - 5 + i * 18), line, fill=(0, 0, 0), font=font)
    out = Path(path)
    with atomic_path(out) as tmp:
        canvas.save(tmp, format="PNG")
    return out


def format_score(score: float) -> str:
    """Two decimals, or two significant digits for small scores (untrained models, huge searches)."""
    return f"{score:.2f}" if score >= 0.01 else f"{score:.1e}"


def _photo_panel(result: Any):
    from PIL import Image, ImageDraw

    rgb = load_photo(result.query)
    h, w = rgb.shape[:2]
    scale = PANEL_PX / max(h, w)
    panel = Image.fromarray(rgb).resize((max(1, round(w * scale)), max(1, round(h * scale))))
    draw = ImageDraw.Draw(panel)
    x, y = result.click[0] * scale, result.click[1] * scale
    for colour, width in (((0, 0, 0), 5), ((255, 255, 255), 2)):
        draw.line([(x - 12, y), (x + 12, y)], fill=colour, width=width)
        draw.line([(x, y - 12), (x, y + 12)], fill=colour, width=width)
    return panel


def _tile_panel(result: Any):
    from PIL import Image, ImageDraw

    tile, attention = _centred_on_best(result)
    info = result.raster_info or open_raster(result.raster)
    rgb, valid = read_tile(info, tile)
    image = rgb.astype(np.float32)
    if attention is not None:
        heat = _upsample(attention, tile.height, tile.width) ** 2  # emphasise the peak
        heat = (heat * valid)[..., None]  # no tint where the raster has no data
        image = image * (1 - 0.45 * heat) + np.array([255.0, 60.0, 0.0]) * 0.45 * heat
    scale = PANEL_PX / max(tile.width, tile.height)
    size = (round(tile.width * scale), round(tile.height * scale))
    panel = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).resize(
        size, Image.Resampling.BILINEAR
    )
    polygons = reproject_geometries(result.polygons, result.crs, tile.crs)
    boxes = polygons_to_boxes(polygons, tile) * scale
    draw = ImageDraw.Draw(panel)
    font = _font(14)
    frame = shapely.box(0, 0, *size)
    for candidate, box in reversed(list(zip(result.candidates, boxes, strict=True))):
        if not np.all(np.isfinite(box)) or not frame.intersects(shapely.box(*box)):
            continue  # found in another tile, outside this one
        colour = RANK_COLOURS[(candidate.rank - 1) % len(RANK_COLOURS)]
        draw.rectangle(list(box), outline=colour, width=4 if candidate.rank == 1 else 2)
        label = f"#{candidate.rank} {format_score(candidate.score)}"
        draw.text(
            (box[0] + 1, box[1] - 17),
            label,
            fill=colour,
            font=font,
            stroke_width=2,
            stroke_fill=(0, 0, 0),
        )
    return panel


def _registered_panel(result: Any):
    """The raster around the registered photo's footprint and the object's outline, north-up
    in the registration window's CRS, with every candidate's polygon drawn."""
    from PIL import Image, ImageDraw

    window = result.best_tile
    polygons = reproject_geometries(result.polygons, result.crs, window.crs)
    footprint = reproject_geometries(np.array([result.photo_footprint]), result.crs, window.crs)[0]
    minx, miny, maxx, maxy = shapely.union(footprint, polygons[0]).bounds
    pad = 0.12 * max(maxx - minx, maxy - miny)
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    step = max(maxx - minx, maxy - miny) / PANEL_PX
    width, height = max(1, round((maxx - minx) / step)), max(1, round((maxy - miny) / step))
    metres = window.gsd_m / abs(window.transform.a)
    view = TileSpec(
        "overlay", window.crs, Affine(step, 0, minx, 0, -step, maxy), width, height, step * metres
    )
    info = result.raster_info or open_raster(result.raster)
    rgb, _ = read_tile(info, view)
    panel = Image.fromarray(rgb)
    draw = ImageDraw.Draw(panel)
    inverse = ~view.transform

    def ring(geometry) -> list[tuple[float, float]]:
        xs, ys = shapely.get_coordinates(shapely.get_exterior_ring(geometry)).T
        cols, rows = inverse @ (xs, ys)
        return list(zip(cols.tolist(), rows.tolist(), strict=True))

    draw.line(ring(footprint), fill=(40, 120, 255), width=3)
    font = _font(14)
    for candidate, polygon in reversed(list(zip(result.candidates, polygons, strict=True))):
        if not polygon.intersects(shapely.box(minx, miny, maxx, maxy)):
            continue
        colour = RANK_COLOURS[(candidate.rank - 1) % len(RANK_COLOURS)]
        points = ring(polygon)
        draw.line(points, fill=colour, width=4 if candidate.rank == 1 else 2)
        label = f"#{candidate.rank} {format_score(candidate.score)}"
        x, y = min(p[0] for p in points), min(p[1] for p in points)
        draw.text(
            (x + 1, y - 17), label, fill=colour, font=font, stroke_width=2, stroke_fill=(0, 0, 0)
        )
    return panel


def _centred_on_best(result: Any) -> tuple[TileSpec, np.ndarray | None]:
    """The best candidate's tile moved by whole attention cells so that the candidate sits in
    the middle of the panel (it may lie near the tile's edge), with its attention moved along
    (cells shifted in from outside the tile are zero)."""
    tile, attention = result.best_tile, result.best_attention
    x0, y0, x1, y1 = result.candidates[0].box_px
    grid = attention.shape if attention is not None else (tile.height // 16, tile.width // 16)
    cell_y, cell_x = tile.height / grid[0], tile.width / grid[1]
    dx = round(((x0 + x1) / 2 - tile.width / 2) / cell_x)
    dy = round(((y0 + y1) / 2 - tile.height / 2) / cell_y)
    if dx == 0 and dy == 0:
        return tile, attention
    moved = replace(tile, transform=tile.transform @ Affine.translation(dx * cell_x, dy * cell_y))
    if attention is None:
        return moved, None
    shifted = np.zeros_like(attention)
    h, w = attention.shape
    src = attention[max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)]
    shifted[max(0, -dy) : max(0, -dy) + src.shape[0], max(0, -dx) : max(0, -dx) + src.shape[1]] = (
        src
    )
    return moved, shifted


def _font(size: int):
    """DejaVu Sans when the system has it (Debian: fonts-dejavu-core), else PIL's default."""
    from PIL import ImageFont

    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def _upsample(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour upsampling of a (G, G) map to (height, width), scaled to 0..1."""
    g = np.asarray(grid, dtype=np.float32)
    rows = np.minimum(np.arange(height) * g.shape[0] // height, g.shape[0] - 1)
    cols = np.minimum(np.arange(width) * g.shape[1] // width, g.shape[1] - 1)
    up = g[rows][:, cols]
    span = float(up.max() - up.min())
    return (up - up.min()) / span if span > 0 else np.zeros_like(up)


def _heat_colours(heat: np.ndarray) -> np.ndarray:
    """A blue -> red colour ramp (H, W, 3) for values 0..1."""
    return np.stack(
        [255 * heat, 255 * (1 - np.abs(heat - 0.5) * 2) * 0.6, 255 * (1 - heat)], axis=-1
    )
