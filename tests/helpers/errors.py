"""What every error answer of our services must be: its status, its error code, and a sentence."""
import re


def assert_error(response, status, code):
    """A JSON error with this status and error code, and a message that is a sentence (ends with a full stop).

    Works with a Flask test response and with a `requests` response.
    """
    body = response.get_json() if hasattr(response, "get_json") else response.json()
    assert response.status_code == status and isinstance(body, dict) and body.get("error") == code, (
        f"expected {status} {code}, got {response.status_code} {body}")
    assert re.match(r"^\S.*[.!?]$", body.get("message", ""), re.S), (
        f"the {code} message is not a sentence: {body.get('message')!r}")
    return body
