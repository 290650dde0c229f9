"""`python -m loadgen ...` (see loadgen/cli.py)."""
import os
import sys

# The load generator is one process with a plain registry. A multiprocess
# directory inherited from a gunicorn parent would make prometheus_client write
# every sample to mmapped files instead, so drop it before the client is imported.
os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

import prometheus_client  # noqa: E402 - must come after the line above

from loadgen.cli import main  # noqa: E402

# Counters' `_created` series double the exposition and no panel or rule uses them.
prometheus_client.disable_created_metrics()
sys.exit(main())
