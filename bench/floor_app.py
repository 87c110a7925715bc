"""The framework's floor for the burst benchmark: a FastAPI app, served the same way as the
API, whose run route answers at once with the same shape (no token, no database)."""

from __future__ import annotations

import uuid

from fastapi import FastAPI

from api.schemas import Queued

app = FastAPI()


@app.post("/api/execution/test/{test_id}/run", response_model=Queued)
async def run_test(test_id: int) -> Queued:
    return Queued(jobId=f"run-{uuid.uuid4().hex}", position=1, message="queued")
