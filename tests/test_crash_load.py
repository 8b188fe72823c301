"""Crash recovery under load: the bot process SIGKILLed at seeded random moments while users tap
through the questionnaire, and restarted. Every user ends with exactly the answers they gave; what was
sent while the bot was down is served after the restart; a crash loses at most the update in flight,
in polling and in webhook mode."""
from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

from tests.process_harness import BotProcess, crash_run, wait_view
from tests.fakebot import FakeTelegram, free_port

pytestmark = pytest.mark.crash   # the bot as its own process (make test-fast leaves these out)


@pytest.mark.load
@pytest.mark.alone   # in parallel with other tests on 2 cores, resumed presses raced (see tests/README.md)
async def test_sigkill_at_random_moments_under_load_every_user_finishes_with_their_answers():
    report = await crash_run(users=10, kills=5, seed=11, limit=120)
    assert report.kills == 5
    assert report.stuck == [], f"users never reached their result: {report.stuck}"
    assert report.mismatches == []
    assert report.rounds >= report.users                  # each user completed at least one questionnaire
    assert report.while_down > 0, "no update was sent while the bot was down: the scenario did not happen"
    assert report.down_unhandled == [], f"sent while the bot was down, never handled: {report.down_unhandled}"
    # Presses in flight at a kill are answered when redelivered; a second answer to one already answered
    # is refused by Telegram and ignored by the bot (counted apart in report.repeat_answers). Any other
    # refusal is a bug, and a press is left unanswered only if it was never redelivered in time.
    assert report.rejections == []
    assert report.unanswered <= report.kills
    assert report.log_problems == []


async def test_a_stuck_chat_delays_no_other_chat_and_its_update_survives_a_sigkill(tmp_path):
    """Five /start arrive together; Telegram holds the reply to the first one (a slow send). The other
    four chats are answered meanwhile. The held update is still in flight, so it is not confirmed to
    Telegram (the watermark stays at it) even though newer ones are done: after a SIGKILL it is delivered
    again and its user gets a reply, while the four handled before the kill are not handled twice."""
    async with FakeTelegram() as fake:
        bot = BotProcess(fake, tmp_path)
        await bot.start_and_wait()
        try:
            users = [fake.user(7100 + i, f"K{i}", language_code="en") for i in range(5)]
            fake.faults.add("delay", "sendMessage", count=1, delay=60.0, chat_id=users[0].chat_id)
            for user in users:
                await user.send("/start")
            for user in users[1:]:
                question = await wait_view(user, 10)       # not queued behind the stuck chat
                assert "Question 1/4" in question.text, f"user {user.id}: {question.text[:80]!r}"
            await asyncio.sleep(0.5)                      # the poller has had every chance to confirm more
            stuck = next(r for r in fake.updates.records if r.chat_id == users[0].chat_id)
            done = [r for r in fake.updates.records if r.chat_id != users[0].chat_id]
            assert not stuck.confirmed, "an update still in flight was confirmed to Telegram"
            assert not any(r.confirmed for r in done if r.update_id > stuck.update_id), \
                "updates after the one in flight were confirmed: the watermark moved past it"
            bot.kill()
            await bot.start_and_wait()
            try:
                question = await wait_view(users[0], 15)
            except TimeoutError:
                pytest.fail("the update in flight at the kill was never handled after the restart")
            assert "Question 1/4" in question.text
            await asyncio.sleep(1.0)                      # time for any duplicate to show up
        finally:
            await bot.stop()
        for user in users:
            views = [m for m in fake.world.chats[user.chat_id].events if m.text and "Question 1/4" in m.text]
            assert len(views) == 1, f"user {user.id} was shown the first question {len(views)} times"
        db = sqlite3.connect(bot.db)
        try:
            handled = {row[0] for row in db.execute("SELECT update_id FROM handled_updates WHERE done=1")}
        finally:
            db.close()
        pushed = [r.update_id for r in fake.updates.records]
        assert set(pushed) <= handled, f"updates never handled: {sorted(set(pushed) - handled)}"
        assert fake.rejections == []


async def test_webhook_updates_acknowledged_only_once_handled_survive_a_sigkill(tmp_path):
    """The same in webhook mode: Telegram delivers an update again until the webhook answers 200, so
    the bot must not answer 200 for an update it has not handled yet."""
    async with FakeTelegram() as fake:
        port = free_port()
        bot = BotProcess(fake, tmp_path, extra_env={"WEBHOOK_URL": f"http://127.0.0.1:{port}/hook",
                                                    "WEBHOOK_LISTEN": "127.0.0.1", "WEBHOOK_PORT": str(port)})
        bot.start()
        try:
            await fake.wait_for(lambda c: c.method == "setWebhook" and c.ok, timeout=30)
            users = {7300 + i: fake.user(7300 + i, f"W{i}", language_code="en") for i in range(5)}
            fake.faults.add("delay", "sendMessage", count=1, delay=20.0)
            mark = fake.mark()
            for user in users.values():
                await user.send("/start")
            deadline = time.monotonic() + 30
            while not (held := [c for c in fake.call_log[mark:] if c.method == "sendMessage" and "chat_id" in c.params]):
                if time.monotonic() > deadline or bot.proc.poll() is not None:   # never wait forever
                    pytest.fail(f"no reply was sent (bot exit code {bot.proc.poll()}): {bot.log.read_text()[-1500:]}")
                await asyncio.sleep(0.02)
            in_flight = int(held[0].params["chat_id"])   # deliveries run concurrently: any may come first
            await asyncio.sleep(0.5)
            bot.kill()
            mark = fake.mark()
            bot.start()
            await fake.wait_for(lambda c: c.method == "setWebhook" and c.ok, timeout=30, since=mark)
            for uid, user in users.items():
                if uid == in_flight:
                    continue
                try:
                    question = await wait_view(user, 15)
                except TimeoutError:
                    pytest.fail(f"user {uid} got no reply after the restart: the webhook answered 200 for its "
                                f"/start before handling it, so Telegram will not deliver it again")
                assert "Question 1/4" in question.text
            await users[in_flight].send("/start")
            assert "Question 1/4" in (await wait_view(users[in_flight], 15)).text
        finally:
            await bot.stop()
        assert fake.rejections == []
