"""The inbox's alert graphs without a Prometheus: the SVG renderer (series in, SVG out), the reading of an
alert's expression and window, and the page when Prometheus is missing. With a real Prometheus and a real
browser: tests/stack/test_inbox_graphs.py."""
import re
import time
from urllib.parse import quote

import pytest

from app.common import graph_svg
from app.common.promql import first_comparison
from app.inbox import create_app, graphs
from grafana.thresholds import alert_threshold
from processes.ports import free_port
from tests.helpers.alert_payloads import alert, payload
from tests.helpers.metrics_reading import sample
from tests.unit.test_inbox import authorised_client


def attributes(svg):
    """The <svg> element's data attributes."""
    head = svg[:svg.index(">")]
    return dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', head))


def graph(**changes):
    """A graph of two series over [1000, 1300], step 30, threshold 0.8, firing from 1150 to 1300."""
    series = [graph_svg.Series('up{job="a"}', [(t, 0.5) for t in range(1000, 1301, 30)]),
              graph_svg.Series('up{job="b"}', [(t, 0.9) for t in range(1000, 1301, 30)])]
    return graph_svg.Graph(**{"series": series, "start": 1000, "end": 1300, "step": 30, "threshold": 0.8,
                              "firing": (1150, 1300), "caption": "up", **changes})


def test_render_plots_every_series_and_says_what_it_plotted():
    svg = graph_svg.render(graph())
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert attributes(svg) == {"data-series-count": "2", "data-points": "22", "data-start": "1000",
                               "data-end": "1300", "data-firing-start": "1150", "data-firing-end": "1300",
                               "data-firing-points": "12", "data-threshold": "0.8"}
    assert svg.count('<polyline class="series"') == 2
    assert len(re.search(r'<polyline class="series" points="([^"]*)"', svg).group(1).split()) == 11


def test_render_draws_the_threshold_between_the_series_and_shades_the_firing_interval():
    svg = graph_svg.render(graph())
    threshold_y = float(re.search(r'<line class="threshold"[^>]* y1="([0-9.]+)"', svg).group(1))
    low_y, high_y = (float(re.search(r'points="[0-9.]+,([0-9.]+)', line).group(1))
                     for line in re.findall(r"<polyline[^>]*>", svg))
    assert high_y < threshold_y < low_y  # SVG's y grows downwards: 0.9 above 0.8 above 0.5
    shade = re.search(r'<rect class="firing" x="([0-9.]+)" y="[0-9.]+" width="([0-9.]+)"', svg)
    left, width = float(shade.group(1)), float(shade.group(2))
    assert left == pytest.approx(graph_svg.LEFT + (graph_svg.WIDTH - graph_svg.LEFT - graph_svg.RIGHT) / 2, abs=0.2)
    assert left + width == pytest.approx(graph_svg.WIDTH - graph_svg.RIGHT, abs=0.2)


def test_render_clips_a_firing_interval_that_began_before_the_window():
    assert attributes(graph_svg.render(graph(firing=(0, 1200))))["data-firing-start"] == "1000"


def test_render_without_threshold_or_firing_draws_neither():
    svg = graph_svg.render(graph(threshold=None, firing=None))
    assert 'class="threshold"' not in svg and 'class="firing"' not in svg
    assert attributes(svg)["data-threshold"] == "" and attributes(svg)["data-firing-points"] == "0"


def test_render_splits_a_line_where_samples_are_missing_and_drops_values_it_cannot_draw():
    points = [(1000, 1.0), (1030, float("nan")), (1060, 2.0), (1090, 2.0), (1240, float("inf")), (1270, 1.0)]
    svg = graph_svg.render(graph(series=[graph_svg.Series("x", points)]))
    assert attributes(svg)["data-points"] == "4"
    assert svg.count("<polyline") == 3  # 1000 | 1060-1090 | 1270: gaps of more than a step and a half


def test_render_of_no_data_says_so_and_is_still_a_graph():
    svg = graph_svg.render(graph(series=[]))
    assert attributes(svg)["data-series-count"] == "0" and "No samples in this window." in svg
    flat = graph_svg.render(graph(series=[graph_svg.Series("x", [(1000, 3.0)])], threshold=None))
    assert "nan" not in flat.lower() and attributes(flat)["data-points"] == "1"


def test_render_escapes_every_text_that_came_from_outside():
    hostile = '"><script>alert(1)</script><x a="'
    svg = graph_svg.render(graph(series=[graph_svg.Series(hostile, [(1000, 1.0)])], caption=hostile))
    assert "<script" not in svg and '"><' not in svg.replace('"><title>', "").replace('"><polyline', "")
    assert "&lt;script&gt;" in svg and "&quot;" in svg
    assert "<script" not in graph_svg.placeholder(hostile)


def test_the_plotted_side_and_threshold_come_from_the_expression():
    assert graphs.plan("job:shop_http_request_utilisation:ratio_rate1m > 0.8") == (
        "job:shop_http_request_utilisation:ratio_rate1m", 0.8, "job:shop_http_request_utilisation:ratio_rate1m")
    assert graphs.plan('up{job=~"a|b"} == 0')[:2] == ('up{job=~"a|b"}', 0)
    assert graphs.plan('x{path=">1"} < 2 and on () y > 0.05')[:2] == ('x{path=">1"}', 2)
    query, threshold, caption = graphs.plan("max(rate(x[1m]) > 0.1)")
    assert (query, threshold) == ("max(rate(x[1m]) > 0.1)", None) and "could not be separated" in caption
    assert graphs.plan("vector(1)")[1] is None


def comparing_alerts():
    """(name, expression) of every hand-written alert that compares with a number."""
    import yaml

    from grafana.thresholds import ALERT_SOURCES
    return [(rule["alert"], rule["expr"]) for path in ALERT_SOURCES
            for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]
            if "alert" in rule and first_comparison(rule["expr"]) is not None]


def test_the_inbox_and_the_dashboards_read_the_same_threshold():
    alerts = comparing_alerts()
    assert len(alerts) >= 10
    for name, expression in alerts:
        assert graphs.plan(expression)[1] == alert_threshold(name), name


def test_every_alert_of_ours_plots_its_own_series_not_its_boolean():
    for name, expression in comparing_alerts():
        query, _, caption = graphs.plan(expression)
        assert query != expression and "could not be separated" not in caption, name


def test_the_expression_is_read_from_the_generator_url():
    url = "http://prometheus:9090/graph?g0.expr=" + quote('up{job="shop"} == 0') + "&g0.tab=1"
    assert graphs.expression_of(url) == 'up{job="shop"} == 0'
    assert graphs.expression_of("") is None
    assert graphs.expression_of("http://prometheus:9090/graph?g0.tab=1") is None
    assert graphs.expression_of("http://p/graph?g0.expr=" + "x" * (graphs.MAX_EXPRESSION_CHARS + 1)) is None


def test_the_window_is_the_last_half_hour_and_a_resolved_alert_keeps_its_end_in_view():
    now = 1_714_560_000.0 + 7
    firing = {"status": "firing", "startsAt": "2024-05-01T10:30:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z"}
    start, end, (shade_from, shade_to) = graphs.window(firing, now)
    assert (end, end - start) == (1_714_560_000, graphs.WINDOW_SECONDS)
    assert shade_from == pytest.approx(1_714_559_400.123456) and shade_to == now
    resolved = {**firing, "status": "resolved", "endsAt": "2024-05-01T09:00:00Z"}
    start, end, (_, shade_to) = graphs.window(resolved, now)
    assert shade_to == 1_714_554_000 and end == shade_to + graphs.RESOLVED_TAIL_SECONDS


def test_the_cache_is_bounded_and_keeps_the_most_recently_used():
    cache = graphs.GraphCache(entries=2)
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.get("a") == "A"
    cache.put("c", "C")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("A", None, "C")


def test_a_failure_is_remembered_for_the_backoff_only():
    now = [100.0]
    cache = graphs.GraphCache(clock=lambda: now[0])
    cache.failed("Prometheus is unreachable.")
    assert cache.recent_failure() == "Prometheus is unreachable."
    now[0] += graphs.BACKOFF_SECONDS + 0.1
    assert cache.recent_failure() is None


@pytest.mark.parametrize("prometheus_url", ["", "unreachable"])
def test_the_page_shows_a_placeholder_when_prometheus_is_missing(tmp_path, prometheus_url):
    url = f"http://127.0.0.1:{free_port()}" if prometheus_url == "unreachable" else ""
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "inbox"), "WEBHOOK_TOKEN": "t",
                      "PROMETHEUS_URL": url})
    client = authorised_client(app)
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer t"
    body = payload(*(alert(f"ShopTargetDown{i}") for i in range(5)))
    assert client.post("/webhook", json=body).status_code == 200
    started = time.monotonic()
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    placeholders = re.findall(r'<svg class="graph placeholder".*?</svg>', page, re.S)
    assert len(placeholders) == 5
    expected = "No Prometheus is configured" if not url else f"Prometheus is unreachable at {url}."
    assert all(expected in svg for svg in placeholders)
    assert time.monotonic() - started < 2, "one failure is enough to stop asking Prometheus on this page"


def test_an_alert_without_an_expression_gets_a_placeholder_that_says_so(client):
    assert client.post("/webhook", json=payload({**alert(), "generatorURL": ""})).status_code == 200
    assert "came without a Prometheus expression" in client.get("/").get_data(as_text=True)


@pytest.fixture
def client(tmp_path):
    """An inbox whose Prometheus is not configured."""
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "inbox"), "WEBHOOK_TOKEN": "t",
                      "PROMETHEUS_URL": ""})
    client = authorised_client(app)
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer t"
    return client


def test_an_unreachable_prometheus_is_counted_once_per_backoff(tmp_path):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "inbox"), "WEBHOOK_TOKEN": "t",
                      "PROMETHEUS_URL": f"http://127.0.0.1:{free_port()}"})
    client = authorised_client(app)
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer t"
    assert client.post("/webhook", json=payload(*(alert(f"A{i}") for i in range(3)))).status_code == 200
    before = sample("inbox_graph_queries_total", outcome="unreachable")
    assert client.get("/").status_code == 200 and client.get("/").status_code == 200
    assert sample("inbox_graph_queries_total", outcome="unreachable") - before == 1
    exposed = client.get("/metrics").get_data(as_text=True)
    assert 'inbox_graph_queries_total{outcome="not_configured"}' in exposed  # every outcome, from zero


def test_a_graph_that_cannot_be_drawn_is_a_placeholder_not_a_broken_page(tmp_path):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "inbox"), "PROMETHEUS_URL": ""})
    broken = {"id": 1, "status": "firing", "startsAt": "yesterday", "endsAt": "0001-01-01T00:00:00Z",
              "generatorURL": "http://prometheus:9090/graph?g0.expr=up"}
    with app.app_context():
        svg = str(graphs.alert_graph(broken))
    assert 'class="graph placeholder"' in svg and "could not be drawn (ValueError)" in svg
