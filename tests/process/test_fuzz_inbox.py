"""Fuzzing the alert inbox (schemathesis, from the spec at /api/openapi.json) on a real gunicorn.

The webhook is fuzzed with Alertmanager's token (schemathesis also checks that a call without it is
refused), the listings with and without stored notifications; every answer below 500, every error
JSON with a message, every body as documented, valid data accepted and invalid data refused. The
spec's timestamp pattern is the one the inbox validates with.
"""
import pytest
import requests
from schemathesis import GenerationMode

from app.inbox.payload import TIMESTAMP_PATTERN
from tests.helpers.alert_payloads import alert, payload
from tests.helpers.fuzzing import fuzz, operations
from tests.helpers.servers import start_service

TOKEN = "inbox-fuzz-token"
EXAMPLES = 60
PUBLISHED = {"POST /webhook", "POST /heartbeat", "GET /api/notifications", "GET /api/alerts", "GET /api/heartbeat",
             "GET /healthz"}
# These take no input: negative generation has nothing to make invalid.
NOTHING_INVALID = {"GET /healthz", "GET /api/heartbeat"}


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    process, url = start_service("inbox", str(tmp_path_factory.mktemp("inbox-fuzz")), {"WEBHOOK_TOKEN": TOKEN})
    try:
        yield url
    finally:
        process.stop()


def test_the_spec_validates_timestamps_as_the_inbox_does(inbox):
    spec = requests.get(inbox + "/api/openapi.json", timeout=5).json()
    assert spec["components"]["schemas"]["Timestamp"]["pattern"] == TIMESTAMP_PATTERN, \
        "openapi.yaml's Timestamp pattern differs from app/inbox/payload.py's TIMESTAMP_PATTERN"


def test_fuzzed_inbox_answers_clearly(inbox):
    published = operations(inbox)
    assert {op.label for op in published} == PUBLISHED
    stored = requests.post(inbox + "/webhook", json=payload(alert()), timeout=5,
                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert stored.status_code == 200, stored.text  # the listings then have rows to render
    found = []
    for operation in published:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            found.append(fuzz(operation, mode, EXAMPLES, headers={"Authorization": f"Bearer {TOKEN}"},
                              nothing_invalid=NOTHING_INVALID))
    problems = [problem for problem in found if problem]
    assert not problems, "\n\n".join(problems)
    listed = requests.get(inbox + "/api/notifications?limit=1000", timeout=5).json()
    assert listed["count"] > 1, "no fuzzed notification was stored: the positive webhook run tested nothing"
