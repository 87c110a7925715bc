"""What every dashboard response carries and every dashboard form post must show: security
headers (nobody frames the dashboard, no inline script runs, forms post only to it) and a
same-origin check that refuses sign-in and actions sent from another site's page (login
CSRF; SameSite cookies do not help between the ports of one host)."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import send_error

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; frame-src 'self'; worker-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
VIEWER_POLICY = PAGE_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'").replace(
    "font-src 'self'", "font-src 'self' data:"
)
"""Playwright's trace viewer sets inline styles; still no inline script."""
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
SAME_ORIGIN_FETCHES = {"same-origin", "none"}


def security_headers(path: str) -> list[tuple[bytes, bytes]]:
    """The headers of every /ui/ response."""
    policy = VIEWER_POLICY if path.startswith("/ui/trace/") else PAGE_POLICY
    return [
        (b"content-security-policy", policy.encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]


def cross_site_reason(headers: Headers, own_origins: Iterable[str]) -> str | None:
    """Why a form post did not come from the dashboard's own pages, or None if it did.
    Browsers send Sec-Fetch-Site and Origin with every form post; a client that sends
    neither (curl) is no browser that another page could drive."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in SAME_ORIGIN_FETCHES:
        return f"the form was sent from another site's page (Sec-Fetch-Site: {site})"
    origin = headers.get("origin")
    if origin is not None and origin.rstrip("/") not in own_origins:
        return f"the form was sent from another origin ({origin[:100]})"
    return None


class DashboardProtection:
    """ASGI middleware for every path under /ui/: the headers above on every response, and
    403 for a post from another origin."""

    def __init__(self, app: ASGIApp, public_origin: str) -> None:
        self.app = app
        self.public_origin = public_origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == "/ui" or path.startswith("/ui/")):
            await self.app(scope, receive, send)
            return
        added = security_headers(path)
        if scope["method"] not in SAFE_METHODS:
            headers = Headers(scope=scope)
            reason = cross_site_reason(headers, self._own_origins(scope, headers))
            if reason is not None:
                await send_error(send, 403, "cross_site_form", reason, added)
                return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *added]
            await send(message)

        await self.app(scope, receive, with_headers)

    def _own_origins(self, scope: Scope, headers: Headers) -> set[str]:
        """PUBLIC_URL's origin, and the origin the request was addressed to (a browser's
        Host header is the page's own; a page of another origin sends its own Origin)."""
        host = headers.get("host", "")
        return {self.public_origin, f"{scope.get('scheme', 'http')}://{host}"}
