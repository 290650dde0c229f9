"""Small statistics for noisy machines: medians, nearest-rank percentiles, rounding."""
import math
import statistics


def median(values):
    """The median, or None for no values."""
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def percentile(values, fraction):
    """The nearest-rank percentile (0 < fraction <= 1), or None for no values."""
    ordered = sorted(v for v in values if v is not None)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def spread(values):
    """(min, max) of the values, to show how noisy a median is."""
    values = [v for v in values if v is not None]
    return (min(values), max(values)) if values else (None, None)


def rounded(value, digits=3):
    """Round for the JSON report, keeping None."""
    return None if value is None else round(value, digits)
