"""Charts as inline SVG, drawn from small published figures in plain Python (no plotting library, nothing
fetched): a line chart over months, 100 % stacked bars, plain bars and the rank of one kommune among all.

Each function takes the figures already disclosure-controlled; ``None`` is a suppressed (or missing) value
and is drawn as such, never as zero. Every text is escaped; every chart carries a ``<title>`` for screen
readers and tooltips on its marks."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 760
FONT = 'font-family="system-ui, sans-serif" font-size="12"'
MUTED = "#6b7280"
GRID = "#e5e7eb"
SUPPRESSED = "#d1d5db"
HIGHLIGHT = "#c2410c"
PALETTE = ("#1f4e79", "#c2410c", "#2e7d32", "#6a1b9a", "#00838f", "#8d6e63")


@dataclass(frozen=True)
class Series:
    """One line: ``points`` are (x label, value or None) in x order; None leaves a gap."""

    name: str
    points: Sequence[tuple[str, float | None]]
    color: str = PALETTE[0]


@dataclass(frozen=True)
class StackRow:
    """One 100 % bar: the shares of its parts (None: suppressed), in the order of the parts."""

    label: str
    shares: Sequence[float | None]
    note: str = ""
    empty: bool = False  # nobody in the row: an outline, not a suppressed (grey) bar


def _ink(fill: str) -> str:
    """White text on a dark fill, dark text on a light one."""
    r, g, b = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
    return "#ffffff" if 0.299 * r + 0.587 * g + 0.114 * b < 150 else "#111827"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``low``..``high`` (1, 2 or 5 times a power of ten apart)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    return [first + i * step for i in range(int(math.ceil((high - first) / step)) + 1)]


def _svg(height: int, title: str, body: list[str], width: int = WIDTH) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="{escape(title)}" {FONT}>'
            f"<title>{escape(title)}</title>{''.join(body)}</svg>")


def _text(x: float, y: float, text: str, anchor: str = "start", color: str = "#111827", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{color}"{extra}>{escape(text)}</text>'


def _legend(items: Sequence[tuple[str, str]], x: float, y: float, width: float = WIDTH) -> tuple[list[str], float]:
    """Coloured squares with names, wrapped onto more lines where the width ends; -> marks, last line's y."""
    out, start = [], x
    for name, color in items:
        size = 24 + 7 * len(name)
        if x > start and x + size > width:
            x, y = start, y + 18
        out += [f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{color}"/>', _text(x + 14, y, name)]
        x += size
    return out, y


def x_ticks(labels: Sequence[str], most: int = 12) -> list[tuple[str, str]]:
    """(label, text) of the x labels to write: over two years of months, each January as its year;
    otherwise every n-th label, at most about ``most``."""
    if len(labels) > 24 and all(len(x) == 7 and x[4] == "-" for x in labels):
        januaries = [x for x in labels if x.endswith("-01")]
        every = max(1, math.ceil(len(januaries) / most))
        return [(x, x[:4]) for x in januaries[::every]]
    every = max(1, math.ceil(len(labels) / most))
    return [(x, x) for x in labels[::every]]


def line_chart(series: Sequence[Series], title: str, value_format: Callable[[float], str],
               height: int = 300, zero_based: bool = True) -> str:
    """Lines over the same x labels (months 'YYYY-MM'); x ticks at most about twelve, labelled."""
    labels = sorted({x for s in series for x, _ in s.points})
    values = [v for s in series for _, v in s.points if v is not None]
    left, right, top, bottom = 64, 32, 34, 40
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    body, _ = _legend([(s.name, s.color) for s in series], left, 16)
    if not labels or not values:
        return _svg(height, title, body + [_text(WIDTH / 2, height / 2, "Ingen offentliggjorte tal", "middle", MUTED)])
    ticks = nice_ticks(0 if zero_based else min(values), max(values))
    y_low, y_high = ticks[0], ticks[-1]
    x_of = {x: left + (plot_w * i / max(len(labels) - 1, 1)) for i, x in enumerate(labels)}

    def y_of(v: float) -> float:
        return top + plot_h * (1 - (v - y_low) / ((y_high - y_low) or 1))

    for t in ticks:
        body += [f'<line x1="{left}" x2="{WIDTH - right}" y1="{y_of(t):.1f}" y2="{y_of(t):.1f}" stroke="{GRID}"/>',
                 _text(left - 6, y_of(t) + 4, value_format(t), "end", MUTED)]
    for x, text in x_ticks(labels):
        body.append(_text(x_of[x], height - bottom + 16, text, "middle", MUTED))
    for s in series:
        runs, run = [], []
        for x, v in s.points:
            if v is None:
                runs, run = runs + [run] if run else runs, []
            else:
                run.append((x_of[x], y_of(v), x, v))
        runs += [run] if run else []
        for run in runs:
            if len(run) > 1:
                path = " ".join(f"{px:.1f},{py:.1f}" for px, py, *_ in run)
                body.append(f'<polyline points="{path}" fill="none" stroke="{s.color}" stroke-width="2"/>')
            body += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.2" fill="{s.color}"><title>'
                     f'{escape(f"{s.name}, {x}: {value_format(v)}")}</title></circle>' for px, py, x, v in run]
    return _svg(height, title, body)


def stacked_bars(rows: Sequence[StackRow], parts: Sequence[tuple[str, str]], title: str,
                 label_width: int = 240) -> str:
    """One 100 % bar per row; a suppressed part is not drawn: what the shown parts leave is grey."""
    bar_h, gap = 20, 8
    body, legend_y = _legend([*parts, ("Undertrykt", SUPPRESSED)], 8, 16)
    top = int(legend_y) + 18
    height = top + len(rows) * (bar_h + gap) + 24
    left, plot_w = label_width, WIDTH - label_width - 28
    for i, row in enumerate(rows):
        y = top + i * (bar_h + gap)
        body.append(_text(left - 8, y + 14, row.label, "end"))
        fill = f'fill="#ffffff" stroke="{GRID}"' if row.empty else f'fill="{SUPPRESSED}"'
        body.append(f'<rect x="{left}" y="{y}" width="{plot_w}" height="{bar_h}" {fill}>'
                    f'<title>{escape(row.label + ": " + (row.note or "undertrykt"))}</title></rect>')
        x = left
        for (name, color), share in zip(parts, row.shares):
            if share is None:
                continue
            w = plot_w * share
            body.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}">'
                        f'<title>{escape(f"{row.label}, {name}: {share * 100:.1f} %".replace(".", ","))}'
                        f"</title></rect>")
            if w > 34:
                body.append(_text(x + w / 2, y + 14, f"{share * 100:.0f} %", "middle", _ink(color)))
            x += w
        if row.note:
            body.append(_text(left + 6, y + 14, row.note, color="#374151"))
    for share in (0, 0.25, 0.5, 0.75, 1):
        body.append(_text(left + plot_w * share, height - 8, f"{share * 100:.0f} %", "middle", MUTED))
    return _svg(height, title, body)


def bars(rows: Sequence[tuple[str, float | None]], title: str, value_format: Callable[[float], str],
         label_width: int = 240, highlight: str | None = None) -> str:
    """Horizontal bars from zero; a None value is written "undertrykt" instead of a bar."""
    bar_h, gap, top = 18, 8, 12
    height = top + len(rows) * (bar_h + gap) + 12
    left, plot_w = label_width, WIDTH - label_width - 90
    known = [v for _, v in rows if v is not None]
    high = nice_ticks(0, max(known))[-1] if known and max(known) > 0 else 1
    if not rows:
        return _svg(40, title, [_text(WIDTH / 2, 24, "Ingen tal", "middle", MUTED)])
    body = []
    for i, (label, value) in enumerate(rows):
        y = top + i * (bar_h + gap)
        body.append(_text(left - 8, y + 13, label, "end"))
        if value is None:
            body.append(_text(left + 4, y + 13, "undertrykt", color=MUTED))
            continue
        w = plot_w * value / high
        color = HIGHLIGHT if label == highlight else PALETTE[0]
        body += [f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}">'
                 f'<title>{escape(f"{label}: {value_format(value)}")}</title></rect>',
                 _text(left + w + 6, y + 13, value_format(value))]
    return _svg(height, title, body)


def rank_chart(values: Sequence[tuple[str, float]], highlight: str, title: str,
               value_format: Callable[[float], str], reference: tuple[str, float] | None = None,
               height: int = 260) -> str:
    """One column per area (label, value), highest first; ``highlight`` (a label) stands out and is named,
    ``reference`` (name, value) is a dashed line across (e.g. the whole country)."""
    left, right, top, bottom = 64, 16, 30, 30
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    ordered = sorted(values, key=lambda lv: (-lv[1], lv[0]))
    body, _ = _legend([(highlight, HIGHLIGHT), ("Øvrige kommuner", PALETTE[0])], left, 16)
    if not ordered:
        return _svg(height, title, body + [_text(WIDTH / 2, height / 2, "Ingen offentliggjorte tal", "middle", MUTED)])
    ticks = nice_ticks(0, max([v for _, v in ordered] + ([reference[1]] if reference else [])))
    high = ticks[-1] or 1

    def y_of(v: float) -> float:
        return top + plot_h * (1 - v / high)

    for t in ticks:
        body += [f'<line x1="{left}" x2="{WIDTH - right}" y1="{y_of(t):.1f}" y2="{y_of(t):.1f}" stroke="{GRID}"/>',
                 _text(left - 6, y_of(t) + 4, value_format(t), "end", MUTED)]
    step = plot_w / len(ordered)
    for i, (label, value) in enumerate(ordered):
        x = left + i * step
        color = HIGHLIGHT if label == highlight else PALETTE[0]
        body.append(f'<rect x="{x + step * 0.1:.1f}" y="{y_of(value):.1f}" width="{max(step * 0.8, 1):.1f}" '
                    f'height="{top + plot_h - y_of(value):.1f}" fill="{color}">'
                    f'<title>{escape(f"{i + 1}. {label}: {value_format(value)}")}</title></rect>')
        if label == highlight:
            anchor = "start" if i < len(ordered) / 2 else "end"
            body.append(_text(x + step / 2, y_of(value) - 6, f"{label}: nr. {i + 1}", anchor, HIGHLIGHT))
    if reference:
        name, value = reference
        body += [f'<line x1="{left}" x2="{WIDTH - right}" y1="{y_of(value):.1f}" y2="{y_of(value):.1f}" '
                 f'stroke="#111827" stroke-dasharray="5,4"/>',
                 _text(WIDTH - right, y_of(value) - 5, f"{name}: {value_format(value)}", "end")]
    body.append(_text(left, height - 10, "Højeste", color=MUTED))
    body.append(_text(WIDTH - right, height - 10, "Laveste", "end", MUTED))
    return _svg(height, title, body)
