"""The operator's path: the temporal CLI against the same runs and schedules as the API, with
payloads decoded through the API's codec endpoint; the README's operator commands, verbatim."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from pathlib import Path

import httpx

from core.config import Settings
from core.run_result import RunProgress
from devstack.temporal_server import temporal_binary
from tests.api.jobs import create_test, wait_for_stored_state
from tests.api.queue_helpers import wait_test
from tests.support.api_fixtures import ADMIN_TOKEN, new_project
from tests.support.runs import outcome

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "run-shop.json"
README_API = "http://127.0.0.1:8000"


def codec_flags(live: httpx.AsyncClient) -> list[str]:
    return ["--codec-endpoint", f"{live.base_url}/codec", "--codec-auth", f"Bearer {ADMIN_TOKEN}"]


async def temporal(settings: Settings, *args: str) -> str:
    """Run the CLI off the event loop, so that the in-process worker can answer it."""
    command = [temporal_binary(), *args, "--address", settings.temporal_address]
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_cli_start_and_query_of_the_bundled_example(
    client, live: httpx.AsyncClient, settings: Settings, pages_url: str, job_id: str, tmp_path
) -> None:
    run_input = json.loads(EXAMPLE.read_text())
    run_input["test"]["start_url"] = pages_url + "shop.html"  # the suite serves the demo site
    input_file = tmp_path / "input.json"
    input_file.write_text(json.dumps(run_input))

    await temporal(
        settings,
        "workflow",
        "start",
        "--type",
        "TestRun",
        "--task-queue",
        "test-runs",
        "--workflow-id",
        job_id,
        "--input-file",
        str(input_file),
    )
    result = await outcome(client.get_workflow_handle(job_id, result_type=RunProgress))
    assert result.state == "completed", result.error
    assert len(result.steps) == len(run_input["test"]["steps"])

    query = ["workflow", "query", "--workflow-id", job_id, "--name", "progress"]
    answer = json.loads(await temporal(settings, *query, "--output", "json", *codec_flags(live)))
    progress = answer["queryResult"][0]
    assert progress["state"] == "completed"
    assert progress["progress"] == 100
    encrypted = json.loads(await temporal(settings, *query, "--output", "json"))
    assert "completed" not in json.dumps(encrypted), "without the codec the result is ciphertext"


def readme_operator_commands() -> list[str]:
    """The commands of the README's operator block, continuation lines joined."""
    text = (REPO / "README.md").read_text()
    block = text.split("<!-- operator-commands -->", 1)[1].split("```sh\n", 1)[1]
    block = block.split("```", 1)[0].replace("\\\n", " ")
    return [line.strip() for line in block.splitlines() if line.strip() and line[0] != "#"]


async def test_the_readme_operator_commands_work(
    live: httpx.AsyncClient, settings: Settings, pages_url: str
) -> None:
    commands = readme_operator_commands()
    assert len(commands) == 5
    project = await new_project(live)
    paused = await live.post("/api/execution/queue/pause", headers=project.headers)
    assert paused.status_code == 200
    test_id = await create_test(live, project, wait_test(pages_url, 10))
    queued = await live.post(f"/api/execution/test/{test_id}/run", headers=project.headers)
    job_id = queued.json()["jobId"]
    schedule = await live.post(
        "/api/schedules",
        json={"name": "hourly", "test_id": test_id, "interval_s": 3600},
        headers=project.headers,
    )
    env = {
        **os.environ,
        "PATH": f"{Path(temporal_binary()).parent}:{os.environ['PATH']}",
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "PROJECT": str(project.id),
        "JOB": job_id,
        "SCHEDULE": schedule.json()["id"],
        "ADMIN_TOKEN": ADMIN_TOKEN,
    }

    async def bash(command: str) -> subprocess.CompletedProcess[str]:
        """A README command, pointed at the API under test."""
        command = command.replace(README_API, str(live.base_url))
        return await asyncio.to_thread(
            subprocess.run, ["bash", "-c", command], capture_output=True, text=True, env=env
        )

    async def run(command: str) -> str:
        done = await bash(command)
        assert done.returncode == 0, (command, done.stderr)
        return done.stdout

    async def eventually(command: str, expected: str) -> str:
        for _ in range(50):  # visibility and workflow starts lag a little
            done = await bash(command)
            if done.returncode == 0 and expected in done.stdout:
                return done.stdout
            await asyncio.sleep(0.3)
        raise AssertionError(f"{command!r} never printed {expected!r}")

    listed = await eventually(commands[0], job_id)
    assert "TestRun" in listed
    described = await run(commands[1])
    assert job_id in described and re.search(r"RunState.*waiting", described), described
    progress = await run(commands[2])
    assert '"state": "waiting"' in progress or "waiting" in progress
    await run(commands[3])
    await wait_for_stored_state(live, project, job_id, "cancelled")
    await run(commands[4])
    for _ in range(50):
        described_schedule = await live.get(
            f"/api/schedules/{schedule.json()['id']}", headers=project.headers
        )
        if described_schedule.json()["recent_runs"]:
            break
        await asyncio.sleep(0.3)
    [scheduled] = described_schedule.json()["recent_runs"]
    assert scheduled["state"] == "waiting", "the project is paused: the run waits its turn"
