"""The web UIs of the upstream builds (`launcher/upstream.py`): built from the module's own source where we can.

Neither module carries its built web UI. Prometheus's (React, `web/ui/mantine-ui`) builds here with Node and pnpm
from the npm registry, exactly as upstream's `make assets assets-compress` does, and is embedded with the
`builtinassets` tag. Alertmanager's is written in Elm, whose compiler fetches its packages from the Elm package site,
which these machines cannot reach: it gets a page that says so and points at the API and the inbox. If the
Prometheus UI build fails, Prometheus gets the same kind of page, and the build says why, loudly.
"""
import gzip
import os
import shutil
import subprocess

# pnpm builds Prometheus's UI (its lockfile is pnpm's); 10.x is the newest line that runs on Node 20.
PNPM_VERSION = "10.34.9"
# Lockfile entries the npm registry here does not serve (404), and the newest release of the same line it does
# (checked 2026-11-29 with `npm view NAME versions`). Only an entry the lockfile really has becomes a pnpm override,
# and only then is the lockfile re-resolved; otherwise the install is frozen to upstream's lockfile.
NPM_STAND_INS = {"@mantine/code-highlight@9.7.2": "9.6.2"}  # the YAML highlighting of the scrape pool pages
MIN_NODE = (20, 19)  # vite 8, which the UI builds with, needs Node 20.19 or newer
UI_TIMEOUT_SECONDS = 900

PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{name}: no web UI in this build</title></head>
<body style="font-family: sans-serif; max-width: 46em; margin: 2em auto">
<h1>{name}: no web UI in this build</h1>
<p>This {name} was built by <code>launcher/upstream.py</code> from its Go module, at the version <code>.env</code>
pins. {why}</p>
<p>What works: {api}. Notifications are in the alert inbox. The compose stack runs the upstream image, which has
the UI.</p>
</body></html>
"""


def _node_problem():
    """Why Node cannot build the UI here, or None."""
    if not (shutil.which("node") and shutil.which("npm")):
        return "node and npm are not installed"
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    try:
        found = tuple(int(part) for part in version.lstrip("v").split(".")[:2])
    except ValueError:
        return f"cannot read the Node version ({version!r})"
    if found < MIN_NODE:
        return f"Node {version} is older than {'.'.join(map(str, MIN_NODE))}, which the UI's build needs"
    return None


def _pnpm(cache, run):
    """The pinned pnpm, installed with npm into the cache once; returns the directory of its command."""
    prefix = cache / "npm" / f"pnpm-{PNPM_VERSION}"
    bin_dir = prefix / "node_modules" / ".bin"
    if not os.access(bin_dir / "pnpm", os.X_OK):
        run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", f"pnpm@{PNPM_VERSION}"])
    return bin_dir


def _stand_in_overrides(ui):
    """Add pnpm overrides for the lockfile's packages the registry lacks; True when the lockfile must change."""
    lockfile = (ui / "pnpm-lock.yaml").read_text()
    wanted = {key.rpartition("@")[0]: version for key, version in NPM_STAND_INS.items()
              if f"'{key}':" in lockfile or f"\n  {key}:" in lockfile}
    if wanted:
        lines = "".join(f'  "{name}": "{version}"\n' for name, version in wanted.items())
        with open(ui / "pnpm-workspace.yaml", "a") as workspace:
            workspace.write("# launcher/upstream_ui.py: releases the npm registry here serves\noverrides:\n" + lines)
    return bool(wanted)


def _placeholder(path, name, why, api):
    """Write the gzipped page that stands in for a UI (both servers serve index.html from its .gz)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page = PLACEHOLDER.format(name=name, why=why, api=api)
    path.with_name(path.name + ".gz").write_bytes(gzip.compress(page.encode(), mtime=0))
    return path


def prometheus(source, cache, run):
    """Build Prometheus's web UI into web/ui/static and list it for go:embed; a problem (UI missing) or None."""
    ui = source / "web" / "ui"
    problem = _node_problem()
    if problem is None:
        try:
            pnpm_dir = _pnpm(cache, run)
            # upstream's ui-build: CI="" (not stricter than theirs); its build_ui.sh calls `pnpm` from PATH
            env = {**os.environ, "CI": "", "PATH": f"{pnpm_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
            frozen = "--no-frozen-lockfile" if _stand_in_overrides(ui) else "--frozen-lockfile"
            run(["pnpm", "install", frozen, "--store-dir", str(cache / "npm" / "pnpm-store")],
                cwd=ui, env=env, timeout=UI_TIMEOUT_SECONDS)
            run(["pnpm", "run", "build:mantine-ui"], cwd=ui, env=env, timeout=UI_TIMEOUT_SECONDS)
        except Exception as error:  # any failure means no UI: said loudly, and the build goes on
            problem = f"its web UI did not build: {error}"
    if problem:
        shutil.rmtree(ui / "static", ignore_errors=True)
        page = PLACEHOLDER.format(
            name="Prometheus", why=f"Its web UI could not be built here ({problem}).",
            api='the HTTP API (<a href="api/v1/alerts">api/v1/alerts</a>, <a href="api/v1/targets">api/v1/targets'
                '</a>, <a href="api/v1/rules">api/v1/rules</a>, api/v1/query?query=up)')
        (ui / "static" / "mantine-ui").mkdir(parents=True)
        (ui / "static" / "mantine-ui" / "index.html").write_text(page)
    # upstream's assets-compress: gzip every asset and write embed.go's go:embed list
    run(["bash", "scripts/compress_assets.sh"], cwd=source)
    return problem


def alertmanager(source, cache, run):
    """Give Alertmanager's go:embed directory (ui/app/dist) a page in place of the Elm UI; the problem it names."""
    why = ("Its web UI is written in Elm, and the Elm compiler fetches its packages from the Elm package site, "
           "which this machine cannot reach.")
    _placeholder(source / "ui" / "app" / "dist" / "index.html", "Alertmanager", why,
                 'the HTTP API (<a href="api/v2/alerts">api/v2/alerts</a>, <a href="api/v2/silences">api/v2/silences'
                 '</a>, <a href="api/v2/status">api/v2/status</a>) and amtool')
    return "Alertmanager's Elm UI cannot be built here (no access to the Elm package site); a page says so at /"
