"""The AHA 17-segment bull's-eye as a picture a cardiologist recognises: segment borders, each segment's number and
value, a colour legend (Cerqueira et al., Circulation 2002, "Standardized myocardial segmentation and nomenclature
for tomographic imaging of the heart").

Layout, as viewed from the apex: four rings of equal width from outside in — basal (segments 1–6), mid (7–12),
apical (13–16) and the apex cap (17). Segment 1 (anterior) is at the top; the basal and mid rings go
counter-clockwise on screen: 2 anteroseptal (upper left), 3 inferoseptal, 4 inferior (bottom), 5 inferolateral,
6 anterolateral (upper right); apical 13 anterior (top), 14 septal (left), 15 inferior, 16 lateral (right). The
same angles as :func:`cardiogen.motion.strain.bullseye_image` (16 segments, no cap).

Short-axis strain has no value for the apex cap (17) unless one is given: a segment without a value (NaN) is drawn
grey with "n/a". Colours: the diverging map of the strain overlays (:func:`diverging_rgb`, negative = shortening =
blue), over ±``limit``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CardioGenInputError
from .aha import AHA_NAMES, disc_sectors

AHA17_NAMES = AHA_NAMES + ("apex",)
NO_DATA_RGB = (0.78, 0.78, 0.78)
BORDER_RGB = (0.15, 0.15, 0.15)
_RING_OUTER = (1.0, 0.75, 0.5, 0.25)  #: outer radius (fraction of the disc) of basal, mid, apical, apex cap


def diverging_rgb(x: Any) -> np.ndarray:
    """Blue-white-red colours ``(..., 3)`` in [0, 1] of ``x`` in [-1, 1] (clipped): -1 blue, 0 white, +1 red; the map
    of the strain overlays' colour table."""
    x = np.clip(np.asarray(x, dtype=float), -1.0, 1.0)
    neg = np.stack([1.0 + x * 0.85, 1.0 + x * 0.6, np.ones_like(x)], axis=-1)
    pos = np.stack([np.ones_like(x), 1.0 - x * 0.75, 1.0 - x * 0.85], axis=-1)
    return np.where((x < 0)[..., None], neg, pos)


def segment_raster(size: int) -> np.ndarray:
    """Segment numbers ``(size, size)`` int: 1..17 inside the disc, 0 outside."""
    size = int(size)
    if size < 16:
        raise CardioGenInputError("bull's-eye size must be >= 16 pixels", got=size)
    rho, sector6, sector4 = disc_sectors(size)
    seg = np.where(rho < _RING_OUTER[3], 17, np.where(rho < _RING_OUTER[2], 13 + sector4,
                                                       np.where(rho < _RING_OUTER[1], 7 + sector6, 1 + sector6)))
    seg[rho >= 1.0] = 0
    return seg


def segment_centres(size: int) -> dict[int, tuple[float, float]]:
    """``{segment: (x, y)}`` pixel position of each segment's label (middle of its ring and angle)."""
    c = (size - 1) / 2.0
    half = size / 2.0
    out = {17: (c, c)}
    for ring, (first, count, start) in enumerate(((1, 6, 90.0), (7, 6, 90.0), (13, 4, 90.0))):
        radius = half * (_RING_OUTER[ring] + _RING_OUTER[ring + 1]) / 2
        for k in range(count):
            angle = np.radians(start + k * 360.0 / count)  # counter-clockwise on screen from the top
            out[first + k] = (c + radius * np.cos(angle), c - radius * np.sin(angle))
    return out


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one fixed bitmap font
        return ImageFont.load_default()


def bullseye_rgb(values: Any, *, size: int = 420, limit: float = 30.0, unit: str = "%", title: str = "",
                 decimals: int = 0) -> np.ndarray:
    """The bull's-eye picture ``(H, W, 3)`` uint8: the disc (``size`` pixels) with segment borders, numbers and
    values, and a colour legend to its right; ``title`` above.

    Args:
        values: 16 (segments 1–16; the apex cap has no value) or 17 values, in display units (e.g. strain in %);
            NaN for a segment without data.
        limit: the colours span −limit … +limit (the legend's ends).
        unit: shown after the legend's numbers.
        decimals: of the values written in the segments.
    """
    from PIL import Image, ImageDraw

    vals = np.asarray(values, dtype=float).reshape(-1)
    if vals.size not in (16, 17):
        raise CardioGenInputError("a bull's-eye needs 16 or 17 segment values", got=vals.size)
    if not limit > 0:
        raise CardioGenInputError("the colour limit must be positive", got=limit)
    vals = np.append(vals, np.nan) if vals.size == 16 else vals
    size = int(size)
    seg = segment_raster(size)
    colours = np.array([NO_DATA_RGB if not np.isfinite(v) else diverging_rgb(v / limit) for v in vals])
    disc = np.ones((size, size, 3))
    inside = seg > 0
    disc[inside] = colours[seg[inside] - 1]
    border = np.zeros_like(inside)  # a pixel whose segment differs from a neighbour's (and the disc's rim)
    border[:-1] |= seg[:-1] != seg[1:]
    border[1:] |= seg[1:] != seg[:-1]
    border[:, :-1] |= seg[:, :-1] != seg[:, 1:]
    border[:, 1:] |= seg[:, 1:] != seg[:, :-1]
    disc[border] = BORDER_RGB

    margin, legend_w = max(8, size // 30), max(60, size // 5)
    title_h = max(18, size // 16) if title else 0
    canvas = Image.new("RGB", (size + 2 * margin + legend_w, size + 2 * margin + title_h), "white")
    canvas.paste(Image.fromarray((disc * 255).round().astype(np.uint8)), (margin, margin + title_h))
    draw = ImageDraw.Draw(canvas)
    number_font, value_font = _font(max(9, size // 36)), _font(max(11, size // 24))
    for k, (x, y) in segment_centres(size).items():
        x, y = x + margin, y + margin + title_h
        v = vals[k - 1]
        text = "n/a" if not np.isfinite(v) else f"{v:.{decimals}f}"
        draw.text((x, y - size // 40), str(k), fill=(70, 70, 70), font=number_font, anchor="mb")
        draw.text((x, y), text, fill=(0, 0, 0), font=value_font, anchor="mt")
    if title:
        draw.text((margin, margin // 2), title, fill=(0, 0, 0), font=value_font)

    # legend: a vertical colour bar from +limit (top) to -limit (bottom), three labelled ticks
    bar_x, bar_w = size + 2 * margin, max(12, legend_w // 4)
    top, bottom = margin + title_h + size // 10, margin + title_h + size - size // 10
    ramp = np.linspace(1.0, -1.0, bottom - top)
    bar = (diverging_rgb(ramp)[:, None, :].repeat(bar_w, axis=1) * 255).round().astype(np.uint8)
    canvas.paste(Image.fromarray(bar), (bar_x, top))
    draw.rectangle((bar_x, top, bar_x + bar_w - 1, bottom - 1), outline=(60, 60, 60))
    for value, y in ((limit, top), (0.0, (top + bottom) / 2), (-limit, bottom)):
        draw.line((bar_x + bar_w, y, bar_x + bar_w + 4, y), fill=(60, 60, 60))
        draw.text((bar_x + bar_w + 6, y), f"{value:+.0f}{unit}" if value else f"0{unit}", fill=(0, 0, 0),
                  font=number_font, anchor="lm")
    return np.asarray(canvas)

