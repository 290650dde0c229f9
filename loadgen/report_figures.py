"""One figure of the drill's HTML report drawn as a PNG with matplotlib (Agg, no display, no pyplot state).

The x axis is seconds since the trigger. The fault window (trigger to clear)
is shaded; vertical lines mark when the signal was detected (red) and resolved
(green). The panel's series use the left axis; the alert's own expression
(dashed) and its threshold (dotted) the right one, so the figure shows why the
alert fired. matplotlib is imported here only, and this module only when an
HTML report is written, so the load generator does not pay for it otherwise.
"""
import io
import math
from dataclasses import dataclass

from loadgen.report_data import Line, Plot

WIDTH_INCHES, HEIGHT_INCHES, DPI = 9.0, 4.2, 100
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Marks:
    """The scenario's moments in unix seconds (None when they did not happen) and the figure's title."""
    title: str
    triggered_at: float
    cleared_at: float | None
    fired_at: float | None
    resolved_at: float | None


def _draw(axes, lines: list[Line], origin: float, style: str, first_color: int = 0, prefix: str = "") -> None:
    """Each line on `axes`, x in seconds since `origin`; colours continue from `first_color` across both axes."""
    for number, line in enumerate(lines, start=first_color):
        xs = [t - origin for t, v in line.points]
        ys = [v if math.isfinite(v) else math.nan for _, v in line.points]
        axes.plot(xs, ys, style, color=f"C{number % 10}", linewidth=1.2, label=(prefix + line.label)[:80])


def render_png(plot: Plot, marks: Marks) -> bytes:
    """The figure as PNG bytes."""
    import matplotlib
    matplotlib.use("Agg", force=True)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    panel = figure.add_subplot()
    origin = marks.triggered_at
    _draw(panel, plot.panel, origin, "-")
    handles, labels = panel.get_legend_handles_labels()
    if plot.condition_query is not None:
        condition = panel.twinx()
        _draw(condition, plot.condition, origin, "--", len(plot.panel), "alert: ")
        if plot.threshold is not None:
            condition.axhline(plot.threshold, color="crimson", linestyle=":", linewidth=1.2,
                              label=f"threshold {plot.threshold:g}")
        condition.set_ylabel("alert condition", fontsize=8)
        condition.tick_params(labelsize=7)
        more_handles, more_labels = condition.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    cleared = marks.cleared_at if marks.cleared_at is not None else plot.end
    panel.axvspan(0, cleared - origin, color="orange", alpha=0.15)
    if marks.fired_at is not None:
        panel.axvline(marks.fired_at - origin, color="red", linewidth=1.5)
    if marks.resolved_at is not None:
        panel.axvline(marks.resolved_at - origin, color="green", linewidth=1.5)
    panel.set_xlim(plot.start - origin, plot.end - origin)
    panel.set_xlabel("seconds since the trigger (shaded: fault on; red: detected; green: resolved)", fontsize=8)
    panel.tick_params(labelsize=7)
    panel.set_title(marks.title, fontsize=10)
    if handles:  # below the axes, where it hides no curve
        figure.legend(handles, labels, fontsize=7, loc="outside lower center", ncols=min(3, len(handles)),
                      frameon=False)
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's header, or ValueError if it is not a PNG."""
    if not png.startswith(PNG_SIGNATURE) or png[12:16] != b"IHDR":
        raise ValueError("Not a PNG image.")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
