"""No chat waits for another: the dispatcher, the watermark, early callback answers, per-chat flood waits."""
from __future__ import annotations

import asyncio
import time

from telegram import Update
from telegram.error import RetryAfter

from bot.tg.dispatch import CallbackAnswers, ChatDispatcher, chat_key
from bot.tg.limits import TelegramLimits, Window
from tests.tg_harness import running_bot


def message(update_id: int, chat_id: int, text: str = "hi") -> Update:
    chat_type = "private" if chat_id > 0 else "supergroup"
    return Update.de_json({"update_id": update_id, "message": {
        "message_id": update_id, "date": 0, "text": text, "chat": {"id": chat_id, "type": chat_type},
        "from": {"id": abs(chat_id), "is_bot": False, "first_name": "U"}}}, None)


def press(update_id: int, chat_id: int) -> Update:
    return Update.de_json({"update_id": update_id, "callback_query": {
        "id": f"q{update_id}", "chat_instance": "1", "data": "x",
        "from": {"id": abs(chat_id), "is_bot": False, "first_name": "U"},
        "message": {"message_id": 1, "date": 0, "chat": {"id": chat_id, "type": "private"}, "text": "q"}}}, None)


async def test_one_chat_in_order_other_chats_concurrently_and_the_watermark_waits_for_the_oldest():
    release = asyncio.Event()
    log: list[str] = []

    async def handle(update: Update) -> None:
        log.append(f"start {update.update_id}")
        if update.update_id == 1:
            await release.wait()                 # chat 10 is stuck (say, waiting for its flood budget)
        log.append(f"end {update.update_id}")

    d = ChatDispatcher(handle)
    first, other, later = d.submit(message(1, 10)), d.submit(message(2, 20)), d.submit(message(3, 10))
    await asyncio.wait_for(other, 1)              # chat 20 is not held up by chat 10
    assert "end 2" in log and "start 3" not in log
    assert d.oldest() == 1                        # 2 is done, but 1 is not: nothing past 1 may be confirmed
    release.set()
    await asyncio.wait_for(asyncio.gather(first, later), 1)
    assert log.index("end 1") < log.index("start 3")
    assert d.oldest() is None and await d.join(1)


async def test_a_failing_update_does_not_break_its_chat_and_a_redelivery_is_not_run_twice():
    ran: list[int] = []

    async def handle(update: Update) -> None:
        ran.append(update.update_id)
        if update.update_id == 1:
            raise RuntimeError("boom")

    d = ChatDispatcher(handle)
    one = d.submit(message(1, 10))
    assert d.submit(message(1, 10)) is one       # the same update again while in flight
    await asyncio.wait_for(d.submit(message(2, 10)), 1)
    await one
    assert ran == [1, 2]


async def test_on_busy_tells_when_the_first_update_comes_in_and_when_the_last_one_is_done():
    release = asyncio.Event()
    told: list[bool] = []

    async def handle(update: Update) -> None:
        if update.update_id == 1:
            await release.wait()

    d = ChatDispatcher(handle, on_busy=told.append)
    first, second = d.submit(message(1, 10)), d.submit(message(2, 20))
    assert told == [True]                         # once, however many come in
    await asyncio.wait_for(second, 1)
    assert told == [True]                         # one still in flight
    release.set()
    await asyncio.wait_for(first, 1)
    assert told == [True, False]
    await asyncio.wait_for(d.submit(message(3, 10)), 1)
    assert told == [True, False, True, False]


async def test_a_press_not_answered_in_time_gets_an_early_answer():
    early: list[int] = []
    release = asyncio.Event()

    async def handle(update: Update) -> None:
        await release.wait()

    async def late(update: Update) -> None:
        early.append(update.update_id)

    d = ChatDispatcher(handle, late_answer=late, late_after=0.1)
    d.submit(message(1, 10))
    d.submit(press(2, 10))                        # queued behind the stuck message
    await asyncio.sleep(0.3)
    assert early == [2]                           # only presses, and only when late
    release.set()
    await d.join(1)


def test_each_callback_query_is_answered_once():
    answers = CallbackAnswers(size=2)
    assert answers.claim("a") and not answers.claim("a")
    answers.release("a")
    assert answers.claim("a")
    answers.claim("b"), answers.claim("c")
    assert not answers.answered("a")              # bounded memory: the oldest is forgotten


def test_chat_key():
    assert chat_key(message(1, 10)) == 10 and chat_key(message(2, -100)) == -100
    inline = Update.de_json({"update_id": 3, "inline_query": {
        "id": "1", "from": {"id": 7, "is_bot": False, "first_name": "U"}, "query": "", "offset": ""}}, None)
    assert chat_key(inline) == ("user", 7)


async def test_window_delay_estimate():
    w = Window(2, 0.5)
    assert w.delay() == 0.0
    await w.acquire()
    await w.acquire()
    assert 0.3 < w.delay() <= 0.5                 # the third must wait for the first to expire


async def test_a_429_pauses_only_its_own_chat():
    limits = TelegramLimits(max_retries=1)
    calls: list[tuple[int, float]] = []
    flooded = {-100}

    async def call(chat_id: int):
        if chat_id in flooded:
            flooded.discard(chat_id)
            raise RetryAfter(1)
        calls.append((chat_id, time.monotonic()))
        return True

    started = time.monotonic()
    group = asyncio.create_task(limits.process_request(call, (-100,), {}, "sendMessage", {"chat_id": -100}, None))
    await asyncio.sleep(0.05)
    assert limits.delay(-100) > 0.5               # the group is paused...
    await limits.process_request(call, (5,), {}, "sendMessage", {"chat_id": 5}, None)
    assert calls[0][0] == 5 and calls[0][1] - started < 0.5     # ...the private chat is not
    await group
    assert calls[-1][0] == -100 and calls[-1][1] - started >= 1.0


async def test_a_group_out_of_budget_never_delays_a_private_chat(fake, tmp_path):
    """A group has used up its budget and its next reply waits; meanwhile a seller in a private chat
    is answered at once, presses in the group are answered within seconds, and Telegram sees no 429."""
    fake.flood.configure(enabled=True, group_per_minute=4)
    async with running_bot(fake, tmp_path / "bot.sqlite3", flood_limit=True) as (app, _):
        app.bot.rate_limiter.group_per_minute = 3
        group = fake.group(-100555, "Busy sellers")
        members = [fake.user(6100 + i, f"M{i}", language_code="en") for i in range(4)]
        for member in members:
            group.add_member(member)
        for member in members[:3]:                # three questions: the group's budget is used up
            await member.send("/quiz@ModeAdvisorBot", chat=group)
            await group.next_reply(10)
        question = group.transcript()[-1]
        await members[3].send("/quiz@ModeAdvisorBot", chat=group)      # this reply has to wait ~a minute
        await asyncio.sleep(0.3)
        loner = fake.user(6200, "Solo", language_code="en")
        asked = time.monotonic()
        await loner.send("/help")
        await loner.next_reply(3)
        assert time.monotonic() - asked < 2.0, "a private chat waited behind the busy group"
        owner = members[2]                        # the owner of the last question shown presses twice
        first = await owner.press(question, text="No stable supply yet", chat=group)
        second = await owner.press(question, text="Trader with stable sourcing", chat=group)
        await asyncio.sleep(2.5)
        for state in (first, second):
            assert fake.callback_queries[state.id].answered, "a press in the busy group was not answered in time"
        # The handler answers at once (a card is not edited per press), so no early "busy" answer is needed.
        assert "Trader with stable sourcing" in (fake.callback_queries[second.id].answer or {}).get("text", "")
        assert fake.flood.sent_429 == 0
