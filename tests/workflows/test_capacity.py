"""WORKER_MAX_SESSIONS: a worker at capacity takes no new run; runs wait, they are not rejected."""

from __future__ import annotations

import asyncio
import time

from tests.support.runs import outcome, progress, start_run, until_no_context_is_open


async def test_six_runs_on_a_two_session_worker_never_open_more_than_two_contexts(
    client, worker_host, pages_url: str
) -> None:
    assert worker_host.settings.worker_max_sessions == 2
    test = {
        "name": "slow",
        "start_url": pages_url + "shop.html",
        "steps": [{"action": "click", "selector": "#buy"}, {"action": "wait", "value": 1500}],
    }
    await until_no_context_is_open(worker_host.pool)
    handles = [await start_run(client, f"cap-{i}-{time.time_ns()}", test) for i in range(6)]
    samples: list[int] = []
    states_seen: set[tuple[str, ...]] = set()

    async def sample() -> None:
        while True:
            samples.append(worker_host.pool.open_count)
            await asyncio.sleep(0.02)

    async def watch_states() -> None:
        while True:
            states = tuple(sorted([(await progress(h)).state for h in handles]))
            states_seen.add(states)
            await asyncio.sleep(0.2)

    sampler, watcher = asyncio.create_task(sample()), asyncio.create_task(watch_states())
    results = await asyncio.gather(*(outcome(h, timeout=120) for h in handles))
    sampler.cancel()
    watcher.cancel()

    assert [r.state for r in results] == ["completed"] * 6
    assert max(samples) == 2, f"contexts open at once: max {max(samples)}"
    still_open = worker_host.pool.open_runs()
    assert not {h.id for h in handles} & set(still_open), f"contexts left open: {still_open}"
    assert any(s.count("active") == 2 and s.count("waiting") >= 2 for s in states_seen), states_seen
    # No bound on "active" states here: a run reads as active until its workflow has the
    # session's end, a moment after its context closed and the next run took the slot; the
    # contexts themselves, sampled every 20 ms above, are the measure.
    started = sorted(r.started_at for r in results)
    assert (started[-1] - started[0]).total_seconds() > 2.5, "runs waited for a free slot"
