"""A drift report as one self-contained HTML page: a table of signals and inline SVG bar charts."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from ayni.mlops.drift import DriftReport

_W, _H, _PAD = 420, 150, 24
_REF, _CUR = "#8aa4c8", "#d9822b"


def _bars(labels: Sequence[str], reference: Sequence[float], current: Sequence[float], title: str) -> str:
    n = max(len(labels), 1)
    top = max([*reference, *current, 1e-9])
    slot = (_W - 2 * _PAD) / n
    bar = max(slot / 2 - 1, 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H + 70}" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<line x1="{_PAD}" y1="{_H}" x2="{_W - _PAD}" y2="{_H}" stroke="#444"/>']
    for i, (label, r, c) in enumerate(zip(labels, reference, current, strict=True)):
        x = _PAD + i * slot
        for j, (value, colour) in enumerate(((r, _REF), (c, _CUR))):
            h = (_H - _PAD) * value / top
            parts.append(f'<rect x="{x + j * bar:.1f}" y="{_H - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{colour}"><title>{escape(label)}: {value:.3f}</title></rect>')
        if n <= 12:
            lx = x + slot / 2
            parts.append(f'<text x="{lx:.1f}" y="{_H + 10}" font-size="8" text-anchor="end" '
                         f'transform="rotate(-35 {lx:.1f} {_H + 10})">{escape(label[:14])}</text>')
    parts.append(f'<text x="{_PAD}" y="{_H + 64}" font-size="10"><tspan fill="{_REF}">■ reference</tspan> '
                 f'<tspan fill="{_CUR}">■ current</tspan></text></svg>')
    return "".join(parts)


def _plot(name: str, plot: dict[str, Any]) -> str:
    if plot["kind"] == "categories":
        labels = [str(x) for x in plot["labels"]]
    else:
        edges = [float(e) for e in plot["edges"]]
        labels = [f"< {edges[0]:.3g}", *(f"{a:.3g}–{b:.3g}" for a, b in zip(edges, edges[1:], strict=False)),
                  f"≥ {edges[-1]:.3g}"] if edges else ["all"]
    return _bars(labels, plot["reference"], plot["current"], name)


def render(report: DriftReport, *, title: str | None = None) -> str:
    """The whole page; it needs no network (no scripts, fonts or images fetched)."""
    head = escape(title or f"Drift report — {report.model}")
    verdict = ("<strong style='color:#b00'>drift detected: " + escape(", ".join(report.drifted_signals()))
               + "</strong>") if report.drifted else "<strong style='color:#070'>no drift above threshold</strong>"
    rows = "".join(
        f"<tr{' class=d' if s.drifted else ''}><td>{escape(s.name)}</td><td>{escape(s.kind)}</td>"
        f"<td>{s.statistic:.4f}</td><td>{s.threshold:.4f}</td><td>{'yes' if s.drifted else 'no'}</td></tr>"
        for s in report.signals
    )
    figures = "".join(f"<figure><figcaption>{escape(k)}</figcaption>{_plot(k, p)}</figure>"
                      for k, p in report.plots.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{head}</title>
<style>body{{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}}td:first-child,th:first-child{{text-align:left}}
tr.d{{background:#fde2e2}}figure{{display:inline-block;margin:.5rem}}figcaption{{font-weight:600}}</style></head>
<body><h1>{head}</h1>
<p>{report.n_current} samples in the window, {report.n_reference} in the reference; computed {escape(report.created_at)}.
{verdict}</p>
<table><thead><tr><th>signal</th><th>kind</th><th>value</th><th>threshold</th><th>drift</th></tr></thead>
<tbody>{rows}</tbody></table>
<h2>Distributions</h2>{figures}
</body></html>
"""
