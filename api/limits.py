"""Request body size limits, enforced before a body is read into memory."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import send_error

UPLOAD_PATH = "/api/uploads"


MULTIPART_OVERHEAD = 64 * 1024
"""Room for a multipart body's boundaries and part headers around an upload's file."""


class BodySizeLimit:
    """413 for bodies over `max_bytes`; uploads get `max_upload_bytes` (and their route checks
    the file and the project's total). Bodies are counted as they stream in, so a chunked body
    without a Content-Length is cut off at the limit too, before it is spooled anywhere."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int = 0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes + MULTIPART_OVERHEAD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["path"].startswith(UPLOAD_PATH)
        limit = self.max_upload_bytes if upload else self.max_bytes
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            await _too_large(send, limit)


class BodyTooLarge(Exception):
    """The body grew past the limit while being read."""


async def _too_large(send: Send, limit: int) -> None:
    await send_error(send, 413, "too_large", f"request body over {limit} bytes")
