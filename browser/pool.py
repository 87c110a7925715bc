"""One Chromium per worker process, a fresh browser context per run, and the count of both."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    async_playwright,
)

from browser.console_capture import ConsoleCapture, ConsoleFlood
from browser.driver_memory import driver_pids, rss_mib
from browser.egress_proxy import Blocked, EgressGate
from browser.trace_redaction import redact_trace
from core.chromium import LAUNCH_ARGS, chromium_environment, chromium_executable
from core.definition import TraceMode
from core.egress import EgressPolicy

T = TypeVar("T")

log = logging.getLogger(__name__)

VIEWPORT: ViewportSize = {"width": 1280, "height": 800}

EGRESS_LAUNCH_ARGS = [
    # Every context has its own proxy (its egress gate); a name Chromium would resolve itself
    # (if anything ever went around the proxy) resolves to nothing.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    # WebRTC's UDP would go around the proxy: only proxied (TCP) transports.
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
]


def trace_before_retry(trace_path: Path) -> Path:
    """Where a failed run's trace up to its first failed attempt is kept, beside its trace."""
    return trace_path.with_name(f"{trace_path.stem}-before-retry{trace_path.suffix}")


@dataclass
class Session:
    """A run's browser context and its page, held by this worker process only."""

    session_id: str
    job_id: str
    context: BrowserContext
    page: Page
    trace: TraceMode
    expires_at: float
    gate: EgressGate
    console: ConsoleCapture
    busy: int = 0
    claimed: bool = False
    last_used: float = field(default_factory=time.monotonic)
    tracing: bool = False
    """Its trace has started (at its first test step: the login is never recorded)."""
    trace_before_retry: Path | None = None
    """An `on-failure` trace up to its first failed attempt; from there on the trace records
    DOM snapshots (`snapshots_from_now`)."""
    blocks_reported: int = 0
    redactions: set[str] = field(default_factory=set)
    """Spellings of secrets this session saw (auth credentials), removed from its trace."""
    closed_on_purpose: bool = False
    """Teardown closed it (after a cancel or timeout): a step it cut short is no fault."""
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the context is closed or lost."""

    def new_blocks(self) -> tuple[Blocked | None, int]:
        """The first destination refused since the last call, and how many were (each is
        reported once)."""
        fresh = self.gate.blocked_total - self.blocks_reported
        first = None
        if fresh:
            kept = self.gate.blocked
            first = kept[self.blocks_reported] if self.blocks_reported < len(kept) else None
            first = first or self.gate.latest_blocked
        self.blocks_reported = self.gate.blocked_total
        return first, fresh


OWNER_SWITCH = "--testrun-worker"


def owner_args(owner: str) -> list[str]:
    """A harmless switch naming the worker, so `ps` shows which worker a Chromium belongs to."""
    return [f"{OWNER_SWITCH}={owner}"] if owner else []


@dataclass
class _Blank:
    """A fresh context with its page and egress gate, not yet given to any run."""

    context: BrowserContext
    page: Page
    gate: EgressGate
    console: ConsoleCapture


class SessionNotFound(LookupError):
    """The session is not (or no longer) held by this worker."""


class BrowserPool:
    """Owns the worker's Chromium and its contexts; enforces nothing, counts everything."""

    def __init__(
        self,
        chromium_path: str | None,
        owner: str = "",
        egress: EgressPolicy | None = None,
        idle_timeout_s: float = 300.0,
        claim_timeout_s: float = 30.0,
        reap_interval_s: float = 5.0,
        driver_limit_mib: float = 600.0,
    ) -> None:
        self._chromium_path = chromium_path
        self.driver_limit_mib = driver_limit_mib
        self._driver_pid: int | None = None
        self._retiring: list[tuple[Playwright, Browser | None]] = []
        self._recycling: asyncio.Task[None] | None = None
        self.recycled = 0
        """How many times a grown driver was replaced."""
        self._owner = owner
        self._egress = egress or EgressPolicy()
        self._idle_timeout_s = idle_timeout_s
        self._claim_timeout_s = claim_timeout_s
        self._reap_interval_s = reap_interval_s
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._launch_lock = asyncio.Lock()
        self._sessions: dict[str, Session] = {}
        self._lost: dict[str, str] = {}  # session -> why it vanished (recent ones only)
        self._listeners: list[Callable[[], None]] = []
        self._end_listeners: list[tuple[Callable[[str], None], Callable[[str], None]]] = []
        self._reaper: asyncio.Task[None] | None = None
        self._keeps_spare = True  # until stop()
        self._spare: asyncio.Task[_Blank] | None = None
        self.max_open_seen = 0

    async def start(self) -> None:
        """Start Playwright, launch the browser and open the warm context, so that the first
        run does not wait for them."""
        await self._start_driver()
        await self._ensure_browser()
        self._reaper = asyncio.create_task(self._reap_forever())
        self._open_spare()

    async def _start_driver(self) -> None:
        """A new Playwright driver, whose process this pool then watches."""
        before = driver_pids()
        self._playwright = await async_playwright().start()
        started = driver_pids() - before
        self._driver_pid = started.pop() if len(started) == 1 else None

    @property
    def driver_pid(self) -> int | None:
        """The current driver's process (None if it could not be told apart)."""
        return self._driver_pid

    @property
    def driver_rss_mib(self) -> float:
        """The current driver's resident size (0 if unknown)."""
        return rss_mib(self._driver_pid)

    async def _recycle_if_grown(self) -> None:
        """If the driver has grown past its limit, new contexts open on a fresh driver and
        browser from now on; the old ones stop once their last context has closed, so no run
        in flight fails."""
        if self._driver_pid is None or not self._keeps_spare:
            return
        size = self.driver_rss_mib
        if size <= self.driver_limit_mib:
            return
        log.warning(
            "playwright driver at %.0f MiB (limit %.0f): starting a fresh driver and browser",
            size,
            self.driver_limit_mib,
        )
        async with self._launch_lock:
            assert self._playwright is not None
            self._retiring.append((self._playwright, self._browser))
            self._browser = None
            await self._start_driver()
        self.recycled += 1
        await self._close_spare()  # opened on the old browser
        self._open_spare()
        await self._retire_unused()

    async def _retire_unused(self) -> None:
        """Stop every replaced driver and browser that no open context uses any more."""
        for playwright, browser in list(self._retiring):
            if any(self._on(session, browser) for session in self._sessions.values()):
                continue
            self._retiring.remove((playwright, browser))
            if browser is not None:
                browser.remove_listener("disconnected", self._on_browser_lost)
                with contextlib.suppress(Exception):
                    await browser.close()
            with contextlib.suppress(Exception):
                await playwright.stop()

    @staticmethod
    def _on(session: Session, browser: Browser | None) -> bool:
        return browser is not None and session.context.browser is browser

    async def _ensure_browser(self) -> Browser:
        async with self._launch_lock:
            if self._browser is None or not self._browser.is_connected():
                assert self._playwright is not None, "BrowserPool.start() was not called"
                self._browser = await self._playwright.chromium.launch(
                    executable_path=chromium_executable(self._chromium_path),
                    args=[*LAUNCH_ARGS, *EGRESS_LAUNCH_ARGS, *owner_args(self._owner)],
                    env=chromium_environment(),
                    headless=True,
                )
                self._browser.on("disconnected", self._on_browser_lost)
                log.info("chromium %s launched", self._browser.version)
            return self._browser

    def _on_browser_lost(self, browser: Browser) -> None:
        """Chromium crashed or was killed: every context it held is gone."""
        lost = {id: s for id, s in self._sessions.items() if s.context.browser in (browser, None)}
        if lost:
            log.error("chromium disconnected with %d open sessions", len(lost))
        for session_id, session in lost.items():
            del self._sessions[session_id]
            self._remember_lost(session_id, "Chromium exited or crashed")
            session.gate.close()
            session.gone.set()
        for session in lost.values():
            self._leaving(session.job_id)
            self._ended(session.job_id)
        if browser is self._browser:
            self._spare = None  # its context went with the browser; the next open makes one
        self._notify()

    @property
    def open_count(self) -> int:
        """Contexts open right now."""
        return len(self._sessions)

    def open_runs(self) -> list[str]:
        """The runs whose contexts are open right now (one entry per context)."""
        return [session.job_id for session in self._sessions.values()]

    async def open(
        self, job_id: str, trace: TraceMode, lifetime_s: float, session_id: str | None = None
    ) -> Session:
        """A fresh context with one page, traced as the test asks (under `session_id` if given:
        SessionNotFound if its run has closed that session already).

        The context comes from the warm spare when there is one (opening a page starts a
        renderer, the largest part of a run's setup); the next spare is opened at once, in the
        background, while the run works."""
        blank = await self._take_blank()
        self._open_spare()
        if session_id is not None and session_id in self._lost:  # its run closed it first
            await _discard(blank)
            self.get(session_id)  # raises, saying why
        blank.gate.job_id = job_id  # what the gate logs and counts is this run's from now on
        session = Session(
            session_id=session_id or uuid.uuid4().hex,
            job_id=job_id,
            context=blank.context,
            page=blank.page,
            trace=trace,
            expires_at=time.monotonic() + lifetime_s,
            gate=blank.gate,
            console=blank.console,
        )
        self._sessions[session.session_id] = session
        self.max_open_seen = max(self.max_open_seen, len(self._sessions))
        self._notify()
        return session

    async def trace_from_now(self, session: Session) -> None:
        """Start the session's trace as its test asks, if it has not started: called before a
        test step, never before the login, so that no request, snapshot or value of the login
        is in any trace (Playwright keeps a trace's network log across its chunks)."""
        if session.tracing or session.trace == "off":
            return
        session.tracing = True
        try:
            await session.context.tracing.start(
                screenshots=False,
                snapshots=session.trace == "on-failure-with-snapshots",
                sources=False,
            )
        except Exception as error:  # a lost browser fails the step itself
            session.tracing = False
            session.trace = "off"
            log.warning("trace of session %s not started: %s", session.session_id, error)

    async def snapshots_from_now(self, session: Session) -> None:
        """An attempt failed and will be retried: an `on-failure` trace records DOM snapshots
        from now on, so that a failed run's trace shows the page (as Playwright's
        `on-first-retry` does). Playwright sets snapshots when a trace starts, so the trace so
        far is kept apart (`trace_before_retry`) and a new one starts. A passing run never
        comes here: it pays nothing."""
        if session.trace != "on-failure" or not session.tracing or session.trace_before_retry:
            return
        before = Path(tempfile.gettempdir()) / f"trace-{session.session_id}-before-retry.zip"
        try:
            await session.context.tracing.stop(path=before)
            session.trace_before_retry = before
            await session.context.tracing.start(screenshots=False, snapshots=True, sources=False)
        except Exception as error:  # a lost browser fails the step itself
            session.tracing = False
            log.warning("trace of session %s not restarted: %s", session.session_id, error)

    async def _take_blank(self) -> _Blank:
        """The warm spare if it opened well (waiting for it if it is opening), else a new one."""
        spare, self._spare = self._spare, None
        if spare is not None:
            try:
                blank = await spare
                if not blank.page.is_closed():
                    return blank
                await _discard(blank)
            except Exception as error:  # the browser went away meanwhile: open a new one
                log.info("warm context unusable: %s", error)
        return await self._new_blank()

    def _open_spare(self) -> None:
        """Start opening the next warm context, unless one is there or opening."""
        if self._keeps_spare and self._spare is None and self._playwright is not None:
            self._spare = asyncio.create_task(self._new_blank())

    async def _new_blank(self) -> _Blank:
        browser = await self._ensure_browser()
        gate = EgressGate(self._egress)
        proxy = await gate.start()
        try:
            context = await browser.new_context(
                viewport=VIEWPORT, accept_downloads=False, proxy={"server": proxy}
            )
        except BaseException:
            gate.close()
            raise
        console = ConsoleCapture(context, gate)
        try:
            await console.limit_pages()
            page = await context.new_page()
        except BaseException:
            await context.close()
            gate.close()
            raise
        return _Blank(context, page, gate, console)

    async def warm(self) -> None:
        """Wait until the warm context (if the pool keeps one) is open."""
        if self._spare is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._spare)

    async def _close_spare(self) -> None:
        spare, self._spare = self._spare, None
        if spare is None:
            return
        spare.cancel()
        with contextlib.suppress(BaseException):
            await _discard(await spare)

    def _remember_lost(self, session_id: str, why: str) -> None:
        """Why a session is gone (or may never open), kept for the recent ones only."""
        if len(self._lost) > 1000:
            self._lost.clear()
        self._lost.setdefault(session_id, why)

    def get(self, session_id: str) -> Session:
        """The open session, or SessionNotFound."""
        try:
            return self._sessions[session_id]
        except KeyError:
            why = self._lost.get(session_id, "it is not open here")
            raise SessionNotFound(f"browser session {session_id} lost: {why}") from None

    async def while_open(self, session: Session, work: Awaitable[T]) -> T:
        """`work`'s result, unless the session goes first (its run's teardown closed it, or
        its browser was lost): then SessionNotFound at once, whatever the work was doing (a
        pause, for one, would outlive its run). ConsoleFlood at once if its pages flood the
        console meanwhile (or did before)."""
        task = asyncio.ensure_future(work)
        gone = asyncio.ensure_future(session.gone.wait())
        flooded = asyncio.ensure_future(session.console.flooded.wait())
        try:
            await asyncio.wait([task, gone, flooded], return_when=asyncio.FIRST_COMPLETED)
            if task.done() and session.console.flood is None:
                return task.result()
        finally:
            gone.cancel()
            flooded.cancel()
            if not task.done():
                task.cancel()
            task.add_done_callback(_outcome_not_needed)
        if session.console.flood is not None and not session.gone.is_set():
            raise ConsoleFlood(session.console.flood)
        why = self._lost.get(session.session_id, "its run closed it")
        raise SessionNotFound(f"browser session {session.session_id} lost: {why}")

    @contextlib.asynccontextmanager
    async def using(self, session_id: str):  # type: ignore[no-untyped-def]
        """Mark the session busy while an activity works in it (idle sessions get reaped)."""
        session = self.get(session_id)
        session.busy += 1
        session.claimed = True
        try:
            yield session
        finally:
            session.busy -= 1
            session.last_used = time.monotonic()

    async def close(self, session_id: str, trace_path: Path | None = None) -> bool:
        """Close a session, saving its trace to trace_path if given; False if it was not open."""
        session = self._sessions.pop(session_id, None)
        if session is None:  # a successor's, not open yet: it never opens now
            self._remember_lost(session_id, "its run closed it")
            return False
        session.closed_on_purpose = True
        session.gone.set()
        self._leaving(session.job_id)
        self._notify()
        try:
            if session.tracing:
                if trace_path is not None:
                    trace_path.parent.mkdir(parents=True, exist_ok=True)
                    await session.context.tracing.stop(path=trace_path)
                    await asyncio.to_thread(redact_trace, trace_path, session.redactions)
                else:
                    await session.context.tracing.stop()
            if (before := session.trace_before_retry) is not None and trace_path is not None:
                await asyncio.to_thread(redact_trace, before, session.redactions)
                shutil.move(before, trace_before_retry(trace_path))
        except Exception as error:  # the browser may be gone; closing must still happen
            log.warning("trace of session %s not saved: %s", session_id, error)
            trace_path = None
        finally:
            if session.trace_before_retry is not None:
                session.trace_before_retry.unlink(missing_ok=True)
            with contextlib.suppress(Exception):
                await session.context.close()
            session.gate.close()
            self._ended(session.job_id)
        await self._retire_unused()
        if self._recycling is None or self._recycling.done():
            self._recycling = asyncio.create_task(self._recycle_if_grown())
        return trace_path is not None

    async def close_all(self, why: str) -> int:
        """Close every open context (their steps end as lost, `why`); how many there were."""
        open_ids = list(self._sessions)
        for session_id in open_ids:
            self._remember_lost(session_id, why)
            await self.close(session_id)
        return len(open_ids)

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call listener whenever a session opens or closes."""
        self._listeners.append(listener)

    def on_session_end(self, leaving: Callable[[str], None], ended: Callable[[str], None]) -> None:
        """Call `leaving` with the run's ID as its context starts to close (before the
        listeners of `on_change` hear that it no longer counts), and `ended` once it has
        closed; both at once for a lost one."""
        self._end_listeners.append((leaving, ended))

    def _notify(self) -> None:
        for listener in self._listeners:
            listener()

    def _leaving(self, job_id: str) -> None:
        for leaving, _ in self._end_listeners:
            leaving(job_id)

    def _ended(self, job_id: str) -> None:
        for _, ended in self._end_listeners:
            ended(job_id)

    async def _reap_forever(self) -> None:
        """Close orphaned contexts: never claimed by their run (it was cancelled while the
        context opened), left idle, or outliving the run's lifetime."""
        while True:
            await asyncio.sleep(self._reap_interval_s)
            now = time.monotonic()
            for session in list(self._sessions.values()):
                unused = now - session.last_used
                idle = session.busy == 0 and unused > self._idle_timeout_s
                unclaimed = not session.claimed and unused > self._claim_timeout_s
                if now > session.expires_at or idle or unclaimed:
                    log.warning(
                        "closing orphaned session %s of %s", session.session_id, session.job_id
                    )
                    await self.close(session.session_id)

    async def stop(self) -> None:
        """Close every context, the browser and Playwright."""
        self._keeps_spare = False
        if self._recycling is not None:
            await asyncio.gather(self._recycling, return_exceptions=True)
        await self._close_spare()
        if self._reaper is not None:
            self._reaper.cancel()
        for session_id in list(self._sessions):
            await self.close(session_id)
        await self._retire_unused()
        if self._browser is not None:
            with contextlib.suppress(Exception):
                await self._browser.close()
        if self._playwright is not None:
            await self._playwright.stop()


async def _discard(blank: _Blank) -> None:
    """Close a context no run will use."""
    with contextlib.suppress(Exception):
        await blank.context.close()
    blank.gate.close()


def _outcome_not_needed(task: asyncio.Future[Any]) -> None:
    """Retrieve the abandoned work's outcome, whatever it is (no "never retrieved" error)."""
    if not task.cancelled():
        task.exception()
