"""Part 4, footprint: resident memory of every process of the native stack under baseline traffic.

The stack runs as a user runs it (`make local`: demo intervals, baseline
traffic from the load generator), on free ports. After a warm-up, memory is
sampled a few times from /proc; each component's figure is its process tree
(a gunicorn master with its workers, for instance) at the sample with the
highest total. RSS is what `ps` shows and counts pages shared by forked
workers once per worker; PSS splits shared pages fairly. The goal is judged
on RSS, the larger of the two.
"""
import time

from bench import goals, procfs
from bench.scratch import in_scratch
from launcher.stack import Stack

MIB = 1024 * 1024


def sample(stack):
    """{component: memory of its process tree} right now."""
    return {name: procfs.memory(process.pid) for name, process in stack.processes.items() if process.running()}


@in_scratch("bench-footprint-")
def run(warmup_seconds=60, samples=5, interval_seconds=5, log=print, workdir=None):
    """Start the whole stack, let baseline traffic run, and report the largest total seen."""
    with Stack(workdir, fast=False) as stack:
        log(f"  stack up ({', '.join(stack.services)}); baseline traffic for {warmup_seconds} s")
        time.sleep(warmup_seconds)  # a benchmark's measuring window, not a wait for a condition
        taken = []
        for _ in range(samples):
            taken.append(sample(stack))
            time.sleep(interval_seconds)
        rate = stack.loadgen_rate
    peak = max(taken, key=lambda snap: sum(m["rss_bytes"] for m in snap.values()))
    components = {name: {"rss_mib": round(m["rss_bytes"] / MIB, 1), "pss_mib": round(m["pss_bytes"] / MIB, 1),
                         "processes": m["processes"]}
                  for name, m in sorted(peak.items(), key=lambda item: -item[1]["rss_bytes"])}
    total_rss = sum(m["rss_bytes"] for m in peak.values())
    total_pss = sum(m["pss_bytes"] for m in peak.values())
    return {"components": components, "total_rss_mib": round(total_rss / MIB, 1),
            "total_pss_mib": round(total_pss / MIB, 1),
            "goals": {"within_goal": goals.footprint_within_goal(total_rss)},
            "settings": {"warmup_seconds": warmup_seconds, "samples": samples, "interval_seconds": interval_seconds,
                         "loadgen_rate": rate, "stack_mode": "demo intervals (make local)"}}
