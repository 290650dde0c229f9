"""Strict parsing of what clients send: ASCII digits, finite numbers, JSON objects of valid text.

Python is generous where a service must not be: `str.isdigit()` is true for
"²" (which `int()` then refuses: a 500), `int()` and `float()` take Arabic-Indic
and full-width digits, "1_000", surrounding spaces, "nan" and "inf", a regex
`$` matches before a trailing newline, and `json.loads` takes `NaN`, lone
surrogates (which fail later, when stored) and nests until RecursionError.
Every parser here accepts exactly the ASCII forms and turns everything else
into None or a 400, so bad input is a clear 4xx and never reaches the code
that would choke on it.
"""
import json
import math
import re
from typing import Any

from flask import request
from werkzeug.routing import IntegerConverter

from app.common.errors import ApiError

_DIGITS = re.compile(r"[0-9]{1,18}")  # 18 digits always fit a signed 64-bit integer
# A plain decimal, as Python and JavaScript print numbers: "1700000000.25", "1e+20", "1.5e-05".
_NUMBER = re.compile(r"[0-9]{1,30}(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,3})?")
CARD_NUMBER = re.compile(r"[0-9]{12,19}")


def ascii_int(text: str) -> int | None:
    """The whole number spelled by `text` in ASCII digits (no sign, spaces or underscores), else None."""
    return int(text) if isinstance(text, str) and _DIGITS.fullmatch(text) else None


def ascii_number(text: str) -> float | None:
    """The finite non-negative number spelled by `text` in ASCII (e.g. "1700000000.25"), else None."""
    if not isinstance(text, str) or not _NUMBER.fullmatch(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def digits_or_none(value: Any) -> Any:
    """A form or JSON value on its way to a number check: strings of ASCII digits become ints,
    other strings None (so the check rejects them with its own message), anything else is passed on."""
    return ascii_int(value) if isinstance(value, str) else value


def is_card_number(value: Any) -> bool:
    """True for 12 to 19 ASCII digits and nothing else (not even a trailing newline)."""
    return isinstance(value, str) and CARD_NUMBER.fullmatch(value) is not None


def card_number_or_none(value: Any) -> str | None:
    """The card number if it is exactly 12 to 19 ASCII digits, else None (which checkout rejects with 400).

    The shop checks this before its own checkout does, so that anything payments would refuse
    (a trailing newline, full-width digits) is the customer's typo (400), not a payments failure (502).
    """
    return value if is_card_number(value) else None


def is_finite_number(value: Any) -> bool:
    """True for an int or a finite float (not a bool, NaN or infinity)."""
    if isinstance(value, bool):
        return False
    # An int is always finite (and math.isfinite would overflow on a huge one).
    return isinstance(value, int) or isinstance(value, float) and math.isfinite(value)


class AsciiIntConverter(IntegerConverter):
    """The `<int:...>` URL converter, ASCII digits only (Werkzeug's matches any Unicode digit)."""

    regex = r"[0-9]+"


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a finite number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is too large")
    return number


def _has_lone_surrogate(value: Any) -> bool:
    """True if any string (key or value) in a parsed JSON document cannot be encoded as UTF-8."""
    pending = [value]  # a loop, not recursion: the document may be nested close to the parser's limit
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def json_object_body() -> dict[str, Any]:
    """The request body as a JSON object (whatever the Content-Type says), or a 400 that says why.

    A body over the app's MAX_CONTENT_LENGTH is a 413 (Werkzeug raises it while reading).
    """
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise ApiError(400, "invalid_json", "The request body is nested too deeply to be read.") from None
    except ValueError:  # also UnicodeDecodeError and an integer too long to convert
        raise ApiError(400, "invalid_json",
                       "The request body must be a JSON object of finite numbers and UTF-8 text.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "The request body must be a JSON object.")
    if _has_lone_surrogate(body):
        raise ApiError(400, "invalid_json", "The request body contains text that is not valid Unicode "
                                            "(a lone surrogate escape).")
    return body
