"""Worker entry point: read settings, connect to Temporal, host browser sessions until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from core.config import get_settings
from core.hardening import prepare_service_process
from core.logs import configure_logging
from core.temporal import connect
from runner.host import WorkerHost

log = logging.getLogger("worker")


async def main() -> None:
    """Run one worker process; SIGTERM or SIGINT drains it, a second signal stops it at once."""
    settings = get_settings()
    prepare_service_process(settings)
    client = await connect(settings)
    host = WorkerHost(client, settings)
    await host.start()
    stop = asyncio.Event()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        stop.set()
        if signals > 1:
            log.warning("second signal: stopping without waiting for running sessions")
            asyncio.get_running_loop().create_task(host.stop())

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    await stop.wait()
    log.info("signal received: draining")
    await host.drain()
    log.info("worker %s stopped", host.worker_id)


def run() -> None:
    """Run the worker, then exit without interpreter teardown.

    The Temporal client's Rust threads can abort a finalizing interpreter
    ("PyGILState_Release ... must be current", temporalio/sdk-python#300); everything is
    stopped and flushed by then, so the process leaves at once with status 0.
    """
    configure_logging()
    asyncio.run(main())
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    run()
