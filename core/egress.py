"""The egress policy: which destinations a tenant's browser may reach, decided on addresses.

A tenant's test is untrusted input. Its browser may reach the public web and the hosts an
operator allowlists, never this machine, its private network or the service's own ports. The
decision is made on the IP address that is actually connected to, after name resolution, so no
spelling of an address (decimal, hex, IPv4-mapped IPv6, a name that resolves to a private
address, a name that changes its answer) gets around it. Pure functions: the proxy in
`browser/egress_proxy.py` resolves and connects; this module only decides.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = ("http", "https")
"""What a run's browser may load over the network (WebSockets go through the same checks)."""

DENIED_NETWORKS: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(cidr), rule)
    for cidr, rule in (
        ("127.0.0.0/8", "loopback"),
        ("::1/128", "loopback"),
        ("0.0.0.0/8", "in 0.0.0.0/8 (this host)"),
        ("::/128", "unspecified"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("100.64.0.0/10", "shared address space (100.64.0.0/10)"),
        ("169.254.0.0/16", "link-local"),
        ("fe80::/10", "link-local"),
        ("fc00::/7", "unique local (IPv6)"),
        ("224.0.0.0/4", "multicast"),
        ("ff00::/8", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("255.255.255.255/32", "broadcast"),
    )
)


def refused_scheme(scheme: str) -> str | None:
    """Why a URL of this scheme is never loaded (only http and https are), or None."""
    if scheme.lower() in ALLOWED_SCHEMES:
        return None
    return f"the scheme '{scheme.lower()}:' is not allowed (only http and https)"


@dataclass(frozen=True)
class AllowRule:
    """One allowlist entry: a host name, an address or network, with or without a port."""

    host: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    def admits(self, host: str, port: int, address: IPAddress) -> bool:
        """True if this entry covers a connection to `address`:`port` asked for as `host`."""
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            return address in self.network
        return self.host == host.lower().rstrip(".")


@dataclass(frozen=True)
class Decision:
    """Whether a connection may be made; `reason` says why not ("loopback", ...)."""

    allowed: bool
    reason: str = ""


ALLOW = Decision(True)


class InvalidAllowlist(ValueError):
    """An EGRESS_ALLOW entry that is neither a host, host:port, address nor network."""


def parse_allowlist(text: str) -> tuple[AllowRule, ...]:
    """Parse `host`, `host:port`, `address`, `address:port`, `[v6]:port` and CIDR entries,
    separated by commas or white space."""
    rules = []
    for entry in text.replace(",", " ").split():
        rules.append(_parse_entry(entry.strip()))
    return tuple(rules)


def _parse_entry(entry: str) -> AllowRule:
    try:
        return AllowRule(network=ipaddress.ip_network(entry, strict=False))
    except ValueError:
        pass
    host, port = entry, None
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = _port(rest.removeprefix(":"), entry) if rest else None
    elif entry.count(":") == 1:
        host, _, port_text = entry.partition(":")
        port = _port(port_text, entry)
    try:
        return AllowRule(network=ipaddress.ip_network(host), port=port)
    except ValueError:
        pass
    if not host or "/" in host or ":" in host:
        raise InvalidAllowlist(f"EGRESS_ALLOW: {entry!r} is not a host, host:port or network")
    return AllowRule(host=host.lower().rstrip("."), port=port)


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidAllowlist(f"EGRESS_ALLOW: {entry!r} has no valid port")
    return int(text)


def denied_reason(address: IPAddress) -> str | None:
    """Why no tenant may connect to `address` by default, or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or _ipv4_compatible(address)
        if embedded is not None:
            return denied_reason(embedded)
    for network, rule in DENIED_NETWORKS:
        if address.version == network.version and address in network:
            return rule
    return None


def _ipv4_compatible(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside a deprecated IPv4-compatible IPv6 address (::a.b.c.d)."""
    if int(address) >> 32 == 0 and int(address) > 1:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True)
class EgressPolicy:
    """The default denials, less what the operator allowlists."""

    allow: tuple[AllowRule, ...] = ()

    @classmethod
    def from_setting(cls, text: str) -> EgressPolicy:
        """The policy for an EGRESS_ALLOW value."""
        return cls(parse_allowlist(text))

    def decide(self, host: str, port: int, address: IPAddress) -> Decision:
        """May the browser connect to `address`:`port`, which it asked for as `host`?"""
        if any(rule.admits(host, port, address) for rule in self.allow):
            return ALLOW
        reason = denied_reason(address)
        return ALLOW if reason is None else Decision(False, reason)

    def refuse_url(self, url: str) -> str | None:
        """Why a URL can never pass, known without resolving anything: a denied scheme, or a
        literal denied address (any spelling of it). None if it may pass."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if refusal := refused_scheme(scheme):
            return refusal
        host = parts.hostname or ""
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            return "the URL has an invalid port"
        address = literal_address(host)
        if address is None:
            if _is_localhost_name(host):
                address = ipaddress.IPv4Address("127.0.0.1")
            else:
                return None
        decision = self.decide(host, port, address)
        return None if decision.allowed else describe_block(host, port, address, decision.reason)


SPECIAL_SCHEME = re.compile(r"^(https?):(.*)$", re.IGNORECASE | re.DOTALL)
C0_OR_SPACE = "".join(chr(code) for code in range(0x21))


def resolve_like_browser(base: str | None, url: str) -> str:
    """`url` (absolute, or relative to `base`) as a browser's URL parser (WHATWG) reads it,
    for http and https: surrounding control characters and spaces go, tabs and newlines go
    everywhere, a backslash is a slash, and `http:host`, `http:/host` or `http:\\\\host`
    name the host `host`, unless the base has the same scheme and at most one slash
    follows (then they are relative)."""
    url = url.strip(C0_OR_SPACE).replace("\t", "").replace("\n", "").replace("\r", "")
    special = SPECIAL_SCHEME.match(url)
    if special is None:
        return urljoin(base, url) if base else url
    scheme, rest = special[1].lower(), special[2].replace("\\", "/")
    same_scheme = base is not None and urlsplit(base).scheme.lower() == scheme
    if same_scheme and not rest.startswith("//"):
        return urljoin(base or "", rest)
    return f"{scheme}://{rest.lstrip('/')}"


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as an address means, in any spelling browsers accept
    (dotted, decimal, hex, octal, shortened, bracketed IPv6); None for a name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _is_localhost_name(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host == "localhost" or host.endswith(".localhost")


def describe_block(host: str, port: int, address: IPAddress, reason: str) -> str:
    """`127.0.0.1:9464 is loopback`, or `localhost:9464 (127.0.0.1) is loopback` for a name."""
    shown = f"[{address}]" if address.version == 6 else str(address)
    if host.strip("[]").lower() == str(address):
        return f"{shown}:{port} is {reason}"
    return f"{host}:{port} ({address}) is {reason}"
