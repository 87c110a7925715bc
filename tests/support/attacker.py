"""A site of another origin (another port of this host) that serves pages and records what
is posted to it: the attacker of the dashboard's tests."""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import TracebackType

from devstack.static_server import QuietHandler, StaticServer


class AttackerSite:
    """`with AttackerSite({"frame.html": html}) as site:` serves the pages on 127.0.0.1;
    `site.posts` holds the path and body of every POST it received."""

    def __init__(self, pages: dict[str, str] | None = None) -> None:
        self._root = tempfile.TemporaryDirectory(prefix="attacker-")
        for name, body in (pages or {}).items():
            (Path(self._root.name) / name.lstrip("/")).write_text(body)
        self.posts: list[tuple[str, str]] = []
        site = self

        class Recorder(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                site.posts.append((self.path, self.rfile.read(length).decode(errors="replace")))
                self.send_response(204)
                self.end_headers()

        self._server = StaticServer(Path(self._root.name), Recorder)

    @property
    def url(self) -> str:
        """The base URL, ending in a slash."""
        return self._server.url

    def __enter__(self) -> AttackerSite:
        self._server.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.__exit__(kind, error, tb)
        self._root.cleanup()
