"""Faults from Telegram during a questionnaire: 429 with retry_after, 500 and 502 responses, dropped
connections and slow responses. The bot must recover without losing a reply the user should see and
without showing one twice (a question appearing in two messages, or an error message)."""
from __future__ import annotations

import asyncio
import logging
import random

import pytest
import pytest_asyncio

from bot.services import load_services
from tests.tg_harness import running_bot

ERROR_TEXT = load_services().renderer().raw("error.generic", "en")
ANSWERS = ("Own factory, cost under control", "New to cross-border", "Limited capital", "Steady orders as a supplier")


@pytest_asyncio.fixture
async def bot(fake, tmp_path, caplog, request):
    """The bot as deployed (flood limiter on); at the end its error handler must not have been reached.
    Parametrized indirectly with "httpx", it uses python-telegram-bot's client (TELEGRAM_HTTP=httpx)."""
    caplog.set_level(logging.ERROR, logger="bot.tg.handlers")
    async with running_bot(fake, tmp_path / "bot.sqlite3", flood_limit=True,
                           telegram_http=getattr(request, "param", "fast")) as (app, store):
        yield app, store
    handled = [r.getMessage() for r in caplog.records if r.name == "bot.tg.handlers" and r.levelno >= logging.ERROR]
    assert handled == [], f"the bot's error handler was reached: {handled}"


def shown_texts(fake, user) -> list[str]:
    """Everything the bot showed in the chat, in order: each send and each edit."""
    return [m.text or "" for m in fake.world.chats[user.chat_id].events]


async def until_shown(fake, user, marker: str, timeout: float = 15.0, settle: float = 0.5) -> str:
    """Wait until the bot shows a message containing `marker` (or the error message), then a little
    longer (a duplicate would follow at once); returns the latest text shown."""
    await fake.notifier.wait_until(lambda: any(marker in t or t == ERROR_TEXT for t in shown_texts(fake, user)),
                                   timeout)
    await asyncio.sleep(settle)
    return shown_texts(fake, user)[-1]


def assert_shown_once(fake, user, marker: str) -> None:
    texts = shown_texts(fake, user)
    assert ERROR_TEXT not in texts, "the user was told something went wrong: a reply was lost"
    count = sum(marker in t for t in texts)
    assert count == 1, f"{marker!r} shown {count} times: {[t[:40] for t in texts]}"


# (fault kind, method, options, what the user does): "press" answers by button (answerCallbackQuery +
# editMessageText), "type" answers by typing "3" (one sendMessage).
CASES = [
    ("429", "editMessageText", {"retry_after": 1}, "press"),
    ("429", "answerCallbackQuery", {"retry_after": 1}, "press"),
    ("429", "sendMessage", {"retry_after": 1}, "type"),
    ("500", "editMessageText", {}, "press"),
    ("500", "answerCallbackQuery", {}, "press"),
    ("500", "sendMessage", {}, "type"),
    ("502", "editMessageText", {}, "press"),
    ("502", "answerCallbackQuery", {}, "press"),
    ("502", "sendMessage", {}, "type"),
    ("drop", "editMessageText", {}, "press"),
    ("drop", "answerCallbackQuery", {}, "press"),
    ("drop", "sendMessage", {}, "type"),
    ("delay", "sendMessage", {"delay": 2.0}, "type"),               # slow, within the client's timeout
    ("delay", "editMessageText", {"delay": 6.0}, "press"),          # slower than PTB's default 5 s timeout
    ("500", "getUpdates", {}, "press"),
    ("502", "getUpdates", {}, "type"),
    ("drop", "getUpdates", {}, "press"),
]


@pytest.mark.parametrize("kind,method,options,how", CASES, ids=[f"{k}-{m}-{h}" for k, m, _, h in CASES])
async def test_one_fault_loses_and_duplicates_nothing(fake, bot, kind, method, options, how):
    _, store = bot
    user = fake.user(6001, "Faye", language_code="en")
    await user.send("/start")
    await until_shown(fake, user, "Question 1/4", settle=0)
    options = dict(options)
    fake.faults.add(kind, method, options.pop("count", 1), **options)
    if how == "press":
        state = await user.press(text=ANSWERS[0])
    else:
        await user.send("3")
    assert "Question 2/4" in await until_shown(fake, user, "Question 2/4")
    assert fake.faults.injected[kind] >= 1
    assert_shown_once(fake, user, "Question 2/4")
    assert (await store.load_session(f"{user.id}:{user.chat_id}"))["a"] == {"factory": "own_factory"}
    if how == "press":
        assert fake.callback_queries[state.id].answered


# The same retry rule over python-telegram-bot's httpx client (TELEGRAM_HTTP=httpx, and whenever a proxy is set):
# a dropped connection (sent, unanswered) and a 502 are retried, a 429 waited out, one of each way of answering.
HTTPX_CASES = [case for case in CASES if case[:2] in {("drop", "sendMessage"), ("502", "editMessageText"),
                                                      ("429", "answerCallbackQuery"), ("drop", "getUpdates")}]


@pytest.mark.parametrize("bot", ["httpx"], indirect=True)
@pytest.mark.parametrize("kind,method,options,how", HTTPX_CASES, ids=[f"{k}-{m}-{h}" for k, m, _, h in HTTPX_CASES])
async def test_one_fault_over_httpx_loses_and_duplicates_nothing(fake, bot, kind, method, options, how):
    assert type(bot[0].bot.request).__name__ == "RetryingHttpxRequest"
    await test_one_fault_loses_and_duplicates_nothing(fake, bot, kind, method, options, how)


async def test_a_whole_questionnaire_under_a_fault_at_every_step(fake, bot):
    """Seeded faults of every kind on every call the questionnaire makes; each question and the result
    are shown exactly once, and the stored answers are the ones given."""
    _, store = bot
    rng = random.Random(6)
    user = fake.user(6002, "Mona", language_code="en")
    kinds = [("429", {"retry_after": 1}), ("500", {}), ("502", {}), ("drop", {}), ("delay", {"delay": 1.5})]

    def fault(methods) -> None:
        kind, options = rng.choice(kinds)
        fake.faults.add(kind, rng.choice(methods), 1, **options)

    fault(["sendMessage"])
    await user.send("/start")
    await until_shown(fake, user, "Question 1/4", settle=0)
    steps = zip((*ANSWERS, "✅ Show my result"), ("Question 2/4", "Question 3/4", "Question 4/4", "Optional 1/3",
                                                  "Recommendation:"))
    for label, marker in steps:
        fault(["answerCallbackQuery", "editMessageText"])
        await user.press(text=label)
        await until_shown(fake, user, marker, settle=0)
    fault(["sendMessage"])
    await user.send("who pays the first-leg freight in semi-managed?")
    await fake.notifier.wait_until(
        lambda: len([t for t in shown_texts(fake, user) if "Recommendation:" in t]) == 2, 20)
    await asyncio.sleep(0.5)
    answer, result = shown_texts(fake, user)[-1].split("\n\n", 1)   # one message: the answer, then the result
    assert "freight" in answer.lower() and result.startswith("Recommendation:")
    for marker in ("Question 1/4", "Question 2/4", "Question 3/4", "Question 4/4", "Optional 1/3"):
        assert_shown_once(fake, user, marker)
    results = [t for t in shown_texts(fake, user) if "Recommendation:" in t]
    assert len(results) == 2                      # the result, and the result again after the answered question
    assert sum(fake.faults.injected.values()) == 7
    assert (await store.load_session(f"{user.id}:{user.chat_id}"))["a"] == {
        "factory": "own_factory", "experience": "none", "capital": "limited", "brand": "volume",
        "category": "skip", "risk": "skip", "content": "skip"}
