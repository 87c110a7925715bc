"""What the worker takes from a run's console: a bounded number of messages and bytes per
run, after which it stops listening, so that a page flooding its console costs the worker a
bounded amount of work per run instead of work per message. Each document passes only its
first PAGE_BUDGET console calls on to the browser at all. A Web Worker, which no init script
reaches, that sends more than that is a flood: its run's step fails at once and its pages
close, so that it stops slowing the worker's other runs.

The worker reads the console for one reason: Chromium refuses a web page's file: URLs on its
own and says so there, and that refusal fails the step like a refused connection (the egress
policy's). Once the capture stops, Chromium still refuses them; only the step no longer hears
of it, and the log says when and why the capture stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from playwright.async_api import BrowserContext, ConsoleMessage, Worker

from browser.egress_proxy import Blocked, EgressGate
from core.egress import refused_scheme

log = logging.getLogger(__name__)

LOCAL_RESOURCE_REFUSED = "Not allowed to load local resource: "
MAX_MESSAGES = 2000
MAX_BYTES = 2_000_000
PAGE_BUDGET = 500
"""Console calls a document passes on to the browser's console; later ones are dropped in the
page itself, before the browser, the driver or the worker spend anything on them."""
PAGE_BUDGET_SCRIPT = """(() => {
  let left = PAGE_BUDGET;
  const methods = ["log", "info", "warn", "error", "debug", "trace", "dir", "dirxml",
                   "table", "count", "assert", "group", "groupCollapsed", "timeLog"];
  for (const name of methods) {
    const original = console[name];
    if (typeof original !== "function") continue;
    console[name] = function (...args) {
      if (left > 0) { left--; return original.apply(this, args); }
    };
  }
})();""".replace("PAGE_BUDGET", str(PAGE_BUDGET))


class ConsoleFlood(Exception):
    """The context's pages flooded the console; its run must stop."""


@dataclass
class ConsoleCapture:
    """Listens to one context's console until a budget runs out, or until a flood."""

    context: BrowserContext
    gate: EgressGate
    messages: int = 0
    bytes: int = 0
    stopped: str | None = None
    """Why the capture stopped, once it has."""
    worker_messages: int = 0
    flood: str | None = None
    """Why the run must stop, once the console flooded."""
    flooded: asyncio.Event = field(default_factory=asyncio.Event)
    _closing: set[asyncio.Future[None]] = field(default_factory=set)

    _workers: list[tuple[Worker, Callable[[ConsoleMessage], None]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.context.on("console", self._on_message)
        self.context.on("page", lambda page: page.on("worker", self._on_worker))

    def _on_worker(self, worker: Worker) -> None:
        """No init script limits a Web Worker's console: more than PAGE_BUDGET messages from
        one worker (more than any document may send), or more than MAX_MESSAGES from all of
        a run's workers, is a flood. The worker's listener only counts (the context's reads
        the messages), and stays until the run ends or floods, whatever the reading budget."""
        if self.flood is not None:
            return
        sent = 0

        def on_message(_message: ConsoleMessage) -> None:
            nonlocal sent
            sent += 1
            self.worker_messages += 1
            if self.flood is not None:
                return
            if sent > PAGE_BUDGET:
                self._flood(f"a Web Worker sent more than {PAGE_BUDGET} messages")
            elif self.worker_messages > MAX_MESSAGES:
                self._flood(f"its Web Workers sent more than {MAX_MESSAGES} messages")

        self._workers.append((worker, on_message))
        worker.on("console", on_message)

    async def limit_pages(self) -> None:
        """Every document of the context passes at most PAGE_BUDGET console calls on (a
        page that gets around it, from a worker say, still meets the capture's budget)."""
        await self.context.add_init_script(PAGE_BUDGET_SCRIPT)

    def _on_message(self, message: ConsoleMessage) -> None:
        if self.stopped is not None:
            return  # in flight when the capture stopped
        text = message.text
        self.messages += 1
        self.bytes += len(text)
        _note_local_resource(self.gate, text)
        if self.messages >= MAX_MESSAGES:
            self._stop(f"{MAX_MESSAGES} messages")
        elif self.bytes >= MAX_BYTES:
            self._stop(f"{MAX_BYTES} bytes")

    def _flood(self, how: str) -> None:
        """The run must stop: its step fails at once (see BrowserPool.while_open), and its
        pages close now (their workers with them), not at the run's teardown: until then the
        flood would keep the worker's driver busy for every other run."""
        self.flood = f"the page flooded its console ({how}); the run was stopped"
        self.flooded.set()
        for page in self.context.pages:
            closing = asyncio.ensure_future(page.close())
            self._closing.add(closing)
            closing.add_done_callback(self._closed)
        for worker, listener in self._workers:
            worker.remove_listener("console", listener)
        if self.stopped is None:
            self._stop("a flood")

    def _closed(self, closing: asyncio.Future[None]) -> None:
        """A page closed after a flood (or was gone already: nothing to report)."""
        self._closing.discard(closing)
        if not closing.cancelled():
            closing.exception()

    def _stop(self, why: str) -> None:
        self.stopped = why
        self.context.remove_listener("console", self._on_message)
        log.info(
            "run %s: console capture stopped after %d messages (%d bytes): %s; later messages "
            "are not read",
            self.gate.job_id or "(none yet)",
            self.messages,
            self.bytes,
            why,
            extra={"job_id": self.gate.job_id},
        )


def _note_local_resource(gate: EgressGate, console_text: str) -> None:
    """Chromium's refusal of a file: URL is the egress policy's too, and fails the step."""
    if console_text.startswith(LOCAL_RESOURCE_REFUSED):
        url = console_text.removeprefix(LOCAL_RESOURCE_REFUSED).strip()[:200]
        refusal = refused_scheme(url.split(":", 1)[0]) or "not a web address"
        gate.record(Blocked(url, f"{url}: {refusal}"))
