"""The one table `make bench` prints: a row per measurement, with its goal and whether it was met."""
from bench import goals

HEADERS = ("part", "measure", "value", "goal", "met")


def _verdict(flag):
    return "-" if flag is None else ("yes" if flag else "NO")


def _ms(value):
    return "-" if value is None else f"{value:g} ms"


def _s(value, missing="-"):
    return missing if value is None else f"{value:.0f} s"


def overhead_rows(result):
    """Part 1."""
    mine, theirs = result["versus_none"]["ours"], result["versus_none"]["flask_exporter"]
    rounds, base = result["settings"]["rounds"], result["variants"]["none"]["cpu_us_per_request"]

    def ratios(r):
        low, high = r["throughput_ratio_from_cpu_spread"]
        wrk_low, wrk_high = r["throughput_ratio_spread"]
        return (f"{r['throughput_ratio_from_cpu']:.3f} ({low:.2f}-{high:.2f}); wrk {r['throughput_ratio']:.2f} "
                f"({wrk_low:.2f}-{wrk_high:.2f})")
    none_instructions = result["variants"]["none"]["instructions_per_request"]

    def added(r):
        added_instructions = r['added_instructions_per_request']
        return f"+{added_instructions:,.0f} ({added_instructions / none_instructions:.1%})"
    return [
        ("1 instrumentation", "throughput vs none implied by instructions per request (callgrind), ours",
         f"{mine['throughput_ratio_from_instructions']:.3f}", f">= {1 - goals.MAX_THROUGHPUT_LOSS:g}",
         _verdict(result["goals"]["ours_loses_at_most_5_percent"])),
        ("", f"added instructions per request (none: {none_instructions:,.0f}), ours vs flask_exporter",
         f"{added(mine)} vs {added(theirs)}", "ours <= exporter",
         _verdict(result["goals"]["ours_costs_no_more_than_exporter"])),
        ("", f"throughput vs none, ours (from CPU per request; median of {rounds} rounds)", ratios(mine), "", ""),
        ("", "throughput vs none, flask_exporter", ratios(theirs), "", ""),
        ("", f"added CPU per request (none: {base:g} us), ours vs flask_exporter",
         f"{mine['added_cpu_us_per_request']:g} us vs {theirs['added_cpu_us_per_request']:g} us", "", ""),
        ("", "added latency per request (p50, 1 connection), ours vs flask_exporter",
         f"{mine['added_latency_p50_us']:g} us vs {theirs['added_latency_p50_us']:g} us", "", ""),
    ]


def scrape_rows(result):
    """Part 2: each row against 25 ms; the last one also against the first after restarts (not growing)."""
    rows, measured = [], result["rows"][1:]
    for index, row in enumerate(measured):
        last = index == len(measured) - 1
        met = goals.scrape_within_goal(row)
        if last:
            met = met and result["goals"]["not_growing_with_restarts"]
        rows.append(("2 scrape" if index == 0 else "", f"/metrics {row['when']} (4 workers, {row['files']} files, "
                     f"{row['series']} series)", f"median {_ms(row['median_ms'])}, p99 {_ms(row['p99_ms'])}",
                     f"<= {goals.SCRAPE_GOAL_MS:g} ms" + (", not growing" if last else ""), _verdict(met)))
    return rows


def _resolve(row):
    if row.get("tickets_only"):
        return "n/a: only slow-burn tickets fired, which resolve with their short window by design"
    return _s(row["resolve_seconds"], "not seen by the drill")


def detection_rows(result):
    """Part 3."""
    rows = []
    quiet = result["quiet_baseline"]
    if quiet:
        noisy = ", ".join(quiet["firing"] + quiet["notifications"]) or "none"
        rows.append(("3 detection", f"false alerts in a {quiet['minutes']:g}-minute quiet baseline", noisy, "none",
                     _verdict(quiet["no_false_alert"])))
    for row in result["alerts"]:
        fire_math = clear_math = ""
        if "error_ratio" in row:
            fire_math = f", SLO math {_s(row['predicted_detect_seconds'])} at error ratio {row['error_ratio']}"
            clear_math = f"; windows that fired: {', '.join(row['windows_fired']) or 'none'}"
        rows.append(("" if rows else "3 detection", f"{row['scenario']}: {row['alert']}",
                     f"detect {_s(row['detect_seconds'], 'not detected')} (floor {_s(row['detect_floor_seconds'])}"
                     f"{fire_math}), resolve {_resolve(row)} "
                     f"(floor {_s(row['resolve_floor_seconds'])}){clear_math}",
                     f"<= {goals.DETECT_GOAL_SECONDS} s, <= {goals.RESOLVE_GOAL_SECONDS} s", _verdict(row["ok"])))
    for scenario, alerts in result["unexpected_alerts"].items():
        rows.append(("", f"{scenario}: also fired", ", ".join(alerts), "", ""))
    return rows


def footprint_rows(result):
    """Part 4."""
    rows = [("4 footprint" if index == 0 else "",
             f"{name} ({m['processes']} process{'es' if m['processes'] > 1 else ''})",
             f"{m['rss_mib']:g} MiB RSS, {m['pss_mib']:g} MiB PSS", "", "")
            for index, (name, m) in enumerate(result["components"].items())]
    rows.append(("", "total of the native stack under baseline traffic",
                 f"{result['total_rss_mib']:g} MiB RSS, {result['total_pss_mib']:g} MiB PSS",
                 f"<= {goals.FOOTPRINT_GOAL_BYTES // 2**20} MiB RSS",
                 _verdict(result["goals"]["within_goal"])))
    return rows


def loadgen_rows(result):
    """Part 5."""
    share = result["settings"]["achieved_share_goal"]
    return [("5 load generator" if index == 0 else "", f"target {r['target_per_second']}/s",
             f"achieved {r['achieved_per_second']:g}/s, {r['cpu_cores']:.2f} cores "
             f"({r['cpu_us_per_journey']:.0f} us CPU per journey)",
             f">= {share * r['target_per_second']:g}/s",
             _verdict(goals.keeps_rate(r["achieved_per_second"], r["target_per_second"])))
            for index, r in enumerate(result["rates"])]


def worker_model_rows(result):
    """Part 6."""
    versus, models = result["gthread_versus_sync"], result["models"]
    settings = result["settings"]
    low, high = versus["throughput_ratio_from_cpu_spread"]
    wrk_low, wrk_high = versus["throughput_ratio_spread"]

    def probe(name):
        seconds = models[name]["healthz_seconds_under_slow_clients"]
        return f"{seconds:g} s" if seconds is not None else f"no answer in {settings['probe_timeout_seconds']:g} s"
    slow = f"/healthz with {settings['slow_connections']} half-sent requests open"
    return [
        ("6 worker model", f"throughput gthread vs sync (from CPU per request; median of {settings['rounds']} rounds)",
         f"{versus['throughput_ratio_from_cpu']:.3f} ({low:.2f}-{high:.2f}); wrk {versus['throughput_ratio']:.2f} "
         f"({wrk_low:.2f}-{wrk_high:.2f})", "", ""),
        ("", f"CPU per request gthread vs sync (sync: {models['sync']['cpu_us_per_request']:g} us)",
         f"{versus['added_cpu_us_per_request']:+g} us", "", ""),
        ("", "latency per request (p50, 1 connection) gthread vs sync", f"{versus['added_latency_p50_us']:+g} us",
         "", ""),
        ("", f"{slow}, gthread (what the services run)", probe("gthread"),
         f"<= {goals.SLOW_CLIENT_HEALTHZ_SECONDS:g} s",
         _verdict(result["goals"]["healthz_within_1_s_under_slow_clients"])),
        ("", f"{slow}, sync (gunicorn's default, for contrast)", probe("sync"), "", ""),
    ]


def inbox_graphs_rows(result):
    """Part 7."""
    settings = result["settings"]
    return [("7 inbox graphs", f"inbox page of {settings['notifications']} notifications with their graphs: "
             f"cold, then warm (median and slowest of {settings['warm_loads']})",
             f"{result['cold_seconds']:.3f} s; {result['warm_median_seconds']:.3f} s, "
             f"{result['warm_max_seconds']:.3f} s", f"<= {goals.INBOX_PAGE_GOAL_SECONDS:g} s",
             _verdict(result["goals"]["page_of_50_within_1_s"]))]


def tracing_rows(result):
    """Part 8."""
    variants, versus = result["variants"], result["versus_none"]
    base = variants["none"]["instructions_per_request"]

    def added(name):
        return f"+{versus[name]['added_instructions_per_request']:,.0f} ({versus[name]['added_share']:.1%})"
    return [
        ("8 tracing", f"added instructions per request (none: {base:,.0f}), ours vs auto, "
         f"sampling ratio {result['settings']['sample_ratio']:g}", f"{added('ours')} vs {added('auto')}",
         "ours <= auto", _verdict(result["goals"]["ours_tracing_costs_no_more_than_auto"])),
        ("", "spans per request, ours vs auto",
         f"{variants['ours']['spans_per_request']:g} vs {variants['auto']['spans_per_request']:g}", "", ""),
    ]


ROWS = {"overhead": overhead_rows, "scrape": scrape_rows, "detection": detection_rows,
        "footprint": footprint_rows, "loadgen": loadgen_rows, "workers": worker_model_rows,
        "inbox_graphs": inbox_graphs_rows, "tracing": tracing_rows}


def rows(parts):
    """Every row of every part that has a result (an "error" entry is shown as such)."""
    out = []
    for name, render in ROWS.items():
        if name not in parts:
            continue
        result = parts[name]
        if "error" in result:
            out.append((name, "could not be measured", result["error"][:100], "", "NO"))
        else:
            out.extend(render(result))
    return out


def text(table_rows):
    """A plain-text table."""
    body = [HEADERS] + list(table_rows)
    widths = [max(len(str(row[i])) for row in body) for i in range(len(HEADERS))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in body]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown(table_rows):
    """The same table in Markdown."""
    escape = lambda cell: str(cell).replace("|", "\\|")  # noqa: E731 - a one-off cell escaper
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(escape(cell) for cell in row) + " |" for row in table_rows]
    return "\n".join(lines)
