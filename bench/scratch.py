"""Scratch directories for a part of the bench: removed when the part succeeds, kept (and named) when it fails."""
import contextlib
import functools
import shutil
import sys
import tempfile


@contextlib.contextmanager
def scratch(prefix):
    """A temporary directory for logs and data; kept after an error so its logs can be read."""
    path = tempfile.mkdtemp(prefix=prefix)
    try:
        yield path
    except BaseException:
        print(f"Logs and data of the failed part are kept in {path}.", file=sys.stderr)
        raise
    shutil.rmtree(path, ignore_errors=True)


def in_scratch(prefix):
    """Decorate a part's run(): it gets `workdir`, a scratch directory that lives as long as the call."""
    def wrap(function):
        @functools.wraps(function)
        def run(*args, **kwargs):
            with scratch(prefix) as workdir:
                return function(*args, workdir=workdir, **kwargs)
        return run
    return wrap
