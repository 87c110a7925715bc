"""Every action of the input format, on a real page in real Chromium, through the real service."""

from __future__ import annotations

from pathlib import Path

from runner.host import WorkerHost
from tests.support.runs import outcome, start_run


def every_action_test(pages_url: str) -> dict:
    """A test that uses all 16 actions, each followed by a check of its effect."""
    steps = [
        {"action": "navigate", "value": "shop.html"},
        {"action": "click", "selector": "#missing", "fallback_selectors": ["text=Buy now"]},
        {"action": "assert", "selector": "#total", "value": "42"},
        {"action": "doubleclick", "selector": "#dbl"},
        {"action": "assert", "selector": "#dbl", "value": "double clicked"},
        {"action": "rightclick", "selector": "#ctx"},
        {"action": "assert", "selector": "#ctx", "value": "right clicked"},
        {"action": "hover", "selector": "#hover"},
        {"action": "assert", "selector": "#hover", "value": "hovered"},
        {"action": "type", "selector": "#email", "value": "a@b.c"},
        {"action": "assert", "selector": "#echo", "value": "a@b.c"},
        {"action": "clear", "selector": "#name"},
        {"action": "assert", "selector": "#name-echo", "value": "name=[]"},
        {"action": "select", "selector": "#color", "value": "Green"},
        {"action": "assert", "selector": "#picked", "value": "picked g"},
        {"action": "select", "selector": "#color", "value": "b"},
        {"action": "assert", "selector": "#picked", "value": "picked b"},
        {"action": "uncheck", "selector": "#agree"},
        {"action": "assert", "selector": "#agreed", "value": "agree=false"},
        {"action": "check", "selector": "#news"},
        {"action": "assert", "selector": "#agreed", "value": "news=true"},
        {"action": "press", "selector": "#keys", "value": "Enter"},
        {"action": "assert", "selector": "#lastkey", "value": "key Enter"},
        {"action": "upload", "selector": "#file", "value": "hello.txt"},
        {"action": "assert", "selector": "#filename", "value": "file hello.txt"},
        {"action": "wait", "selector": "#later"},
        {"action": "wait", "value": 50},
        {"action": "scroll", "value": 400},
        {"action": "assert", "selector": "#scrolled", "value": "scrolled true"},
        {"action": "scroll", "selector": "#bottom"},
        {"action": "screenshot"},
        {"action": "screenshot", "selector": "#bottom"},
        {"action": "click", "selector": "xpath=//body"},
        {"action": "press", "value": "x"},
        {"action": "assert", "selector": "#lastkey", "value": "page key x"},
        {"action": "navigate", "value": "second.html"},
        {"action": "assert", "selector": "role=heading[name='Second page']"},
    ]
    return {"name": "every action", "start_url": pages_url, "steps": steps}


async def test_every_action_passes_on_a_real_page(
    client, worker_host: WorkerHost, pages_url: str, job_id: str, uploads: Path, settings
) -> None:
    (uploads / "hello.txt").write_text("hello")
    test = every_action_test(pages_url)
    result = await outcome(await start_run(client, job_id, test))

    assert result.state == "completed", result.error
    assert result.progress == 100
    assert [s.status for s in result.steps] == ["passed"] * len(test["steps"])
    assert all(s.attempts == 1 for s in result.steps)
    assert not result.flaky
    screenshots = [a for s in result.steps for a in s.artifacts]
    assert screenshots == ["step-31-attempt-1-screenshot.png", "step-32-attempt-1-screenshot.png"]
    for name in screenshots:
        assert (Path(settings.artifacts_dir) / job_id / name).read_bytes()[:4] == b"\x89PNG"
    assert result.artifacts == [], "a passing run keeps no trace"
    assert worker_host.pool.open_count == 0, [s.job_id for s in worker_host.pool._sessions.values()]


async def test_fallback_selector_used_only_when_primary_finds_nothing(
    client, worker_host: WorkerHost, pages_url: str, job_id: str
) -> None:
    test = {
        "name": "fallbacks",
        "start_url": pages_url + "shop.html",
        "step_timeout_ms": 1000,
        "steps": [
            {"action": "click", "selector": "#nope", "fallback_selectors": ["#also-nope", "#buy"]},
            {"action": "assert", "selector": "#total", "value": "42"},
        ],
    }
    result = await outcome(await start_run(client, job_id, test))
    assert result.state == "completed", result.error
    assert result.steps[0].attempts == 1
