"""The parts of a webhook delivery that need no server: signatures, rules, chat messages, and
the egress decision on the address a delivery would connect to (nothing is connected to)."""

from __future__ import annotations

import ipaddress
import time

import pytest

from core.egress import EgressPolicy, IPAddress
from core.webhook_signing import new_secret, signature, verify
from notify.chat import chat_message
from notify.delivery import REFUSED, Resolver, Timeouts, pinned_address, post
from notify.rules import EventFacts, WebhookRules
from tests.support.readme import readme_function


def test_a_signature_verifies_only_for_its_secret_body_and_time() -> None:
    secret, body, now = new_secret(), b'{"id":"evt-1"}', int(time.time())
    header = signature(secret, body, now)
    assert header.startswith(f"t={now},v1=") and len(header.split("v1=")[1]) == 64
    assert verify(secret, body, header, now)
    assert not verify(secret + "x", body, header, now)
    assert not verify(secret, body + b" ", header, now)
    assert not verify(secret, body, header, now + 301), "older than 5 minutes: a replay"
    assert not verify(secret, body, "v1=" + header.split("v1=")[1], now)
    readme_verify = readme_function("verify_signature")
    assert readme_verify(secret, body, signature(secret, body, int(time.time())))
    assert not readme_verify(secret, body, header.replace(f"t={now}", f"t={now - 600}"))


def test_rules_narrow_events_by_outcome_test_suite_schedule_and_environment() -> None:
    failed = EventFacts(passed=False, test_id=3, suite_id=7, schedule_id="s-1", environment="qa")
    passed = EventFacts(passed=True, test_id=3, environment="qa")
    assert WebhookRules().admit(failed) and WebhookRules().admit(passed)
    assert WebhookRules(only_failures=True).admit(failed)
    assert not WebhookRules(only_failures=True).admit(passed)
    assert WebhookRules(test_ids=[3, 4]).admit(failed)
    assert not WebhookRules(test_ids=[4]).admit(failed)
    assert not WebhookRules(suite_ids=[7]).admit(passed), "a run of no suite"
    assert WebhookRules(schedule_ids=["s-1"]).admit(failed)
    assert not WebhookRules(environment="production").admit(failed)


def test_a_chat_message_names_the_test_outcome_failed_step_and_link() -> None:
    run = {
        "testName": "checkout",
        "testId": 3,
        "state": "failed",
        "passed": False,
        "environment": "staging",
        "failedStep": {"number": 2, "action": "click", "error": "no element matches '#buy'"},
        "url": "https://tests.example/ui/runs/run-1",
    }
    message = chat_message({"id": "evt-1", "type": "run.finished", "data": {"run": run}})
    assert message["text"].splitlines() == [
        ":x: *checkout* failed in staging",
        "Step 2 (click): no element matches '#buy'",
        "<https://tests.example/ui/runs/run-1|Open in the dashboard>",
    ]
    assert message["blocks"][0]["text"]["text"] == message["text"]
    recovered = chat_message(
        {"id": "e", "type": "schedule.recovered", "data": {"run": {**run, "passed": True}}}
    )
    assert recovered["text"].startswith(":white_check_mark: *checkout* passes again")


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest",
        "http://[::ffff:127.0.0.1]:8080/",
        "http://localhost:8080/hook",
        "http://0x7f000001/",
    ],
)
async def test_a_denied_address_is_refused_before_any_connection(url: str) -> None:
    policy = EgressPolicy.from_setting("")
    address, refusal = await pinned_address(url, policy)
    assert address == "" and refusal
    result = await post(url, b"{}", {}, policy, Timeouts(0.5, 1))
    assert result.outcome == REFUSED and result.status_code is None


def resolving_to(*addresses: str) -> Resolver:
    """A resolver that answers these addresses for any name (no lookup, no traffic)."""

    async def resolver(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(address) for address in addresses]

    return resolver


@pytest.mark.parametrize(
    ("answers", "refused"),
    [
        (("127.0.0.1",), True),  # DNS rebinding: a public-looking name answers loopback
        (("93.184.216.34", "10.1.2.3"), True),  # one private answer among public ones
        (("::ffff:192.168.0.1",), True),
        (("93.184.216.34",), False),
    ],
)
async def test_a_name_is_decided_on_every_address_it_resolves_to(
    answers: tuple[str, ...], refused: bool
) -> None:
    policy = EgressPolicy.from_setting("")
    url = "https://hooks.example.com/testrun"
    address, refusal = await pinned_address(url, policy, resolving_to(*answers))
    assert (refusal is not None) == refused, refusal
    assert address == ("" if refused else answers[0]), "the very address that was decided"


async def test_egress_allow_admits_a_resolved_private_address() -> None:
    allowed = EgressPolicy.from_setting("10.1.2.3:443")
    address, refusal = await pinned_address(
        "https://hooks.internal/x", allowed, resolving_to("10.1.2.3")
    )
    assert (address, refusal) == ("10.1.2.3", None)
