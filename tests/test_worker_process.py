"""The worker as a process: SIGKILL mid-run (the run finishes elsewhere) and SIGTERM drain."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from core.config import Settings
from core.temporal import connect
from core.temporal_link import TemporalLink
from dispatch.dispatcher import Dispatcher
from store.db import create_engine, migrate
from store.workers import WorkerRegistry
from tests.conftest import ISOLATED_NAMESPACE
from tests.support.definitions import waiting_shop_test
from tests.support.processes import (
    chromium_descendants,
    start_worker_process,
    wait_for_log,
    wait_gone,
)
from tests.support.runs import outcome, start_run, wait_for_progress


@pytest.fixture
async def isolated_client(settings: Settings):
    """A client of the namespace that only this module's worker processes serve (which record
    into the session's database)."""
    migrate(settings.database_url)
    return await connect(settings.model_copy(update={"temporal_namespace": ISOLATED_NAMESPACE}))


async def live_worker_ids(settings: Settings) -> list[str]:
    """Workers the dispatcher counts sessions of."""
    engine = create_engine(settings.database_url)
    try:
        return [worker.worker_id for worker in (await WorkerRegistry(engine).census()).live]
    finally:
        await engine.dispose()


def slow_test(pages_url: str) -> dict:
    return waiting_shop_test(pages_url, "slow enough to kill", 3000)


async def test_run_survives_sigkill_of_its_worker(
    isolated_client, settings: Settings, pages_url: str, job_id: str, tmp_path: Path
) -> None:
    first = start_worker_process(settings, ISOLATED_NAMESPACE, tmp_path / "first.log")
    second = None
    try:
        wait_for_log(tmp_path / "first.log", "ready")
        handle = await start_run(
            isolated_client, job_id, slow_test(pages_url), session_lost_timeout_s=3
        )
        await wait_for_progress(handle, lambda p: p.current_step == 1)
        browsers = chromium_descendants(first.pid)
        assert browsers, "the first worker runs Chromium"

        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert wait_gone(browsers) == [], "Chromium outlived its SIGKILLed worker"

        second = start_worker_process(settings, ISOLATED_NAMESPACE, tmp_path / "second.log")
        result = await outcome(handle, timeout=90)
    finally:
        for process in (first, second):
            if process and process.poll() is None:
                process.kill()
                process.wait()

    assert result.state == "completed", result.error
    assert len(result.session_attempts) == 2
    lost, finished = result.session_attempts
    assert "stopped answering" in (lost.lost_reason or "")
    assert lost.opened_at and lost.lost_at and lost.lost_at > lost.opened_at
    assert finished.lost_reason is None and finished.worker_id != lost.worker_id
    assert lost.worker_id not in await live_worker_ids(settings), (
        "the dead worker's slots left the capacity when its run found it gone"
    )
    assert [s.index for s in result.steps] == [0, 1, 2], "each step recorded once"
    assert all(s.status == "passed" and s.attempts == 1 for s in result.steps)


async def test_a_worker_of_this_machine_gone_is_let_go_of_without_waiting_for_heartbeats(
    isolated_client, settings: Settings, pages_url: str, job_id: str, tmp_path: Path
) -> None:
    first = start_worker_process(settings, ISOLATED_NAMESPACE, tmp_path / "first.log")
    second = start_worker_process(settings, ISOLATED_NAMESPACE, tmp_path / "second.log")
    isolated = settings.model_copy(update={"temporal_namespace": ISOLATED_NAMESPACE})
    engine = create_engine(settings.database_url)
    dispatcher = Dispatcher.build(engine, TemporalLink(isolated))
    try:
        wait_for_log(tmp_path / "first.log", "ready")
        wait_for_log(tmp_path / "second.log", "ready")
        handle = await start_run(  # heartbeats alone would take a minute to tell
            isolated_client, job_id, slow_test(pages_url), session_lost_timeout_s=60
        )
        running = await wait_for_progress(handle, lambda p: p.current_step == 1)
        dead = running.session_attempts[0].worker_id
        victim = first if f"-{first.pid}-" in (dead or "") else second
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)

        await dispatcher.let_go_of_gone_workers()
        result = await outcome(handle, timeout=60)
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.kill()
                process.wait()
        await engine.dispose()

    assert result.state == "completed", result.error
    lost, finished = result.session_attempts
    assert "its process exited" in (lost.lost_reason or ""), lost.lost_reason
    assert finished.worker_id != dead and finished.lost_reason is None
    assert dead not in await live_worker_ids(settings), "the gone worker left the capacity"


async def test_sigterm_drains_running_runs_and_leaves_no_chromium(
    isolated_client, settings: Settings, pages_url: str, job_id: str, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    worker = start_worker_process(settings, ISOLATED_NAMESPACE, log)
    try:
        wait_for_log(log, "ready")
        handle = await start_run(isolated_client, job_id, slow_test(pages_url))
        await wait_for_progress(handle, lambda p: p.current_step == 1)
        browsers = chromium_descendants(worker.pid)

        worker.send_signal(signal.SIGTERM)
        result = await outcome(handle, timeout=60)
        assert worker.wait(timeout=30) == 0, log.read_text()[-4000:]
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    assert result.state == "completed", result.error
    assert len(result.session_attempts) == 1, "the running run finished on the draining worker"
    assert wait_gone(browsers) == []
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert any("draining" in line["message"] for line in lines)
    about_the_run = [line for line in lines if job_id in line["message"]]
    assert len(about_the_run) >= 2, "the session's opening and closing were logged"
    assert all(line.get("jobId") == job_id for line in about_the_run), "JSON lines with jobId"
