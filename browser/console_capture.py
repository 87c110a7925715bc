"""What the worker takes from a run's console: a bounded number of messages, bytes and rate
per run, after which it stops listening, so that a page flooding its console costs the worker
a bounded amount of work per run instead of work per message. Each document also passes only
its first PAGE_BUDGET console calls on to the browser at all.

The worker reads the console for one reason: Chromium refuses a web page's file: URLs on its
own and says so there, and that refusal fails the step like a refused connection (the egress
policy's). Once the capture stops, Chromium still refuses them; only the step no longer hears
of it, and the log says when and why the capture stopped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from playwright.async_api import BrowserContext, ConsoleMessage

from browser.egress_proxy import Blocked, EgressGate
from core.egress import refused_scheme

log = logging.getLogger(__name__)

LOCAL_RESOURCE_REFUSED = "Not allowed to load local resource: "
MAX_MESSAGES = 1000
MAX_BYTES = 1_000_000
MAX_PER_SECOND = 200
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


@dataclass
class ConsoleCapture:
    """Listens to one context's console until a budget runs out."""

    context: BrowserContext
    gate: EgressGate
    messages: int = 0
    bytes: int = 0
    stopped: str | None = None
    """Why the capture stopped, once it has."""
    _window_start: float = field(default_factory=time.monotonic)
    _in_window: int = 0

    def __post_init__(self) -> None:
        self.context.on("console", self._on_message)

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
        now = time.monotonic()
        if now - self._window_start >= 1.0:
            self._window_start, self._in_window = now, 0
        self._in_window += 1
        if self.messages >= MAX_MESSAGES:
            self._stop(f"{MAX_MESSAGES} messages")
        elif self.bytes >= MAX_BYTES:
            self._stop(f"{MAX_BYTES} bytes")
        elif self._in_window > MAX_PER_SECOND:
            self._stop(f"more than {MAX_PER_SECOND} messages in a second")

    def _stop(self, why: str) -> None:
        self.stopped = why
        self.context.remove_listener("console", self._on_message)
        log.info(
            "run %s: console capture stopped after %d messages (%d bytes): %s; later messages "
            "are not read",
            self.gate.run_id or "(none yet)",
            self.messages,
            self.bytes,
            why,
            extra={"job_id": self.gate.run_id},
        )


def _note_local_resource(gate: EgressGate, console_text: str) -> None:
    """Chromium's refusal of a file: URL is the egress policy's too, and fails the step."""
    if console_text.startswith(LOCAL_RESOURCE_REFUSED):
        url = console_text.removeprefix(LOCAL_RESOURCE_REFUSED).strip()[:200]
        refusal = refused_scheme(url.split(":", 1)[0]) or "not a web address"
        gate.record(Blocked(url, f"{url}: {refusal}"))
