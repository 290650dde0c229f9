"""The synthetic probe for real: blackbox_exporter (the pinned build) fetches a product page from the shop's
front door for Prometheus; the outside-in SLI has data, and with the shop process stopped ShopProbeFailing
and ShopNoHealthyTarget fire without a single request of traffic, then resolve once the shop is back.

Natively the shop's port is the front door (compose probes through the edge: tests/compose).
"""
import time

import pytest

from launcher.stack import Stack
from processes.waiting import poll_until
from tests.helpers.prometheus_api import instant_query

PAGE_WITHIN_SECONDS = 90  # issue 14: a dead shop pages within 90 s


@pytest.fixture
def stack(tmp_path):
    """The shop, its dependency, the prober and Prometheus; no load generator: the probe needs no traffic."""
    with Stack(str(tmp_path / "stack"), services=["payments", "shop", "blackbox_exporter", "prometheus"],
               fast=True, loadgen_rate=0) as running:
        yield running


def series(stack, expression):
    """{instance or job: value} of an instant query."""
    return {sample["metric"].get("instance", sample["metric"].get("job")): float(sample["value"][1])
            for sample in instant_query(stack.url("prometheus"), expression)}


def firing(stack):
    """Names of the alerts Prometheus holds as firing."""
    return {sample["metric"]["alertname"] for sample in instant_query(stack.url("prometheus"),
                                                                      'ALERTS{alertstate="firing"}')}


@pytest.mark.timeout(300)
def test_the_probe_measures_the_front_door_and_a_stopped_shop_pages_without_traffic(stack):
    product_page = stack.url("shop") + "/products/1"
    probes = poll_until(lambda: series(stack, 'probe_success{job="shop_probe"} == 1'),
                        "a successful probe of the shop's product page", 30)
    assert list(probes) == [product_page], f"the probe should fetch {product_page}, it fetches {list(probes)}"
    sli = poll_until(lambda: series(stack, "job:probe_success:ratio_avg5m"), "the probe's availability SLI", 30)
    assert sli == {"shop_probe": 1.0}, sli
    latency = series(stack, "job:probe_duration_seconds:avg5m")
    assert 0 < latency["shop_probe"] < 4, f"the probe's latency SLI should be a probe's time: {latency}"
    assert not firing(stack) & {"ShopProbeFailing", "ShopNoHealthyTarget"}

    stack.processes.pop("shop").stop()
    stopped_at = time.time()
    fired = poll_until(lambda: {"ShopProbeFailing", "ShopNoHealthyTarget"} <= firing(stack) and firing(stack),
                       "ShopProbeFailing and ShopNoHealthyTarget to fire for the stopped shop",
                       PAGE_WITHIN_SECONDS, interval=1.0)
    print(f"firing {time.time() - stopped_at:.0f} s after the shop stopped: {sorted(fired)}")
    assert series(stack, 'probe_success{job="shop_probe"}') == {product_page: 0.0}

    stack.start_component("shop")
    poll_until(lambda: not firing(stack) & {"ShopProbeFailing", "ShopNoHealthyTarget"},
               "ShopProbeFailing and ShopNoHealthyTarget to resolve once the shop answers again", 90, interval=1.0)
