"""Calls of the service's HTTP API, typed with the API's own response models: `AsyncClient`
for asyncio code, `Client` for scripts. Run requests carry an Idempotency-Key, so retrying
one after a dropped connection queues nothing twice."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import httpx

from api.schemas import (
    Done,
    ImportedTest,
    JobStatus,
    Queued,
    QueueStatus,
    SuiteQueued,
    TestPublic,
    WaitingRuns,
)

Priority = Literal["regular", "live"]
FINAL = ("completed", "failed", "cancelled", "timed_out")
RECONNECT_S = 1.0
SEND_ATTEMPTS = 3
T = TypeVar("T")


class ServiceError(Exception):
    """The service answered with an error (its `detail`), or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Event:
    """One event of a run's stream: its ID, type and payload (the event's `data`)."""

    id: str | None
    type: str
    data: dict[str, Any]


class AsyncClient:
    def __init__(self, url: str, token: str, timeout_s: float = 30) -> None:
        self._http = httpx.AsyncClient(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._http.aclose()

    async def _call(
        self, method: str, path: str, idempotent: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """One call; an idempotent one (a key of its own) is sent again, with the same key,
        after a dropped connection: the service answers it once."""
        headers = {"Idempotency-Key": f"testrun-{uuid.uuid4().hex}"} if idempotent else {}
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                answer = await self._http.request(method, path, headers=headers, **kwargs)
                break
            except httpx.TransportError as error:
                if not idempotent or attempt == SEND_ATTEMPTS:
                    raise ServiceError(f"cannot reach {self._http.base_url}: {error}") from None
                await asyncio.sleep(0.5 * 2 ** (attempt - 1))
        if answer.status_code >= 400:
            try:
                detail = answer.json().get("detail", answer.text)
            except ValueError:
                detail = answer.text
            raise ServiceError(f"{answer.status_code}: {detail}", answer.status_code)
        return answer

    async def save_test(self, definition: dict[str, Any]) -> TestPublic:
        """Create the test, or replace the project's test of the same name."""
        tests = (await self._call("GET", "/api/tests", params={"limit": 1000})).json()
        same = [t for t in tests if t["name"] == definition.get("name")]
        if same:
            answer = await self._call("PUT", f"/api/tests/{same[0]['id']}", json=definition)
        else:
            answer = await self._call("POST", "/api/tests", idempotent=True, json=definition)
        return TestPublic.model_validate(answer.json())

    async def import_recording(self, recording: object, name: str | None = None) -> ImportedTest:
        """Store a test made of a Chrome DevTools Recorder recording."""
        params = {"name": name} if name else None
        answer = await self._call(
            "POST", "/api/tests/import", idempotent=True, json=recording, params=params
        )
        return ImportedTest.model_validate(answer.json())

    async def run_test(
        self, test_id: int, priority: Priority = "regular", environment: str | None = None
    ) -> Queued:
        path = f"/api/execution/test/{test_id}/{'run-live' if priority == 'live' else 'run'}"
        params = {"environment": environment} if environment else None
        answer = await self._call("POST", path, idempotent=True, params=params)
        return Queued.model_validate(answer.json())

    async def run_suite(
        self, suite_id: int, priority: Priority = "regular", environment: str | None = None
    ) -> SuiteQueued:
        path = f"/api/execution/suite/{suite_id}/run"
        params = {"priority": priority} | ({"environment": environment} if environment else {})
        answer = await self._call("POST", path, idempotent=True, params=params)
        return SuiteQueued.model_validate(answer.json())

    async def job(self, job_id: str) -> JobStatus:
        return JobStatus.model_validate(
            (await self._call("GET", f"/api/execution/job/{job_id}")).json()
        )

    async def cancel(self, job_id: str) -> Done:
        answer = await self._call("POST", f"/api/execution/job/{job_id}/cancel")
        return Done.model_validate(answer.json())

    async def retry(self, job_id: str) -> Queued:
        answer = await self._call("POST", f"/api/execution/job/{job_id}/retry", idempotent=True)
        return Queued.model_validate(answer.json())

    async def queue(self) -> QueueStatus:
        return QueueStatus.model_validate(
            (await self._call("GET", "/api/execution/queue/status")).json()
        )

    async def waiting(self, limit: int = 10) -> WaitingRuns:
        """The first waiting runs, in queue order, with their positions."""
        answer = await self._call("GET", "/api/execution/queue/waiting", params={"limit": limit})
        return WaitingRuns.model_validate(answer.json())

    async def junit(self, job_ids: list[str]) -> bytes:
        answer = await self._call("GET", "/api/runs/junit.xml", params={"job": job_ids})
        return answer.content

    async def events(self, job_id: str) -> AsyncIterator[Event]:
        """The run's events from its first to its final one, reconnecting (with the last
        event's ID) whenever the stream drops."""
        last_id: str | None = None
        while True:
            headers = {"Last-Event-ID": last_id} if last_id else {}
            path = f"/api/execution/job/{job_id}/events"
            try:
                async with self._http.stream("GET", path, headers=headers, timeout=None) as stream:
                    if stream.status_code >= 400:
                        raise ServiceError(
                            f"{stream.status_code}: no events for {job_id}", stream.status_code
                        )
                    async for event in _parse(stream.aiter_lines()):
                        last_id = event.id or last_id
                        yield event
                        if event.type in FINAL:
                            return
                        if event.type == "snapshot" and event.data.get("state") in FINAL:
                            return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(RECONNECT_S)


async def _parse(lines: AsyncIterator[str]) -> AsyncIterator[Event]:
    """Server-Sent Events from their lines."""
    fields: dict[str, str] = {}
    async for line in lines:
        if line == "":
            if "data" in fields:
                payload = json.loads(fields["data"])
                inner = payload.get("data") if isinstance(payload, dict) else None
                data = inner if isinstance(inner, dict) else payload  # a snapshot is flat
                yield Event(fields.get("id"), fields.get("event", "message"), data)
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


class Client:
    """The same calls, for code without an event loop."""

    def __init__(self, url: str, token: str, timeout_s: float = 30) -> None:
        self._args = (url, token, timeout_s)

    def _run(self, call: Callable[[AsyncClient], Awaitable[T]]) -> T:
        async def once() -> T:
            async with AsyncClient(*self._args) as client:
                return await call(client)

        return asyncio.run(once())

    def save_test(self, definition: dict[str, Any]) -> TestPublic:
        return self._run(lambda c: c.save_test(definition))

    def run_test(
        self, test_id: int, priority: Priority = "regular", environment: str | None = None
    ) -> Queued:
        return self._run(lambda c: c.run_test(test_id, priority, environment))

    def run_suite(
        self, suite_id: int, priority: Priority = "regular", environment: str | None = None
    ) -> SuiteQueued:
        return self._run(lambda c: c.run_suite(suite_id, priority, environment))

    def job(self, job_id: str) -> JobStatus:
        return self._run(lambda c: c.job(job_id))

    def cancel(self, job_id: str) -> Done:
        return self._run(lambda c: c.cancel(job_id))

    def retry(self, job_id: str) -> Queued:
        return self._run(lambda c: c.retry(job_id))

    def queue(self) -> QueueStatus:
        return self._run(lambda c: c.queue())

    def junit(self, job_ids: list[str]) -> bytes:
        return self._run(lambda c: c.junit(job_ids))
