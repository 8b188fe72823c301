"""One flood budget for several processes: TelegramLimits with windows kept in PostgreSQL (bot/coord/pg.py)
keeps its semantics across two "replicas" (two stores and coordinations on one database)."""
from __future__ import annotations

import asyncio
import time

import pytest
from telegram.error import RetryAfter

from bot.coord import PostgresCoordination
from bot.store import open_store
from bot.tg.limits import TelegramLimits

pytestmark = pytest.mark.postgres


async def _replicas(pg_url, n=2, per_second=3):
    out = []
    for _ in range(n):
        store = open_store(pg_url)
        await store.open()
        coordination = PostgresCoordination(store)
        await coordination.start(polling=False)
        limits = TelegramLimits(overall_per_second=per_second, max_retries=2, make_window=coordination.make_window(),
                                share_pause=coordination.share_pause)
        out.append((store, coordination, limits))
    return out


async def _close(replicas) -> None:
    for store, coordination, _ in replicas:
        await coordination.close()
        await store.close()


async def test_two_replicas_share_the_per_second_window_and_a_call_holds_its_slot_until_it_finished(pg_url):
    replicas = await _replicas(pg_url)
    spans: list[tuple[float, float]] = []

    async def call(i: int):
        started = time.monotonic()
        await asyncio.sleep(0.05)                   # a call takes a while; its slot is held meanwhile
        spans.append((started, time.monotonic()))
        return True
    try:
        await asyncio.gather(*(replicas[i % 2][2].process_request(call, (i,), {}, "sendMessage", {"chat_id": 100 + i},
                                                                   None) for i in range(9)))
        assert len(spans) == 9
        for start, _ in spans:      # at every call's start, at most 3 calls hold a slot (start .. finish + 1 s)
            holding = [s for s, f in spans if s <= start < f + 1.0]
            assert len(holding) <= 3, f"{len(holding)} calls held a slot at once: {sorted(spans)}"
        limits = replicas[0][2]
        waiting = asyncio.create_task(limits.process_request(call, (0,), {}, "sendMessage", {"chat_id": 1}, None))
        await asyncio.sleep(0.01)
        assert limits.delay(1) > 0                  # the synchronous estimate another module relies on
        await waiting
    finally:
        await _close(replicas)


async def test_a_429_in_one_replica_pauses_that_chat_in_the_other_only(pg_url):
    replicas = await _replicas(pg_url, per_second=29)
    (_, _, a), (_, _, b) = replicas
    calls: list[tuple[str, int, float]] = []
    flooded = {-100}

    def call_as(who: str):
        async def call(chat_id: int):
            if chat_id in flooded:
                flooded.discard(chat_id)
                raise RetryAfter(1)
            calls.append((who, chat_id, time.monotonic()))
            return True
        return call
    try:
        started = time.monotonic()
        first = asyncio.create_task(a.process_request(call_as("a"), (-100,), {}, "sendMessage", {"chat_id": -100}, None))
        await asyncio.sleep(0.3)                    # replica a met the 429 and told the others
        await b.process_request(call_as("b"), (5,), {}, "sendMessage", {"chat_id": 5}, None)
        await b.process_request(call_as("b"), (-100,), {}, "sendMessage", {"chat_id": -100}, None)
        await first
        by = {(who, chat): at - started for who, chat, at in calls}
        assert by[("b", 5)] < 0.9                   # another chat did not wait
        assert by[("b", -100)] >= 1.0               # the paused chat waited in the other replica too
        assert by[("a", -100)] >= 1.0
    finally:
        await _close(replicas)
