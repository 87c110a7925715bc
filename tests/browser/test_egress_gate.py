"""The egress gate's answers: a connection that fails says only that it failed."""

from __future__ import annotations

import asyncio
import socket

from browser.egress_proxy import EgressGate
from core.egress import EgressPolicy


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def through(gate_url: str, target: str) -> str:
    host, port = gate_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    answer = (await reader.read()).decode()
    writer.close()
    return answer


async def test_an_allowlisted_closed_port_is_not_told_apart_from_any_failed_connection() -> None:
    port = closed_port()
    gate = EgressGate(EgressPolicy.from_setting(f"127.0.0.1:{port}"))
    url = await gate.start()
    try:
        answer = await through(url, f"http://127.0.0.1:{port}/")
    finally:
        gate.close()
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 502")
    assert body == f"could not connect to 127.0.0.1:{port}", body
    assert "Errno" not in answer and "refused" not in answer.lower()
