"""One HTTP attempt at a webhook, under the tenants' egress policy: the host is resolved here,
every address it resolves to must pass the policy, and the request goes to the address that
was checked (no second lookup for DNS rebinding to answer differently); TLS still checks the
certificate against the host name. Redirects are not followed, and at most BODY_READ bytes of
the answer are read."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from core.egress import EgressPolicy, IPAddress, describe_block, literal_address

BODY_READ = 4096
DELIVERED, FAILED, GONE, REFUSED = "delivered", "failed", "disabled", "refused"


@dataclass(frozen=True)
class AttemptResult:
    """How one attempt went: `delivered` (2xx), `disabled` (410 Gone), `refused` (the egress
    policy), or `failed` (any other answer, a timeout, a connection error: tried again)."""

    outcome: str
    status_code: int | None
    duration_ms: int
    error: str | None = None


TLS = ssl.create_default_context()
"""One TLS context for every attempt: building one (loading the CA bundle) costs more CPU
than the rest of a delivery."""


@dataclass(frozen=True)
class Timeouts:
    connect_s: float
    total_s: float


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, as the system's resolver says now."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


async def pinned_address(
    url: str, policy: EgressPolicy, resolver: Resolver = resolve
) -> tuple[str, str | None]:
    """The address to connect to for `url`, and why the policy refuses it (None: it passes).
    A host that resolves to any refused address is refused."""
    parts = urlsplit(url)
    if refusal := policy.refuse_url(url):
        return "", refusal
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    literal = literal_address(host)
    addresses = [literal] if literal is not None else await resolver(host, port)
    if not addresses:
        return "", f"{host} resolves to no address"
    for address in addresses:
        decision = policy.decide(host, port, address)
        if not decision.allowed:
            return "", describe_block(host, port, address, decision.reason)
    return str(addresses[0]), None


def _pinned_url(url: str, address: str) -> str:
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


async def post(
    url: str, body: bytes, headers: dict[str, str], policy: EgressPolicy, timeouts: Timeouts
) -> AttemptResult:
    """POST `body` to `url` once."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        async with asyncio.timeout(timeouts.total_s):
            address, refusal = await pinned_address(url, policy)
            if refusal is not None:
                return AttemptResult(REFUSED, None, took(), refusal)
            parts = urlsplit(url)
            timeout = httpx.Timeout(timeouts.total_s, connect=timeouts.connect_s)
            async with httpx.AsyncClient(
                timeout=timeout, follow_redirects=False, trust_env=False, verify=TLS
            ) as client:
                request = client.build_request(
                    "POST",
                    _pinned_url(url, address),
                    content=body,
                    headers={**headers, "Host": parts.netloc.rpartition("@")[2]},
                    extensions={"sni_hostname": parts.hostname or ""},
                )
                response = await client.send(request, stream=True)
                try:
                    read = 0
                    async for chunk in response.aiter_raw():
                        read += len(chunk)
                        if read >= BODY_READ:
                            break
                finally:
                    await response.aclose()
    except TimeoutError:
        return AttemptResult(FAILED, None, took(), f"no answer within {timeouts.total_s:g} s")
    except (httpx.HTTPError, OSError) as error:
        return AttemptResult(FAILED, None, took(), f"{type(error).__name__}: {error}"[:500])
    code = response.status_code
    if 200 <= code < 300:
        return AttemptResult(DELIVERED, code, took())
    if code == 410:
        return AttemptResult(GONE, code, took(), "410 Gone: the webhook is disabled")
    return AttemptResult(FAILED, code, took(), f"answered {code}")
