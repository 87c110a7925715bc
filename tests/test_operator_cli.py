"""The operator's path: start a run from JSON with the temporal CLI and query its progress."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

from devstack.temporal_server import temporal_binary
from tests.support.runs import outcome
from workflows.messages import RunProgress

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "run-shop.json"


async def temporal(settings, *args: str) -> str:
    """Run the CLI off the event loop, so that the in-process worker can answer it."""
    command = [temporal_binary(), *args, "--address", settings.temporal_address]
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_cli_start_and_query_of_the_bundled_example(
    client, worker_host, settings, pages_url: str, run_id: str, tmp_path: Path
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
        run_id,
        "--input-file",
        str(input_file),
    )
    result = await outcome(client.get_workflow_handle(run_id, result_type=RunProgress))
    assert result.state == "completed", result.error
    assert len(result.steps) == len(run_input["test"]["steps"])

    answer = json.loads(
        await temporal(
            settings,
            "workflow",
            "query",
            "--workflow-id",
            run_id,
            "--name",
            "progress",
            "--output",
            "json",
        )
    )
    progress = answer["queryResult"][0]
    assert progress["state"] == "completed"
    assert progress["progress"] == 100
