"""Record the replay histories of the current workflow code (tests/workflows/histories).

    .venv/bin/python -m tests.workflows.record_histories v5

Runs three runs on a private dev server and worker (bench/stack.py: payloads in clear, no
codec): one admitted that passes, one with a login that passes, one whose step fails after
retries. Each history is saved as `<prefix>_<case>.json`, its workflow ID the file's name,
with this machine's host name and file paths replaced, so that the file says nothing of
where it was made. Record a new set when a workflow change is released (docs/architecture.md,
"Changing a workflow").
"""

from __future__ import annotations

import asyncio
import re
import socket
import sys
from pathlib import Path

from temporalio.client import Client, WorkflowHandle

from bench.stack import bench_stack
from core.definition import Credentials
from core.queues import WORKFLOW_TASK_QUEUE
from core.secrets import SecretBox
from tests.support.definitions import login_steps
from tests.support.pages import serve_test_pages
from tests.support.runs import outcome, start_admitted, start_run
from workflows.messages import AuthInput, RunInput
from workflows.test_run import TestRunWorkflow

HISTORIES = Path(__file__).parent / "histories"
REPO = Path(__file__).resolve().parents[2]


async def record_cases(client: Client, secret_key: str, pages_url: str, prefix: str) -> list:
    """The three runs, ended; their handles."""
    failed = await start_run(
        client,
        f"{prefix}_failed_with_retries",
        {
            "name": "flaky then failing",
            "start_url": pages_url,
            "retry": {"max_attempts": 3, "initial_interval_s": 0.2},
            "steps": [
                {"action": "navigate", "value": f"/flaky/{prefix}key/1"},
                {"action": "assert", "selector": "#missing", "timeout_ms": 300},
            ],
        },
    )
    admitted = await start_admitted(
        client,
        f"{prefix}_admitted_completed",
        {
            "name": "shop",
            "start_url": pages_url + "shop.html",
            "steps": [{"action": "click", "selector": "#buy"}],
        },
    )
    auth = AuthInput(
        name="test login",
        login_url=pages_url + "login.html",
        steps=login_steps(),
        sealed_credentials=SecretBox(secret_key).seal_credentials(
            Credentials(username="alice", password="pw-Zebra-7731")
        ),
    )
    logged_in = await client.start_workflow(
        TestRunWorkflow.run,
        RunInput(
            test={
                "name": "account after login",
                "start_url": pages_url + "account.html",
                "step_timeout_ms": 2000,
                "steps": [{"action": "assert", "selector": "#welcome", "value": "Welcome alice"}],
            },
            auth=auth,
        ),
        id=f"{prefix}_auth_completed",
        task_queue=WORKFLOW_TASK_QUEUE,
    )
    handles: list[WorkflowHandle] = [failed, admitted, logged_in]
    states = [(await outcome(handle)).state for handle in handles]
    assert states == ["failed", "completed", "completed"], states
    return handles


def anonymous(text: str) -> str:
    """The history without this machine's host name or the repository's path."""
    text = text.replace(str(REPO), "/repo")
    return re.sub(rf"\b{re.escape(socket.gethostname())}\b", "worker-host", text)


async def main(prefix: str) -> None:
    with serve_test_pages() as pages_url:
        async with bench_stack(2, pages_url, clear_payloads=True) as (client, host):
            assert host.settings.secret_key
            for handle in await record_cases(client, host.settings.secret_key, pages_url, prefix):
                history = await handle.fetch_history()
                path = HISTORIES / f"{handle.id}.json"
                path.write_text(anonymous(history.to_json()))
                print(f"recorded {path.relative_to(REPO)} ({len(history.events)} events)")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "v5"))
