"""PNG figures drawn with Pillow (matplotlib is not a dependency): confusion matrices, reliability."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # very old Pillow
        return ImageFont.load_default()


def confusion_png(matrix: Sequence[Sequence[int]], labels: Sequence[str], path: Path, *, title: str) -> Path:
    """Row-normalised confusion matrix (rows: truth, columns: prediction) with counts."""
    m = np.asarray(matrix, dtype=np.float64)
    n = len(labels)
    cell, left, top = 64, 110, 70
    img = Image.new("RGB", (left + cell * n + 20, top + cell * n + 90), "white")
    d = ImageDraw.Draw(img)
    f, fs = _font(14), _font(12)
    d.text((10, 10), title, fill="black", font=_font(16))
    d.text((left, top - 22), "predicted ->", fill="black", font=fs)
    rows = m / np.maximum(m.sum(1, keepdims=True), 1)
    for i in range(n):
        d.text((8, top + i * cell + cell // 2 - 7), labels[i][:12], fill="black", font=f)
        for j in range(n):
            v = rows[i, j]
            shade = int(255 - 200 * v)
            colour = (shade, shade, 255) if i != j else (shade, 255, shade)
            x0, y0 = left + j * cell, top + i * cell
            d.rectangle((x0, y0, x0 + cell - 2, y0 + cell - 2), fill=colour)
            d.text((x0 + 6, y0 + 14), f"{int(m[i, j])}", fill="black", font=f)
            d.text((x0 + 6, y0 + 34), f"{v:.0%}", fill="black", font=fs)
    for j in range(n):
        d.text((left + j * cell + 4, top + n * cell + 6), labels[j][:9], fill="black", font=fs)
    d.text((8, top + n * cell + 40), "rows: true class (row-normalised %, counts)", fill="black", font=fs)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, optimize=True)
    return path


def reliability_png(panels: Sequence[tuple[str, np.ndarray, np.ndarray]], path: Path, *,
                    bins: int = 10) -> Path:
    """Reliability diagrams side by side: per panel (title, top-1 confidence, correct)."""
    size, pad = 300, 60
    img = Image.new("RGB", (len(panels) * (size + pad) + pad, size + 2 * pad), "white")
    d = ImageDraw.Draw(img)
    f = _font(13)
    edges = np.linspace(0, 1, bins + 1)
    for k, (title, conf, correct) in enumerate(panels):
        x0, y0 = pad + k * (size + pad), pad
        d.rectangle((x0, y0, x0 + size, y0 + size), outline="black")
        d.line((x0, y0 + size, x0 + size, y0), fill=(160, 160, 160), width=1)
        ece = 0.0
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            m = (conf > lo) & (conf <= hi)
            if not m.any():
                continue
            acc = float(np.mean(correct[m]))
            ece += m.mean() * abs(acc - float(np.mean(conf[m])))
            bx0, bx1 = x0 + int(lo * size) + 1, x0 + int(hi * size) - 1
            d.rectangle((bx0, y0 + size - int(acc * size), bx1, y0 + size), fill=(90, 140, 220),
                        outline=(40, 70, 140))
            gap_top = y0 + size - int(float(np.mean(conf[m])) * size)
            d.line((bx0, gap_top, bx1, gap_top), fill=(220, 60, 60), width=2)
        d.text((x0, 12), title, fill="black", font=_font(15))
        d.text((x0, 32), f"ECE ({bins} bins) {ece:.3f}, n={len(conf)}", fill="black", font=f)
        d.text((x0, y0 + size + 8), "confidence ->  (bars: accuracy; red: mean confidence)",
               fill="black", font=_font(11))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, optimize=True)
    return path
