"""The test pages, served on loopback, with a flaky endpoint that fails a set number of times."""

from __future__ import annotations

import html
import re
import tempfile
import threading
import time
from collections import Counter
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

from devstack.static_server import QuietHandler, StaticServer

PAGES_DIR = Path(__file__).resolve().parents[2] / "examples" / "site"
FLAKY_PATH = re.compile(r"^/flaky/(?P<key>[\w-]+)/(?P<failures>\d+)$")
PROBES = {
    # What a page can do to reach another destination: each is one way through the network.
    "link": '<a id="go" href="{to}">go</a>',
    "iframe": '<iframe id="frame" src="{to}"></iframe>',
    "fetch": "<script>fetch({to_js}).then(r => r.text()).then(t => document.title = t)</script>",
    "websocket": "<script>new WebSocket({to_js})</script>",
    "popup": "<script>window.open({to_js})</script>",
    "image": '<img src="{to}">',
    "serviceworker": "<script>navigator.serviceWorker.register('/sw.js?to=' + "
    "encodeURIComponent({to_js}))</script>",
}
SERVICE_WORKER = "self.addEventListener('install', () => fetch({to_js}));"

_hits: Counter[str] = Counter()
_hits_lock = threading.Lock()


class TestPageHandler(QuietHandler):
    """Static pages, plus /flaky/<key>/<n> (the first n requests get HTTP 503),
    /redirect?to=URL, /probe/<kind>?to=URL (a page that tries to reach URL) and /big/<n>
    (a page with n characters of text), /viewport (the page's size, `#size`: `640x480`).
    /form-to/<path> is a form whose button posts there;
    /form-post?to=URL a form that posts to URL; /noisy?to=URL&fetches=N&logs=M a page that
    fetches URL N times and floods its console with M messages (`worker_logs=K`: from a Web
    Worker too)."""

    __test__ = False

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        parts = urlsplit(self.path)
        target = parse_qs(parts.query).get("to", [""])[0]
        if parts.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if parts.path.startswith("/probe/") and parts.path[7:] in PROBES:
            return self._send(probe_page(parts.path[7:], target))
        if parts.path == "/noisy":
            query = parse_qs(parts.query)
            fetches, logs, worker_logs = (
                int(query.get(k, ["0"])[0]) for k in ("fetches", "logs", "worker_logs")
            )
            page = noisy_page(target, min(fetches, 5000), min(logs, 100_000), worker_logs)
            return self._send(page)
        if parts.path == "/form-post" and target:  # a form that posts to any address
            form = f"<form method='post' action='{html.escape(target)}'><input name='x'></form>"
            return self._send(f"<html><body>{form}</body></html>")
        if parts.path.startswith("/form-to/"):
            action = html.escape(parts.path[8:] + ("?" + parts.query if parts.query else ""))
            form = f"<form method='post' action='{action}'><button id='send'>Send</button></form>"
            return self._send(f"<html><body>{form}</body></html>")
        if parts.path == "/whoami":
            query = parse_qs(parts.query)
            padding = int(query.get("pad", ["0"])[0])
            shout = "shout" in query
            return self._send(whoami_page(self.headers.get("Cookie", ""), padding, shout))
        if parts.path == "/sw.js":
            script = SERVICE_WORKER.format(to_js=repr(target))
            return self._send(script, content_type="text/javascript")
        if parts.path == "/viewport":
            size = "document.getElementById('size').textContent = innerWidth + 'x' + innerHeight"
            return self._send(f"<html><body><p id='size'></p><script>{size}</script></body></html>")
        if parts.path.startswith("/big/") and parts.path[5:].isdigit():
            text = "x" * min(int(parts.path[5:]), 10_000_000)
            return self._send(f"<html><body><pre id='big'>{text}</pre></body></html>")
        match = FLAKY_PATH.match(self.path)
        if not match:
            return super().do_GET()
        with _hits_lock:
            _hits[match["key"]] += 1
            hit = _hits[match["key"]]
        failing = hit <= int(match["failures"])
        body = f"<html><body><p id='flaky'>served on request {hit}</p></body></html>"
        self._send(body, 503 if failing else 200)
        return None

    def do_POST(self) -> None:  # noqa: N802
        """/echo: a careless site that keeps the submitted form in a cookie and shows it on
        /whoami (where a trace would catch the credentials). /slow?ms=N answers after N ms."""
        parts = urlsplit(self.path)
        if parts.path == "/slow":
            time.sleep(min(int(parse_qs(parts.query).get("ms", ["0"])[0]), 10_000) / 1000)
            return self._send("<html><body><p id='arrived'>arrived</p></body></html>")
        if self.path != "/echo":
            return self.send_error(404)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        form = {name: values[0] for name, values in parse_qs(body).items()}
        kept = quote(f"{form.get('username', '')}:{form.get('password', '')}", safe="")
        self.send_response(303)
        self.send_header("Set-Cookie", f"echo={kept}; Path=/")
        self.send_header("Location", "/whoami")
        self.send_header("Content-Length", "0")
        self.end_headers()
        return None

    def _send(self, text: str, status: int = 200, content_type: str = "text/html") -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def whoami_page(cookie_header: str, padding: int = 0, shout: bool = False) -> str:
    """The form that /echo kept, decoded (after `padding` dots; with `shout`, upper-cased by
    CSS and with a space between its characters), or a login form if there is none."""
    cookie = SimpleCookie(cookie_header)
    if "echo" not in cookie:
        return (
            "<html><head><meta charset='utf-8'></head><body>"
            "<form method='post' action='/echo'>"
            "<input id='username' name='username'><input id='password' name='password'>"
            "<button id='submit'>Log in</button></form></body></html>"
        )
    echoed = unquote(cookie["echo"].value)
    shown = "." * padding + html.escape(" ".join(echoed) if shout else echoed)
    head = "<head><meta charset='utf-8'></head>"
    style = " style='text-transform: uppercase'" if shout else ""
    return (
        f"<html>{head}<body><p id='welcome'>Welcome</p>"
        f"<pre id='echo'{style}>{shown}</pre></body></html>"
    )


def noisy_page(target: str, fetches: int, logs: int, worker_logs: int = 0) -> str:
    """A page that fetches `target` `fetches` times and logs `logs` console messages of 2 KB,
    then shows #done; with `worker_logs`, a Web Worker of the page logs that many too."""
    worker = (
        "new Worker(URL.createObjectURL(new Blob(["
        f'\'const line = "x".repeat(2000); for (let i = 0; i < {min(worker_logs, 10**6)}; i++)'
        " console.log(line, i);'])));"
        if worker_logs
        else ""
    )
    script = worker + (
        f"const line = 'x'.repeat(2000);"
        f"for (let i = 0; i < {logs}; i++) console.log(line, i);"
        f"Promise.allSettled(Array.from({{length: {fetches}}}, (_, i) => "
        f"fetch({target!r} + '?n=' + i))).then(() => {{"
        f"const done = document.createElement('p'); done.id = 'done';"
        f"done.textContent = 'done'; document.body.append(done); }});"
    )
    return f"<html><body><p>noisy</p><script>{script}</script></body></html>"


def probe_page(kind: str, target: str) -> str:
    """A page that tries to reach `target` by `kind` (link, iframe, fetch, ...)."""
    markup = PROBES[kind].format(to=html.escape(target), to_js=repr(target))
    return f"<html><body><p id='probe'>{kind}</p>{markup}</body></html>"


def flaky_hits(key: str) -> int:
    """How many times /flaky/<key>/... was requested."""
    with _hits_lock:
        return _hits[key]


def serve_test_pages() -> StaticServer:
    """A server for tests/pages with the flaky endpoint."""
    return StaticServer(PAGES_DIR, TestPageHandler)


def serve_private_page(marker: str) -> StaticServer:
    """A page that no run may reach (its port is not allowlisted), holding `marker`."""
    root = Path(tempfile.mkdtemp(prefix="private-page-"))
    (root / "index.html").write_text(f"<html><body><p id='secret'>{marker}</p></body></html>")
    return StaticServer(root)
