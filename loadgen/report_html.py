"""The drill's report as one self-contained HTML page: the summary table, then per scenario one plot per signal.

Each plot is a PNG inlined as a data: URL (loadgen/report_figures.py), over
what loadgen/report_data.py reads from Prometheus; there is no external CSS,
script, font or image, so the file opens anywhere, offline. A plot that cannot
be drawn (Prometheus gone, a query refused, no plotting library) is a text
placeholder in its place, never a broken image, and never changes the verdict.
Every text is escaped: titles, alert names and Prometheus's answers come from
outside this page.
"""
import base64
import html
import time
from collections.abc import Mapping
from typing import Any

from loadgen import report_data, trace_examples
from loadgen.report import ROW_HEADERS, rows
from loadgen.report_figures import Marks, render_png

STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 960px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.6em; text-align: left; font-size: 0.9em; }
td.PASS { color: #176117; font-weight: bold; } td.FAIL { color: #a01010; font-weight: bold; }
figure { margin: 1em 0 2em; } img.plot { max-width: 100%; border: 1px solid #ddd; }
.placeholder { border: 1px dashed #999; background: #f6f6f6; padding: 2em 1em; color: #555; }
figcaption { font-size: 0.85em; color: #444; margin-top: 0.4em; } code { font-size: 0.9em; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _seconds(value: float | None, after: str) -> str:
    return "never" if value is None else f"{value:.0f} s after the {after}"


def summary_table(report: Mapping[str, Any]) -> str:
    """The same rows as the terminal table and the Markdown report, one <tr> per scenario."""
    head = "".join(f"<th>{_e(header)}</th>" for header in ROW_HEADERS)
    body = "".join("<tr class=\"scenario-row\">" + "".join(
        f"<td class=\"{_e(cell)}\">{_e(cell)}</td>" if index == len(row) - 1 else f"<td>{_e(cell)}</td>"
        for index, cell in enumerate(row)) + "</tr>\n" for row in rows(report))
    return f"<table id=\"summary\"><thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody></table>"


def _image(plot: report_data.Plot, marks: Marks) -> str:
    """The <img> of one figure, or a placeholder saying why there is none."""
    if not plot.answered:
        why = " ".join(plot.problems) or "Prometheus gave nothing to plot."
        return f"<div class=\"placeholder\">No plot: {_e(why)}</div>"
    try:
        png = render_png(plot, marks)
    except Exception as error:  # noqa: BLE001 - a plot is an aid: the report must still be written
        return f"<div class=\"placeholder\">No plot: it could not be drawn ({_e(type(error).__name__)}: " \
               f"{_e(error)}).</div>"
    return (f"<img class=\"plot\" alt=\"{_e(marks.title)}\" "
            f"src=\"data:image/png;base64,{base64.b64encode(png).decode('ascii')}\">")


def signal_figure(result: Mapping[str, Any], signal: str, panel: report_data.Plot | None,
                  reader: report_data.PrometheusReader) -> str:
    """One expected signal's <figure>: its plot (or a placeholder) and a caption with its times."""
    detected, resolved = result["detected"].get(signal), result["resolved"].get(signal)
    triggered, cleared = result["triggered_at"], result["cleared_at"]
    times = f"detected {_seconds(detected, 'trigger')}, resolved {_seconds(resolved, 'clear')}"
    caption = [f"<strong>{_e(signal)}</strong>: {_e(times)}. Panel \"{_e(result['dashboard']['panel'])}\" "
               f"(<code>{_e(result['dashboard']['uid'])}</code>) on the left axis"]
    if panel is None:
        body = "<div class=\"placeholder\">No plot: the scenario was never triggered.</div>"
        return f"<figure class=\"signal\">{body}<figcaption>{''.join(caption)}.</figcaption></figure>"
    plot = panel
    if signal in result.get("expected_alerts", []):
        plot = report_data.with_condition(panel, reader, signal)
        if plot.condition_query is not None:
            against = f" against its threshold {plot.threshold:g}" if plot.threshold is not None else \
                " (its comparison could not be cut off: the line exists only while the condition holds)"
            caption.append(f"; the alert's own expression <code>{_e(plot.condition_query)}</code>{_e(against)} "
                           "dashed on the right axis")
    marks = Marks(f"{signal}: {times}", triggered, cleared,
                  None if detected is None else triggered + detected,
                  None if resolved is None or cleared is None else cleared + resolved)
    image = _image(plot, marks)
    notes = "".join(f" {_e(problem)}" for problem in plot.problems) if plot.answered else ""
    return f"<figure class=\"signal\">{image}<figcaption>{''.join(caption)}.{notes}</figcaption></figure>"


def example_trace(entry: Mapping[str, Any] | None) -> str:
    """The scenario's example trace (loadgen/trace_examples.py): its id linked to Zipkin, the span that shows
    the cause and how long it lasted; or why there is none."""
    if not entry or not entry.get("trace_id"):
        why = trace_examples.describe(entry)
        return f"<p class=\"example-trace none\">Example trace: {_e(why)}</p>"
    error = f", error &ldquo;{_e(entry['error'])}&rdquo;" if entry.get("error") else ""
    return (f"<p class=\"example-trace\">Example trace: <a class=\"trace\" href=\"{_e(entry['url'])}\">"
            f"<code>{_e(entry['trace_id'])}</code></a>: {_e(entry['service'])} span "
            f"<code>{_e(entry['span'])}</code> lasted <strong>{entry['duration_seconds']:g} s</strong>{error} "
            f"({_e(entry['cause'])}).</p>")


def scenario_section(result: Mapping[str, Any], reader: report_data.PrometheusReader, now: float) -> str:
    """A scenario's heading, its panel, verdict and problems, and one figure per expected signal."""
    signals = result.get("expected_signals", result["expected_alerts"])
    span = report_data.window(result, now)
    panel = None if span is None else report_data.panel_plot(reader, result["dashboard"]["uid"],
                                                             result["dashboard"]["panel"], *span)
    verdict = "PASS" if result["passed"] else "FAIL"
    out = [f"<section class=\"scenario\" id=\"scenario-{_e(result['scenario'])}\">",
           f"<h2>{_e(result['scenario'])}: {_e(result['title'])}</h2>",
           f"<p>Result: <strong>{verdict}</strong>. Dashboard <code>{_e(result['dashboard']['uid'])}</code>, "
           f"panel \"{_e(result['dashboard']['panel'])}\"; runbook <code>#{_e(result['runbook'])}</code>. "
           f"Alert series that fired: {_e(', '.join(result['fired']) or 'none')}.</p>"]
    out.append(example_trace(result.get("example_trace")))
    if result["problems"]:
        out.append("<ul>" + "".join(f"<li>{_e(problem)}</li>" for problem in result["problems"]) + "</ul>")
    out += [signal_figure(result, signal, panel, reader) for signal in signals]
    out.append("</section>")
    return "\n".join(out)


def render(report: Mapping[str, Any], prometheus_url: str | None = None, now: float | None = None) -> str:
    """The whole page; Prometheus is the report's own unless another is given."""
    reader = report_data.PrometheusReader(prometheus_url or report.get("stack", {}).get("prometheus", ""))
    now = time.time() if now is None else now
    title = f"Alerting drill, {report['started_at']}"
    result = "passed" if report["passed"] else "FAILED"
    sections = "\n".join(scenario_section(r, reader, now) for r in report["scenarios"])
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{_e(title)}</title>\n"
            f"<style>{STYLE}</style>\n</head>\n<body>\n<h1>{_e(title)}</h1>\n"
            f"<p>Result: <strong>{result}</strong> ({len(report['scenarios'])} scenarios, "
            f"{report['duration_seconds']:.0f} s). Each plot: the scenario's dashboard panel from Prometheus, "
            "the fault window shaded, red where the signal was detected, green where it resolved, and for an "
            "alert its own expression against its threshold.</p>\n"
            f"{summary_table(report)}\n{sections}\n</body>\n</html>\n")
