"""An alert expression's comparison: the one place its threshold and its plotted side are read.

An alert's threshold is the number its expression first compares against
(`job:shop_http_request_utilisation:ratio_rate1m > 0.8`); later comparisons
(`and on (job) ... > 0.05`) are guards that keep it quiet without traffic.
The Grafana dashboards (grafana/thresholds.py) draw that number from the rule
files; the inbox's graphs (app/inbox/graphs.py) draw it from the expression an
alert arrives with. Both read it here, so they cannot disagree. This lives in
app/ because the services' image carries app/ only.
"""
import re
from dataclasses import dataclass

NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
COMPARISON = re.compile(rf"(?:>=|<=|==|!=|>|<)\s*(?:bool\s+)?({NUMBER})(?![\w.:])")
# Label values and regexes may hold any bracket; they are blanked before brackets are counted.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_PAIRS = {")": "(", "]": "[", "}": "{"}


@dataclass(frozen=True)
class Comparison:
    """The first `<series> OP <number>` of an expression: its left-hand side (None if not a whole
    expression on its own) and the number."""
    left: str | None
    threshold: float | int


def number(text: str) -> float | int:
    """A PromQL number as Python writes it in JSON and text: 300, not 300.0."""
    value = float(text)
    return int(value) if value.is_integer() else value


def balanced(expression: str) -> bool:
    """Whether every bracket of `expression` (outside strings) closes, in order."""
    stack = []
    for char in _STRING.sub('""', expression):
        if char in "([{":
            stack.append(char)
        elif char in _PAIRS:
            if not stack or stack.pop() != _PAIRS[char]:
                return False
    return not stack


def first_comparison(expression: str) -> Comparison | None:
    """The expression's first comparison with a number, or None if it compares nothing with one.

    The left-hand side is everything before the operator; it is kept only when it stands alone
    (`max(rate(x[1m]) > 0.1)` leaves `max(rate(x[1m])`, which is not an expression)."""
    match = COMPARISON.search(_STRING.sub(lambda m: "_" * len(m.group(0)), expression))
    if not match:
        return None
    left = expression[:match.start()].strip()
    return Comparison(left if left and balanced(left) else None, number(match.group(1)))
