"""Operating one process: a second poller refused with a clear message; health on its own port in polling
mode; SIGTERM exits promptly."""
from __future__ import annotations

import asyncio
import signal
import time

import aiohttp
import pytest

from tests.process_harness import BotProcess, wait_view
from tests.fakebot import FakeTelegram, free_port

pytestmark = pytest.mark.crash   # the bot as its own process (make test-fast leaves these out)


async def test_a_second_poller_is_refused_with_a_clear_message(tmp_path):
    async with FakeTelegram() as fake:
        first = BotProcess(fake, tmp_path / "a")
        (tmp_path / "a").mkdir()
        await first.start_and_wait()
        same_file = elsewhere = None
        try:
            same_file = BotProcess(fake, tmp_path / "a")           # same SQLite file: refused at once
            same_file.log = tmp_path / "same.log"
            same_file.start()
            assert await asyncio.to_thread(same_file.proc.wait, 30) == 3
            assert "another bot process already uses" in same_file.log.read_text()
            (tmp_path / "b").mkdir()
            elsewhere = BotProcess(fake, tmp_path / "b")            # another store, same token: Telegram's 409
            elsewhere.start()
            assert await asyncio.to_thread(elsewhere.proc.wait, 30) == 3
            assert "already polling Telegram with this bot token" in elsewhere.log.read_text()
            user = fake.user(884_001, "Still", language_code="en")  # the first one still serves
            await user.send("/start")
            assert "Question 1/4" in (await wait_view(user, 10)).text
        finally:
            for other in (same_file, elsewhere):          # never left running, whatever failed
                if other is not None and other.proc.poll() is None:
                    other.kill()
            assert await first.stop() == 0


async def test_polling_serves_health_on_its_own_port(tmp_path):
    port = free_port()
    async with FakeTelegram() as fake:
        bot = BotProcess(fake, tmp_path, extra_env={"HEALTH_PORT": str(port)})
        await bot.start_and_wait()
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    assert resp.status == 200
                async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                    assert resp.status == 200, await resp.text()
                async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                    assert "advisor_telegram_calls_total" in await resp.text()
        finally:
            t0 = time.monotonic()
            assert await bot.stop() in (0, -signal.SIGTERM)
            assert time.monotonic() - t0 < 10


async def test_sigterm_with_an_update_stuck_longer_than_the_drain_exits_within_10_s_and_loses_nothing(tmp_path):
    """Telegram holds the reply to one /start for 30 s; SIGTERM: the process stops waiting after the drain
    time, exits within 10 s, and does not confirm that update, so it is delivered again after a restart."""
    async with FakeTelegram() as fake:
        bot = BotProcess(fake, tmp_path)
        await bot.start_and_wait()
        try:
            user = fake.user(885_001, "Stuck", language_code="en")
            fake.faults.add("delay", "sendMessage", count=1, delay=30.0, chat_id=user.chat_id)
            await user.send("/start")
            await asyncio.sleep(1.5)                        # the reply is on its way, held by Telegram
            t0 = time.monotonic()
            assert await bot.stop() == 0
            assert time.monotonic() - t0 < 10
            record = fake.updates.records[-1]
            assert not record.confirmed, "an update that was not handled was confirmed to Telegram"
            await bot.start_and_wait()
            assert "Question 1/4" in (await wait_view(user, 15)).text
        finally:
            await bot.stop()
