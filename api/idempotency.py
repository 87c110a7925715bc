"""`Idempotency-Key` on every POST that creates runs or tests: the first request with a key (per
project, for 24 h) is served; a repeat gets the first answer (status and body, with
`Idempotent-Replayed: true`), waiting for it if the first is still being served; the same key
with another request body is refused (422) and creates nothing.

An ASGI middleware, so the fast run route and the FastAPI routes behave alike. The answer is
kept unless it says to try again (5xx, 429): a retry after those is served anew.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import hash_token
from api.errors import error_response
from store.idempotency import Earlier, IdempotencyKeys
from store.new_runs import project_ids_by_token_hash

CREATING = re.compile(
    r"/api/(tests|execution/(test/[^/]+/(run|run-live)|suite/[^/]+/run|job/[^/]+/retry))"
)
HEADER = b"idempotency-key"
REPLAYED = "Idempotent-Replayed"
MAX_KEY_CHARS = 255
WAIT_FOR_FIRST_S = 30.0
PURGE_EVERY_S = 3600.0


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def bearer(scope: Scope) -> str | None:
    value = header(scope, b"authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def kept(status: int) -> bool:
    """Whether an answer is the request's for good (not an invitation to try again)."""
    return status < 500 and status != 429


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._purged = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = None
        if scope["type"] == "http" and scope["method"] == "POST":
            key = header(scope, HEADER) if CREATING.fullmatch(scope["path"]) else None
        if key is None:
            return await self.app(scope, receive, send)
        if not 0 < len(key) <= MAX_KEY_CHARS:
            detail = f"Idempotency-Key must have 1 to {MAX_KEY_CHARS} characters"
            refusal = error_response(422, "invalid_idempotency_key", detail)
            return await refusal(scope, receive, send)
        services = scope["app"].state.services
        project_id = await self._project_of(services, scope)
        if project_id is None:  # the route refuses the token in its own words
            return await self.app(scope, receive, send)
        body = await read_body(receive)
        digest = hashlib.sha256(scope["path"].encode() + b"\n" + body).hexdigest()
        keys = IdempotencyKeys(services.engine)
        earlier = await keys.take(project_id, key, digest)
        if earlier is None:
            await self._serve(scope, body, receive, send, keys, project_id, key)
            await self._purge_now_and_then(keys)
        else:
            answer = await self._repeat(keys, project_id, key, digest, earlier)
            await answer(scope, receive, send)

    @staticmethod
    async def _project_of(services: Any, scope: Scope) -> int | None:
        token = bearer(scope)
        if token is None:
            return None
        async with AsyncSession(services.engine) as session:
            found = await project_ids_by_token_hash(session, [hash_token(token)])
        return next(iter(found.values()), None)

    async def _serve(
        self,
        scope: Scope,
        body: bytes,
        receive: Receive,
        send: Send,
        keys: IdempotencyKeys,
        project: int,
        key: str,
    ) -> None:
        """The first request with the key: served, its answer kept, then sent."""
        answer = Captured()
        try:
            await self.app(scope, replay_body(body, receive), answer.send)
        except BaseException:
            await keys.release(project, key)
            raise
        if kept(answer.status):
            await keys.answer(project, key, answer.status, answer.body.decode())
        else:
            await keys.release(project, key)
        await answer.forward(send)

    @staticmethod
    async def _repeat(
        keys: IdempotencyKeys, project: int, key: str, digest: str, earlier: Earlier
    ) -> Response:
        """A repeat: the first answer (once there is one), or why there is none."""
        if earlier.request_hash != digest:
            detail = "this Idempotency-Key was used with another request; nothing was created"
            return error_response(422, "idempotency_key_reused", detail)
        first: Earlier | None = earlier
        deadline = time.monotonic() + WAIT_FOR_FIRST_S
        while first is not None and first.status_code is None:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
            first = await keys.earlier(project, key)
        if first is None or first.status_code is None:
            detail = "the first request with this Idempotency-Key did not finish; send it again"
            return error_response(409, "idempotency_key_in_use", detail)
        return Response(
            first.response_body or "",
            first.status_code,
            headers={REPLAYED: "true"},
            media_type="application/json",
        )

    async def _purge_now_and_then(self, keys: IdempotencyKeys) -> None:
        if time.monotonic() - self._purged > PURGE_EVERY_S:
            self._purged = time.monotonic()
            await keys.purge()


class Captured:
    """A response held back until its answer is kept."""

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status, self.headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    async def forward(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


async def read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return body
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A receive channel that hands the app the body already read, then the connection's own
    messages (a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
