"""The test pages, served on loopback, with a flaky endpoint that fails a set number of times."""

from __future__ import annotations

import re
import threading
from collections import Counter
from pathlib import Path

from devstack.static_server import QuietHandler, StaticServer

PAGES_DIR = Path(__file__).resolve().parents[2] / "examples" / "site"
FLAKY_PATH = re.compile(r"^/flaky/(?P<key>[\w-]+)/(?P<failures>\d+)$")

_hits: Counter[str] = Counter()
_hits_lock = threading.Lock()


class TestPageHandler(QuietHandler):
    """Static pages, plus /flaky/<key>/<n>: the first n requests get HTTP 503."""

    __test__ = False

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        match = FLAKY_PATH.match(self.path)
        if not match:
            return super().do_GET()
        with _hits_lock:
            _hits[match["key"]] += 1
            hit = _hits[match["key"]]
        failing = hit <= int(match["failures"])
        body = f"<html><body><p id='flaky'>served on request {hit}</p></body></html>".encode()
        self.send_response(503 if failing else 200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return None


def flaky_hits(key: str) -> int:
    """How many times /flaky/<key>/... was requested."""
    with _hits_lock:
        return _hits[key]


def serve_test_pages() -> StaticServer:
    """A server for tests/pages with the flaky endpoint."""
    return StaticServer(PAGES_DIR, TestPageHandler)
