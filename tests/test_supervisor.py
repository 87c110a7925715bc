"""The service command's supervisor: real child processes that exit, restarted with backoff."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial

import pytest

from devstack import supervisor
from devstack.supervisor import Adopted, Backoff, Child, exit_status, keep_up


def test_backoff_doubles_to_its_ceiling_and_resets_after_a_healthy_run() -> None:
    backoff = Backoff(first_s=0.5, max_s=4.0, healthy_s=60.0)
    assert [backoff.after_exit(uptime_s=1.0) for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.after_exit(uptime_s=61.0) == 0.5
    assert backoff.after_exit(uptime_s=1.0) == 1.0


def test_an_exit_reads_as_a_status_or_a_signal() -> None:
    assert exit_status(3) == "status 3"
    assert exit_status(-9) == "signal SIGKILL"


def python(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code])


async def supervise_until(
    children: list[Child], done: Callable[[], bool], timeout_s: float
) -> None:
    """Run the supervisor over `children` until `done()` holds or `timeout_s` has passed."""
    stop = asyncio.Event()
    watching = asyncio.create_task(keep_up(children, [], stop))
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    stop.set()
    await watching


async def test_a_child_that_exits_is_started_again_and_its_exit_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    starts: list[float] = []

    def start() -> subprocess.Popen[bytes]:
        starts.append(time.monotonic())
        return python(
            "import sys; sys.exit(3)" if len(starts) == 1 else "import time; time.sleep(60)"
        )

    told: list[int] = []
    child = Child("the sample", start, on_exit=lambda: told.append(len(starts)))
    child.launch()
    caplog.set_level(logging.INFO, logger="devstack")
    await supervise_until([child], lambda: len(starts) >= 2, timeout_s=20)
    assert len(starts) == 2, "the child was not started again"
    assert told == [1], "the exit is told once, before the restart"
    assert starts[1] - starts[0] >= 0.5, "the first restart waits the backoff's first step"
    assert "the sample exited with status 3; starting it again in 0.5 s" in caplog.text
    running = child.running()
    assert running is not None
    running.kill()
    running.wait()


async def test_a_child_that_keeps_failing_is_reported_loudly_and_the_others_keep_running(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supervisor, "TICK_S", 0.01)
    failing = Child(
        "the failing one",
        partial(python, "import sys; sys.exit(1)"),
        backoff=Backoff(first_s=0.01, max_s=0.05),
    )
    steady = Child("the steady one", partial(python, "import time; time.sleep(60)"))
    for child in (failing, steady):
        child.launch()
    first_steady = steady.running()
    await supervise_until([failing, steady], lambda: "KEEPS FAILING" in caplog.text, 30)
    loud = [record for record in caplog.records if "KEEPS FAILING" in record.message]
    assert loud and loud[0].levelno == logging.ERROR
    assert "the failing one KEEPS FAILING: 5 exits in the last 60 s" in loud[0].message
    assert steady.running() is first_steady, "the other child was disturbed"
    assert first_steady is not None
    first_steady.kill()
    first_steady.wait()


async def test_an_adopted_component_s_outage_and_return_are_reported(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supervisor, "ADOPTED_CHECK_S", 0.0)
    answers = iter([False, True])

    async def probe() -> bool:
        return next(answers)

    caplog.set_level(logging.INFO, logger="devstack")
    redis = Adopted("Redis", probe)
    await redis.check()
    await redis.check()
    assert "Redis does not answer (not started by this command: not restarted)" in caplog.text
    assert "Redis answers again" in caplog.text
