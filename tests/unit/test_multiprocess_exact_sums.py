"""No total ever goes down when dead workers are compacted, whatever the float values and the order.

Prometheus reads any decrease of a counter (or of a histogram's `_sum`/`_count`)
as a reset, and `rate()` then jumps by the whole value. Compaction
(app/common/multiprocess_metrics.py) and the render (multiprocess_render.py)
sum exactly, so a rendered total is the correctly rounded sum of what every
worker counted, however many of them were folded into the archive and in which
order. Hypothesis picks the workers' float increments, the order in which they
die and the traffic in between.
"""
import math
import tempfile
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families

from app.common.multiprocess_metrics import compact_dead_worker, exact_partials, render_metrics

COUNTER = mmap_key("t_revenue_dollars", "t_revenue_dollars_total", [], [], "Revenue.")
HISTOGRAM_SUM = mmap_key("t_order_value_dollars", "t_order_value_dollars_sum", [], [], "Order value.")
HISTOGRAM_BUCKET = mmap_key("t_order_value_dollars", "t_order_value_dollars_bucket", ["le"], ["+Inf"], "Order value.")
WORKERS = range(1, 6)

amounts = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
# What happens, in order: a live worker counts an amount, or a worker dies and is compacted.
steps = st.lists(st.one_of(st.tuples(st.just("inc"), st.sampled_from(WORKERS), amounts),
                           st.tuples(st.just("die"), st.sampled_from(WORKERS), st.just(0.0))),
                 min_size=1, max_size=30)


def totals(path):
    """(counter total, histogram _sum, histogram _count) as /metrics renders them."""
    text = render_metrics(path)[0].decode()
    values = {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples}
    return (values.get("t_revenue_dollars_total", 0.0), values.get("t_order_value_dollars_sum", 0.0),
            values.get("t_order_value_dollars_count", 0.0))


@settings(max_examples=100, deadline=None, database=None, derandomize=True)
@given(first=st.lists(amounts, min_size=len(WORKERS), max_size=len(WORKERS)), steps=steps)
def test_totals_never_decrease_across_compaction(first, steps):
    with tempfile.TemporaryDirectory() as path:
        counted = {}  # pid -> the worker's own float totals, as its process accumulates them
        files = {}

        def count(pid, amount):
            if pid not in files:
                files[pid] = MmapedDict(f"{path}/counter_{pid}.db"), MmapedDict(f"{path}/histogram_{pid}.db")
                counted[pid] = [0.0, 0.0]
            counted[pid][0] += amount
            counted[pid][1] += 1
            counter, histogram = files[pid]
            counter.write_value(COUNTER, counted[pid][0], 0.0)
            histogram.write_value(HISTOGRAM_SUM, counted[pid][0], 0.0)
            histogram.write_value(HISTOGRAM_BUCKET, counted[pid][1], 0.0)

        try:
            for pid, amount in zip(WORKERS, first):
                count(pid, amount)
            dead = []  # every dead worker's totals (pids are reused: a new worker may count again)
            before = totals(path)
            for action, pid, amount in steps:
                if action == "inc":
                    count(pid, amount)
                elif pid in files:
                    for mmapped in files.pop(pid):
                        mmapped.close()
                    dead.append(counted.pop(pid))
                    compact_dead_worker(pid, path)
                now = totals(path)
                assert all(n >= b for n, b in zip(now, before)), f"a total went down: {before} -> {now}"
                everything = dead + list(counted.values())
                exact = math.fsum(c[0] for c in everything)
                assert now[:2] == (exact, exact), f"{now[:2]} is not the exact sum {exact}"
                assert now[2] == sum(c[1] for c in everything)
                before = now
        finally:
            for pair in files.values():
                for mmapped in pair:
                    mmapped.close()


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(values=st.lists(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300),
                       min_size=1, max_size=20),
       order=st.randoms(use_true_random=False))
def test_exact_partials_hold_the_exact_sum_whatever_the_order(values, order):
    partials = exact_partials(values)
    assert sum(map(Fraction, partials), Fraction(0)) == sum(map(Fraction, values), Fraction(0))
    assert partials[0] == math.fsum(values), "the first partial is the correctly rounded sum"
    shuffled = list(values)
    order.shuffle(shuffled)
    assert exact_partials(shuffled) == partials, "the same exact sum must give the same partials"
