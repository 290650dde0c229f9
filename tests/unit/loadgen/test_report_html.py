"""The drill's HTML report: summary table, one inlined PNG per expected signal, escaping, placeholders.

Prometheus here is a small real HTTP server answering the two APIs the report
reads (query_range, rules) with made-up curves; "unreachable" is a loopback
port nothing listens on.
"""
import base64
import io
import json
import time
from html.parser import HTMLParser

import pytest
from flask import Flask, jsonify, request
from PIL import Image

from loadgen import cli, report, report_data
from loadgen.catalog import PIPELINE_BROKEN, load_catalog
from loadgen.config import Urls
from loadgen.drill import DrillSettings
from loadgen.report_figures import DPI, HEIGHT_INCHES, WIDTH_INCHES, Marks, png_size, render_png
from processes.ports import free_port
from tests.helpers.servers import ThreadedServer

T0 = time.time() - 1800
HOSTILE = "<script>alert('title')</script> & \"quotes\""
RULES = {"ShopOrdersDropped": 'job:shop_orders_per_placed_checkout:ratio_rate1m < 0.8\nand on (job)\n'
                              'job_outcome:shop_checkouts:rate1m{outcome="placed"} > 0.05\n',
         "ShopPaymentsErrorRatioHigh": 'job_peer:shop_dependency_errors:ratio_rate1m{peer="payments"} > 0.1',
         "ShopCheckoutBudgetBurn": 'slo:sli_error:ratio_rate4m{slo="checkout"} > (14.4 * 0.01)\nand\n'
                                   'slo:sli_error:ratio_rate20s{slo="checkout"} > (14.4 * 0.01)\n'}


def fake_prometheus(asked):
    """Prometheus's query_range (a ramp per query, labelled) and rules APIs; `asked` collects the queries."""
    app = Flask("fake_prometheus")

    @app.get("/api/v1/query_range")
    def query_range():
        asked.append(request.args["query"])
        start, end, step = (float(request.args[k]) for k in ("start", "end", "step"))
        values = [[start + i * step, str(i / 100)] for i in range(int((end - start) / step) + 1)]
        series = [{"metric": {"__name__": "x", "route": "/checkout", "outcome": "failed"}, "values": values}]
        return jsonify(status="success", data={"resultType": "matrix", "result": series})

    @app.get("/api/v1/rules")
    def rules():
        listed = [{"type": "alerting", "name": name, "query": query} for name, query in RULES.items()]
        return jsonify(status="success", data={"groups": [{"name": "shop", "rules": listed}]})
    return app


def result(name, detected, resolved, **changes):
    """A judged result of a catalog scenario, triggered at T0 and cleared 60 s later."""
    scenario = report.empty_result(load_catalog()[name])
    scenario.update(triggered_at=T0, cleared_at=T0 + 60, detected=detected, resolved=resolved,
                    baseline_quiet=True, **changes)
    return report.judge(scenario)


def drill_report(prometheus):
    """Three scenarios (four signals): two alerts, one alert, and the dead man's switch (no alert)."""
    results = [result("payments-errors", {"ShopPaymentsErrorRatioHigh": 20.0, "ShopCheckoutBudgetBurn": 30.0},
                      {"ShopPaymentsErrorRatioHigh": 15.0, "ShopCheckoutBudgetBurn": 25.0}),
               result("checkout-silent-failure", {"ShopOrdersDropped": 35.0}, {"ShopOrdersDropped": None},
                      title=HOSTILE, fired=["ShopOrdersDropped <b>{severity=\"warning\"}</b>"]),
               result("alerting-pipeline-broken", {PIPELINE_BROKEN: 70.0}, {PIPELINE_BROKEN: 10.0})]
    built = report.build_report(results, Urls(prometheus=prometheus), T0 - 10, DrillSettings())
    return json.loads(json.dumps(built))


class Page(HTMLParser):
    """What the tests look at in the page: summary rows, figures, images, placeholders, external references."""

    def __init__(self, text):
        super().__init__()
        self.rows, self.figures, self.images, self.placeholders, self.external = 0, 0, [], [], []
        self._in_summary = self._in_placeholder = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self._in_summary |= attrs.get("id") == "summary"
        self.rows += tag == "tr" and attrs.get("class") == "scenario-row" and self._in_summary
        self.figures += tag == "figure"
        if tag == "img":
            self.images.append(attrs["src"])
        if tag in ("link", "script", "iframe") or "href" in attrs and not attrs["href"].startswith("#"):
            self.external.append(tag)
        self._in_placeholder = attrs.get("class") == "placeholder"

    def handle_endtag(self, tag):
        self._in_summary &= tag != "table"

    def handle_data(self, data):
        if self._in_placeholder:
            self.placeholders.append(data)
            self._in_placeholder = False


def decoded(source):
    """The PNG of a data: URL."""
    assert source.startswith("data:image/png;base64,"), source[:40]
    return base64.b64decode(source.split(",", 1)[1], validate=True)


def test_html_report_has_the_summary_and_one_inlined_plot_per_expected_signal(tmp_path):
    asked = []
    with ThreadedServer(fake_prometheus(asked)) as prometheus:
        built = drill_report(prometheus.url)
        report.write(built, "html", str(tmp_path / "drill.html"))
    text = (tmp_path / "drill.html").read_text()
    page = Page(text)
    assert page.rows == len(built["scenarios"]) == 3
    signals = sum(len(s["expected_signals"]) for s in built["scenarios"])
    assert signals == 4 and page.figures == 4 and len(page.images) == 4, page.placeholders
    assert page.placeholders == [] and page.external == []
    for source in page.images:
        png = decoded(source)
        assert png_size(png) == (WIDTH_INCHES * DPI, HEIGHT_INCHES * DPI)
        Image.open(io.BytesIO(png)).verify()
    # The panels' queries as Grafana fills them, and each alert's own expression cut at its comparison.
    assert not [query for query in asked if "$" in query]
    assert 'job_peer:shop_dependency_errors:ratio_rate1m{peer="payments"}' in asked
    assert "job:shop_orders_per_placed_checkout:ratio_rate1m" in asked
    assert "against its threshold 0.8" in text and "against its threshold 0.1" in text
    assert 'slo:sli_error:ratio_rate4m{slo="checkout"}' in asked  # the burn rate's > (14.4 * 0.01)...
    assert "against its threshold 0.144" in text
    assert "| checkout-silent-failure |" not in text and "<td>checkout-silent-failure</td>" in text
    assert "detected 35 s after the trigger, resolved never" in text


def test_every_outside_text_is_escaped(tmp_path):
    with ThreadedServer(fake_prometheus([])) as prometheus:
        text = report_html_text(drill_report(prometheus.url))
    assert "<script" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(&#x27;title&#x27;)&lt;/script&gt; &amp; &quot;quotes&quot;" in text
    assert "&lt;b&gt;{severity=&quot;warning&quot;}&lt;/b&gt;" in text


def report_html_text(built, **options):
    from loadgen import report_html
    return report_html.render(built, **options)


def test_without_prometheus_every_plot_is_a_placeholder_and_the_page_still_renders(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"
    built = drill_report(closed)
    started = time.monotonic()
    report.write(built, "html", str(tmp_path / "drill.html"))
    assert time.monotonic() - started < 10  # a refused connection is not waited for, and not asked again
    page = Page((tmp_path / "drill.html").read_text())
    assert page.rows == 3 and page.images == [] and page.figures == 4
    assert len(page.placeholders) == 4
    assert all(p.startswith("No plot: ") and f"Prometheus is unreachable at {closed}." in p
               for p in page.placeholders), page.placeholders
    assert built["passed"] is False  # the checkout scenario never resolved: the verdict is the JSON's


def test_a_scenario_never_triggered_has_a_placeholder_per_signal():
    built = drill_report(f"http://127.0.0.1:{free_port()}")
    built["scenarios"][0].update(triggered_at=None, cleared_at=None)
    page = Page(report_html_text(built))
    assert page.placeholders[:2] == ["No plot: the scenario was never triggered."] * 2


def test_matplotlib_draws_a_png_with_both_axes_and_the_marks():
    points = tuple((T0 + t, t / 60) for t in range(-120, 300, 5))
    plot = report_data.Plot(T0 - 120, T0 + 300, [report_data.Line("p90 charge", points)],
                            [report_data.Line("ratio", points)], "ratio", 0.5, answered=True)
    png = render_png(plot, Marks("ShopPaymentsErrorRatioHigh: detected 20 s", T0, T0 + 60, T0 + 20, T0 + 75))
    assert png_size(png) == (900, 420)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and len(image.convert("RGB").getcolors(maxcolors=1 << 20)) > 10  # not a blank canvas
    with pytest.raises(ValueError, match="Not a PNG"):
        png_size(b"GIF89a" + png[6:])


def test_legends_fill_grafana_templates_and_windows_span_the_scenario():
    text = 'x{operation="charge", outcome="failed"}'
    assert report_data.legend("p90 {{operation}}", text) == "p90 charge"
    assert report_data.legend("{{ outcome }}/{{missing}}", text) == "failed/"
    assert report_data.legend("__auto", text) == report_data.legend("", text) == text
    scenario = result("checkout-silent-failure", {"ShopOrdersDropped": 35.0}, {"ShopOrdersDropped": 12.0})
    assert report_data.window(scenario, now=T0 + 10_000) == (T0 - 120, T0 + 60 + 12 + 60)
    never = result("checkout-silent-failure", {"ShopOrdersDropped": 35.0}, {"ShopOrdersDropped": None})
    assert report_data.window(never, now=T0 + 10_000) == (T0 - 120, T0 + 60 + 300 + 60)
    assert report_data.window(dict(scenario, triggered_at=None), now=T0) is None


def test_constant_thresholds_are_folded_so_the_comparison_can_be_cut_strings_kept():
    burn = 'slo:e{slo="x (1 * 2)"} > (14.4 * 0.01)\nand\nslo:f > (6 / 0.5)'
    assert report_data.fold_constants(burn) == 'slo:e{slo="x (1 * 2)"} > 0.144\nand\nslo:f > 12'
    assert report_data.fold_constants("a > (1 / 0)") == "a > (1 / 0)"


def test_report_html_command_renders_a_saved_report_again(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"
    report.write(drill_report(closed), "json", str(tmp_path / "drill.json"))
    assert cli.main(["report-html", str(tmp_path / "drill.json")]) == 0
    assert Page((tmp_path / "drill.html").read_text()).rows == 3
    (tmp_path / "broken.json").write_text("[1, 2]")
    assert cli.main(["report-html", str(tmp_path / "broken.json"), "--output", str(tmp_path / "b.html")]) == 2
    assert not (tmp_path / "b.html").exists()
