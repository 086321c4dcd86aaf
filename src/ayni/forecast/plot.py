"""A forecast chart as PNG bytes, drawn with Pillow (no plotting library needed).

History as a grey line, the forecast as a blue line in a light-blue interval band, and optionally the
truth over the forecast period in black. Used by reports and the web app.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

_BG, _AXIS, _HIST, _MEAN, _BAND, _TRUTH = "white", (90, 90, 90), (150, 150, 150), (31, 90, 200), (200, 220, 250), "black"


def forecast_png(history: pd.Series, forecast: pd.DataFrame, *, title: str = "", truth: pd.Series | None = None,
                 width: int = 900, height: int = 340) -> bytes:
    """PNG of ``history`` then ``forecast`` (columns ``mean, lower, upper``, indexed by timestamp)."""
    img = Image.new("RGB", (width, height), _BG)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    left, right, top, bottom = 60, width - 15, 28, height - 30
    times = pd.DatetimeIndex(pd.DatetimeIndex(history.index).append(pd.DatetimeIndex(forecast.index))).as_unit("ns")
    t0, t1 = int(times.asi8.min()), int(times.asi8.max())
    values = [history.to_numpy(dtype=float), forecast[["lower", "upper"]].to_numpy(dtype=float).ravel()]
    if truth is not None:
        values.append(truth.to_numpy(dtype=float))
    vals = np.concatenate(values)
    lo, hi = float(np.nanmin(vals)), float(np.nanmax(vals))
    hi = hi if hi > lo else lo + 1.0

    def xy(ts: pd.DatetimeIndex, v: np.ndarray) -> list[tuple[float, float]]:
        x = left + (ts.as_unit("ns").asi8 - t0) / max(t1 - t0, 1) * (right - left)
        y = bottom - (v - lo) / (hi - lo) * (bottom - top)
        return [(float(a), float(b)) for a, b in zip(x, y, strict=True) if np.isfinite(b)]

    f_idx = pd.DatetimeIndex(forecast.index)
    band = xy(f_idx, forecast["upper"].to_numpy(dtype=float)) + xy(f_idx, forecast["lower"].to_numpy(dtype=float))[::-1]
    if len(band) > 2:
        draw.polygon(band, fill=_BAND)
    draw.line(xy(pd.DatetimeIndex(history.index), history.to_numpy(dtype=float)), fill=_HIST, width=1)
    if truth is not None:
        draw.line(xy(pd.DatetimeIndex(truth.index), truth.to_numpy(dtype=float)), fill=_TRUTH, width=1)
    draw.line(xy(f_idx, forecast["mean"].to_numpy(dtype=float)), fill=_MEAN, width=2)
    draw.rectangle([left, top, right, bottom], outline=_AXIS)
    for frac in (0.0, 0.5, 1.0):
        v = lo + frac * (hi - lo)
        y = bottom - frac * (bottom - top)
        draw.text((4, y - 6), f"{v:,.0f}", fill=_AXIS, font=font)
    draw.text((left, bottom + 8), str(times.min().date()), fill=_AXIS, font=font)
    draw.text((right - 70, bottom + 8), str(times.max().date()), fill=_AXIS, font=font)
    draw.text((left, 8), title, fill="black", font=font)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
