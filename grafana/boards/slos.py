"""SLOs: per SLO the SLI, burn rate per window, error budget left, and the active window profile.

Question it answers: are we keeping our promises to customers, how fast are we
spending the error budget, and will a burn-rate alert page? Built from the SLO
spec (prometheus/slo/slos.yml) that also generates the rules, so objectives,
windows and burn-rate thresholds are the ones Prometheus evaluates.
"""
from grafana import model
from grafana.common import RATE
from prometheus.slo import render
from prometheus.slo import spec as slo_spec

PROFILE = 'profile=~"$profile"'
SEVERITY_COLORS = {"critical": "red", "warning": "orange", "info": "blue"}


def sli(slo, window):
    """The share of good events over a window, from the same error-ratio PromQL the rules use (on one line)."""
    return "1 - (" + " ".join(render.ratio_expr(slo, window).split()) + ")"


def burn_rates(spec):
    """(burn rate, severity) of every alert window, lowest first."""
    return sorted({alert.burn_rate: alert.severity for p in spec.profiles.values() for alert in p.alerts}.items())


def burn_rate_list(spec):
    """The alerts' burn rates for people: "1, 3, 6, 14.4"."""
    return ", ".join(f"{rate:g}" for rate, _ in burn_rates(spec))


def burn_rate_thresholds(spec):
    """The alerts' burn rates as thresholds, coloured by severity."""
    return model.thresholds(*((rate, SEVERITY_COLORS[severity]) for rate, severity in burn_rates(spec)))


def profiles_text(spec, site):
    """Markdown describing each window profile, from the spec, and a link to the runbooks at `site`."""
    lines = ["Burn rate 1 spends exactly the error budget over the budget period; an alert needs both its long "
             "and its short window above its burn rate. Prometheus loads one profile at a time "
             "(prometheus/prometheus.yml names its rule file).", "",
             "| profile | budget period | alert windows (long / short @ burn rate) |", "|---|---|---|"]
    for profile in spec.profiles.values():
        windows = ", ".join(f"{a.long} / {a.short} @ {a.burn_rate:g} ({a.severity})" for a in profile.alerts)
        lines.append(f"| {profile.name} | {profile.period} | {windows} |")
    lines += ["", f"More: [runbooks]({site.runbooks})."]
    return "\n".join(lines)


def header(board, spec, site):
    """The active profile and what the profiles mean."""
    board.row("Window profile")
    board.add(model.stat(
        "Active window profile", "The window profile whose SLO rules Prometheus evaluates (the `profile` "
        "label of the SLO recording rules): demo compresses every window so alerts fire within minutes.",
        [("count by (profile) (slo:objective:ratio{" + PROFILE + "})", "{{profile}}")], "none",
        text_mode="name", graph=False), 6, 6)
    board.add(model.text("Window profiles", "The budget period and alert windows of each profile, from "
                         "prometheus/slo/slos.yml.", profiles_text(spec, site)), 18, 6)
    board.add(model.timeseries(
        "Error budget burn rate", "Burn rate of every SLO over every alert window of the profile (1 = exactly "
        "the budget over the budget period), highest first: which SLO burns, over which window. The rows "
        f"below show each SLO with its alerts' burn rates. Dashed: {burn_rate_list(spec)}.",
        [(f"slo:burn_rate:ratio{{{PROFILE}}}", "{{slo}} {{window}}")], "short", legend_table=True,
        steps=burn_rate_thresholds(spec)), 24, 9)


def slo_row(board, spec, slo):
    """Every panel of one SLO."""
    name = slo.name.capitalize()
    matchers = f'slo="{slo.name}", {PROFILE}'
    board.row(f"{name} SLO: {slo.objective:.1%} of {slo.description}")
    board.add(model.stat(
        f"{name} SLI over the time range", f"Share of good {slo.name} events over the dashboard's time range. "
        f"Red below the objective ({slo.objective:.1%}).", [sli(slo, "$__range")],
        "percentunit", decimals=3, steps=model.thresholds((slo.objective, "green"), base="red")), 8, 5)
    board.add(model.stat(
        f"{name} error budget remaining", "Share of the error budget left over the whole budget period of the "
        "profile (evaluated once a minute). Negative: overspent.",
        [f"slo:error_budget_remaining:ratio{{{matchers}}}"], "percentunit", decimals=1,
        steps=model.thresholds((0, "orange"), (0.25, "green"), base="red")), 8, 5)
    board.add(model.stat(
        f"{name} burn-rate alerts firing", f"{slo.alert} alerts firing now (one per alert window). Above 0 the "
        "budget burns fast enough to page or open a ticket.",
        [f'count (ALERTS{{alertname="{slo.alert}", alertstate="firing"}}) or vector(0)'], "none",
        steps=model.thresholds((1, "red")), graph=False), 8, 5)
    board.add(model.timeseries(
        f"{name} SLI", f"Share of good {slo.name} events over the rate interval, against the objective "
        f"({slo.objective:.1%}, dashed).",
        [(sli(slo, RATE), "SLI"),
         (f"slo:objective:ratio{{{matchers}}}", "objective ({{profile}})")], "percentunit", soft_min=None,
        steps=model.thresholds((slo.objective, "green"), base="red")), 12, 8)
    board.add(model.timeseries(
        f"{name} burn rate per window", "How fast the error budget burns, over each alert window of the "
        f"profile (1 = exactly the budget over the period). Dashed lines: the alerts' burn rates "
        f"({burn_rate_list(spec)}).", [(f"slo:burn_rate:ratio{{{matchers}}}", "{{window}}")], "short",
        steps=burn_rate_thresholds(spec)), 12, 8)


def build(site):
    """The SLO dashboard."""
    spec = slo_spec.load()
    board = model.Board(
        "shop-slos", "Shop: SLOs",
        "Per SLO: the SLI, burn rate per alert window, error budget remaining, and the active window profile.",
        variables=[model.query_variable("profile", "Window profile", "SLO window profile of the loaded rules.",
                                        "label_values(slo:objective:ratio, profile)")])
    header(board, spec, site)
    for slo in spec.slos:
        slo_row(board, spec, slo)
    return board
