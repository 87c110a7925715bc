"""A burst of 500 queued runs through one group-commit writer on a fresh SQLite file, in a
process of its own (`python -m tests.support.sqlite_burst DB_FILE`): prints, as JSON, the bytes
SQLite holds before the burst, at its commits' peak, and once the queue is drained, and how
many distinct runs it queued. Alone, no other connection of the process moves the figures."""

from __future__ import annotations

import asyncio
import ctypes
import json
import sys

from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import hash_token
from dispatch.group_commit import GroupCommit
from dispatch.new_runs import TestRunOrder
from live.publisher import EventPublisher
from store.db import create_engine, migrate
from store.models import Project, TestCase
from store.queue import RunQueue
from tests.support.definitions import shop_test

RUNS = 500


def sqlite_memory_used() -> int:
    """Bytes SQLite holds in this process (every connection's caches and statements)."""
    library = ctypes.CDLL("libsqlite3.so.0")
    library.sqlite3_memory_used.restype = ctypes.c_int64
    return int(library.sqlite3_memory_used())


async def burst(db_file: str) -> dict[str, int]:
    url = f"sqlite:///{db_file}"
    migrate(url)
    engine = create_engine(url, pool_size=1, max_overflow=0)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        project = Project(name="burst", token_hash=hash_token("burst-token"))
        session.add(project)
        await session.commit()
        test = TestCase(
            project_id=project.id or 0, name="shop", definition=shop_test("http://127.0.0.1/")
        )
        session.add(test)
        await session.commit()
        order = TestRunOrder(hash_token("burst-token"), test.id or 0, "regular")
    at_commit: list[int] = []

    async def measure(_projects: set[int]) -> None:
        at_commit.append(sqlite_memory_used())

    writer = GroupCommit(
        engine, RunQueue(), EventPublisher(None), lambda: None, after_commit=measure
    )
    try:
        await writer.enqueue_order(order)  # the connection is open and has read the schema
        await writer.idle()
        before = sqlite_memory_used()
        queued = await asyncio.gather(*(writer.enqueue_order(order) for _ in range(RUNS)))
        await writer.idle()
        after = sqlite_memory_used()
    finally:
        await engine.dispose()
    return {
        "before": before,
        "peak": max(at_commit[1:]),
        "after": after,
        "unique": len({run.job_id for run, _position in queued}),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(burst(sys.argv[1]))))
