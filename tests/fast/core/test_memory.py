"""Memory given back after a burst: the API trims the C heap once a growth has settled."""

from __future__ import annotations

import subprocess
import sys
import textwrap

BURST_THEN_SETTLE = textwrap.dedent(
    """
    import asyncio, psutil
    import core.memory as memory

    memory.CHECK_EVERY_S = 0.2

    def mib():
        return psutil.Process().memory_info().rss / 2**20

    async def main():
        returner = memory.MemoryReturner()
        returner.start()
        start = mib()
        burst = [bytes(1000) for _ in range(150_000)]  # about 150 MiB, on the C heap
        survivors = burst[::1000]  # a few live on, scattered over the heap
        del burst
        grown = mib()
        await asyncio.sleep(1.5)
        print(round(start), round(grown), round(mib()), len(survivors))
        await returner.stop()

    asyncio.run(main())
    """
)


def test_a_burst_s_memory_goes_back_once_it_has_settled() -> None:
    result = subprocess.run(
        [sys.executable, "-c", BURST_THEN_SETTLE],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    start, grown, settled, _ = map(int, result.stdout.split())
    assert grown > start + 100, f"the burst did not grow the heap: {result.stdout}"
    assert settled < start + 15, f"the memory stayed: {result.stdout}"
