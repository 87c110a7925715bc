"""Keeping the service command's children up: each one that exits is started again, with
backoff, and a child that keeps failing is reported loudly while the others keep running."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import subprocess
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger("devstack")

TICK_S = 0.25
FAILING_EXITS = 5
FAILING_WINDOW_S = 60.0
ADOPTED_CHECK_S = 5.0


@dataclass
class Backoff:
    """The wait before a restart: `first_s`, doubled at each exit up to `max_s`, and back to
    `first_s` once the child has run `healthy_s` without exiting."""

    first_s: float = 0.5
    max_s: float = 30.0
    healthy_s: float = 60.0
    _next_s: float = field(default=0.0, init=False)

    def after_exit(self, uptime_s: float) -> float:
        """How long to wait before starting a child again that ran `uptime_s` and exited."""
        if uptime_s >= self.healthy_s or not self._next_s:
            self._next_s = self.first_s
        wait = self._next_s
        self._next_s = min(self._next_s * 2, self.max_s)
        return wait


def exit_status(returncode: int) -> str:
    """`status 3` or `signal SIGKILL`, as a person reads an exit."""
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"status {returncode}"


class Child:
    """One process of the service command: started by `start`, started again when it exits
    (`on_exit` is told first)."""

    def __init__(
        self,
        name: str,
        start: Callable[[], subprocess.Popen[bytes]],
        hint: str = "",
        backoff: Backoff | None = None,
        on_exit: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self._start = start
        self._hint = hint
        self._on_exit = on_exit
        self._backoff = backoff or Backoff()
        self._exits: deque[float] = deque()
        self.process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._restart_at: float | None = None

    def launch(self) -> None:
        """Start the process now; a start that raises counts as an exit."""
        self._restart_at = None
        self._started_at = time.monotonic()
        try:
            self.process = self._start()
        except Exception as error:
            log.error("could not start %s: %s", self.name, error)
            self.process = None
            self._exited(f"a failed start ({error})")

    def check(self) -> None:
        """Notice an exit and plan the restart; start it when its time has come."""
        now = time.monotonic()
        if self._restart_at is not None:
            if now >= self._restart_at:
                log.info("starting %s again", self.name)
                self.launch()
            return
        if self.process is not None and self.process.poll() is not None:
            self._exited(exit_status(self.process.returncode))

    def _exited(self, how: str) -> None:
        if self._on_exit is not None:
            self._on_exit()
        now = time.monotonic()
        wait = self._backoff.after_exit(now - self._started_at)
        self._restart_at = now + wait
        self._exits.append(now)
        while self._exits and self._exits[0] < now - FAILING_WINDOW_S:
            self._exits.popleft()
        hint = f"; see {self._hint}" if self._hint else ""
        if len(self._exits) >= FAILING_EXITS:
            log.error(
                "%s KEEPS FAILING: %d exits in the last %d s, the last with %s; starting it "
                "again in %.1f s%s",
                self.name,
                len(self._exits),
                FAILING_WINDOW_S,
                how,
                wait,
                hint,
            )
        else:
            log.warning(
                "%s exited with %s; starting it again in %.1f s%s", self.name, how, wait, hint
            )

    def running(self) -> subprocess.Popen[bytes] | None:
        """The live process, if any (not one waiting for its restart)."""
        if self.process is not None and self.process.poll() is None:
            return self.process
        return None


class Adopted:
    """A component that answered before the service command started (not ours to restart):
    its outage and its return are reported."""

    def __init__(self, name: str, answers: Callable[[], Awaitable[bool]]) -> None:
        self.name = name
        self._answers = answers
        self._up = True
        self._checked = 0.0

    async def check(self) -> None:
        now = time.monotonic()
        if now - self._checked < ADOPTED_CHECK_S:
            return
        self._checked = now
        up = await self._answers()
        if up != self._up:
            if up:
                log.info("%s answers again", self.name)
            else:
                log.error(
                    "%s does not answer (not started by this command: not restarted)", self.name
                )
        self._up = up


async def keep_up(children: list[Child], adopted: list[Adopted], stop: asyncio.Event) -> None:
    """Watch every child and adopted component until `stop` is set."""
    while not stop.is_set():
        for child in children:
            child.check()
        for component in adopted:
            await component.check()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=TICK_S)
