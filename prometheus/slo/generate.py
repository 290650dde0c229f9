"""Write (or, with --check, verify) the rule files generated from the SLO spec.

    python -m prometheus.slo.generate            # rewrite prometheus/rules/slo-<profile>.yml
    python -m prometheus.slo.generate --check    # exit 1 if a file is missing or out of date
"""
import argparse
import sys
from pathlib import Path

from prometheus.slo import render
from prometheus.slo import spec as slo_spec

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"


def rule_file_name(profile_name):
    """The generated file of a profile, e.g. slo-demo.yml."""
    return f"slo-{profile_name}.yml"


def expected_files(spec):
    """Map of file name -> text for every profile."""
    return {rule_file_name(name): render.render(spec, profile) for name, profile in spec.profiles.items()}


def stale_files(spec, rules_dir):
    """Names of generated files that are missing or differ from what the spec renders."""
    stale = []
    for name, text in expected_files(spec).items():
        path = Path(rules_dir) / name
        if not path.exists() or path.read_text() != text:
            stale.append(name)
    return stale


def main(argv=None):
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify; exit 1 if regenerating would change a file")
    parser.add_argument("--spec", default=slo_spec.SPEC_PATH, help="the SLO spec (default: %(default)s)")
    parser.add_argument("--rules-dir", default=RULES_DIR, help="where the rule files live (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        spec = slo_spec.load(args.spec)
    except slo_spec.SpecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.check:
        stale = stale_files(spec, args.rules_dir)
        for name in stale:
            print(f"{Path(args.rules_dir) / name} is out of date with {args.spec}; "
                  "run `python -m prometheus.slo.generate` (or `make slo`) and commit the result.", file=sys.stderr)
        return 1 if stale else 0
    for name, text in expected_files(spec).items():
        path = Path(args.rules_dir) / name
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
