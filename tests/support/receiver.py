"""A webhook receiver on loopback for tests: each path answers with the statuses a test gives
it, in turn (the last one from then on), or hangs; every request is kept."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG = -1
"""A status that answers nothing for `hang_s` (then 200)."""


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    url: str
    netloc: str
    hang_s: float = 15.0
    scripts: dict[str, list[int]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, *statuses: int) -> str:
        """Make `path` answer these statuses in turn; its full URL."""
        with self.lock:
            self.scripts[path] = list(statuses)
        return self.url + path

    def next_status(self, path: str) -> int:
        with self.lock:
            script = self.scripts.get(path, [200])
            return script.pop(0) if len(script) > 1 else script[0]

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 60) -> list[Received]:
        """The first `count` requests to `path` (AssertionError if they do not come)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.at(path)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{path} received {len(self.at(path))} requests, not {count}")


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    """The receiver, served from a thread until the block ends."""
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.received.append(
                    Received(self.path, dict(self.headers.items()), body, time.time())
                )
            status = receiver.next_status(self.path)
            if status == HANG:
                time.sleep(receiver.hang_s)
                status = 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    netloc = f"127.0.0.1:{server.server_address[1]}"
    receiver = Receiver(url=f"http://{netloc}", netloc=netloc)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
