"""`make mutation`: mutation testing of the modules that carry the lessons and the money.

Runs mutmut (pinned in requirements-dev.txt; settings under [tool.mutmut] in
pyproject.toml: which modules, which tests) against the fast tiers, then
prints the share of mutants killed per module and lists every survivor with
its diff. A survivor is a change to the code that no test noticed: either a
missing test, or an equivalent mutant (a change that cannot alter behaviour),
which is explained where it lives with `# pragma: no mutate` and a reason.

    .venv/bin/python -m bench.mutation            # run, then report
    .venv/bin/python -m bench.mutation --report   # report the last run only

The table goes to stdout and to reports/mutation.md, and a full run writes it
into bench/README.md (between the mutation-table markers, with the date, the
commit and the run time): that section is the latest score. The goal is at
least 85% killed in every module.
"""
import argparse
import datetime
import json
import subprocess
import sys
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOAL = 0.85
README = REPO / "bench" / "README.md"
MARKERS = ("<!-- mutation-table:start -->", "<!-- mutation-table:end -->")
# mutmut's exit codes per mutant (mutmut.stats.status_by_exit_code): which ones a test noticed.
DETECTED = {"killed", "timeout", "segfault", "caught by type check"}


def source_paths():
    """The modules [tool.mutmut] mutates."""
    settings = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mutmut"]
    return settings["source_paths"]


def statuses(path):
    """{mutant name: status} of one module from mutmut's results file, or {} before any run."""
    from mutmut.stats import status_by_exit_code
    meta = REPO / "mutants" / f"{path}.meta"
    if not meta.exists():
        return {}
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    return {name: status_by_exit_code[code] for name, code in codes.items()}


def score_rows():
    """One row per module: counts, share killed, and whether it meets the goal."""
    rows = []
    for path in source_paths():
        found = statuses(path)
        detected = sum(1 for status in found.values() if status in DETECTED)
        survivors = sorted(name for name, status in found.items() if status not in DETECTED)
        share = detected / len(found) if found else None
        rows.append({"module": path, "mutants": len(found), "killed": detected, "survivors": survivors,
                     "share": share, "met": share is not None and share >= GOAL})
    return rows


def diff_of(mutant):
    """The diff of one mutant, as `mutmut show` prints it."""
    shown = subprocess.run([sys.executable, "-m", "mutmut", "show", mutant], cwd=REPO, capture_output=True,
                           text=True, timeout=60).stdout
    return "\n".join(line for line in shown.splitlines() if line.startswith(("-", "+")) and
                     not line.startswith(("---", "+++")))


def table(rows):
    """A Markdown table of the scores."""
    lines = ["| module | mutants | killed | share killed | goal >= 85% |", "|---|---|---|---|---|"]
    for row in rows:
        share = "-" if row["share"] is None else f"{row['share']:.1%}"
        lines.append(f"| `{row['module']}` | {row['mutants']} | {row['killed']} | {share} | "
                     f"{'yes' if row['met'] else 'NO'} |")
    return "\n".join(lines)


def report(rows):
    """The table, then every survivor with its diff."""
    parts = [table(rows)]
    for row in rows:
        for mutant in row["survivors"]:
            parts.append(f"\n{mutant} ({statuses(row['module'])[mutant]}):\n{diff_of(mutant)}")
    return "\n".join(parts)


def update_readme(rows, minutes):
    """Write the score table, when and on which commit it was measured, into bench/README.md."""
    text = README.read_text()
    start, end = text.find(MARKERS[0]), text.find(MARKERS[1])
    if start < 0 or end < start:
        print(f"bench/README.md has no {MARKERS[0]} ... {MARKERS[1]} section; not updated.", file=sys.stderr)
        return
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    from importlib.metadata import version
    when = datetime.datetime.now(datetime.UTC).isoformat(timespec="minutes")
    survivors = [name for row in rows for name in row["survivors"]]
    block = (f"{MARKERS[0]}\nMeasured {when} on commit {commit} with mutmut {version('mutmut')} "
             f"({minutes:.0f} minutes, 2 mutants at a time). Survivors: "
             f"{', '.join(f'`{name}`' for name in survivors) if survivors else 'none'}.\n\n{table(rows)}\n{MARKERS[1]}")
    README.write_text(text[:start] + block + text[end + len(MARKERS[1]):])


def main(argv=None):
    """Run mutmut (unless --report), print the report, exit 1 when a module misses the goal."""
    parser = argparse.ArgumentParser(prog="make mutation", description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="only report the last run")
    parser.add_argument("--max-children", default="2", help="mutants tested at once (default 2)")
    parser.add_argument("--no-readme", action="store_true", help="do not write the table into bench/README.md")
    args = parser.parse_args(argv)
    started = time.monotonic()
    if not args.report:
        log = REPO / "reports" / "mutation.log"
        log.parent.mkdir(exist_ok=True)
        print(f"mutmut run (progress in {log.relative_to(REPO)}) ...", flush=True)
        with open(log, "w") as out:
            code = subprocess.call([sys.executable, "-m", "mutmut", "run", "--max-children", args.max_children],
                                   cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        if code != 0:
            print(f"mutmut failed (exit {code}); the end of {log}:", file=sys.stderr)
            print("\n".join(log.read_text(errors="replace").splitlines()[-30:]), file=sys.stderr)
            return code
    rows = score_rows()
    text = report(rows)
    (REPO / "reports").mkdir(exist_ok=True)
    (REPO / "reports" / "mutation.md").write_text(text + "\n")
    print(text)
    if not args.report and not args.no_readme:
        update_readme(rows, (time.monotonic() - started) / 60)
    return 0 if all(row["met"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
