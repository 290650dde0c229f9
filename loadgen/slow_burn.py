"""Why an SLO ticket can arrive after Stop and stay firing for minutes: the words and the numbers.

An SLO burn alert fires while both its long and its short window burn the
error budget faster than its burn rate. After Stop the short window forgets
the fault first, within its own length, and that resolves the alert; the long
window keeps it for much longer (the SLO dashboard shows it). A page
(critical) inhibits the ticket (warning) of the same SLO in Alertmanager
(alertmanager/alertmanager.yml), so a ticket that fired from the same fault
is only notified once the pages have resolved: after Stop. docs/runbooks.md
("SLO alerts in general") and the README's tour say the same.

The numbers are copies of the loaded profile of prometheus/slo/slos.yml (the
load generator's image carries no prometheus/); tests/unit/loadgen/test_story.py
holds them to prometheus.slo.spec.
"""
from loadgen.catalog import Scenario

# The SLO burn alerts (prometheus/slo/slos.yml: slos[].alert).
SLO_ALERTS = ("ShopAvailabilityBudgetBurn", "ShopLatencyBudgetBurn", "ShopCheckoutBudgetBurn")
# The loaded profile and its (long, short) windows per severity, in seconds.
PROFILE = "demo"
PAGE_WINDOWS = ((240, 20), (1440, 120))
TICKET_WINDOWS = ((5760, 480), (17280, 1440))


def has_slo_alerts(scenario: Scenario) -> bool:
    """Whether an SLO burn alert is expected or tolerated for the scenario."""
    return bool(set(SLO_ALERTS) & set(scenario.expected_alerts + scenario.tolerated_alerts))


def _minutes(seconds: int) -> str:
    """20 s, 2 min, 96 min."""
    return f"{seconds // 60} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds} s"


def _windows(pairs: tuple[tuple[int, int], ...]) -> str:
    return " and ".join(f"{_minutes(long)}/{_minutes(short)}" for long, short in pairs)


def explanation() -> str:
    """The paragraph the console shows under the story of a scenario with SLO burn alerts."""
    last_page = max(short for _, short in PAGE_WINDOWS)
    tickets = " or ".join(f"{_minutes(short)} (the {_minutes(long)} ticket)" for long, short in TICKET_WINDOWS)
    return (f"SLO burn alerts outlive Stop by design (profile {PROFILE}). A page (critical, windows "
            f"{_windows(PAGE_WINDOWS)}) resolves once its short window has forgotten the fault: within about "
            f"{_minutes(last_page)} of Stop. While a page fires, Alertmanager holds back the warning tickets of the "
            f"same SLO, which the same fault set off; so a ticket (windows {_windows(TICKET_WINDOWS)}) may first "
            f"arrive after Stop, about {_minutes(last_page)} after it, when the pages have resolved. It then stays "
            f"firing until its short window has forgotten the fault too: up to about {tickets} after Stop, while its "
            "long window remembers the budget spent for longer still. Stop worked: this is a slow-burn ticket "
            "saying how much budget the fault cost.")
