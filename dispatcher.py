"""Dispatcher entry point: admit queued runs and start their workflows, outside the API process.

`scripts/serve` runs it on its own (at a lower CPU priority), so that starting thousands of
waiting workflows never delays the API's answers; API processes started with
DISPATCH_IN_API=true (the default) run the same loop themselves, one at a time by lease.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from core.config import get_settings
from core.hardening import prepare_service_process
from core.logs import configure_logging
from core.temporal_link import TemporalLink
from dispatch.dispatcher import Dispatcher
from live.bell import connect_bell
from live.publisher import EventPublisher
from live.redis_link import connect_redis
from store.db import create_engine

log = logging.getLogger("dispatcher")


async def main() -> None:
    """Dispatch until SIGTERM or SIGINT."""
    settings = get_settings()
    prepare_service_process(settings)
    engine = create_engine(settings.database_url, pool_size=5, max_overflow=5)
    events = EventPublisher(connect_redis(settings))
    dispatcher = Dispatcher.build(
        engine, TemporalLink(settings), events, connect_bell(settings), settings.max_slot_share
    )
    dispatcher.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("dispatcher ready")
    await stop.wait()
    await dispatcher.stop()
    await events.close()
    await engine.dispose()
    log.info("dispatcher stopped")


if __name__ == "__main__":
    configure_logging()
    asyncio.run(main())
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # the Temporal client's threads can abort interpreter teardown (see worker.py)
