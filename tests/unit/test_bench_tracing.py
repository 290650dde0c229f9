"""The tracing part's shops (bench/tracing_variants.py) trace what they claim, in a child process each.

Each variant patches modules of its process (the null metrics, our tracing removed), so each is built
in a fresh interpreter, as the bench builds it, against a real payments app served on a thread.
"""
import json
import os
import subprocess
import sys

import pytest

from bench.instructions import REPO
from bench.tracing_cost import CHILD_ENV, ENDPOINT
from tests.helpers.servers import TEST_TOKEN, ThreadedServer

PROBE = """
import json, sys
from bench.instructions_child import load
exporter_names = []
from bench import tracing_variants
tracing_variants.DiscardingExporter.export = lambda self, spans: exporter_names.extend(
    (span.name, span.kind.name, span.parent is not None) for span in spans) or 0
app = load(sys.argv[1])
response = app.test_client().get(sys.argv[2])
print(json.dumps({"status": response.status_code, "stock": response.get_json()["stock"],
                  "spans": exporter_names}))
"""


@pytest.fixture(scope="module")
def payments(tmp_path_factory):
    from app.payments import create_app
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path_factory.mktemp("payments")),
                      "FAULT_TOKEN": TEST_TOKEN, "QUOTE_MEDIAN_SECONDS": 0})
    with ThreadedServer(app) as server:
        yield server


def probe(variant, payments, tmp_path):
    env = {**os.environ, **CHILD_ENV, "PAYMENTS_URL": payments.url, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
           "SHOP_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run([sys.executable, "-c", PROBE, f"bench.tracing_variants:{variant}()", ENDPOINT],
                            capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("variant, expected", [
    ("none", []),
    ("ours", [("db select_product", "CLIENT", True), ("payments quote", "CLIENT", True),
              ("db select_products", "CLIENT", True), ("compute recommendations", "INTERNAL", True),
              ("GET /api/products/<int:product_id>", "SERVER", False)]),
    ("auto", [("GET", "CLIENT", True), ("GET /api/products/<int:product_id>", "SERVER", False)]),
])
def test_each_variant_serves_the_product_page_with_stock_and_its_spans(variant, expected, payments, tmp_path):
    answer = probe(variant, payments, tmp_path)
    assert answer["status"] == 200 and answer["stock"] is not None, answer
    assert [tuple(span) for span in answer["spans"]] == expected, answer["spans"]
