"""`python -m prometheus.generate` (or `make generate`): write the rule files rendered from their sources.

    rules/slo-<profile>.yml  from slo/slos.yml, one file per window profile
    rules/shop-alerts.yml    from alerts/shop-alerts.yml, with a runbook_url added to every alert
    rules/monitoring-alerts.yml  from alerts/monitoring-alerts.yml, likewise
    tests/*.test.yml         hand-written; only their expected runbook_url lines are rewritten

Links point at the published ports of .env (prometheus/links.py); the native
stack renders the same rule files with the ports it listens on (`rule_files`).
`--check` writes nothing and exits 1 when a file differs from what the sources render.
"""
import argparse
import re
import sys
from pathlib import Path

from prometheus import links as public_links
from prometheus.alerts import render as alerts_render
from prometheus.slo import render as slo_render
from prometheus.slo import spec as slo_spec

PROMETHEUS_DIR = Path(__file__).resolve().parent
ALERT_SOURCES = {name: PROMETHEUS_DIR / "alerts" / name for name in ("shop-alerts.yml", "monitoring-alerts.yml")}
COMMAND = "make generate"
_ALERTNAME = re.compile(r"^\s*(?:- )?alertname:\s*(\S+)\s*$")
_RUNBOOK = re.compile(r"^(\s*)runbook_url:\s*\S.*$")


def rule_file_name(profile_name):
    """The generated file of an SLO window profile, e.g. slo-demo.yml."""
    return f"slo-{profile_name}.yml"


def rule_files(links, spec=None):
    """{file name: text} of every generated rule file, its links pointing at `links`."""
    spec = spec or slo_spec.load()
    files = {rule_file_name(name): slo_render.render(spec, profile, links) for name, profile in spec.profiles.items()}
    for name, source in ALERT_SOURCES.items():
        files[name] = alerts_render.render(source.read_text(), links, source.relative_to(PROMETHEUS_DIR.parent))
    return files


def expected_runbooks(text, links, where="a promtool test file"):
    """A promtool test file with each expected runbook_url set to the link of its case's alertname."""
    alertname, lines = None, []
    for line in text.splitlines():
        if match := _ALERTNAME.match(line):
            alertname = match.group(1)
        if match := _RUNBOOK.match(line):
            if alertname is None:
                raise public_links.LinksError(f"{where} expects a runbook_url before naming an alertname.")
            line = f"{match.group(1)}runbook_url: {links.runbook(alertname)}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def outputs(links, directory=PROMETHEUS_DIR):
    """{path: text} of every file `make generate` writes under a prometheus directory (rules/, tests/)."""
    directory = Path(directory)
    files = {directory / "rules" / name: text for name, text in rule_files(links).items()}
    for path in sorted((directory / "tests").glob("*.test.yml")):
        files[path] = expected_runbooks(path.read_text(), links, path)
    return files


def stale(files):
    """Sentences for every file that is missing or differs from what its source renders."""
    return [f"{path} is {'out of date' if path.exists() else 'missing'}; run `{COMMAND}` and commit the result."
            for path, text in files.items() if not path.exists() or path.read_text() != text]


def main(argv=None):
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m prometheus.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify; exit 1 if regenerating would change a file")
    parser.add_argument("--dir", type=Path, default=PROMETHEUS_DIR,
                        help="the directory whose rules/ and tests/ are written (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        files = outputs(public_links.published(), args.dir)
    except (slo_spec.SpecError, alerts_render.RenderError, public_links.LinksError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.check:
        problems = stale(files)
        print("\n".join(problems) or "Every generated rule file is up to date.", file=sys.stderr if problems else None)
        return 1 if problems else 0
    (args.dir / "rules").mkdir(parents=True, exist_ok=True)
    changed = [path for path, text in files.items() if not path.exists() or path.read_text() != text]
    for path in changed:
        path.write_text(files[path])
        print(f"wrote {path}")
    print(f"{len(files) - len(changed)} of {len(files)} rule and promtool test files were already up to date.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
