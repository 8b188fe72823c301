"""The review loop end to end on the fake Bot API: what is kept, /review for admins only, a decision that
changes the answer to the same question without a restart, in this process and in another one (SQLite:
`python -m bot ask` on the same file; PostgreSQL: two webhook replicas), a conflicting decision
refused, in Telegram too, and a choosing question taught as "asks which mode fits" (the advice class)."""
from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time

import pytest

from bot.services import load_services
from tests.fakebot import FakeTelegram, free_port
from tests.tg_harness import ADMIN_ID, all_text, assert_clean, forge_press, replies, running_bot

QUESTION = "parcel posted back by a shopper under consignment: whose bill is that?"       # falls back today
ENTRY = "full_return_fee"                                                            # ...its nearest entry
TYPED = "we mostly just resell stuff from 1688 wholesalers"                          # not understood at factory
LEVEL = "sourcing"
ADVICE_QUESTION = "tell me straight: our lane?"                                     # falls back today
CHANGE_WITHIN = 30.0


async def say(user, text: str) -> str:
    await user.send(text)
    return all_text(await replies(user))


def entry_answer() -> str:
    return load_services().kb.by_id[ENTRY].answer("en")[:60]


async def review_scenario(fake: FakeTelegram, replicas: int) -> None:
    """Users ask; a stranger is refused /review; the admin decides (one decision refused as a conflict);
    then the same question gets the entry's answer and the typed answer is taken, within 30 s, from every
    replica (`replicas` answers in a row, which round-robin spreads over all of them)."""
    ann, ben = fake.user(3001, "Ann", language_code="en"), fake.user(3002, "Ben", language_code="en")
    for user in (ann, ben):
        await say(user, "/start")
    answer = entry_answer()
    assert answer not in await say(ann, QUESTION)
    await say(ben, QUESTION)                               # the same question again: a second item
    assert "1/4" in await say(ann, TYPED)                  # not understood: the first question again

    stranger = fake.user(3003, "Nosy", language_code="en")
    await say(stranger, "/start")
    assert "don't know that command" in await say(stranger, "/review")
    stranger_last = [m for m in fake.world.chats[stranger.id].transcript() if m.from_bot][-1]

    admin = fake.user(ADMIN_ID, "Boss", language_code="en")
    await say(admin, "/start")
    assert "Waiting for review: 3" in await say(admin, "/stats")
    await admin.send("/review")
    shown = await admin.next_reply()
    assert QUESTION in shown.text and "Fell back" in shown.text, shown.text
    assert all(len(d.encode()) <= 64 for d in shown.callback_datas)
    first = shown.callback_datas[0].split(":")[1]
    assert f"r:{first}:f:{ENTRY}" in shown.callback_datas, shown.callback_datas
    assert {f"r:{first}:o", f"r:{first}:s", f"r:{first}:d"} <= set(shown.callback_datas)

    forged = await forge_press(fake, stranger, stranger_last, f"r:{first}:d")          # a forged review button
    await fake.wait_for(lambda c: c.method == "answerCallbackQuery" and c.params.get("callback_query_id") == forged.id)
    await admin.press(shown, callback_data=f"r:{first}:f:{ENTRY}")
    shown = await admin.next_reply()
    decided = time.monotonic()
    assert "Saved" in shown.text and QUESTION in shown.text, shown.text     # ...and Ben's item is next
    second = shown.callback_datas[0].split(":")[1]
    assert second != first
    other = next(d for d in shown.callback_datas if ":f:" in d and not d.endswith(f":{ENTRY}"))
    query = await admin.press(shown, callback_data=other)
    shown = await admin.next_reply()
    assert "Not saved" in shown.text and "already an example of" in shown.text, shown.text
    assert fake.callback_queries[query.id].answer.get("show_alert") is True
    assert f"r:{second}:d" in shown.callback_datas                          # the same item, still open
    await admin.press(shown, callback_data=f"r:{second}:d")
    shown = await admin.next_reply()
    assert "Deleted" in shown.text and TYPED in shown.text and "Typed answer" in shown.text, shown.text
    assert "Nearest: Trader with stable sourcing" in shown.text, shown.text               # the nearest level first
    third = shown.callback_datas[0].split(":")[1]
    assert f"r:{third}:l:{LEVEL}" in shown.callback_datas, shown.callback_datas
    await admin.press(shown, callback_data=f"r:{third}:l:{LEVEL}")
    shown = await admin.next_reply()
    assert "Saved" in shown.text and "Nothing waits for review" in shown.text, shown.text
    admin.push_callback(shown, f"r:{third}:l:{LEVEL}")                     # a stale button: decided already
    shown = await admin.next_reply()
    assert "already decided" in shown.text and "Nothing waits for review" in shown.text, shown.text

    in_a_row = 0                                          # the same question, until every replica answers it
    while in_a_row < replicas:
        assert time.monotonic() - decided < CHANGE_WITHIN, "the decision did not show within 30 s"
        in_a_row = in_a_row + 1 if answer in await say(ann, QUESTION) else 0
    taken = 0
    while taken < replicas:                               # the typed answer is taken now, on every replica
        assert time.monotonic() - decided < CHANGE_WITHIN, "the typed decision did not show within 30 s"
        reply = await say(ann, TYPED)
        if "2/4" in reply:
            taken += 1
            await say(ann, "/back")                       # back to the first question for the next round
        else:
            taken = 0
    # (asked again before the retrain reached a replica, the question was kept again: that is right)


async def advice_scenario(fake: FakeTelegram, replicas: int) -> None:
    """A choosing question that fell back is marked "asks which mode fits" (the button after the nearest
    entries, before "out of scope"); then it is answered with advice, the questionnaire offer, on every
    replica within 30 s."""
    offer = load_services().renderer().scope_t("scope.advice", "en", raw=True)[:40]
    cy = fake.user(3004, "Cy", language_code="en")
    await say(cy, "/start")
    assert offer not in await say(cy, ADVICE_QUESTION)
    admin = fake.user(ADMIN_ID, "Boss", language_code="en")
    await admin.send("/review")
    shown = await admin.next_reply()
    waiting = int(re.search(r"\((\d+) waiting\)", shown.text).group(1))
    for _ in range(waiting):              # items kept before (asked again before a retrain reached a replica): skipped
        if ADVICE_QUESTION in shown.text:
            break
        await admin.press(shown, callback_data=next(d for d in shown.callback_datas if d.endswith(":s")))
        shown = await admin.next_reply()
    assert ADVICE_QUESTION in shown.text and "Fell back" in shown.text, shown.text
    item = shown.callback_datas[0].split(":")[1]
    datas = shown.callback_datas
    assert datas.index(f"r:{item}:a") == datas.index(f"r:{item}:o") - 1 and ":f:" in datas[0], datas
    assert "asks which mode fits" in shown.button_texts, shown.button_texts
    await admin.press(shown, callback_data=f"r:{item}:a")
    shown = await admin.next_reply()
    decided = time.monotonic()
    assert "Saved" in shown.text and ADVICE_QUESTION in shown.text and '"asks which mode fits"' in shown.text, \
        shown.text
    in_a_row = 0
    while in_a_row < replicas:
        assert time.monotonic() - decided < CHANGE_WITHIN, "the advice decision did not show within 30 s"
        in_a_row = in_a_row + 1 if offer in await say(cy, ADVICE_QUESTION) else 0


def ask_in_another_process(database_url: str, question: str = QUESTION) -> dict:
    out = subprocess.run([sys.executable, "-m", "bot", "ask", question, "--json"], capture_output=True, text=True,
                         env={**os.environ, "DATABASE_URL": database_url}, timeout=120, check=True)
    return json.loads(out.stdout)


async def test_review_loop_on_sqlite(fake, tmp_path):
    db = tmp_path / "bot.sqlite3"
    async with running_bot(fake, db) as (app, store):
        await review_scenario(fake, replicas=1)
        assert app.bot_data["live"].swaps >= 1
        assert load_services().answerer.ask(QUESTION, "en").fallback      # the shared files' services untouched
    answered = await asyncio.to_thread(ask_in_another_process, f"sqlite:///{db}")   # a second process
    assert answered["entry"] == ENTRY and not answered["fallback"], answered


async def test_review_loop_teaches_the_advice_class_on_sqlite(fake, tmp_path):
    db = tmp_path / "bot.sqlite3"
    async with running_bot(fake, db) as (app, store):
        await advice_scenario(fake, replicas=1)
        assert [(ex.kind, ex.text) for ex in await store.overlay_examples()] == [("advice", ADVICE_QUESTION)]
        assert load_services().answerer.ask(ADVICE_QUESTION, "en").fallback      # the files' services untouched
    answered = await asyncio.to_thread(ask_in_another_process, f"sqlite:///{db}", ADVICE_QUESTION)
    assert answered["handling"] == "advice" and not answered["fallback"], answered


@pytest.mark.postgres
async def test_review_loop_on_postgres_replicas(pg_url, tmp_path):
    from tests.proxy import RoundRobinProxy
    from tests.replica_harness import Replicas
    async with FakeTelegram() as fake:
        ports = [free_port(), free_port()]
        proxy = await RoundRobinProxy([f"http://127.0.0.1:{p}" for p in ports]).start()
        replicas = Replicas(fake, tmp_path, pg_url, 2, proxy, ports, flood=False, log_level="INFO")
        for bot in replicas.bots:
            bot.env["ADMIN_USER_IDS"] = str(ADMIN_ID)
        await replicas.start()
        try:
            await review_scenario(fake, replicas=2)
            await advice_scenario(fake, replicas=2)
            assert all(proxy.sent[u] for u in proxy.upstreams), proxy.sent
        finally:
            await replicas.stop()
            await proxy.stop()
        logs = "".join(b.log.read_text() for b in replicas.bots)
        assert logs.count("understanding retrained") >= 2, logs[-3000:]
        assert_clean(fake)
    answered = await asyncio.to_thread(ask_in_another_process, pg_url)
    assert answered["entry"] == ENTRY, answered
    answered = await asyncio.to_thread(ask_in_another_process, pg_url, ADVICE_QUESTION)
    assert answered["handling"] == "advice", answered
