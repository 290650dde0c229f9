"""Fuzzing the shop's JSON API (schemathesis, from the spec at /api/openapi.json) and payments' API
(from /openapi.json) on a real gunicorn.

Every operation gets schema-valid and schema-invalid requests; schemathesis's
checks (no server error, documented status codes, content types and response
schemas, valid data accepted, invalid data rejected) run with one of our own:
every error is a JSON object with a code and a whole-sentence message. Then
the operations that call payments are fuzzed again while payments refuses
connections: the only 5xx allowed are the documented 502-504, as JSON. At the
end, the shop's metrics must not have grown a label value from the fuzz input.
payments gets the same checks: no 5xx, errors as JSON with a message, bodies
as documented.
"""
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.common.http_metrics import KNOWN_METHODS, UNMATCHED_ROUTE
from app.shop import create_app
from tests.helpers.metrics_reading import scrape, total
from tests.helpers.servers import shop_and_payments

TOKEN = "fuzz-token"
EXAMPLES = 60
FAULT_EXAMPLES = 30
# A thin run must fail, not pass quietly: an operation that takes input gets at least this many
# examples per run (hypothesis stops early when it cannot generate more, e.g. when filtering too much).
MIN_EXAMPLES = 20
MAX_SERIES = 1500
# GET /api/orders rejects a `since` in the future on purpose (the reconcile job asking for
# tomorrow's orders is a bug worth a 400); a static schema cannot say "not in the future".
POSITIVE_DATA_EXCEPTIONS = {"GET /api/orders"}
# Operations whose every input value is valid, so negative generation has nothing to make.
NOTHING_INVALID = {"GET /api/carts/{cart_id}": "cart_id is any string (an unknown one is a 404, not a 400)"}


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """payments and shop under gunicorn (2 workers each)."""
    # No random declines: a 402 for valid data is a business outcome that "valid data accepted" cannot tell
    # from a wrong rejection.
    with shop_and_payments(str(tmp_path_factory.mktemp("fuzz")), TOKEN,
                           payments_env={"PAYMENTS_DECLINE_RATIO": "0"}) as services:
        yield services


def error_is_json_with_message(_ctx, response, _case):
    """Every 4xx/5xx is a JSON object with an error code and a non-empty message."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]  # lower-case names, list values
    if not content_type.startswith("application/json"):
        raise Failure(operation="", title="Error without a JSON body",
                      message=f"{response.status_code} answered with Content-Type {content_type!r}.")
    body = response.json()
    if not (isinstance(body, dict) and isinstance(body.get("error"), str) and isinstance(body.get("message"), str)
            and body["message"].strip()):
        raise Failure(operation="", title="Error body without a message",
                      message=f"{response.status_code} answered {response.text[:200]!r}.")
    return True


def takes_input(operation, path_parameters=None):
    """True when the operation has parameters (not fixed by the test) or a request body for hypothesis to vary."""
    raw = operation.definition.raw
    components = operation.schema.raw_schema.get("components", {}).get("parameters", {})
    names = [components[p["$ref"].rsplit("/", 1)[1]]["name"] if "$ref" in p else p["name"]
             for p in raw.get("parameters", [])]
    free = [name for name in names if name not in set(path_parameters or {})]
    return bool(free or raw.get("requestBody"))


def fuzz(operation, mode, examples, excluded=(), path_parameters=None):
    """Run one operation in one generation mode; return a failure description or None.

    Only the health check about slow examples is off (every example is a real HTTP call); a run that
    generates too few examples, or none at all for an operation that takes input, is a failure.
    """
    calls = []

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case):
        calls.append(case)
        case.call_and_validate(additional_checks=[error_is_json_with_message], excluded_checks=list(excluded),
                               timeout=10)
    where = f"{operation.label} ({mode.value}{', cart_id of a real cart' if path_parameters else ''})"
    try:
        run()
    except (hypothesis.errors.Unsatisfiable, hypothesis.errors.FailedHealthCheck) as thin:
        nothing_to_vary = not takes_input(operation, path_parameters) or operation.label in NOTHING_INVALID
        if mode is GenerationMode.NEGATIVE and nothing_to_vary and not calls:
            return None  # nothing to make invalid: the positive run covers the operation
        return f"{where}: hypothesis could not generate enough examples ({len(calls)} ran): {thin}"
    except (FailureGroup, Failure, AssertionError) as failure:
        return f"{where}: {failure}"
    wanted = min(MIN_EXAMPLES, examples) if takes_input(operation, path_parameters) else 1
    if len(calls) < wanted:
        return f"{where}: only {len(calls)} examples ran (at least {wanted} wanted): the fuzzing was too thin."
    return None


def set_payments_fault(services, name, on):
    """Switch a payments fault knob on (for 120 s) or off."""
    url = f"{services['payments']}/admin/faults/{name}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    response = (requests.put(url, json={"duration_seconds": 120}, headers=headers, timeout=5) if on
                else requests.delete(url, headers=headers, timeout=5))
    assert response.status_code == 200, response.text


def real_cart(url):
    """A cart with one item in it, so fuzzed items and checkouts get past "unknown cart"."""
    cart = requests.post(url + "/api/carts", timeout=5).json()["id"]
    requests.post(f"{url}/api/carts/{cart}/items", json={"product_id": 1}, timeout=5).raise_for_status()
    return {"cart_id": cart}


def operations(url, spec_path="/api/openapi.json"):
    """Every operation of a service's published spec (the shop's by default)."""
    schema = schemathesis.openapi.from_url(url + spec_path)
    return [result.ok() for result in schema.get_all_operations()]


def test_fuzzed_api_answers_clearly_and_keeps_metrics_bounded(services, tmp_path):
    shop = services["shop"]
    found = []
    for operation in operations(shop):
        excluded = [positive_data_acceptance] if operation.label in POSITIVE_DATA_EXCEPTIONS else []
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            found.append(fuzz(operation, mode, EXAMPLES, excluded))
            if "{cart_id}" in operation.path:
                found.append(fuzz(operation, mode, EXAMPLES, excluded, real_cart(shop)))

    # With payments refusing connections, operations that document 502 may answer 502-504, nothing else.
    calling_payments = [op for op in operations(shop) if "502" in op.definition.raw.get("responses", {})]
    assert calling_payments, "the spec documents no operation that depends on payments"
    carts = {op.label: real_cart(shop) for op in calling_payments if "{cart_id}" in op.path}  # before the outage
    set_payments_fault(services, "refuse", True)
    try:
        for operation in calling_payments:
            found.append(fuzz(operation, GenerationMode.POSITIVE, FAULT_EXAMPLES, [not_a_server_error],
                              carts.get(operation.label)))
    finally:
        set_payments_fault(services, "refuse", False)
    problems = [problem for problem in found if problem]
    assert not problems, "\n\n".join(problems)

    samples = scrape(shop)
    assert total(samples, "shop_http_request_duration_seconds_count", code="503") > 0, \
        "the payments outage never reached the shop's answers: the fault pass tested nothing"
    # The shop's own URL rules are the only routes a label may name.
    url_map = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)}).url_map
    rules = {rule.rule for rule in url_map.iter_rules()} | {UNMATCHED_ROUTE}
    request_series = [dict(labels) for (name, labels) in samples
                      if name == "shop_http_request_duration_seconds_count"]
    assert {labels["route"] for labels in request_series} <= rules
    assert {labels["method"] for labels in request_series} <= KNOWN_METHODS | {"other"}
    assert all(labels["code"].isdigit() and len(labels["code"]) == 3 for labels in request_series)
    assert len(samples) <= MAX_SERIES, f"{len(samples)} series after fuzzing (bound {MAX_SERIES})"


def test_fuzzed_payments_api_answers_clearly(services):
    found = []
    published = operations(services["payments"], "/openapi.json")
    assert {op.label for op in published} == {"GET /quotes", "POST /charges", "GET /charges"}
    for operation in published:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            found.append(fuzz(operation, mode, EXAMPLES))
    problems = [problem for problem in found if problem]
    assert not problems, "\n\n".join(problems)
