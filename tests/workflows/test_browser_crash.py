"""Chromium dying mid-run: the run starts again from setup in a relaunched browser."""

from __future__ import annotations

import os
import signal

import psutil

from browser.pool import owner_args
from tests.support.definitions import waiting_shop_test
from tests.support.processes import chromium_descendants, command_line
from tests.support.runs import outcome, start_run, until_no_context_is_open, wait_for_progress


def browser_main_processes(worker_id: str) -> list[psutil.Process]:
    """The worker's Chromium browser process (not its renderers or helpers; a process that
    exits while they are listed is left out)."""
    marker = owner_args(worker_id)[0]
    return [
        p
        for p in chromium_descendants(os.getpid())
        if marker in (arguments := command_line(p))
        and not any(arg.startswith("--type=") for arg in arguments)
    ]


async def test_run_survives_a_chromium_crash(
    client, worker_host, pages_url: str, job_id: str
) -> None:
    test = waiting_shop_test(pages_url, "crash in the middle", 3000)
    await until_no_context_is_open(worker_host.pool)
    handle = await start_run(client, job_id, test)
    await wait_for_progress(handle, lambda p: p.current_step == 1)
    browsers = browser_main_processes(worker_host.worker_id)
    assert len(browsers) == 1
    browsers[0].send_signal(signal.SIGKILL)

    result = await outcome(handle, timeout=90)
    assert result.state == "completed", result.error
    assert len(result.session_attempts) == 2
    assert "Chromium exited or crashed" in (result.session_attempts[0].lost_reason or "")
    assert all(s.status == "passed" and s.attempts == 1 for s in result.steps)
    assert browser_main_processes(worker_host.worker_id)[0].pid != browsers[0].pid, (
        "a new Chromium was launched"
    )
    assert not browsers[0].is_running() or browsers[0].status() == psutil.STATUS_ZOMBIE
    assert job_id not in worker_host.pool.open_runs(), "a context of the run was left open"
