"""`python -m loadgen ...` and the `loadgen` console script (entry point `loadgen.__main__:run`)."""
import os
import sys


def run() -> int:
    """Prepare the process, then hand over to the command line (see loadgen/cli.py)."""
    # The load generator is one process with a plain registry. A multiprocess directory inherited
    # from a gunicorn parent would make prometheus_client write every sample to mmapped files
    # instead, so drop it before the client is first imported.
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    # (`_created` series are left out by LoadgenMetrics.exposition itself.)
    from loadgen.cli import main
    return main()


if __name__ == "__main__":
    sys.exit(run())
