"""Webhook mode (bot.tg.webhook) with its secret token, and Telegram's 429 handled by the flood limiter."""
from __future__ import annotations

import aiohttp

from tests.tg_harness import replies, running_bot, running_webhook_bot


async def test_webhook_mode_delivers_updates_and_checks_the_secret(fake, tmp_path):
    async with running_webhook_bot(fake, tmp_path / "bot.sqlite3", "s3cret-token") as (app, store, url):
        user = fake.user(4001, "Hook", language_code="en")
        await user.send("/start")
        shown = await replies(user)
        assert "Question 1/4" in shown[-1].text
        await user.press(text="Own factory, cost under control")
        assert "Question 2/4" in (await user.next_reply()).text
        update = {"update_id": 999999, "message": {"message_id": 1, "date": 0, "text": "/start",
                                                   "chat": {"id": 4001, "type": "private"},
                                                   "from": {"id": 4001, "is_bot": False, "first_name": "X"}}}
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with http.post(url, json=update, headers=headers) as resp:
                    assert resp.status == 403
        assert (await store.load_session("4001:4001"))["a"] == {"factory": "own_factory"}


async def test_429_is_retried_after_retry_after_without_duplicates(fake, tmp_path):
    async with running_bot(fake, tmp_path / "bot.sqlite3", flood_limit=True):
        user = fake.user(4002, "Slow", language_code="en")
        await user.send("/start")
        await replies(user)
        fake.faults.add("429", "sendMessage", count=1, retry_after=1)
        await user.send("2")
        shown = await replies(user, first=10)
        assert [m.text.splitlines()[0] for m in shown] == ["Question 2/4"]
        assert fake.faults.injected["429"] == 1
        sends = [c for c in fake.calls("sendMessage") if c.params.get("chat_id") == 4002]
        assert [c.status for c in sends[-2:]] == [429, 200]
