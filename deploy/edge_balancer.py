"""A small TCP load balancer: one published port in front of every replica of a service.

    python edge_balancer.py --listen 0.0.0.0:8000 --upstream shop:8000

`docker compose up --scale shop=3` starts three shop containers, and two of
them cannot publish the same host port. The `edge` service publishes it
instead and spreads connections over the replicas. It looks the upstream
name up again for every connection, so replicas added or restarted later are
used at once (compose's DNS answers with every replica's address). It works at
the TCP level: it never reads HTTP, so it adds no parsing and no metrics of
its own; the shop's own metrics see every request.
"""
import argparse
import asyncio
import itertools
import logging
import socket
import sys

CONNECT_TIMEOUT_SECONDS = 3.0
CHUNK_BYTES = 64 * 1024

log = logging.getLogger("edge_balancer")


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


async def pipe(reader, writer):
    """Copy bytes one way until EOF, then half-close the other side."""
    try:
        while chunk := await reader.read(CHUNK_BYTES):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


class Balancer:
    """Accepts client connections and hands each to the next upstream replica."""

    def __init__(self, upstream):
        self.upstream = upstream
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
        """Serve one client connection."""
        try:
            upstream_reader, upstream_writer = await self.connect()
        except OSError as error:
            log.warning("%s", error)
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))
        for writer in (upstream_writer, client_writer):
            writer.close()


async def serve(listen, upstream):
    """Listen until cancelled."""
    server = await asyncio.start_server(Balancer(upstream).handle, *listen, reuse_address=True)
    log.warning("balancing %s:%s over every address of %s:%s", *listen, *upstream)
    async with server:
        await server.serve_forever()


def main(argv=None):
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=host_port, required=True, help="HOST:PORT to listen on")
    parser.add_argument("--upstream", type=host_port, required=True, help="NAME:PORT of the replicas")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s edge_balancer %(message)s")
    try:
        asyncio.run(serve(args.listen, args.upstream))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
