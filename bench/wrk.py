"""Drive a server with wrk (Debian package) and read its summary as JSON.

A small Lua script makes wrk print its summary and latency percentiles as
one JSON line, so nothing depends on the layout of wrk's human output. An
optional list of paths is cycled through (one request per path in turn).
"""
import json
import os
import subprocess
import tempfile

from launcher import binaries

SUMMARY_MARK = "BENCH-SUMMARY "
_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests": %d, "duration_us": %d, "bytes": %d, "errors": {"connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d}, "latency_us": {"mean": %f, "p50": %d, "p90": %d, ' ..
    '"p99": %d, "max": %d}}\\n',
    "MARK", summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""
_PATHS = """
local paths = {PATHS}
local index = 0
request = function()
  index = index % #paths + 1
  return wrk.format(paths[index][1], paths[index][2])
end
"""


def _script(paths):
    """The Lua script: the JSON summary, plus a request generator when paths are given."""
    text = _DONE.replace('"MARK"', json.dumps(SUMMARY_MARK))
    if paths:
        entries = ", ".join('{"%s", "%s"}' % (method, path) for method, path in paths)
        text = _PATHS.replace("{PATHS}", "{" + entries + "}") + text
    return text


def run(url, seconds, connections, threads=1, paths=None, timeout_seconds=10, headers=None):
    """Run wrk against url for `seconds`; return its summary (dict) with `rate` in requests per second.

    `paths` is an optional list of (method, path) cycled through; without it every request is GET url.
    `headers` ({name: value}) go with every request.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_script(paths))
    try:
        command = [binaries.find("wrk"), f"--threads={threads}", f"--connections={connections}",
                   f"--duration={seconds}s", f"--timeout={timeout_seconds}s", f"--script={script.name}",
                   *(f"--header={name}: {value}" for name, value in (headers or {}).items()), url]
        result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + timeout_seconds + 30)
    finally:
        os.unlink(script.name)
    for line in result.stdout.splitlines():
        if line.startswith(SUMMARY_MARK):
            summary = json.loads(line[len(SUMMARY_MARK):])
            summary["rate"] = summary["requests"] / (summary["duration_us"] / 1e6)
            summary["failed"] = sum(summary["errors"].values())
            return summary
    raise RuntimeError(f"wrk printed no summary (exit code {result.returncode}): {result.stderr.strip()}")
