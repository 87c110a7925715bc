"""The `testrun` command against the running service, as a CI job runs it (no terminal): exit
codes per outcome, several runs followed at once, a JUnit report, plain output lines."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import signal
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import httpx

from client.api import Client
from tests.api.queue_helpers import wait_test
from tests.support.api_fixtures import ProjectAccess, new_project
from tests.support.definitions import shop_test
from tests.support.recordings import recording

REPO = Path(__file__).resolve().parents[2]


def failing_test(pages_url: str) -> dict:
    test = shop_test(pages_url, {"action": "click", "selector": "#nope"}, step_timeout_ms=300)
    test.update(name="missing button", retry={"max_attempts": 1})
    return test


def written(tmp_path: Path, *definitions: dict) -> list[str]:
    paths = []
    for number, definition in enumerate(definitions):
        path = tmp_path / f"test-{number}.json"
        path.write_text(json.dumps(definition))
        paths.append(str(path))
    return paths


def cli_env(live: httpx.AsyncClient, project: ProjectAccess) -> dict[str, str]:
    """The environment `testrun` runs in: the service and the project's token, nothing else."""
    return {"TESTRUN_URL": str(live.base_url), "TESTRUN_TOKEN": project.token, "PATH": "/usr/bin"}


async def testrun(
    live: httpx.AsyncClient, project: ProjectAccess, *args: str
) -> subprocess.CompletedProcess[str]:
    """`testrun ARGS` with the project's token in the environment, output to pipes."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "client.cli",
        *args,
        cwd=REPO,
        env=cli_env(live, project),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode is not None
    return subprocess.CompletedProcess(args, process.returncode, out.decode(), err.decode())


async def test_three_tests_at_once_end_when_the_last_ends_and_exit_zero(
    live: httpx.AsyncClient, pages_url: str, tmp_path: Path
) -> None:
    project = await new_project(live, max_parallel=3)
    tests = [{**shop_test(pages_url), "name": f"shop {n}"} for n in range(3)]
    done = await testrun(live, project, "run", *written(tmp_path, *tests), "--wait")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("Queued (Pos ") == 3
    finals = [
        line
        for line in done.stdout.splitlines()
        if re.fullmatch(r"run-\w+: completed  shop \d", line)
    ]
    assert len(finals) == 3
    assert "\x1b" not in done.stdout and "\r" not in done.stdout, "plain lines off a terminal"
    assert any(" step_passed: step 1 passed" in line for line in done.stdout.splitlines()), (
        done.stdout
    )


async def test_a_failed_run_exits_one_and_the_junit_report_says_why(
    live: httpx.AsyncClient, pages_url: str, tmp_path: Path
) -> None:
    project = await new_project(live)
    files = written(tmp_path, shop_test(pages_url), failing_test(pages_url))
    report = tmp_path / "report.xml"
    done = await testrun(live, project, "run", *files, "--wait", "--junit", str(report))
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(
        r"run-\w+: failed  missing button\n  step 1 \(click\): step 1 \(click\) failed after 1"
        r" attempt: no element matches '#nope'",
        done.stdout,
    ), done.stdout
    [suite] = ElementTree.parse(report).getroot().findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("2", "1", "0")
    [failure] = suite.iter("failure")
    assert "no element matches '#nope'" in (failure.get("message") or "")
    again = await testrun(live, project, "run", files[0])
    assert again.returncode == 0 and "Queued (Pos " in again.stdout
    tests = (await live.get("/api/tests", headers=project.headers)).json()
    assert len(tests) == 2, "a test is updated by its name, not created twice"


async def test_a_cancelled_run_exits_two(
    live: httpx.AsyncClient, pages_url: str, tmp_path: Path
) -> None:
    project = await new_project(live)
    [path] = written(tmp_path, wait_test(pages_url, 30_000))
    waiting = asyncio.create_task(testrun(live, project, "run", path, "--wait"))
    for _ in range(300):
        runs = (await live.get("/api/runs", headers=project.headers)).json()
        if runs and runs[0]["state"] == "active":
            break
        await asyncio.sleep(0.1)
    await live.post(f"/api/execution/job/{runs[0]['jobId']}/cancel", headers=project.headers)
    done = await waiting
    assert done.returncode == 2, done.stdout + done.stderr
    assert re.search(r"run-\w+: cancelled  hold 30000 ms", done.stdout), done.stdout


async def test_status_queue_and_an_unreachable_service(
    live: httpx.AsyncClient, pages_url: str, tmp_path: Path
) -> None:
    project = await new_project(live)
    await live.post("/api/execution/queue/pause", headers=project.headers)
    [path] = written(tmp_path, shop_test(pages_url))
    queued = await testrun(live, project, "run", path)
    job_id = queued.stdout.split()[1]
    status = await testrun(live, project, "status", job_id)
    assert status.stdout.strip() == f"{job_id} (shop): waiting, position 1, 0 %"
    listing = await testrun(live, project, "queue")
    assert "waiting=1" in listing.stdout and f"     1  {job_id}  regular  shop" in listing.stdout
    cancelled = await testrun(live, project, "cancel", job_id)
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    nowhere = ProjectAccess(project.id, project.name, project.token)
    unreachable = await testrun(
        httpx.AsyncClient(base_url="http://127.0.0.1:9"), nowhere, "status", job_id
    )
    assert unreachable.returncode == 2 and "cannot reach" in unreachable.stderr


async def test_a_suite_runs_live_and_its_report_names_the_suite(
    live: httpx.AsyncClient, pages_url: str, tmp_path: Path
) -> None:
    project = await new_project(live)
    ids = []
    for name in ("first", "second"):
        made = await live.post(
            "/api/tests", json={**shop_test(pages_url), "name": name}, headers=project.headers
        )
        ids.append(made.json()["id"])
    suite = await live.post(
        "/api/suites", json={"name": "smoke", "test_ids": ids}, headers=project.headers
    )
    report = tmp_path / "suite.xml"
    suite_id = str(suite.json()["id"])
    args = ("suite", suite_id, "--wait", "--priority", "live", "--junit", str(report))
    done = await testrun(live, project, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    root = ElementTree.parse(report).getroot()
    assert root.get("name") == "smoke" and root.get("tests") == "2"
    runs = (await live.get("/api/runs", headers=project.headers)).json()
    assert {run["priority"] for run in runs} == {"live"}


async def test_the_sync_client_reads_what_the_async_one_does(
    live: httpx.AsyncClient, pages_url: str
) -> None:
    """Client: the same calls without an event loop (each in a thread of its own here)."""
    project = await new_project(live)
    await live.post("/api/execution/queue/pause", headers=project.headers)
    client = Client(str(live.base_url), project.token)
    test = await asyncio.to_thread(client.save_test, shop_test(pages_url))
    queued = await asyncio.to_thread(client.run_test, test.id)
    status = await asyncio.to_thread(client.job, queued.jobId)
    assert (status.job.state, status.job.position) == ("waiting", 1)
    assert (await asyncio.to_thread(client.queue)).queue.waiting == 1
    await asyncio.to_thread(client.cancel, queued.jobId)


async def test_env_runs_the_tests_in_that_environment(
    live: httpx.AsyncClient, pages_url: str, tmp_path: Path
) -> None:
    project = await new_project(live)
    for path, body in (
        ("variables", {"variables": {"BASE_URL": pages_url}}),
        ("environments/staging", {"variables": {"TOTAL": "42"}}),
        ("environments/production", {"variables": {"TOTAL": "43"}}),
    ):
        stored = await live.put(f"/api/projects/me/{path}", json=body, headers=project.headers)
        assert stored.status_code == 200, stored.text
    test = shop_test(
        pages_url,
        {"action": "click", "selector": "#buy"},
        {"action": "assert", "selector": "#total", "expect": "text", "value": "Total: {{TOTAL}}"},
        start_url="shop.html",
        retry={"max_attempts": 1},
    )
    staging = await testrun(
        live, project, "run", *written(tmp_path, test), "--env", "staging", "--wait"
    )
    assert staging.returncode == 0, staging.stdout + staging.stderr
    production = await testrun(
        live, project, "run", *written(tmp_path, test), "--env", "production", "--wait"
    )
    assert production.returncode == 1, production.stdout + production.stderr
    unknown = await testrun(live, project, "run", *written(tmp_path, test), "--env", "nowhere")
    assert unknown.returncode != 0
    assert "environment 'nowhere' not found" in unknown.stdout + unknown.stderr


async def test_import_stores_a_recording_reports_what_it_left_out_and_runs_it(
    live: httpx.AsyncClient, pages_url: str, tmp_path: Path
) -> None:
    project = await new_project(live)
    path = tmp_path / "recording.json"
    path.write_text(json.dumps(recording("unmapped", pages_url)))
    done = await testrun(
        live, project, "import", str(path), "--name", "recorded", "--run", "--wait"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("recorded: test ")
    assert "not imported: step 2 (waitForExpression): it runs JavaScript" in done.stdout
    assert sum(line.startswith("not imported: ") for line in lines) == 8
    assert any(re.fullmatch(r"run-\w+: completed  recorded", line) for line in lines), done.stdout


async def test_every_file_is_checked_before_any_run_is_queued_and_the_bad_one_named(
    live: httpx.AsyncClient, pages_url: str, tmp_path: Path
) -> None:
    project = await new_project(live)
    broken = {**shop_test(pages_url, {"action": "click"}), "name": "broken"}
    good, bad = written(tmp_path, shop_test(pages_url), broken)
    done = await testrun(live, project, "run", good, bad, "--wait")
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"error: {bad}: steps[0]: selector: action 'click' needs a selector" in done.stderr
    undefined = {**shop_test(pages_url), "name": "undefined", "start_url": "{{NOWHERE}}/x"}
    (tmp_path / "more").mkdir()
    [refused] = written(tmp_path / "more", undefined)
    done = await testrun(live, project, "run", good, refused, "--wait")
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{refused}: 422: start_url: variable 'NOWHERE' is not defined" in done.stderr
    assert (await live.get("/api/runs", headers=project.headers)).json() == [], "none queued"

    before = await testrun(live, project, "--url", str(live.base_url), "queue")
    assert before.returncode == 0 and "waiting=0" in before.stdout, before.stderr


async def test_on_a_terminal_a_failure_says_why_and_ctrl_c_cancels_and_still_reports(
    live: httpx.AsyncClient, pages_url: str, tmp_path: Path
) -> None:
    project = await new_project(live)
    failing, holding = written(tmp_path, failing_test(pages_url), wait_test(pages_url, 60_000))
    report = tmp_path / "report.xml"
    process, output = await testrun_in_pty(
        live, project, "run", failing, holding, "--wait", "--junit", str(report)
    )
    for _ in range(600):  # until the failing run ended and the other holds its session
        runs = {
            r["testName"]: r["state"]
            for r in (await live.get("/api/runs", headers=project.headers)).json()
        }
        if runs.get("missing button") == "failed" and runs.get("hold 60000 ms") == "active":
            break
        await asyncio.sleep(0.1)
    process.send_signal(signal.SIGINT)
    code = await asyncio.wait_for(process.wait(), 60)
    text = await output
    assert code == 2, text
    assert "interrupted: cancelling the runs" in text
    assert "step 1 (click): step 1 (click) failed after 1 attempt: no element matches" in text
    assert "missing button" in text and "hold 60000 ms" in text, "names, not only job IDs"
    states = {
        r["testName"]: r["state"]
        for r in (await live.get("/api/runs", headers=project.headers)).json()
    }
    assert states == {"missing button": "failed", "hold 60000 ms": "cancelled"}
    root = ElementTree.parse(report).getroot()
    assert root.get("tests") == "2", "the report of both runs, once they ended"


async def testrun_in_pty(
    live: httpx.AsyncClient, project: ProjectAccess, *args: str
) -> tuple[asyncio.subprocess.Process, asyncio.Task[str]]:
    """`testrun ARGS` on a pseudo-terminal (Rich draws its bars); its output, read to the end."""
    leader, follower = pty.openpty()
    env = {**cli_env(live, project), "TERM": "xterm", "COLUMNS": "160"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "client.cli",
        *args,
        cwd=REPO,
        env=env,
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)

    def read_all() -> str:
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(leader)
        return b"".join(chunks).decode(errors="replace")

    return process, asyncio.ensure_future(asyncio.to_thread(read_all))


async def test_a_suite_on_a_terminal_is_one_bar_and_one_exit_code(
    live: httpx.AsyncClient, pages_url: str
) -> None:
    project = await new_project(live)
    ids = []
    for name in ("one", "two"):
        made = await live.post(
            "/api/tests", json={**shop_test(pages_url), "name": name}, headers=project.headers
        )
        ids.append(made.json()["id"])
    suite = await live.post(
        "/api/suites", json={"name": "pair", "test_ids": ids}, headers=project.headers
    )
    process, output = await testrun_in_pty(
        live, project, "suite", str(suite.json()["id"]), "--wait"
    )
    code = await asyncio.wait_for(process.wait(), 120)
    text = await output
    assert code == 0, text
    assert "suite run suite-run-" in text
    assert "2 of 2 ended" in text, text
    assert f"suite {suite.json()['id']}" in text
