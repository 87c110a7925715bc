"""The egress policy's decisions on resolved addresses (no connection is ever made here)."""

from __future__ import annotations

import ipaddress

import pytest

from core.definition import TestDefinition, refused_urls
from core.egress import (
    EgressPolicy,
    InvalidAllowlist,
    denied_reason,
    literal_address,
    resolve_like_browser,
)

DEFAULT = EgressPolicy()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "in 0.0.0.0/8 (this host)"),
        ("10.20.30.40", "private (RFC 1918)"),
        ("172.16.0.1", "private (RFC 1918)"),
        ("172.31.255.255", "private (RFC 1918)"),
        ("192.168.1.1", "private (RFC 1918)"),
        ("100.64.0.1", "shared address space (100.64.0.0/10)"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fd00::1", "unique local (IPv6)"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private (RFC 1918)"),
        ("::ffff:169.254.169.254", "link-local"),
    ],
)
def test_private_and_local_addresses_are_denied_by_default(address: str, reason: str) -> None:
    decision = DEFAULT.decide("example.test", 443, ipaddress.ip_address(address))
    assert not decision.allowed
    assert decision.reason == reason


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "172.32.0.1", "2a00:1450::1"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert denied_reason(ipaddress.ip_address(address)) is None
    assert DEFAULT.decide("example.test", 443, ipaddress.ip_address(address)).allowed


def test_a_name_that_resolves_to_a_private_address_is_denied_whatever_the_name() -> None:
    """The decision is on the resolved address: a public-looking name does not help."""
    decision = DEFAULT.decide("www.example.test", 80, ipaddress.ip_address("192.168.0.10"))
    assert not decision.allowed


def test_the_allowlist_admits_hosts_ports_and_networks() -> None:
    policy = EgressPolicy.from_setting("staging.internal, 127.0.0.1:8001 10.5.0.0/16,[::1]:8002")
    loopback, v6 = ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")
    assert policy.decide("127.0.0.1", 8001, loopback).allowed
    assert policy.decide("localhost", 8001, loopback).allowed, "decided on the address"
    assert not policy.decide("127.0.0.1", 8000, loopback).allowed, "another port stays denied"
    assert policy.decide("staging.internal", 443, ipaddress.ip_address("10.9.9.9")).allowed
    assert policy.decide("STAGING.internal.", 80, ipaddress.ip_address("10.9.9.9")).allowed
    assert not policy.decide("other.internal", 80, ipaddress.ip_address("10.9.9.9")).allowed
    assert policy.decide("db.internal", 5432, ipaddress.ip_address("10.5.1.2")).allowed
    assert policy.decide("[::1]", 8002, v6).allowed
    assert not policy.decide("[::1]", 8003, v6).allowed


@pytest.mark.parametrize("entry", ["http://x", "1.2.3.4:99999", "host:port", "10.0.0.0/33:80"])
def test_a_bad_allowlist_entry_is_refused_with_its_name(entry: str) -> None:
    with pytest.raises(InvalidAllowlist, match="EGRESS_ALLOW"):
        EgressPolicy.from_setting(entry)


@pytest.mark.parametrize(
    "spelling", ["127.0.0.1", "2130706433", "0x7f000001", "0x7f.0.0.1", "0177.0.0.1", "127.1"]
)
def test_every_spelling_of_an_ipv4_address_is_read_as_that_address(spelling: str) -> None:
    assert literal_address(spelling) == ipaddress.ip_address("127.0.0.1")


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("file:///etc/passwd", "the scheme 'file:' is not allowed (only http and https)"),
        (
            "view-source:http://example.test/",
            "the scheme 'view-source:' is not allowed (only http and https)",
        ),
        ("http://2130706433:9464/", "2130706433:9464 (127.0.0.1) is loopback"),
        ("http://[::ffff:7f00:1]/", "[::ffff:7f00:1]:80 is loopback"),
        ("https://localhost/", "localhost:443 (127.0.0.1) is loopback"),
        ("http://app.localhost:3000/", "app.localhost:3000 (127.0.0.1) is loopback"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254:80 is link-local"),
    ],
)
def test_urls_that_can_never_pass_are_known_without_resolving(url: str, refusal: str) -> None:
    assert DEFAULT.refuse_url(url) == refusal


def test_names_are_left_to_the_decision_on_their_resolved_address() -> None:
    assert DEFAULT.refuse_url("https://example.test/shop") is None
    allowed = EgressPolicy.from_setting("127.0.0.1:8001")
    assert allowed.refuse_url("http://127.0.0.1:8001/shop.html") is None
    assert allowed.refuse_url("http://127.0.0.1:8000/") == "127.0.0.1:8000 is loopback"


@pytest.mark.parametrize(
    "start_url,navigate",
    [
        ("https://shop.example/", "http:127.0.0.1:8000/"),  # another scheme: an absolute URL
        ("https://shop.example/", "http:\\\\127.0.0.1:8000/"),
        ("https://shop.example/", "http:/127.0.0.1:8000/"),
        ("http://shop.example/", "http://\\127.0.0.1:8000/"),
        ("http://shop.example/", " http://127.0.0.1\t:8000/"),
        ("http://shop.example/", "//127.0.0.1:8000/"),
    ],
)
def test_definition_time_checks_read_urls_the_way_the_browser_will(
    start_url: str, navigate: str
) -> None:
    test = TestDefinition.model_validate(
        {
            "name": "sneaky",
            "start_url": start_url,
            "steps": [{"action": "navigate", "value": navigate}],
        }
    )
    [problem] = refused_urls(test, EgressPolicy())
    assert problem["loc"] == ("steps", 0, "value")
    assert "127.0.0.1:8000 is loopback" in problem["msg"]


def test_a_same_scheme_url_without_slashes_is_relative_as_in_the_browser() -> None:
    base = "http://shop.example/a/"
    assert resolve_like_browser(base, "http:127.0.0.1:8000/") == base + "127.0.0.1:8000/"
    assert (
        resolve_like_browser(base, "http:/127.0.0.1:8000/") == "http://shop.example/127.0.0.1:8000/"
    )
    assert resolve_like_browser(None, "http:127.0.0.1:8000/") == "http://127.0.0.1:8000/"
