"""The run routes' common case, answered without FastAPI's per-request machinery.

`POST /api/execution/test/{id}/run` and `/run-live` are what a burst of users calls at once.
For a plain request (a number as the test id, a `Bearer` token) this route, matched before
every other, queues the run with the same `queue_test_run` and answers the same body; errors
go through the app's exception handlers as they do for any route, and the middleware (body
limit, CORS) is the same. It skips dependency solving, parameter validation and the response
model's validation: about half of a run request's CPU in the API process. Any other request
(no token, another scheme, an id that is not a plain number) goes on to the FastAPI routes in
`api/routes/execution.py`, which document both routes in the OpenAPI schema.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from api.queueing import queue_test_run, queued_answer

RUN_PATH = re.compile(r"/api/execution/test/([0-9]{1,18})/(run|run-live)")
PRIORITIES = {"run": "regular", "run-live": "live"}
SCOPE_KEY = "fast_run"
JSON_HEADER = (b"content-type", b"application/json")


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token of the first Authorization header if it is `Bearer <token>`, else None (the
    FastAPI route then decides, with its own messages)."""
    for name, value in headers:
        if name == b"authorization":
            if value.startswith(b"Bearer "):
                return value[7:].decode("latin-1").strip() or None
            return None
    return None


class FastRunRoute(BaseRoute):
    """Matches a plain run request; see the module's docstring."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = RUN_PATH.fullmatch(scope["path"])
            plain = path and not scope.get("query_string")  # ?environment= goes the long way
            token = bearer_token(scope["headers"]) if plain else None
            if path and token:
                order = (int(path[1]), PRIORITIES[path[2]], token)
                return Match.FULL, {SCOPE_KEY: order}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        test_id, priority, token = scope[SCOPE_KEY]
        services = scope["app"].state.services
        run, position = await queue_test_run(services, token, test_id, priority)
        body = queued_answer(run, position).model_dump_json().encode()
        headers = [JSON_HEADER, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
