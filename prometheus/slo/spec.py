"""Read and check the SLO spec (slos.yml): SLOs, burn-rate alert windows, profiles.

Everything the generator needs is computed here, so rendering is only text:
each profile's windows (the 30-day windows divided by its compression factor),
its budget period, and every SLO's selectors with the shared matchers filled in.
"""
import re
import string
from dataclasses import dataclass
from pathlib import Path

import yaml

SPEC_PATH = Path(__file__).with_name("slos.yml")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"^(\d+)([dhms])$")


class SpecError(ValueError):
    """The SLO spec is inconsistent; the message says where."""


def parse_duration(text):
    """Seconds in a single-unit duration such as "5m" or "30d"."""
    match = _DURATION.match(str(text))
    if not match:
        raise SpecError(f"{text!r} is not a duration like 20s, 5m, 1h or 30d.")
    return int(match.group(1)) * _UNITS[match.group(2)]


def format_duration(seconds):
    """The shortest single-unit PromQL duration for a whole number of seconds (96 minutes -> "96m")."""
    for unit, size in _UNITS.items():
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise SpecError(f"{seconds} is not a whole number of seconds.")


@dataclass(frozen=True)
class BurnRateAlert:
    """One row of the SRE workbook table, with the windows of one profile."""
    severity: str
    long: str
    short: str
    burn_rate: float
    budget_spent: float  # share of the period's budget spent when the long window fires


@dataclass(frozen=True)
class Profile:
    """A window profile: the workbook windows divided by `compression`."""
    name: str
    compression: int
    description: str
    period: str
    alerts: tuple

    @property
    def windows(self):
        """Every distinct window the alerts need, shortest first."""
        return sorted({w for a in self.alerts for w in (a.long, a.short)}, key=parse_duration)


@dataclass(frozen=True)
class Slo:
    """One objective: bad events are `errors`, or total minus `good`."""
    name: str
    alert: str
    objective: float
    description: str
    total: str
    errors: str | None = None
    good: str | None = None

    @property
    def budget(self):
        """The allowed share of bad events, e.g. 0.005 for 99.5 %."""
        return round(1 - self.objective, 10)


@dataclass(frozen=True)
class Spec:
    """The whole spec, checked."""
    slos: tuple
    profiles: dict
    default_profile: str


def _scale(seconds, compression, min_seconds, what):
    """Divide a window by the compression factor, refusing fractions and too-short windows."""
    if seconds % compression:
        raise SpecError(f"{what} of {format_duration(seconds)} does not divide by {compression} into whole seconds.")
    scaled = seconds // compression
    if scaled < min_seconds:
        raise SpecError(f"{what} becomes {scaled}s, shorter than min_window ({min_seconds}s).")
    return scaled


def _profile(name, raw, doc):
    """Build one profile's windows from the 30-day table."""
    compression = int(raw["compression"])
    min_seconds = parse_duration(doc["min_window"])
    period = parse_duration(doc["period"])
    alerts = []
    for row in doc["burn_rate_alerts"]:
        long = _scale(parse_duration(row["long"]), compression, min_seconds, f"profile {name}: window {row['long']}")
        short = _scale(parse_duration(row["short"]), compression, min_seconds, f"profile {name}: window {row['short']}")
        if short >= long:
            raise SpecError(f"Alert window {row['long']}/{row['short']}: the short window must be shorter.")
        if row["severity"] not in ("critical", "warning", "info"):
            raise SpecError(f"Severity {row['severity']!r} is not critical, warning or info.")
        spent = round(row["burn_rate"] * parse_duration(row["long"]) / period, 4)
        alerts.append(BurnRateAlert(row["severity"], format_duration(long), format_duration(short),
                                    float(row["burn_rate"]), spent))
    return Profile(name, compression, raw["description"],
                   format_duration(_scale(period, compression, min_seconds, f"profile {name}: period")), tuple(alerts))


def _slo(raw, matchers):
    """Build one SLO, filling `${matcher}` placeholders."""
    try:
        fill = {key: string.Template(raw[key]).substitute(matchers) if raw.get(key) else None
                for key in ("errors", "good", "total")}
    except KeyError as unknown:
        raise SpecError(f"SLO {raw['name']} uses the matcher {unknown}, which `matchers` does not define.") from None
    if (fill["errors"] is None) == (fill["good"] is None):
        raise SpecError(f"SLO {raw['name']} must have exactly one of `errors` or `good`.")
    if not 0.5 < float(raw["objective"]) < 1:
        raise SpecError(f"SLO {raw['name']} has objective {raw['objective']}; use a ratio such as 0.995.")
    return Slo(raw["name"], raw["alert"], float(raw["objective"]), raw["description"], **fill)


def load(path=SPEC_PATH):
    """Read and check the spec file."""
    doc = yaml.safe_load(Path(path).read_text())
    try:
        slos = tuple(_slo(raw, doc.get("matchers", {})) for raw in doc["slos"])
        profiles = {str(name): _profile(str(name), raw, doc) for name, raw in doc["profiles"].items()}
    except KeyError as missing:
        raise SpecError(f"The SLO spec {path} lacks the key {missing}.") from None
    if len({slo.name for slo in slos}) != len(slos):
        raise SpecError("Two SLOs in the spec share a name.")
    if doc["default_profile"] not in profiles:
        raise SpecError(f"default_profile {doc['default_profile']!r} is not one of the profiles.")
    return Spec(slos, profiles, doc["default_profile"])


def loaded_profile(spec=None):
    """The profile the stack loads: prometheus.yml names its rule file (held to default_profile by
    tests/config/test_prometheus_rules.py)."""
    spec = spec or load()
    return spec.profiles[spec.default_profile]


def retention_problem(retention, profile):
    """Why a TSDB retention (e.g. "7d") cannot hold a profile's budget period, or None when it can.

    The period's error ratio is `rate(...[<period>])` over the raw series (slo:sli_error:ratio_rate<period>):
    with less on disk, "error budget remaining" silently covers only what is left.
    """
    if parse_duration(retention) < parse_duration(profile.period):
        return (f"A retention of {retention} cannot hold the {profile.name} profile's budget period of "
                f"{profile.period}; keep at least {profile.period}.")
    return None
