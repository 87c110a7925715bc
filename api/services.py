"""What the API holds for its lifetime: settings, database engine, Temporal link, secrets."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from core.codec import EncryptionCodec, load_codec
from core.config import Settings
from core.secrets import SecretBox, load_secret_box
from core.temporal_link import TemporalLink
from dispatch.dispatcher import Dispatcher
from dispatch.group_commit import GroupCommit
from live.bell import connect_bell
from live.cache import ShortCache, queue_counts_key
from live.follow import Streams
from live.hub import READ_BLOCK_MS, StreamHub
from live.publisher import EventPublisher
from live.redis_link import connect_redis
from store.admission import AdmissionStore
from store.db import create_engine
from store.queue import RunQueue
from store.retention import Retention
from store.runs import RunStore


@dataclass
class Services:
    """Built at start-up, closed at shutdown."""

    settings: Settings
    engine: AsyncEngine
    writer_engine: AsyncEngine
    temporal: TemporalLink
    secrets: SecretBox
    runs: RunStore
    queue: RunQueue
    group_commit: GroupCommit
    admission: AdmissionStore
    retention: Retention
    dispatcher: Dispatcher
    events: EventPublisher
    cache: ShortCache
    codec: EncryptionCodec
    streams: Streams | None
    """The stream hub and a client for backlogs, for live routes (None without Redis)."""

    @classmethod
    def build(cls, settings: Settings) -> Services:
        engine = create_engine(settings.database_url)
        writer_engine = create_engine(settings.database_url, pool_size=1, max_overflow=0)
        temporal = TemporalLink(settings)
        admission = AdmissionStore(engine)
        queue = RunQueue()
        events = EventPublisher(connect_redis(settings))
        cache = ShortCache(connect_redis(settings))
        dispatcher = Dispatcher.build(
            engine, temporal, events, connect_bell(settings), settings.max_slot_share
        )

        async def forget_counts(project_ids: set[int]) -> None:
            await cache.forget(*(queue_counts_key(project_id) for project_id in project_ids))

        return cls(
            settings=settings,
            engine=engine,
            writer_engine=writer_engine,
            temporal=temporal,
            secrets=load_secret_box(settings),
            runs=RunStore(engine),
            queue=queue,
            group_commit=GroupCommit(
                writer_engine,
                queue,
                events,
                dispatcher.wake,
                after_commit=forget_counts,
                reader=engine,
                limits=settings.default_limits,
            ),
            admission=admission,
            retention=Retention(engine, settings.artifacts_dir),
            dispatcher=dispatcher,
            events=events,
            cache=cache,
            codec=load_codec(settings),
            streams=_streams(settings),
        )

    def start(self) -> None:
        if self.settings.dispatch_in_api:
            self.dispatcher.start()

    async def close(self) -> None:
        await self.group_commit.idle()
        await self.dispatcher.stop()
        await self.events.close()
        await self.cache.close()
        if self.streams is not None:
            await self.streams.hub.close()
            await self.streams.redis.aclose()
        await self.engine.dispose()
        await self.writer_engine.dispose()


def _streams(settings: Settings) -> Streams | None:
    """A hub with a client of its own for the shared blocking read, and one for backlogs."""
    shared_read = connect_redis(settings, read_timeout_s=READ_BLOCK_MS / 1000 + 5)
    backlogs = connect_redis(settings, read_timeout_s=5)
    if shared_read is None or backlogs is None:
        return None
    return Streams(StreamHub(shared_read), backlogs)
