"""Retries with exponential backoff, read back from the workflow history."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.support.pages import flaky_hits
from tests.support.runs import event_name, history_events, outcome, start_run


def run_timeout_s(test: dict) -> int:
    return test.get("timeout_s", 300)


def _step_attempt_times(events: list) -> list[tuple[float, float]]:
    """(scheduled, closed) times, in seconds, of every run_step activity in the history."""
    scheduled: dict[int, float] = {}
    spans = []
    for event in events:
        name = event_name(event)
        when = event.event_time.ToNanoseconds() / 1e9
        if name == "ACTIVITY_TASK_SCHEDULED":
            attributes = event.activity_task_scheduled_event_attributes
            if attributes.activity_type.name == "run_step":
                scheduled[event.event_id] = when
        elif name in ("ACTIVITY_TASK_COMPLETED", "ACTIVITY_TASK_FAILED"):
            attributes = getattr(event, name.lower() + "_event_attributes")
            if attributes.scheduled_event_id in scheduled:
                spans.append((scheduled[attributes.scheduled_event_id], when))
    return spans


async def test_step_that_fails_twice_then_passes_is_completed_and_flaky(
    client, worker_host, pages_url: str, run_id: str
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
    handle = await start_run(client, run_id, test)
    result = await outcome(handle)

    assert result.state == "completed", result.error
    assert result.flaky
    step = result.steps[0]
    assert step.attempts == 3
    assert [f.error_type for f in step.failures] == ["NavigationFailed", "NavigationFailed"]
    assert [f.retry_in_s for f in step.failures] == [2.0, 4.0]
    assert flaky_hits(key) == 3

    spans = _step_attempt_times(await history_events(handle))
    assert len(spans) == 4, "three attempts of step 1, one of step 2"
    waits = [spans[i + 1][0] - spans[i][1] for i in range(2)]
    assert 1.9 <= waits[0] <= 3.0, waits
    assert 3.9 <= waits[1] <= 5.0, waits
    timers = [
        e.timer_started_event_attributes.start_to_fire_timeout.ToSeconds()
        for e in await history_events(handle)
        if event_name(e) == "TIMER_STARTED"
    ]
    assert sorted(timers) == [2, 4, run_timeout_s(test)], "two backoff timers and the run timeout"


async def test_step_that_always_fails_fails_after_three_attempts_naming_every_selector(
    client, worker_host, pages_url: str, run_id: str, settings
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
    handle = await start_run(client, run_id, test)
    result = await outcome(handle)

    assert result.state == "failed"
    assert result.error_type == "SelectorNotFound"
    step = result.steps[0]
    assert step.status == "failed" and step.attempts == 3
    for selector in ("'#checkout'", "'text=Pay'", "\"xpath=//button[@id='pay']\""):
        assert selector in step.error, step.error
    assert result.error.startswith("step 1 (click) failed after 3 attempts: no element matches")
    assert result.steps[1].status == "skipped"
    run_dir = Path(settings.artifacts_dir) / run_id
    assert (run_dir / "step-01-attempt-3-failure.png").exists()
    assert result.artifacts == ["trace-attempt-1.zip"]
    assert (run_dir / "trace-attempt-1.zip").stat().st_size > 1000
    description = await handle.describe()
    assert description.status.name == "FAILED"


async def test_invalid_selector_syntax_fails_at_once(
    client, worker_host, pages_url: str, run_id: str
) -> None:
    test = {
        "name": "broken selector",
        "start_url": pages_url + "shop.html",
        "steps": [{"action": "click", "selector": "#buy[["}],
    }
    result = await outcome(await start_run(client, run_id, test))
    assert result.state == "failed"
    assert result.error_type == "InvalidSelector"
    assert result.steps[0].attempts == 1
    assert "#buy[[" in result.steps[0].error


async def test_upload_outside_the_upload_folder_fails_at_once(
    client, worker_host, pages_url: str, run_id: str, uploads: Path
) -> None:
    (uploads.parent / "secret.txt").write_text("not yours")
    (uploads / "escape").unlink(missing_ok=True)
    (uploads / "escape").symlink_to(uploads.parent / "secret.txt")
    test = {
        "name": "upload escape",
        "start_url": pages_url + "shop.html",
        "steps": [{"action": "upload", "selector": "#file", "value": "escape"}],
    }
    result = await outcome(await start_run(client, run_id, test))
    assert result.state == "failed"
    assert result.error_type == "UploadRejected"
    assert result.steps[0].attempts == 1
    assert "outside the upload folder" in result.error


async def test_invalid_definition_fails_before_anything_runs(
    client, worker_host, run_id: str
) -> None:
    test = {
        "name": "bad",
        "start_url": "http://127.0.0.1:1/",
        "steps": [{"action": "click", "selector": "#ok"}, {"action": "teleport"}],
    }
    result = await outcome(await start_run(client, run_id, test))
    assert result.state == "failed"
    assert result.error_type == "InvalidTest"
    assert "steps[1].action" in result.error
    assert result.session_attempts == []


async def test_retry_settings_are_per_test(
    client, worker_host, pages_url: str, run_id: str
) -> None:
    test = {
        "name": "one attempt only",
        "start_url": pages_url + "shop.html",
        "step_timeout_ms": 300,
        "retry": {"max_attempts": 2, "initial_interval_s": 0.5},
        "steps": [{"action": "click", "selector": "#nothing"}],
    }
    result = await outcome(await start_run(client, run_id, test))
    assert result.steps[0].attempts == 2
    assert [f.retry_in_s for f in result.steps[0].failures] == [0.5, None]
