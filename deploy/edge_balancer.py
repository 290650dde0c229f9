"""A small TCP load balancer: one published port in front of every replica of a service.

    python edge_balancer.py --listen 0.0.0.0:8000 --upstream shop:8000

`docker compose up --scale shop=3` starts three shop containers, and two of
them cannot publish the same host port. The `edge` service publishes it
instead and spreads connections over the replicas. It looks the upstream
name up again for every connection, so replicas added or restarted later are
used at once (compose's DNS answers with every replica's address). It works at
the TCP level: it never reads HTTP, so it adds no parsing and no metrics of
its own; the shop's own metrics see every request.

Bounded like any front door: a connection on which no byte moved either way
for --idle-timeout seconds is closed (an idle or half-open client must not
hold a task, two sockets and an upstream worker's connection forever), and
at most --max-connections are served at once; one more is closed at once and
logged, so a flood cannot run the container out of file descriptors. The
shop's gthread workers time out slow requests themselves (gunicorn_conf.py).
"""
import argparse
import asyncio
import itertools
import logging
import socket
import sys

CONNECT_TIMEOUT_SECONDS = 3.0
CHUNK_BYTES = 64 * 1024
# Longer than a slow shop request takes (gunicorn kills a worker stuck for 30 s) and than browsers keep an
# idle keep-alive connection to one host (Chrome: 300 s is the pool's limit, most close far sooner).
DEFAULT_IDLE_TIMEOUT_SECONDS = 60.0
# Far below a container's default open-file limit (1,048,576 soft in Podman, 1024 in some Dockers: two
# descriptors per connection).
DEFAULT_MAX_CONNECTIONS = 400

log = logging.getLogger("edge_balancer")


def positive_number(text):
    """A finite number above zero (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number.")
    return value


def host_port(text):
    """Split HOST:PORT (argparse type)."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT.")
    return host, int(port)


async def upstream_addresses(host, port):
    """Every IPv4/IPv6 address the upstream name has right now, in a stable order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({info[4][:2] for info in infos})


class Activity:
    """When a byte last moved on one client connection, either way."""

    def __init__(self):
        self.last = asyncio.get_running_loop().time()

    def touch(self):
        """Record that bytes moved now."""
        self.last = asyncio.get_running_loop().time()

    def idle_for(self):
        """Seconds since bytes last moved."""
        return asyncio.get_running_loop().time() - self.last


async def pipe(reader, writer, activity):
    """Copy bytes one way until EOF, then half-close the other side."""
    try:
        while chunk := await reader.read(CHUNK_BYTES):
            activity.touch()
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def close_when_idle(activity, idle_timeout, writers):
    """Close both sides once no byte moved for idle_timeout seconds (a pipe's read then ends)."""
    while (idle := activity.idle_for()) < idle_timeout:
        await asyncio.sleep(idle_timeout - idle)
    for writer in writers:
        writer.close()


class Balancer:
    """Accepts client connections and hands each to the next upstream replica."""

    def __init__(self, upstream, idle_timeout=DEFAULT_IDLE_TIMEOUT_SECONDS,
                 max_connections=DEFAULT_MAX_CONNECTIONS):
        self.upstream = upstream
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.open_connections = 0
        self.turn = itertools.count()

    async def connect(self):
        """Open a connection to a replica, trying the others if the chosen one refuses."""
        addresses = await upstream_addresses(*self.upstream)
        if not addresses:
            raise OSError(f"{self.upstream[0]} has no address.")
        start = next(self.turn)
        last_error = None
        for offset in range(len(addresses)):
            address = addresses[(start + offset) % len(addresses)]
            try:
                return await asyncio.wait_for(asyncio.open_connection(*address), CONNECT_TIMEOUT_SECONDS)
            except (TimeoutError, OSError) as error:
                last_error = error
        raise OSError(f"No replica of {self.upstream[0]} accepted a connection: {last_error}.")

    async def handle(self, client_reader, client_writer):
        """Serve one client connection, unless max_connections are open already."""
        if self.open_connections >= self.max_connections:
            log.warning("refused a connection: %d are open (--max-connections)", self.open_connections)
            client_writer.close()
            return
        self.open_connections += 1
        try:
            await self.relay(client_reader, client_writer)
        finally:
            self.open_connections -= 1

    async def relay(self, client_reader, client_writer):
        """Pipe bytes between the client and a replica until both sides end or the connection idles out."""
        try:
            upstream_reader, upstream_writer = await self.connect()
        except OSError as error:
            log.warning("%s", error)
            client_writer.close()
            return
        writers = (upstream_writer, client_writer)
        activity = Activity()
        watchdog = asyncio.create_task(close_when_idle(activity, self.idle_timeout, writers))
        try:
            await asyncio.gather(pipe(client_reader, upstream_writer, activity),
                                 pipe(upstream_reader, client_writer, activity))
        finally:
            watchdog.cancel()
            for writer in writers:
                writer.close()


async def serve(listen, upstream, idle_timeout=DEFAULT_IDLE_TIMEOUT_SECONDS,
                max_connections=DEFAULT_MAX_CONNECTIONS):
    """Listen until cancelled."""
    balancer = Balancer(upstream, idle_timeout, max_connections)
    server = await asyncio.start_server(balancer.handle, *listen, reuse_address=True)
    log.warning("balancing %s:%s over every address of %s:%s (idle timeout %g s, at most %d connections)",
                *listen, *upstream, idle_timeout, max_connections)
    async with server:
        await server.serve_forever()


def main(argv=None):
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=host_port, required=True, help="HOST:PORT to listen on")
    parser.add_argument("--upstream", type=host_port, required=True, help="NAME:PORT of the replicas")
    parser.add_argument("--idle-timeout", type=positive_number, default=DEFAULT_IDLE_TIMEOUT_SECONDS,
                        help="close a connection after this many seconds without a byte either way "
                             f"(default {DEFAULT_IDLE_TIMEOUT_SECONDS:g})")
    parser.add_argument("--max-connections", type=int, default=DEFAULT_MAX_CONNECTIONS,
                        help=f"connections served at once; more are closed (default {DEFAULT_MAX_CONNECTIONS})")
    args = parser.parse_args(argv)
    if args.max_connections < 1:
        parser.error("--max-connections must be at least 1.")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s edge_balancer %(message)s")
    try:
        asyncio.run(serve(args.listen, args.upstream, args.idle_timeout, args.max_connections))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
