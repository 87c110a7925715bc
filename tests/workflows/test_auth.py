"""Auth flows: a real login page, credentials only ever sealed outside the browser."""

from __future__ import annotations

import json
import logging
import zipfile
from urllib.parse import quote, quote_plus

import pytest

from core.definition import Credentials
from core.run_ids import session_workflow_id
from core.secrets import SecretBox
from tests.support.definitions import login_steps
from tests.support.history import decoded_history
from tests.support.runs import outcome, start_run
from tests.support.secrets import spellings
from workflows.messages import AuthInput

PASSWORD = "pw-Zebra-7731"


def auth_input(pages_url: str, settings, password: str) -> AuthInput:
    box = SecretBox(settings.secret_key)
    return AuthInput(
        name="test login",
        login_url=pages_url + "login.html",
        steps=login_steps(),
        sealed_credentials=box.seal_credentials(Credentials(username="alice", password=password)),
    )


def echo_login(settings, login_url: str, username: str, password: str) -> AuthInput:
    """A login into the careless site (/whoami), which echoes it back on its pages."""
    steps = login_steps()
    sealed = SecretBox(settings.secret_key).seal_credentials(
        Credentials(username=username, password=password)
    )
    return AuthInput(name="echo", login_url=login_url, steps=steps, sealed_credentials=sealed)


def account_test(pages_url: str) -> dict:
    return {
        "name": "account after login",
        "start_url": pages_url + "account.html",
        "step_timeout_ms": 2000,
        "steps": [{"action": "assert", "selector": "#welcome", "value": "Welcome alice"}],
    }


async def test_auth_flow_logs_in_and_the_password_stays_out_of_history_and_logs(
    client, worker_host, pages_url: str, job_id: str, settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = auth_input(pages_url, settings, PASSWORD)
    result = await outcome(await start_run(client, job_id, account_test(pages_url), auth=auth))

    assert result.state == "completed", result.error
    assert result.auth is not None and result.auth.status == "passed"
    assert result.steps[0].status == "passed"

    shown = decoded_history(job_id, settings.temporal_address)
    shown += decoded_history(session_workflow_id(job_id, 1), settings.temporal_address)
    assert "TestRun" in shown and "SessionRun" in shown, "both histories were read"
    assert "login.html" not in shown and "sealed_credentials" not in shown, "payloads encrypted"
    assert PASSWORD not in shown
    assert "alice" not in shown
    assert PASSWORD not in caplog.text


async def test_wrong_password_fails_the_login_without_revealing_it(
    client, worker_host, pages_url: str, job_id: str, settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-Zebra-0000"
    test = {**account_test(pages_url), "retry": {"max_attempts": 1}}
    result = await outcome(
        await start_run(client, job_id, test, auth=auth_input(pages_url, settings, wrong))
    )
    assert result.state == "failed"
    assert result.error.startswith("login failed after 1 attempt")
    assert result.steps[0].status == "skipped"
    assert wrong not in result.model_dump_json()
    assert wrong not in caplog.text


async def test_credentials_sealed_under_another_key_are_rejected_at_once(
    client, worker_host, pages_url: str, job_id: str
) -> None:
    from cryptography.fernet import Fernet

    foreign = SecretBox(Fernet.generate_key()).seal_credentials(
        Credentials(username="alice", password=PASSWORD)
    )
    auth = AuthInput(
        name="x",
        login_url=pages_url + "login.html",
        steps=login_steps(),
        sealed_credentials=foreign,
    )
    result = await outcome(await start_run(client, job_id, account_test(pages_url), auth=auth))
    assert result.state == "failed"
    assert result.error_type == "AuthRejected"
    assert result.auth.attempts == 1


async def test_credentials_in_every_spelling_stay_out_of_the_trace_and_the_raw_history(
    client, worker_host, pages_url: str, job_id: str, settings
) -> None:
    """A careless site echoes the login back (in a cookie and on the page); the run then fails,
    so its trace, with DOM snapshots, is kept."""
    username, password = f"mallory-{job_id}", "p@ss w0rd\\é+Zebra%/"
    auth = echo_login(settings, pages_url + "whoami", username, password)
    test = {
        "name": "fails after login",
        "start_url": pages_url + "whoami?pad=490",  # the login straddles the error's cut
        "trace": "on-failure-with-snapshots",
        "retry": {"max_attempts": 1},
        "step_timeout_ms": 2000,  # the login posts a form: room for a loaded machine
        "steps": [
            {"action": "assert", "selector": "#welcome", "value": "Welcome"},
            {"action": "assert", "selector": "#echo", "value": "not what the page shows"},
        ],
    }
    result = await outcome(await start_run(client, job_id, test, auth=auth))
    assert result.state == "failed" and result.auth.status == "passed", result.error
    assert result.steps[0].status == "passed", "the page showed the echoed login"

    trace_name = next(name for name in result.artifacts if name.endswith(".zip"))
    with zipfile.ZipFile(settings.artifacts_dir / job_id / trace_name) as trace:
        files = {name: trace.read(name) for name in trace.namelist()}
    everything = b"\n".join(files.values())
    assert b"whoami" in everything and b"#echo" in everything, "a real trace was read"
    forms = {
        password,
        quote(password, safe=""),
        quote_plus(password),
        json.dumps(password)[1:-1],
        json.dumps(password, ensure_ascii=False)[1:-1],
    }
    for name, content in files.items():
        for form in forms | {username}:
            assert form.encode() not in content, f"{form!r} is in {name}"

    raw = decoded_history(job_id, settings.temporal_address)
    raw += decoded_history(session_workflow_id(job_id, 1), settings.temporal_address)
    for form in forms | {username}:
        assert form not in raw
    error = result.steps[1].error
    assert "not what the page shows" in error
    assert "." * 490 + "***:***" in error, "the page's text is in the error, the login is not"
    assert "mallo" not in error, "not even the part of it before the cut"
    assert "not what the page shows" not in raw, "the failure is stored only encrypted"


async def test_the_login_is_in_no_trace_and_no_spelling_of_a_credential_leaves_the_run(
    client, worker_host, pages_url: str, job_id: str, settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The login posts its form (Chromium writes `~` as %7E); a later page shows the login
    upper-cased by CSS with spaces between its characters, and the step that reads it fails,
    so its trace, with snapshots, is kept."""
    caplog.set_level(logging.DEBUG)
    username, password = f"mallory-{job_id[-8:]}", "Tr0ub4dor*3~"
    auth = echo_login(settings, pages_url + "whoami?the-login=1", username, password)
    test = {
        "name": "shouts the login",
        "start_url": pages_url + "whoami?shout=1",
        "trace": "on-failure-with-snapshots",
        "retry": {"max_attempts": 1},
        "step_timeout_ms": 2000,
        "steps": [
            {"action": "assert", "selector": "#welcome", "value": "Welcome"},
            {"action": "assert", "selector": "#echo", "value": "not what the page shows"},
        ],
    }
    result = await outcome(await start_run(client, job_id, test, auth=auth))
    assert result.state == "failed" and result.auth.status == "passed", result.error
    error = result.steps[1].error
    assert error.startswith("expected '#echo' to contain 'not what the page shows', found '***"), (
        error
    )

    trace_name = next(name for name in result.artifacts if name.endswith(".zip"))
    with zipfile.ZipFile(settings.artifacts_dir / job_id / trace_name) as trace:
        files = {name: trace.read(name) for name in trace.namelist()}
    everything = b"\n".join(files.values())
    assert b"whoami?shout=1" in everything and b"#echo" in everything, "a real trace was read"
    assert b"the-login=1" not in everything, "nothing of the login is traced"
    assert b"/echo" not in files.get("trace.network", b""), "the login's form post is not traced"

    forms = set(spellings(password, username).values()) | {username, username.upper()}
    record = result.model_dump_json()
    for form in forms:
        for name, content in files.items():
            assert form.encode() not in content, f"{form!r} is in the trace's {name}"
        assert form not in record, f"{form!r} is in the run's record"
        assert form not in caplog.text, f"{form!r} is in the log"
