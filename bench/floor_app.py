"""The framework's floor for the burst benchmark, served the same way as the API (uvicorn,
uvloop, httptools, the same allocator): two apps whose run route answers at once with the same
shape (no token, no database).

`app` is a FastAPI route; `bare_app` is a plain ASGI callable, so that what uvicorn and uvloop
cost alone shows apart from what FastAPI adds.
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from api.schemas import Queued

app = FastAPI()


@app.post("/api/execution/test/{test_id}/run", response_model=Queued)
async def run_test(test_id: int) -> Queued:
    return Queued(jobId=f"run-{uuid.uuid4().hex}", position=1, message="queued")


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Any HTTP request: the run route's answer, without a framework."""
    if scope["type"] != "http":
        return
    body = Queued(jobId=f"run-{uuid.uuid4().hex}", position=1, message="queued")
    payload = body.model_dump_json().encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
