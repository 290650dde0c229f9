"""Fuzzing an HTTP service from its published OpenAPI document with schemathesis, strictly.

Every error must be a JSON object with a code and a message; a run that generates fewer examples
than MIN_EXAMPLES (hypothesis gives up when it cannot make more) is a failure, not a quiet pass.
"""
import functools

import hypothesis
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import negative_data_rejection, status_code_conformance

# A thin run must fail, not pass quietly: an operation that takes input gets at least this many
# examples per run (hypothesis stops early when it cannot generate more, e.g. when filtering too much).
MIN_EXAMPLES = 20
# Refused by gunicorn before any route runs, for every operation alike: a request line over
# limit_request_line (414) or oversized headers (431). No spec lists them per operation; they are
# JSON errors all the same (app/common/gunicorn_worker.py), which error_is_json_with_message checks.
SERVER_LIMIT_STATUSES = {414, 431}


def _unless_server_limit(check):
    """A schemathesis check that lets gunicorn's own limit refusals through (and checks everything else)."""
    @functools.wraps(check)
    def wrapped(ctx, response, case):
        if response.status_code in SERVER_LIMIT_STATUSES:
            return None
        return check(ctx, response, case)
    return wrapped


LIMIT_AWARE_CHECKS = [_unless_server_limit(status_code_conformance), _unless_server_limit(negative_data_rejection)]


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


def fuzz(operation, mode, examples, excluded=(), path_parameters=None, headers=None, nothing_invalid=()):
    """Run one operation in one generation mode; return a failure description or None.

    `headers` go with every call (e.g. a bearer token); `nothing_invalid` names operations whose every
    input is valid, so negative generation may find nothing to make.

    Only the health check about slow examples is off (every example is a real HTTP call); a run that
    generates too few examples, or none at all for an operation that takes input, is a failure.
    """
    calls = []

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case):
        calls.append(case)
        case.call_and_validate(headers=headers, additional_checks=[error_is_json_with_message, *LIMIT_AWARE_CHECKS],
                               excluded_checks=[*excluded, status_code_conformance, negative_data_rejection],
                               timeout=10)
    fixed = f", fixed {', '.join(sorted(path_parameters))}" if path_parameters else ""
    where = f"{operation.label} ({mode.value}{fixed})"
    try:
        run()
    except (hypothesis.errors.Unsatisfiable, hypothesis.errors.FailedHealthCheck) as thin:
        nothing_to_vary = not takes_input(operation, path_parameters) or operation.label in nothing_invalid
        if mode is GenerationMode.NEGATIVE and nothing_to_vary and not calls:
            return None  # nothing to make invalid: the positive run covers the operation
        return f"{where}: hypothesis could not generate enough examples ({len(calls)} ran): {thin}"
    except (FailureGroup, Failure, AssertionError) as failure:
        return f"{where}: {failure}"
    wanted = min(MIN_EXAMPLES, examples) if takes_input(operation, path_parameters) else 1
    if len(calls) < wanted:
        return f"{where}: only {len(calls)} examples ran (at least {wanted} wanted): the fuzzing was too thin."
    return None


def operations(url, spec_path="/api/openapi.json"):
    """Every operation of a service's published spec (the shop's by default)."""
    schema = schemathesis.openapi.from_url(url + spec_path)
    return [result.ok() for result in schema.get_all_operations()]
