"""Contact sheet of a CVOGL-layout split: query (with the click) | satellite (with the box)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from ocgnet_geo.data.records import load_split, split_path

CELL = 192


def contact_sheet(
    root: str | Path, dataset: str, split: str, out: str | Path, n: int = 12, cols: int = 3
) -> Path:
    """Write a PNG of the first ``n`` pairs, ``cols`` pairs per row; returns its path."""
    folder = Path(root) / dataset
    records = load_split(split_path(Path(root), dataset, split))[:n]
    rows = max(1, -(-len(records) // cols))
    sheet = Image.new("RGB", (cols * 2 * CELL + (cols - 1) * 8, rows * (CELL + 16)), "white")
    for k, rec in enumerate(records):
        q = Image.open(folder / "query" / rec.query_name).convert("RGB")
        s = Image.open(folder / "satellite" / rec.satellite_name).convert("RGB")
        qs, ss = CELL / q.width, CELL / s.width
        q, s = q.resize((CELL, round(q.height * qs))), s.resize((CELL, CELL))
        dq, ds = ImageDraw.Draw(q), ImageDraw.Draw(s)
        cx, cy = rec.click_xy[0] * qs, rec.click_xy[1] * qs
        dq.ellipse([cx - 5, cy - 5, cx + 5, cy + 5], outline=(255, 0, 0), width=2)
        dq.line([cx - 9, cy, cx + 9, cy], fill=(255, 0, 0))
        dq.line([cx, cy - 9, cx, cy + 9], fill=(255, 0, 0))
        ds.rectangle([v * ss for v in rec.bbox], outline=(255, 255, 0), width=2)
        poly = [(rec.polygon[i] * ss, rec.polygon[i + 1] * ss) for i in range(0, 8, 2)]
        ds.polygon(poly, outline=(0, 255, 255))
        x0 = (k % cols) * (2 * CELL + 8)
        y0 = (k // cols) * (CELL + 16)
        sheet.paste(q, (x0, y0))
        sheet.paste(s, (x0 + CELL, y0))
        ImageDraw.Draw(sheet).text(
            (x0 + 2, y0 + CELL + 2), f"{rec.sample_id} {rec.class_name}", fill="black"
        )
    out = Path(out)
    sheet.save(out)
    return out
