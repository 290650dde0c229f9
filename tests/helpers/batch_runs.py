"""Run the reconcile batch job by hand, as an operator would."""
import os
import subprocess
import sys

from tests.helpers.paths import REPO

RUN_TIMEOUT_SECONDS = 60


def reconcile(services, *args):
    """Run `python -m app.batch.reconcile` by hand, as an operator would; return the completed process."""
    env = dict(os.environ, SHOP_URL=services["shop"], PAYMENTS_URL=services["payments"], PYTHONPATH=str(REPO))
    # The test process's PROMETHEUS_MULTIPROC_DIR is inherited on purpose: the job must not be affected by it.
    for variable in ("PUSHGATEWAY_URL", "TEXTFILE_DIR"):
        env.pop(variable, None)
    return subprocess.run([sys.executable, "-m", "app.batch.reconcile", "--settle-seconds", "0", *args],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS)
