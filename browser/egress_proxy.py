"""The network path of a run's browser context: a forward proxy that enforces the egress policy.

Each context gets its own gate (a listener on a loopback port, given to Chromium as the
context's proxy), so every request of the context, whatever made it (navigation, redirect,
subresource, fetch, WebSocket, popup, iframe, service worker), arrives here as an HTTP request
in absolute form or as a CONNECT tunnel. The gate resolves the name itself, decides on the
addresses with `core.egress`, and connects to the address it decided on: Chromium never
resolves a tenant's host names, so a second, different answer (DNS rebinding) is never used.

Why not a proxy library: the ones that fit an asyncio worker (proxy.py, mitmproxy) decide on
host names and resolve again to connect; the decision must be on the address connected to.
This gate only tunnels bytes: TLS stays end to end between Chromium and the site.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.egress import EgressPolicy, IPAddress, describe_block, literal_address

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 15.0
BLOCKS_KEPT = 50
"""Refusals a gate keeps in full (the first ones); later ones are counted."""
BLOCKS_LOGGED = 5
"""Refusals a gate logs one line each for; the rest are counted in one line at its close."""
PIPE_CHUNK = 64 * 1024
HOP_BY_HOP = {"proxy-connection", "proxy-authorization", "connection", "keep-alive"}


@dataclass(frozen=True)
class Blocked:
    """A connection the policy refused: where it was going and which rule refused it."""

    destination: str
    reason: str

    @property
    def message(self) -> str:
        return f"blocked by the egress policy: {self.reason}"


class Refused(Exception):
    """A request the gate answers itself instead of forwarding."""

    def __init__(self, status: int, text: str, blocked: Blocked | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.blocked = blocked


class EgressGate:
    """One context's proxy listener; remembers the destinations it refused (the first
    BLOCKS_KEPT in full, the rest as a count and the latest), and logs them under its run."""

    def __init__(self, policy: EgressPolicy) -> None:
        self._policy = policy
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.job_id = ""
        """The run whose context this is (set when a run takes the warm context)."""
        self.blocked: list[Blocked] = []
        self.blocked_total = 0
        self.latest_blocked: Blocked | None = None

    async def start(self) -> str:
        """Listen on a free loopback port; return the proxy URL for the browser context."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def record(self, blocked: Blocked) -> None:
        """Remember a refusal (this gate's, or a scheme Chromium refused on its own), logging
        the first few under the run."""
        self.blocked_total += 1
        self.latest_blocked = blocked
        if len(self.blocked) < BLOCKS_KEPT:
            self.blocked.append(blocked)
        if self.blocked_total <= BLOCKS_LOGGED:
            log.info("run %s: egress: %s", self.job_id, blocked.message, extra=self._extra())

    def close(self) -> None:
        """Stop listening and cut every open tunnel."""
        unlogged = self.blocked_total - BLOCKS_LOGGED
        if unlogged > 0 and self._server is not None and self._server.is_serving():
            log.info(
                "run %s: egress: %d more blocked requests were not logged",
                self.job_id,
                unlogged,
                extra=self._extra(),
            )
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # close() cut this connection; ending normally keeps asyncio (3.11) from logging
            # the cancelled handler as an error. Nothing awaits these tasks.
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")  # at most the reader's limit, 64 KiB
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, version = (request_line.split(" ") + ["", "", ""])[:3]
        try:
            if method == "CONNECT":
                host, port = _split_authority(target)
                upstream = await self._open(host, port)
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                await writer.drain()
            else:
                host, port, origin_form = _absolute_target(target)
                upstream = await self._open(host, port)
                upstream[1].write(_forwarded_head(method, origin_form, version, header_lines))
        except Refused as refused:
            if refused.blocked is not None:
                self.record(refused.blocked)
            return await _answer(writer, refused.status, str(refused))
        up_reader, up_writer = upstream
        try:
            await _pipe_both(reader, writer, up_reader, up_writer)
        finally:
            up_writer.close()

    async def _open(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Resolve `host`, decide on its addresses, connect to the first one allowed."""
        address = await self._choose(host, port)
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(str(address), port), CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError) as error:  # the cause would tell open from closed ports
            log.debug("egress: %s:%s: %s", host, port, error, extra=self._extra())
            raise Refused(502, f"could not connect to {host}:{port}") from None

    def _extra(self) -> dict[str, str]:
        return {"job_id": self.job_id} if self.job_id else {}

    async def _choose(self, host: str, port: int) -> IPAddress:
        addresses = await _resolve(host, port)
        if not addresses:
            raise Refused(502, f"{host} does not resolve")
        first_reason = ""
        for address in addresses:
            decision = self._policy.decide(host, port, address)
            if decision.allowed:
                return address
            first_reason = first_reason or describe_block(host, port, address, decision.reason)
        blocked = Blocked(destination=f"{host}:{port}", reason=first_reason)
        raise Refused(403, blocked.message, blocked)


async def _resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (an address literal is itself)."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return []
    found: list[IPAddress] = []
    for info in infos:
        address = literal_address(str(info[4][0]).split("%")[0])
        if address is not None and address not in found:
            found.append(address)
    return found


def _split_authority(authority: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` of a CONNECT request."""
    host, _, port = authority.rpartition(":")
    if not host or not port.isdigit():
        raise Refused(400, f"bad CONNECT target {authority!r}")
    return host.strip("[]"), int(port)


def _absolute_target(target: str) -> tuple[str, int, str]:
    """Host, port and origin-form path of an absolute-form request target."""
    parts = urlsplit(target)
    if parts.scheme not in ("http", "ws") or not parts.hostname:
        scheme = parts.scheme or "(none)"
        blocked = Blocked(target[:200], f"the scheme '{scheme}:' is not allowed")
        raise Refused(403, blocked.message, blocked)
    try:
        port = parts.port or 80
    except ValueError:
        raise Refused(400, f"bad port in {target[:200]!r}") from None
    path = parts.path or "/"
    return parts.hostname, port, path + (f"?{parts.query}" if parts.query else "")


def _forwarded_head(method: str, path: str, version: str, header_lines: list[str]) -> bytes:
    """The request as the origin expects it: origin-form, no proxy headers, one request per
    connection (so a kept-alive proxy connection never carries a request to another host)."""
    kept = [
        line
        for line in header_lines
        if line and line.split(":", 1)[0].strip().lower() not in HOP_BY_HOP
    ]
    lines = [f"{method} {path} {version or 'HTTP/1.1'}", *kept, "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


async def _answer(writer: asyncio.StreamWriter, status: int, text: str) -> None:
    body = text.encode()
    head = (
        f"HTTP/1.1 {status} Egress\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    with contextlib.suppress(ConnectionError):
        await writer.drain()


async def _pipe_both(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    """Copy bytes both ways until either side closes."""
    tasks = [
        asyncio.create_task(_pipe(reader, up_writer)),
        asyncio.create_task(_pipe(up_reader, writer)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await source.read(PIPE_CHUNK):
            sink.write(data)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
