"""Several processes, one bot: webhook replicas on a real PostgreSQL server behind a round-robin proxy
(tests/proxy.py), the fake Bot API delivering by webhook. Every update handled once and in order within
its chat, across a SIGKILL and a redelivery to another replica; SIGTERM drains; health and metrics;
JSON logs without secrets; a second poller refused."""
from __future__ import annotations

import asyncio
import json
import random
import time

import aiohttp
import pytest

from tests.fakebot import FakeTelegram, free_port
from tests.process_harness import CrashReport, Expected, Flow, crash_user, wait_view
from tests.proxy import RoundRobinProxy
from tests.replica_harness import SECRET, Replicas, audit, drain

pytestmark = pytest.mark.postgres


async def _replicas(fake, tmp_path, url, n=2):
    ports = [free_port() for _ in range(n)]
    proxy = await RoundRobinProxy([f"http://127.0.0.1:{p}" for p in ports]).start()
    replicas = Replicas(fake, tmp_path, url, n, proxy, ports)
    await replicas.start()
    return replicas, proxy


async def test_two_replicas_handle_every_update_once_and_in_order_across_a_sigkill_and_a_drain(pg_url, tmp_path):
    """Users tap through questionnaires at a person's pace (and tap again when nothing happens for 4 s, like
    a person); one replica is SIGKILLed mid-run and restarted; then the other gets SIGTERM with updates in
    flight. Every user ends with exactly their answers; the database and the logs show every update
    handled, none twice, each chat's in order and never two at once; no 429; the drain takes < 10 s."""
    flow, expected = Flow.load(), Expected()
    async with FakeTelegram(flood_limits=True) as fake:
        replicas, proxy = await _replicas(fake, tmp_path, pg_url)
        report = CrashReport(6)
        try:
            done = asyncio.Event()

            async def killer() -> None:
                await asyncio.sleep(3.0)
                replicas.kill(0)                             # mid-run, updates in flight on it
                report.kills += 1
                await asyncio.sleep(0.5)
                await replicas.restart(0)
                await asyncio.sleep(1.0)
                done.set()

            deadline = time.monotonic() + 90
            await asyncio.gather(killer(), *(crash_user(fake, 880_000 + i, flow, expected, random.Random(100 + i), done,
                                                         report, {}, (0.9, 1.4), 4.0, deadline) for i in range(6)))
            assert report.stuck == [] and report.mismatches == [], (report.stuck, report.mismatches)
            assert report.rounds >= 6
            assert all(proxy.sent[u] for u in proxy.upstreams), proxy.sent
            drained = await drain(fake, replicas, 1, users=4)
            assert drained["drain_exit"] == 0 and drained["drain_s"] < 10, drained
            assert drained["drain_served"] == 4, drained
        finally:
            await replicas.stop()
            await proxy.stop()
        result = await audit(replicas, pg_url)
        assert result.updates >= 30
        assert result.lost == [], f"updates never handled: {result.lost}"
        assert result.twice == [], f"updates handled twice: {result.twice}"
        assert result.out_of_order == [], result.out_of_order
        assert result.errors == [], result.errors
        assert fake.flood.sent_429 == 0
        assert fake.rejections == []


async def test_an_update_redelivered_to_another_replica_is_not_handled_twice(pg_url, tmp_path):
    """The first replica is slow (Telegram holds its reply); the webhook request times out and Telegram
    delivers the update again, through the proxy to the other replica. That one waits for the chat (held
    by the first), finds the update handled, and answers 200 without handling it again."""
    async with FakeTelegram(webhook_timeout=1.0) as fake:
        replicas, proxy = await _replicas(fake, tmp_path, pg_url)
        try:
            user = fake.user(882_001, "Slow", language_code="en")
            fake.faults.add("delay", "sendMessage", count=1, delay=2.5, chat_id=user.chat_id)
            await user.send("/start")
            assert "Question 1/4" in (await wait_view(user, 15)).text
            await fake.notifier.wait_until(lambda: not fake.updates.pending, 15)
            await asyncio.sleep(0.5)
            failed = [d for d in fake.updates.deliveries if d.error]
            assert failed, "the scenario did not happen: no delivery timed out"
            views = [m for m in fake.world.chats[user.chat_id].events if m.text and "Question 1/4" in m.text]
            assert len(views) == 1, f"the question was shown {len(views)} times"
        finally:
            await replicas.stop()
            await proxy.stop()
        outcomes = [line["outcome"] for line in replicas.log_lines() if line.get("update_id") == 1 and "outcome" in line]
        assert outcomes.count("processed") == 1 and "skipped" in outcomes, outcomes


async def test_health_readiness_metrics_and_json_logs_without_secrets(pg_url, tmp_path):
    async with FakeTelegram() as fake:
        replicas, proxy = await _replicas(fake, tmp_path, pg_url, n=1)
        port = replicas.ports[0]
        try:
            user = fake.user(883_001, "Health", language_code="zh-hans")
            await user.send("/start")
            await wait_view(user, 10)
            fake.faults.add("500", "sendMessage", count=4)    # an error the operator must see, with context
            await user.send("/help")
            await asyncio.sleep(2.0)
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    assert resp.status == 200
                async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                    body = await resp.json()
                    assert resp.status == 200 and body["ready"], body
                    assert set(body["checks"]) == {"not_draining", "store", "locks", "telegram"}
                async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                    metrics = await resp.text()
            for name in ("advisor_updates_total{", "advisor_update_seconds_bucket", "advisor_telegram_calls_total{",
                         "advisor_telegram_errors_total{", "advisor_store_seconds_bucket",
                         "advisor_questionnaires_started_total", "advisor_flood_wait_seconds"):
                assert name in metrics, name
            assert 'advisor_updates_total{kind="message",outcome="processed"} 2.0' in metrics
            assert "advisor_questionnaires_started_total 1.0" in metrics
        finally:
            await replicas.stop()
            await proxy.stop()
    raw = replicas.bots[0].log.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in raw.splitlines()]       # every line is one JSON object
    per_update = [x for x in lines if x.get("outcome")]
    assert [x["update_id"] for x in per_update] == [1, 2] and all(x["level"] == "DEBUG" for x in per_update)
    errors = [x for x in lines if x["level"] == "ERROR"]
    assert errors and "update 2" in errors[0]["msg"] and "user 883001" in errors[0]["msg"] and errors[0].get("exc")
    assert not any(x["logger"].startswith("transitions") for x in lines)
    assert fake.token not in raw and fake.token.split(":")[1] not in raw
    assert SECRET not in raw
