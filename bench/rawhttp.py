"""A minimal HTTP/1.1 client on raw asyncio streams: cheap enough to generate a burst from one
process without the load generator itself taking a core (httpx took about 80 % of one)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any


async def request(
    host: str, port: int, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, Any, float]:
    """One request on its own connection: (status, parsed JSON body or None, seconds)."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Connection: close",
            f"Content-Length: {len(body)}",
        ]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
    elapsed = time.perf_counter() - started
    head, _, payload = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    try:
        parsed = json.loads(payload) if payload else None
    except ValueError:
        parsed = None
    return status, parsed, elapsed


class KeepAlive:
    """One persistent HTTP/1.1 connection for sequential requests, as a polling client keeps."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str]
    ) -> tuple[int, Any, float]:
        """(status, parsed JSON body or None, seconds), reusing the connection."""
        started = time.perf_counter()
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self._host}:{self._port}",
            "Content-Length: 0",
        ]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self._writer.drain()
        head = await self._reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        payload = await self._reader.readexactly(length)
        elapsed = time.perf_counter() - started
        status = int(head.split(b" ", 2)[1])
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = None
        return status, parsed, elapsed

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


async def sse_events(
    host: str, port: int, path: str, headers: dict[str, str]
) -> AsyncIterator[tuple[str, Any, float]]:
    """Server-Sent Events of `path` as (event, parsed data, receipt time.time()). Asks with
    HTTP/1.0, so the body comes unchunked and ends when the server closes it."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        lines = [f"GET {path} HTTP/1.0", f"Host: {host}:{port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass  # the response head
        event, data = "message", None
        async for raw in reader:
            line = raw.rstrip(b"\r\n").decode()
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
            elif not line and data is not None:
                yield event, data, time.time()
                event, data = "message", None
    finally:
        writer.close()
