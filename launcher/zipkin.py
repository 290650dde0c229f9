"""How the trace backend runs: Zipkin's server jar on a small, bounded JVM, listening on loopback only.

The same JVM options run natively (this command line) and under compose (docker-compose.yml's JAVA_OPTS, held
to JAVA_OPTIONS by tests/config/test_zipkin_config.py). Measured on 2026-11-29 (Zipkin 3.6.1's exec jar, OpenJDK 17,
2 shared cores): healthy 6-8 s after start; 147 MiB RSS idle and about 160 MiB holding MEM_MAX_SPANS spans, against
203 MiB with upstream's image defaults. What is left is mostly class metadata, not heap: so since 2026-11-30 the
slim jar (launcher/upstream_jar.py), which loads fewer classes: 36 MiB of metaspace instead of 48, and 145 MiB RSS
instead of 165 MiB in the native stack under baseline traffic (bench part 4). Native memory of the slim jar then
(-XX:NativeMemoryTracking=summary, 45 s of spans): heap 30 MiB, metaspace 36, class data sharing 12, symbols 10,
code 10, thread stacks 2 (19 threads), plus ~21 MiB of mapped files (the JVM's libraries).

Measured alone under the same spans (134 MiB) and not kept: glibc's MALLOC_ARENA_MAX=2 with
-XX:TrimNativeHeapInterval (133.5), Spring's lazy initialisation (135), -Xshare:off (135); -Xint (119, but 4.4x
the CPU, and 73 s to start on a busy machine instead of 6-20).
"""
from launcher import binaries, upstream_jar

# In-memory storage keeps at most this many spans and drops the oldest traces beyond (each costs ~2.2 KiB of
# heap: 5,000 spans ~11 MiB on top of ~21 MiB at rest). At the demo's 5 journeys/s, a few minutes of traces.
MEM_MAX_SPANS = 5000
JAVA_OPTIONS = (
    "-Xms16m", "-Xmx48m",  # room for MEM_MAX_SPANS spans plus ~50% for collection
    # A young generation of 6 MiB instead of a third of the heap: it is all resident (every allocation passes
    # through it), the old one keeps the spans. 3 MiB less RSS in the stack, ~10% more of Zipkin's little CPU.
    "-Xmn6m",
    "-XX:MinHeapFreeRatio=5", "-XX:MaxHeapFreeRatio=20",  # give heap back after a collection
    "-XX:+UseSerialGC",  # one small heap, no parallel GC threads and their structures
    "-XX:MaxMetaspaceSize=64m", "-XX:ReservedCodeCacheSize=16m",
    "-XX:TieredStopAtLevel=1", "-XX:CICompilerCount=1",  # C1 only: less code cache and compiler memory
    "-Xss256k",
    "-XX:-UsePerfData",  # no hsperfdata file in /tmp (the container's root is read-only)
    "-XX:+ExitOnOutOfMemoryError",  # as upstream's image: exit, so the launcher or compose notices
    # Armeria's defaults (2 event loops per core, up to 200 blocking threads) cost ~20 MiB of stacks under load.
    "-Dcom.linecorp.armeria.numCommonWorkers=2", "-Dcom.linecorp.armeria.numCommonBlockingTaskThreads=4",
)


def command(port, host="127.0.0.1"):
    """The command line of Zipkin on `host:port`: Spring Boot replaces the whole list of Armeria's ports, so the
    port, its address and its protocol are all given."""
    jar = upstream_jar.installed()
    if jar is None:
        raise binaries.MissingProgram(
            f"Zipkin's server jar {upstream_jar.pinned_version()} is not in the cache. Run `make os-deps` "
            f"(launcher/upstream_jar.py downloads it from Maven Central).")
    return [binaries.find("java"), *JAVA_OPTIONS, "-jar", str(jar),
            f"--armeria.ports[0].ip={host}", f"--armeria.ports[0].port={port}", "--armeria.ports[0].protocols=http"]


def environment():
    """Zipkin's settings that it reads from the environment (as in its image)."""
    return {"STORAGE_TYPE": "mem", "MEM_MAX_SPANS": str(MEM_MAX_SPANS)}
