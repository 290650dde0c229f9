"""Draw a small time-series graph as SVG text: series in, SVG out, nothing else.

Server-side and dependency-free, so the inbox page needs no chart script and
fetches nothing from elsewhere. One polyline per series (split where samples
are missing), the threshold as a dashed line, the firing interval as a shaded
band, and the window's ends and value range as text. Every text and attribute
is escaped: series labels come from alerts, which come from outside.

The <svg> carries what it plotted as data attributes (data-series-count,
data-points, data-start, data-end, data-firing-start, data-firing-end,
data-firing-points, data-threshold), so a test can check a rendered page
without reading pixels. Labelled windows (the console's fault scenarios) are
shaded bands of their own, each <rect class="window"> with data-label,
data-start and data-end, and their count on the <svg> (data-window-count)
when there are any.
"""
import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 480, 150
LEFT, RIGHT, TOP, BOTTOM = 56, 8, 8, 34
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf")


@dataclass(frozen=True)
class Series:
    """One line: a label (shown on hover) and its (unix seconds, value) samples, in time order."""
    label: str
    points: Sequence[tuple[float, float]]


@dataclass(frozen=True)
class Window:
    """A labelled interval to shade (unix seconds), e.g. a fault scenario from its start to its stop."""
    label: str
    start: float
    end: float


@dataclass(frozen=True)
class Graph:
    """What to draw: the window [start, end] (unix seconds), the sampling step, and the marks."""
    series: Sequence[Series]
    start: float
    end: float
    step: float
    threshold: float | None = None
    firing: tuple[float, float] | None = None
    caption: str = ""
    windows: Sequence[Window] = ()


def _attr(value) -> str:
    """An attribute value, escaped (quotes included)."""
    return escape(str(value), quote=True)


def _clock(unix_seconds: float) -> str:
    """HH:MM UTC, the x axis's labels."""
    return datetime.datetime.fromtimestamp(unix_seconds, tz=datetime.UTC).strftime("%H:%M")


def _short(value: float) -> str:
    """A value label that fits the left margin: 0.8, 1.2k, 3.4M, 2.5e-05."""
    if value == 0 or 0.01 <= abs(value) < 1000:
        return f"{value:.3g}"
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.2g}"


def _finite(series: Sequence[Series], start: float, end: float) -> list[list[tuple[float, float]]]:
    """Each series' samples inside the window with a finite value (NaN and ±Inf cannot be drawn)."""
    return [[(t, v) for t, v in s.points if start <= t <= end and math.isfinite(v)] for s in series]


def _value_range(points: list[list[tuple[float, float]]], threshold: float | None) -> tuple[float, float]:
    """The y axis's bounds: every value and the threshold, with a little room; never empty."""
    values = [v for line in points for _, v in line] + ([threshold] if threshold is not None else [])
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.08
    return low - pad, high + pad


def _runs(line: list[tuple[float, float]], step: float) -> list[list[tuple[float, float]]]:
    """The samples split where more than a step and a half is missing (an absent series is not a line)."""
    runs: list[list[tuple[float, float]]] = []
    for t, v in line:
        if runs and t - runs[-1][-1][0] <= step * 1.5:
            runs[-1].append((t, v))
        else:
            runs.append([(t, v)])
    return runs


def render(graph: Graph) -> str:
    """The graph as an inline <svg> element."""
    start, end = graph.start, max(graph.end, graph.start + 1)
    points = _finite(graph.series, start, end)
    low, high = _value_range(points, graph.threshold)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return round(LEFT + (t - start) / (end - start) * plot_w, 1)

    def y(v: float) -> float:
        return round(TOP + (high - v) / (high - low) * plot_h, 1)

    firing = None
    if graph.firing is not None:
        firing = (max(graph.firing[0], start), min(graph.firing[1], end))
    firing_points = sum(1 for line in points for t, _ in line if firing and firing[0] <= t <= firing[1])
    attributes = {"data-series-count": len(points), "data-points": sum(len(line) for line in points),
                  "data-start": f"{start:.0f}", "data-end": f"{end:.0f}",
                  "data-firing-start": f"{firing[0]:.0f}" if firing else "",
                  "data-firing-end": f"{firing[1]:.0f}" if firing else "",
                  "data-firing-points": firing_points,
                  "data-threshold": "" if graph.threshold is None else graph.threshold}
    windows = [(w.label, max(w.start, start), min(w.end, end)) for w in graph.windows if w.end >= start
               and w.start <= end]
    if windows:
        attributes["data-window-count"] = len(windows)
    parts = [f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{_attr(graph.caption)}" '
             + " ".join(f'{name}="{_attr(value)}"' for name, value in attributes.items()) + ">",
             f"<title>{escape(graph.caption)}</title>",
             f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#ccc"/>']
    if firing and firing[1] >= firing[0]:
        width = round(x(firing[1]) - x(firing[0]), 1)
        parts.append(f'<rect class="firing" x="{x(firing[0])}" y="{TOP}" width="{width}" height="{plot_h}" '
                     'fill="#d62728" fill-opacity="0.12"><title>firing</title></rect>')
    for label, shade_start, shade_end in windows:
        parts.append(f'<rect class="window" x="{x(shade_start)}" y="{TOP}" '
                     f'width="{round(x(shade_end) - x(shade_start), 1)}" height="{plot_h}" fill="#f59e0b" '
                     f'fill-opacity="0.18" data-label="{_attr(label)}" data-start="{shade_start:.0f}" '
                     f'data-end="{shade_end:.0f}"><title>{escape(label)}</title></rect>'
                     f'<text class="window-label" x="{x(shade_start) + 2}" y="{TOP + 10}" fill="#92400e" '
                     f'font-size="9">{escape(label)}</text>')
    if graph.threshold is not None:
        parts.append(f'<line class="threshold" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(graph.threshold)}" '
                     f'y2="{y(graph.threshold)}" stroke="#d62728" stroke-dasharray="4 3">'
                     f"<title>threshold {escape(_short(graph.threshold))}</title></line>")
        parts.append(f'<text x="{LEFT - 4}" y="{y(graph.threshold) + 4}" text-anchor="end" fill="#d62728" '
                     f'font-size="10">{escape(_short(graph.threshold))}</text>')
    for index, (series, line) in enumerate(zip(graph.series, points)):
        colour = COLOURS[index % len(COLOURS)]
        for run in _runs(line, graph.step):
            coordinates = " ".join(f"{x(t)},{y(v)}" for t, v in run)
            parts.append(f'<polyline class="series" points="{coordinates}" fill="none" stroke="{colour}" '
                         f'stroke-width="1.5" data-label="{_attr(series.label)}">'
                         f"<title>{escape(series.label)}</title></polyline>")
    if not any(points):
        parts.append(f'<text class="no-data" x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" '
                     'fill="#777" font-size="12">No samples in this window.</text>')
    for v in (high, low):
        parts.append(f'<text x="{LEFT - 4}" y="{y(v) + 4}" text-anchor="end" fill="#555" font-size="10">'
                     f"{escape(_short(v))}</text>")
    baseline = TOP + plot_h + 12
    parts.append(f'<text x="{LEFT}" y="{baseline}" fill="#555" font-size="10">{_clock(start)}</text>')
    parts.append(f'<text x="{LEFT + plot_w}" y="{baseline}" text-anchor="end" fill="#555" font-size="10">'
                 f"{_clock(end)} UTC</text>")
    parts.append(f'<text x="{LEFT}" y="{baseline + 12}" fill="#333" font-size="10">{escape(graph.caption)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def placeholder(message: str) -> str:
    """What stands where a graph cannot be drawn: the same box, with a sentence saying why."""
    return (f'<svg class="graph placeholder" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{_attr(message)}" data-series-count="0" '
            f'data-points="0"><rect x="0.5" y="0.5" width="{WIDTH - 1}" height="{HEIGHT - 1}" fill="#fafafa" '
            f'stroke="#ccc"/><foreignObject x="8" y="8" width="{WIDTH - 16}" height="{HEIGHT - 16}">'
            f'<p xmlns="http://www.w3.org/1999/xhtml" class="graph-message">{escape(message)}</p>'
            "</foreignObject></svg>")
