"""Retries with exponential backoff, read back from the workflow history."""

from __future__ import annotations

import uuid
from pathlib import Path

from temporalio.exceptions import ApplicationError

from core.run_ids import session_workflow_id
from tests.support.pages import flaky_hits
from tests.support.runs import (
    event_name,
    history_events,
    outcome,
    session_attempt_spans,
    start_run,
)


def run_timeout_s(test: dict) -> int:
    return test.get("timeout_s", 300)


async def test_step_that_fails_twice_then_passes_is_completed_and_flaky(
    client, worker_host, pages_url: str, job_id: str
) -> None:
    key = uuid.uuid4().hex
    test = {
        "name": "flaky server",
        "start_url": pages_url,
        "steps": [
            {"action": "navigate", "value": f"/flaky/{key}/2"},
            {"action": "assert", "selector": "#flaky", "value": "served on request 3"},
        ],
    }
    handle = await start_run(client, job_id, test)
    result = await outcome(handle)

    assert result.state == "completed", result.error
    assert result.flaky
    step = result.steps[0]
    assert step.attempts == 3
    assert [f.error_type for f in step.failures] == ["NavigationFailed", "NavigationFailed"]
    assert [f.retry_in_s for f in step.failures] == [2.0, 4.0]
    assert flaky_hits(key) == 3

    spans = [s for s in await session_attempt_spans(client, job_id) if s.activity == "run_step"]
    assert [s.failed for s in spans] == [True, True, False, False], "3 attempts of step 1, 1 of 2"
    waits = [spans[i + 1].scheduled - spans[i].closed for i in range(2)]
    assert 1.9 <= waits[0] <= 3.0, waits
    assert 3.9 <= waits[1] <= 5.0, waits
    session = client.get_workflow_handle(session_workflow_id(job_id, 1))
    timers = [
        e.timer_started_event_attributes.start_to_fire_timeout.ToSeconds()
        for e in await history_events(session)
        if event_name(e) == "TIMER_STARTED"
    ]
    assert timers == [2, 4], "two backoff timers in the session's history"
    run_timers = [
        e.timer_started_event_attributes.start_to_fire_timeout.ToSeconds()
        for e in await history_events(handle)
        if event_name(e) == "TIMER_STARTED"
    ]
    assert run_timers[0] == run_timeout_s(test), "the run's timeout, kept by the run itself"
    assert not {2, 4} & set(run_timers), "the backoff is the session's, not the run's"


async def test_step_that_always_fails_fails_after_three_attempts_naming_every_selector(
    client, worker_host, pages_url: str, job_id: str, settings
) -> None:
    test = {
        "name": "missing button",
        "start_url": pages_url + "shop.html",
        "step_timeout_ms": 500,
        "steps": [
            {
                "action": "click",
                "selector": "#checkout",
                "fallback_selectors": ["text=Pay", "xpath=//button[@id='pay']"],
            },
            {"action": "click", "selector": "#buy"},
        ],
    }
    handle = await start_run(client, job_id, test)
    result = await outcome(handle)

    assert result.state == "failed"
    assert result.error_type == "SelectorNotFound"
    step = result.steps[0]
    assert step.status == "failed" and step.attempts == 3
    for selector in ("'#checkout'", "'text=Pay'", "\"xpath=//button[@id='pay']\""):
        assert selector in step.error, step.error
    assert result.error.startswith("step 1 (click) failed after 3 attempts: no element matches")
    assert result.steps[1].status == "skipped"
    run_dir = Path(settings.artifacts_dir) / job_id
    assert (run_dir / "step-01-attempt-3-failure.png").exists()
    # the trace with snapshots from the first retry on, and the one up to it beside it
    assert result.artifacts == ["trace-attempt-1-before-retry.zip", "trace-attempt-1.zip"]
    assert (run_dir / "trace-attempt-1.zip").stat().st_size > 1000
    assert (run_dir / "trace-attempt-1-before-retry.zip").stat().st_size > 0
    description = await handle.describe()
    assert description.status.name == "FAILED"
    # the history tells the step's error, not a Python stack trace (decoded as the Web UI does)
    [failed] = [
        e for e in await history_events(handle) if event_name(e) == "WORKFLOW_EXECUTION_FAILED"
    ]
    error = await client.data_converter.decode_failure(
        failed.workflow_execution_failed_event_attributes.failure
    )
    assert isinstance(error, ApplicationError) and error.type == "SelectorNotFound"
    assert error.message.startswith("step 1 (click) failed after 3 attempts: no element matches")
    assert error.failure is not None and error.failure.stack_trace == ""


async def test_invalid_selector_syntax_fails_at_once(
    client, worker_host, pages_url: str, job_id: str
) -> None:
    test = {
        "name": "broken selector",
        "start_url": pages_url + "shop.html",
        "steps": [{"action": "click", "selector": "#buy[["}],
    }
    result = await outcome(await start_run(client, job_id, test))
    assert result.state == "failed"
    assert result.error_type == "InvalidSelector"
    assert result.steps[0].attempts == 1
    assert "#buy[[" in result.steps[0].error


async def test_upload_outside_the_upload_folder_fails_at_once(
    client, worker_host, pages_url: str, job_id: str, uploads: Path
) -> None:
    (uploads.parent / "secret.txt").write_text("not yours")
    (uploads / "escape").unlink(missing_ok=True)
    (uploads / "escape").symlink_to(uploads.parent / "secret.txt")
    test = {
        "name": "upload escape",
        "start_url": pages_url + "shop.html",
        "steps": [{"action": "upload", "selector": "#file", "value": "escape"}],
    }
    result = await outcome(await start_run(client, job_id, test))
    assert result.state == "failed"
    assert result.error_type == "UploadRejected"
    assert result.steps[0].attempts == 1
    assert "outside the upload folder" in result.error


async def test_invalid_definition_fails_before_anything_runs(
    client, worker_host, job_id: str
) -> None:
    test = {
        "name": "bad",
        "start_url": "http://127.0.0.1:1/",
        "steps": [{"action": "click", "selector": "#ok"}, {"action": "teleport"}],
    }
    result = await outcome(await start_run(client, job_id, test))
    assert result.state == "failed"
    assert result.error_type == "InvalidTest"
    assert "steps[1].action" in result.error
    assert result.session_attempts == []


async def test_retry_settings_are_per_test(
    client, worker_host, pages_url: str, job_id: str
) -> None:
    test = {
        "name": "one attempt only",
        "start_url": pages_url + "shop.html",
        "step_timeout_ms": 300,
        "retry": {"max_attempts": 2, "initial_interval_s": 0.5},
        "steps": [{"action": "click", "selector": "#nothing"}],
    }
    result = await outcome(await start_run(client, job_id, test))
    assert result.steps[0].attempts == 2
    assert [f.retry_in_s for f in result.steps[0].failures] == [0.5, None]


async def test_a_step_s_own_retry_overrides_the_test_s(
    client, worker_host, pages_url: str, job_id: str
) -> None:
    """The flaky navigation gets 3 quick attempts of its own; the deterministic assertion after
    it gets 1, not the test's 4 with their backoff."""
    key = uuid.uuid4().hex
    test = {
        "name": "own retries",
        "start_url": pages_url,
        "retry": {"max_attempts": 4, "initial_interval_s": 5},
        "steps": [
            {
                "action": "navigate",
                "value": f"/flaky/{key}/2",
                "retry": {"max_attempts": 3, "initial_interval_s": 0.1},
            },
            {
                "action": "assert",
                "selector": "#flaky",
                "expect": "text",
                "value": "never served",
                "retry": {"max_attempts": 1},
            },
        ],
    }
    result = await outcome(await start_run(client, job_id, test))
    assert result.state == "failed"
    first, second = result.steps
    assert first.status == "passed" and first.attempts == 3
    assert [f.retry_in_s for f in first.failures] == [0.1, 0.2]
    assert second.status == "failed" and second.attempts == 1
    assert [f.retry_in_s for f in second.failures] == [None]
    assert (
        second.error == "expected '#flaky' to have text 'never served', found 'served on request 3'"
    )
