"""A minimal HTTP/1.1 client on raw asyncio streams: cheap enough to generate a burst from one
process without the load generator itself taking a core (httpx took about 80 % of one)."""

from __future__ import annotations

import asyncio
import json
import time
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
