"""Auth flows: a real login page, credentials only ever sealed outside the browser."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import subprocess

import pytest

from core.definition import Credentials
from core.secrets import SecretBox
from devstack.temporal_server import temporal_binary
from tests.support.runs import outcome, start_run
from workflows.messages import AuthInput

PASSWORD = "pw-Zebra-7731"
LOGIN_STEPS = [
    {"action": "type", "selector": "#username", "value": "{{username}}"},
    {"action": "type", "selector": "#password", "value": "{{ password }}"},
    {"action": "click", "selector": "#submit"},
    {"action": "assert", "selector": "#welcome", "value": "Welcome"},
]


def decoded_history(run_id: str, address: str) -> str:
    """`temporal workflow show --output json`, with every base64 payload decoded beside it."""
    shown = subprocess.run(
        [
            temporal_binary(),
            "workflow",
            "show",
            "-w",
            run_id,
            "--address",
            address,
            "--output",
            "json",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    decoded: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "data" and isinstance(value, str):
                    with contextlib.suppress(binascii.Error, ValueError):
                        decoded.append(
                            base64.b64decode(value, validate=True).decode(errors="replace")
                        )
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(shown))
    return shown + "\n".join(decoded)


def auth_input(pages_url: str, settings, password: str) -> AuthInput:
    box = SecretBox(settings.secret_key)
    return AuthInput(
        name="test login",
        login_url=pages_url + "login.html",
        steps=LOGIN_STEPS,
        sealed_credentials=box.seal_credentials(Credentials(username="alice", password=password)),
    )


def account_test(pages_url: str) -> dict:
    return {
        "name": "account after login",
        "start_url": pages_url + "account.html",
        "step_timeout_ms": 2000,
        "steps": [{"action": "assert", "selector": "#welcome", "value": "Welcome alice"}],
    }


async def test_auth_flow_logs_in_and_the_password_stays_out_of_history_and_logs(
    client, worker_host, pages_url: str, run_id: str, settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = auth_input(pages_url, settings, PASSWORD)
    result = await outcome(await start_run(client, run_id, account_test(pages_url), auth=auth))

    assert result.state == "completed", result.error
    assert result.auth is not None and result.auth.status == "passed"
    assert result.steps[0].status == "passed"

    shown = decoded_history(run_id, settings.temporal_address)
    assert "login.html" in shown and "sealed_credentials" in shown, "the payloads were decoded"
    assert PASSWORD not in shown
    assert "alice" not in shown.replace("Welcome alice", "")
    assert PASSWORD not in caplog.text


async def test_wrong_password_fails_the_login_without_revealing_it(
    client, worker_host, pages_url: str, run_id: str, settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-Zebra-0000"
    test = {**account_test(pages_url), "retry": {"max_attempts": 1}}
    result = await outcome(
        await start_run(client, run_id, test, auth=auth_input(pages_url, settings, wrong))
    )
    assert result.state == "failed"
    assert result.error.startswith("login failed after 1 attempt")
    assert result.steps[0].status == "skipped"
    assert wrong not in result.model_dump_json()
    assert wrong not in caplog.text


async def test_credentials_sealed_under_another_key_are_rejected_at_once(
    client, worker_host, pages_url: str, run_id: str
) -> None:
    from cryptography.fernet import Fernet

    foreign = SecretBox(Fernet.generate_key()).seal_credentials(
        Credentials(username="alice", password=PASSWORD)
    )
    auth = AuthInput(
        name="x", login_url=pages_url + "login.html", steps=LOGIN_STEPS, sealed_credentials=foreign
    )
    result = await outcome(await start_run(client, run_id, account_test(pages_url), auth=auth))
    assert result.state == "failed"
    assert result.error_type == "AuthRejected"
    assert result.auth.attempts == 1
