"""Zipkin's server, the trace backend with its UI, at exactly the version .env pins, fetched from Maven Central.

.env pins `ZIPKIN_IMAGE=openzipkin/zipkin-slim:3.6.1`: that tag is the version everywhere, as for the Go-built
upstreams. Natively Zipkin runs from its slim executable jar (`io.zipkin:zipkin-server:<version>:jar:slim`, 86 MB,
the server of the `zipkin-slim` image: in-memory and Elasticsearch storage, the HTTP collector and the zipkin-lens
UI at /zipkin/, without the Cassandra and MySQL storage and the Kafka, RabbitMQ and ActiveMQ collectors, which this
stack does not use). Fewer classes load: ~17 MiB less RSS than the full `exec` jar under the same traffic and JVM
options (launcher/zipkin.py). It is kept in the project's cache beside the Go builds (`<cache>/jars/`). The download is
checked against the sha256 pinned here (not a checksum fetched beside it), written to a temporary name and renamed,
so a cut download never looks finished; a cached jar is trusted as it is (it was checked before the rename).

Standard library only: `launcher/os-deps.sh` runs it before .venv exists. Usage:
    python3 -m launcher.upstream_jar             download the jar when it is missing; print where it is
    python3 -m launcher.upstream_jar --missing   print "zipkin" when the pinned jar is not in the cache
"""
import fcntl
import hashlib
import os
import re
import sys
import time
import urllib.request

from launcher import upstream

ENV_KEY = "ZIPKIN_IMAGE"
MAVEN_CENTRAL = os.environ.get("MAVEN_CENTRAL_URL", "https://repo1.maven.org/maven2")
ARTIFACT = "io/zipkin/zipkin-server/{version}/zipkin-server-{version}-slim.jar"
# The sha256 of each release's slim jar, as Maven Central publishes it (<jar>.sha256, the same as the jar's own
# hash; checked 2026-11-30). A new version in .env needs its line here: the download refuses any other content.
SHA256 = {
    "3.6.1": "981b1de6139b4f8f787a909c308028732f9713ae5284353d2a5aa404d1094775",
}
DOWNLOAD_TIMEOUT_SECONDS = 60  # per network read, not for the whole 86 MB
_TAG = re.compile(r"^[^:@\s]+:(\d+\.\d+\.\d+)$")


class JarError(RuntimeError):
    """The pinned jar cannot be had; the message says why and what to do."""


def pinned_version(env_file=upstream.ENV_FILE):
    """The Zipkin release .env pins ("3.6.1")."""
    image = upstream.env_values(env_file).get(ENV_KEY, "")
    match = _TAG.match(image)
    if not match:
        raise JarError(f"{env_file} must pin {ENV_KEY} to an exact release (image:X.Y.Z); it has {image!r}.")
    return match.group(1)


def jar_path(version, cache=None):
    """Where the slim jar of a release lives in the cache."""
    return (cache or upstream.cache_dir()) / "jars" / f"zipkin-server-{version}-slim.jar"


def installed(env_file=upstream.ENV_FILE):
    """The cached jar of the pinned release, or None."""
    path = jar_path(pinned_version(env_file))
    return path if path.is_file() else None


def download(version, target, url=None):
    """Fetch the jar to `target` through a temporary file, refusing content whose sha256 is not the pinned one."""
    expected = SHA256.get(version)
    if expected is None:
        raise JarError(f"No sha256 is pinned for Zipkin {version}: add its slim jar's sha256 (Maven Central "
                       f"publishes it as {ARTIFACT.format(version=version)}.sha256) to SHA256 in {__file__}.")
    url = url or f"{MAVEN_CENTRAL}/{ARTIFACT.format(version=version)}"
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as answer, open(partial, "wb") as out:
            while chunk := answer.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise JarError(f"Could not download {url}: {error}.") from error
    if digest.hexdigest() != expected:
        partial.unlink(missing_ok=True)
        raise JarError(f"{url} has sha256 {digest.hexdigest()}, not the pinned {expected}; nothing was kept.")
    partial.replace(target)  # atomic: only a checked jar ever has the final name
    return target


def ensure(env_file=upstream.ENV_FILE, out=None):
    """The cached jar of the pinned release, downloaded first when it is missing."""
    out = out or sys.stdout
    version = pinned_version(env_file)
    target = jar_path(version)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two `make` runs at once: the second waits, then finds the jar
        if target.is_file():
            print(f"upstream: found zipkin-server {version} in {target.parent}", file=out)
            return target
        started = time.monotonic()
        print(f"upstream: downloading zipkin-server {version} from Maven Central (first time only) ...", file=out,
              flush=True)
        download(version, target)
        print(f"upstream: downloaded and checked zipkin-server {version} in {time.monotonic() - started:.0f} s",
              file=out)
    return target


def main(argv=None):
    """Download the pinned jar when missing (default), or say whether it is missing (--missing)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv not in ([], ["--missing"]):
        print(__doc__, file=sys.stderr)
        return 64
    try:
        if argv:
            if installed() is None:
                print("zipkin")
            return 0
        ensure()
    except JarError as error:
        print(f"\n{'!' * 78}\nupstream: COULD NOT GET zipkin-server: {error}\nupstream: the native stack cannot "
              f"start its trace backend until this works.\n{'!' * 78}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
