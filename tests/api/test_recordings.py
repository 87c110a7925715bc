"""Chrome DevTools Recorder recordings imported as tests: checked with @puppeteer/replay's own
parse(), mapped step by step, what cannot be mapped reported, and run to completion."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.api.jobs import wait_for_job
from tests.support.api_fixtures import ProjectAccess
from tests.support.recordings import RECORDINGS, recording, replay_parse, replay_step_types


async def import_and_run(
    api: httpx.AsyncClient, project: ProjectAccess, body: dict
) -> tuple[dict, dict]:
    imported = await api.post("/api/tests/import", json=body, headers=project.headers)
    assert imported.status_code == 201, imported.text
    test_id = imported.json()["test"]["id"]
    queued = await api.post(f"/api/execution/test/{test_id}/run", headers=project.headers)
    done = await wait_for_job(api, project, queued.json()["jobId"], ("completed", "failed"), 90)
    return imported.json(), done


def test_the_recordings_are_recorder_flows_by_puppeteer_replays_own_parse(tmp_path: Path) -> None:
    files = sorted(RECORDINGS.glob("*.json"))
    verdicts = replay_parse(files)
    assert [v["ok"] for v in verdicts] == [True] * len(files), verdicts
    covered = {kind for verdict in verdicts for kind in verdict["steps"]}
    assert covered == replay_step_types(), "the recordings cover every step type of the schema"

    bogus = tmp_path / "bogus.json"
    bogus.write_text(json.dumps({"title": "t", "steps": [{"type": "teleport"}]}))
    [verdict] = replay_parse([bogus])
    assert verdict["ok"] is False and "teleport" in verdict["error"], "parse() does check"


async def test_a_recording_of_every_user_step_imports_and_runs_to_completed(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    imported, done = await import_and_run(api, project, recording("shop", pages_url))
    assert imported["unmapped"] == []
    definition = imported["test"]["definition"]
    assert definition["name"] == "Shop: every step the Recorder writes"
    assert definition["start_url"] == pages_url + "shop.html"
    assert definition["viewport"] == {"width": 1024, "height": 700}
    assert definition["step_timeout_ms"] == 5000
    steps = definition["steps"]
    assert steps[0]["action"] == "wait" and steps[0]["for"] == "url"  # the first navigation's
    assert steps[1] == {**steps[1], "action": "assert", "expect": "title", "value": "Test shop"}
    buy = steps[2]
    assert (buy["action"], buy["selector"]) == ("click", 'role=button[name="Buy now"]')
    assert buy["fallback_selectors"] == [
        "#buy",
        'xpath=//*[@id="buy"]',
        "css=#buy",
        "text=Buy now",
    ]
    actions = [step["action"] for step in steps]
    for action in ("doubleclick", "rightclick", "hover", "change", "press", "scroll"):
        assert action in actions, action
    assert done["state"] == "completed", done["result"]["error"]
    assert all(step["status"] == "passed" for step in done["result"]["steps"])


async def test_steps_without_a_counterpart_are_reported_by_index_and_type(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    imported, done = await import_and_run(api, project, recording("unmapped", pages_url))
    assert [(u["index"], u["type"]) for u in imported["unmapped"]] == [
        (0, "emulateNetworkConditions"),
        (2, "waitForExpression"),
        (3, "customStep"),
        (4, "click"),
        (6, "waitForElement"),
        (7, "keyUp"),
        (9, "setViewport"),
        (10, "close"),
    ]
    reasons = {u["type"]: u["reason"] for u in imported["unmapped"]}
    assert "runs JavaScript in the page" in reasons["waitForExpression"]
    assert "frames" in reasons["click"] and "textContent" in reasons["waitForElement"]
    assert imported["test"]["definition"]["viewport"] == {"width": 800, "height": 600}
    assert done["state"] == "completed", done["result"]["error"]


async def test_the_recorded_viewport_is_the_page_size_of_the_run(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    flow = {
        "title": "small screen",
        "steps": [
            {
                "type": "setViewport",
                "width": 640,
                "height": 480,
                "deviceScaleFactor": 1,
                "isMobile": False,
                "hasTouch": False,
                "isLandscape": False,
            },
            {"type": "navigate", "url": pages_url + "viewport"},
            {"type": "waitForElement", "selectors": [["text/640x480"]]},
        ],
    }
    imported, done = await import_and_run(api, project, flow)
    assert imported["test"]["definition"]["viewport"] == {"width": 640, "height": 480}
    assert done["state"] == "completed", done["result"]["error"]


async def test_what_is_no_recording_gets_a_422_naming_the_step_and_field(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    navigate = {"type": "navigate", "url": pages_url + "shop.html"}
    bad = [
        ([1, 2], "a recording is a JSON object"),
        ({"steps": [navigate]}, "title: a recording needs a title"),
        ({"title": "t", "steps": []}, "steps: a recording needs a list of steps"),
        ({"title": "t", "steps": [navigate, {"type": "teleport"}]}, "steps[1].type: unknown"),
        ({"title": "t", "steps": [navigate, {"type": "click"}]}, "steps[1].selectors: a click"),
        (
            {"title": "t", "steps": [navigate, {"type": "change", "selectors": ["#a"]}]},
            "steps[1].value",
        ),
        ({"title": "t", "steps": [{"type": "click", "selectors": ["#a"]}]}, "no navigate step"),
        (
            {
                "title": "t",
                "steps": [
                    {"type": "navigate", "url": "file:///etc/passwd"},
                    {"type": "click", "selectors": ["#a"]},
                ],
            },
            "start_url",
        ),
    ]
    for body, named in bad:
        response = await api.post("/api/tests/import", json=body, headers=project.headers)
        assert response.status_code == 422, (body, response.text)
        assert named in response.json()["detail"], (body, response.json())
    assert (await api.get("/api/tests", headers=project.headers)).json() == []
