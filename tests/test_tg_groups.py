"""The questionnaire in groups, end to end over the fake: one card per member, presses confirmed in the
callback answer, at most 3 group messages or edits per member, the private hand-off both ways, the
group's budget running short, restarts."""
from __future__ import annotations

import asyncio
import time

from bot.services import load_services
from bot.tg.limits import Window
from tests.group_harness import ack, card_of, group_calls, is_result, member_with_card, uploaded, wait_card
from tests.tg_harness import all_text, crash_after_commit_once, replies, running_bot, text_of

PRIVATE = "https://t.me/ModeAdvisorBot?start="
QUIZ = "/quiz@ModeAdvisorBot"
FLOW = load_services().flow
# Each member's answers by button label; the result each must get.
SEMI = ("Own factory, cost under control", "Mature overseas team", "Can pre-stock overseas", "Build my own brand")
FULL = ("No stable supply yet", "New to cross-border", "Limited capital", "Steady orders as a supplier")
FULL_ZH = ("还没有稳定货源", "新手，没做过跨境", "资金有限", "稳定出单，做供应商")


def budget(app, group, limit: int, period: float, used: int = 0) -> None:
    """Give the bot's flood limiter a window of `limit` calls per `period` s for the group, `used` taken."""
    window = Window(limit, period)
    window.finished.extend([time.monotonic()] * used)
    app.bot.rate_limiter.groups[group.id] = window


async def answer_by_buttons(fake, group, user, name: str, labels) -> list[dict]:
    card = await wait_card(fake, group, name)
    acks = []
    for label in labels:
        acks.append(await ack(fake, await user.press(card, text=label, chat=group)))
    return acks


async def test_two_members_each_answer_their_own_card_by_buttons(fake, bot):
    _, store = bot
    group = fake.group(-100600, "Sellers")
    ann, ben = fake.user(5007, "Ann", language_code="en"), fake.user(5008, "Ben", language_code="zh-hans")
    for user in (ann, ben):
        group.add_member(user)
    await ann.send(QUIZ, chat=group)
    await ben.send(QUIZ, chat=group)
    card_a, card_b = await wait_card(fake, group, "Ann"), await wait_card(fake, group, "Ben")
    # Every core question is on the card, its options as buttons (from the flow), in the member's language.
    for step in FLOW.core_steps:
        assert step.prompt("en") in text_of(card_a) and step.prompt("zh") in text_of(card_b)
        assert {o.label("en") for o in FLOW.choices(step)} <= set(card_a.button_texts)
    urls = [b["url"] for row in card_a.buttons for b in row if "url" in b]
    assert urls == [PRIVATE + "mv-100600"]
    # Interleaved presses; each is confirmed in its callback answer, the cards are not edited meanwhile.
    for i in range(4):
        a = await ack(fake, await ann.press(card_a, text=SEMI[i], chat=group))
        b = await ack(fake, await ben.press(card_b, text=FULL_ZH[i], chat=group))
        if i < 3:
            assert a["text"] == f"✓ {FLOW.core_steps[i].title('en')}: {SEMI[i]} ({i + 1}/4)"
            assert b["text"].endswith(f"（{i + 1}/4）") and FULL_ZH[i] in b["text"]
            assert not is_result(card_of(group, "Ann")) and len(group_calls(fake, group)) == 2
    assert "All 4 answered" in a["text"]
    result_a = await wait_card(fake, group, "Ann", is_result)
    result_b = await wait_card(fake, group, "Ben", is_result)
    assert "Recommendation: Semi-managed" in result_a.caption and "推荐：全托管" in text_of(result_b)
    assert "your own contract governs" in result_a.caption
    assert (result_a.message_id, result_b.message_id) == (card_a.message_id, card_b.message_id)   # edited in place
    # Ann's card is a photo from the start (the comparison card), turned into her result card by one edit.
    assert card_a.kind == "photo" and result_a.kind == "photo"
    assert [c.method for c in group_calls(fake, group, "Ann")] == ["sendPhoto", "editMessageMedia"]
    assert all(uploaded(c) for c in group_calls(fake, group, "Ann"))       # the first of each picture
    assert len(group_calls(fake, group, "Ben")) == 2
    # Ben presses one of Ann's buttons: refused politely, nothing changes.
    refused = await ack(fake, await ben.press(result_a, text="🔄 Restart", chat=group))
    assert "属于另一位成员" in refused["text"] and refused.get("show_alert")
    ann_session = await store.load_session(f"5007:{group.id}")
    assert ann_session["s"] == "result" and ann_session["a"]["factory"] == "own_factory"
    assert (await store.load_session(f"5008:{group.id}"))["a"]["factory"] == "none"
    assert (await store.last_result("5007"))["capital"] == "strong"


async def test_five_members_one_typing_cost_at_most_three_group_messages_each(fake, bot):
    _, store = bot
    group = fake.group(-100601, "Busy sellers")
    members = [fake.user(5100 + i, f"M{i}", language_code="en") for i in range(5)]
    for user in members:
        group.add_member(user)
    for user in members:
        await user.send(QUIZ, chat=group)
    buttons = [answer_by_buttons(fake, group, user, f"M{i}", SEMI if i % 2 else FULL) for i, user in enumerate(members[:4])]
    typist = members[4]

    async def typing() -> None:
        card = await wait_card(fake, group, "M4")
        await typist.send("@ModeAdvisorBot we have our own factory", chat=group)
        read = await wait_card(fake, group, "M4", lambda m: "Got your typed answer" in text_of(m))
        assert "✓ Own factory, cost under control" in read.caption and read.message_id == card.message_id
        await typist.send("new to cross-border", chat=group, reply_to=read)      # a reply to the card
        await asyncio.sleep(0.5)
        assert (await store.load_session(f"5104:{group.id}"))["a"] == {"factory": "own_factory", "experience": "none"}
        await typist.send("@ModeAdvisorBot limited capital, steady orders", chat=group)

    await asyncio.gather(typing(), *buttons)
    for i in range(5):
        result = await wait_card(fake, group, f"M{i}", is_result)
        assert ("Full-managed" if i % 2 == 0 or i == 4 else "Semi-managed") in result.caption.split("\n")[1]
        assert len(group_calls(fake, group, f"M{i}")) <= 3, [c.method for c in group_calls(fake, group, f"M{i}")]
    # the card (a photo), one edit of its caption for the typed answers, the result (a new picture)
    assert [c.method for c in group_calls(fake, group, "M4")] == ["sendPhoto", "editMessageCaption", "editMessageMedia"]
    assert len(group_calls(fake, group)) == 11
    # Each picture is uploaded once, then sent by its file_id: one cover for all five cards, one picture
    # per distinct result (M0 and M2 answered alike, as did M1 and M3).
    pictures = [c for c in group_calls(fake, group) if c.method in ("sendPhoto", "editMessageMedia")]
    assert len(pictures) == 10 and sum(uploaded(c) for c in pictures) == 1 + 3
    saved = await store.load_session(f"5104:{group.id}")
    assert saved["s"] == "result" and saved["a"]["capital"] == "limited" and saved["a"]["brand"] == "volume"


async def test_a_question_typed_on_an_open_card_is_answered_and_the_card_left_alone(fake, bot):
    group = fake.group(-100602, "Q&A")
    ivy = fake.user(5200, "Ivy", language_code="en")
    group.add_member(ivy)
    await ivy.send(QUIZ, chat=group)
    card = await wait_card(fake, group, "Ivy")
    await ivy.send("@ModeAdvisorBot who sets the prices in full-managed?", chat=group)
    answer = await group.next_reply()
    while answer.message_id == card.message_id:
        answer = await group.next_reply()
    assert "Source:" in answer.text
    await ivy.send("@ModeAdvisorBot purple elephants", chat=group)               # not an answer: said once, on the card
    unread = await wait_card(fake, group, "Ivy", lambda m: "couldn't read" in text_of(m))
    assert unread.message_id == card.message_id and "purple elephants" in text_of(unread)


async def test_hand_off_to_private_and_the_result_back_onto_the_card(fake, bot):
    _, store = bot
    group = fake.group(-100610, "Sellers")
    ann = fake.user(5300, "Ann", language_code="en")
    group.add_member(ann)
    await ann.send(QUIZ, chat=group)
    await answer_by_buttons(fake, group, ann, "Ann", SEMI[:2])
    # Group -> private: the questionnaire goes on one question at a time; the card's buttons say where it went.
    await ann.send("/start mv-100610")
    moved = await replies(ann)
    assert "continue the quiz you started in the group" in moved[0].text and "Question 3/4" in moved[-1].text
    away = await ack(fake, await ann.press(card_of(group, "Ann"), text=FULL[2], chat=group))
    assert "private chat" in away["text"] and away["url"] == PRIVATE + "quiz"
    assert (await store.load_session(f"5300:{group.id}"))["a"].get("capital") is None
    for label in (SEMI[2], SEMI[3], "✅ Show my result"):
        state = await ann.press(text=label)
        shown = await replies(ann)
    assert "Trade-offs" in shown[0].text and shown[-1].kind == "photo"      # the detailed text, then the picture
    assert "Recommendation: Semi-managed" in shown[-1].caption
    assert "also on your card in the group" in (await ack(fake, state))["text"]
    # Private -> group: the result replaces the card, in one edit; the picture is uploaded once for both chats.
    result = await wait_card(fake, group, "Ann", is_result)
    assert "Recommendation: Semi-managed" in result.caption and result.kind == "photo"
    assert [c.method for c in group_calls(fake, group, "Ann")] == ["sendPhoto", "editMessageMedia"]
    in_private = [c for c in fake.calls("sendPhoto") if c.chat_id == ann.chat_id]
    assert len(in_private) == 1 and uploaded(in_private[0]) + uploaded(group_calls(fake, group, "Ann")[-1]) == 1
    # From the group result, the full result and the optional questions in private; a refined result goes
    # back onto the card while the budget lasts (3), later changes stay in private.
    await ann.send("/start mv-100610")
    full = await replies(ann)
    assert "full version of your result" in full[0].text and "Trade-offs" in all_text(full)
    await ann.press(text="➕ Answer the optional questions")
    assert "Optional 1/3" in (await replies(ann))[-1].text
    for label in ("High-ticket or time-sensitive", "⏭ Skip", "⏭ Skip"):
        await ann.press(text=label)
        shown = await replies(ann)
    assert "High-ticket" in all_text(shown)
    await fake.notifier.wait_until(lambda: len(group_calls(fake, group, "Ann")) == 3, 5)
    await ann.press(text="✏️ Change an answer")
    await replies(ann)
    await ann.press(text="Capital: Can pre-stock overseas")
    await replies(ann)
    await ann.press(text="Limited capital")
    assert "Full-managed" in all_text(await replies(ann))
    await asyncio.sleep(0.5)
    assert len(group_calls(fake, group, "Ann")) == 3
    assert (await store.load_session(f"5300:{group.id}"))["a"]["category"] == "high_ticket"


async def test_stale_cards_and_starting_over_from_the_result(fake, bot):
    group, bo, first = await member_with_card(fake, -100620, 5400, "Bo")
    await ack(fake, await bo.press(first, text=FULL[0], chat=group))
    await bo.send(QUIZ, chat=group)                                   # start over: a new card
    second = await wait_card(fake, group, "Bo", lambda m: m.message_id != first.message_id)
    stale = await ack(fake, await bo.press(first, text=FULL[1], chat=group))
    assert "earlier quiz" in stale["text"]
    question = await ack(fake, await bo.press(second, text="▾ 2. Experience", chat=group))
    assert question["text"].startswith("How much experience") and question.get("show_alert")
    acks = await answer_by_buttons(fake, group, bo, "Bo", FULL)
    assert acks[0]["text"].endswith("(1/4)")                          # the earlier card's answer did not count
    result = await wait_card(fake, group, "Bo", is_result)
    restarted = await ack(fake, await bo.press(result, text="🔄 Restart", chat=group))
    assert restarted["text"] == "OK, starting over."
    third = await wait_card(fake, group, "Bo", lambda m: not is_result(m))
    assert third.message_id not in (first.message_id, second.message_id)
    again = await ack(fake, await bo.press(result, text="🔄 Restart", chat=group))
    assert "earlier quiz" in again["text"]


async def test_when_the_budget_runs_short_members_are_told_and_nothing_is_lost(fake, tmp_path):
    """Three cards use up the group's budget (here 3 in a 6 s window, the fake refusing a 5th in it): the
    last presses are confirmed at once and say the result is late, with the private chat one tap away;
    every result arrives when the budget comes back, with no 429."""
    fake.flood.configure(enabled=True, group_per_minute=4, group_period=6.0)
    group = fake.group(-100630, "Crowded")
    async with running_bot(fake, tmp_path / "bot.sqlite3", flood_limit=True) as (app, store):
        budget(app, group, 3, 6.0)
        members = [fake.user(5500 + i, f"C{i}", language_code="en") for i in range(3)]
        for user in members:
            group.add_member(user)
            await user.send(QUIZ, chat=group)
        cards = [await wait_card(fake, group, f"C{i}", timeout=10) for i in range(3)]
        presses = []
        for label_index in range(4):
            for user, card in zip(members, cards):
                presses.append(await user.press(card, text=FULL[label_index], chat=group))
        last = [await ack(fake, state) for state in presses[-3:]]
        for state in presses:
            answered = next(c for c in fake.calls("answerCallbackQuery") if c.params["callback_query_id"] == state.id)
            assert answered.done_at - state.at < 1.5, "a press waited for the group's budget"
        busy = [a for a in last if "busy" in a["text"]]
        assert busy and all(a["url"] == PRIVATE + "mv-100630" for a in busy)
        assert all("result shows on your card in about" in a["text"] for a in busy)
        for i in range(3):
            await wait_card(fake, group, f"C{i}", is_result, timeout=20)
            assert (await store.load_session(f"{5500 + i}:{group.id}"))["s"] == "result"
        assert fake.flood.sent_429 == 0


async def test_a_busy_group_never_delays_a_private_chat(fake, tmp_path):
    fake.flood.configure(enabled=True, group_per_minute=2, private_burst=10)
    group = fake.group(-100640, "Crowded")
    async with running_bot(fake, tmp_path / "bot.sqlite3", flood_limit=True) as (app, _):
        budget(app, group, 1, 60.0)
        members = [fake.user(5600 + i, f"P{i}", language_code="en") for i in range(4)]
        for user in members:                      # one card goes out, three wait for the next minute
            group.add_member(user)
            await user.send(QUIZ, chat=group)
        await wait_card(fake, group, "P0")
        solo = fake.user(5650, "Solo", language_code="en")
        started = time.monotonic()
        await solo.send("/start")
        await replies(solo, quiet=0.2)
        for label in SEMI:
            await solo.press(text=label)
            await replies(solo, quiet=0.2)
        assert time.monotonic() - started < 6.0, "the private chat waited behind the group"
        assert sum(1 for m in group.transcript() if text_of(m).startswith("👤")) == 1
        assert fake.flood.sent_429 == 0


async def test_a_restart_keeps_cards_working_and_a_lost_result_comes_back_on_the_next_press(fake, tmp_path):
    db = tmp_path / "bot.sqlite3"
    group = fake.group(-100650, "Sellers")
    dee, eve = fake.user(5700, "Dee", language_code="en"), fake.user(5701, "Eve", language_code="en")
    for user in (dee, eve):
        group.add_member(user)
    async with running_bot(fake, db, flood_limit=True) as (app, _):
        for user in (dee, eve):
            await user.send(QUIZ, chat=group)
        await wait_card(fake, group, "Dee")
        await wait_card(fake, group, "Eve")
        await answer_by_buttons(fake, group, dee, "Dee", FULL[:3])
        budget(app, group, 1, 60.0, used=1)                              # the group's budget is gone...
        app.bot_data["handlers"].outbox.drain_timeout = 0.2
        await answer_by_buttons(fake, group, eve, "Eve", FULL)          # ...so Eve's result is still queued
    assert not is_result(card_of(group, "Eve"))                         # the bot stopped before showing it
    async with running_bot(fake, db) as (_, store):
        # Dee's card from before the restart still takes her last answer.
        await answer_by_buttons(fake, group, dee, "Dee", FULL[3:])
        assert "Full-managed" in text_of(await wait_card(fake, group, "Dee", is_result))
        # Eve's result was committed; her next press on the card shows it there.
        shown = await ack(fake, await eve.press(card_of(group, "Eve"), text=FULL[0], chat=group))
        assert shown["text"] == "Your result is on this card."
        assert "Full-managed" in text_of(await wait_card(fake, group, "Eve", is_result))
        assert (await store.last_result("5701"))["factory"] == "none"


async def test_start_in_a_group_shows_the_card_again_and_that_copy_is_the_one_that_changes(fake, bot):
    group = fake.group(-100660, "Sellers")
    fay = fake.user(5800, "Fay", language_code="en")
    group.add_member(fay)
    await fay.send(QUIZ, chat=group)
    first = await wait_card(fake, group, "Fay")
    await ack(fake, await fay.press(first, text=FULL[0], chat=group))
    await fay.send("/start@ModeAdvisorBot", chat=group)          # the card scrolled away: show it again
    again = await wait_card(fake, group, "Fay", lambda m: m.message_id != first.message_id)
    assert "✓ No stable supply yet" in again.button_texts            # the same questionnaire, answers kept
    await fay.send("@ModeAdvisorBot new to cross-border", chat=group)
    read = await wait_card(fake, group, "Fay", lambda m: "Got your typed answer" in text_of(m))
    assert read.message_id == again.message_id
    await ack(fake, await fay.press(first, text=FULL[2], chat=group))  # the older copy still takes answers
    await ack(fake, await fay.press(again, text=FULL[3], chat=group))
    assert is_result(await wait_card(fake, group, "Fay", is_result))


def test_card_buttons_fit_callback_data_and_name_their_owner():
    from bot.tg import callbacks as cb
    for step in FLOW.core_steps:
        for option in FLOW.choices(step):
            data = cb.card(9_999_999_999, step.id, option.id, owner=9_999_999_999_999)
            assert len(data.encode()) <= 64
            assert cb.parse(data) == cb.Callback("g", 9_999_999_999, step.id, option.id, 9_999_999_999_999)
    assert cb.parse(cb.card(3, "factory", owner=7)) == cb.Callback("g", 3, "factory", "", 7)
    assert cb.parse("g:3") is None and cb.parse("g:x:factory") is None and cb.parse("g:1:a:b:c") is None


async def test_a_card_press_committed_before_a_crash_is_answered_and_not_applied_again(fake, bot, monkeypatch):
    """As in a private chat (test_tg_e2e): a press whose turn was committed by a process that died before
    answering it is not applied again, but the member's client gets its answer (no spinner until it times
    out); the card is drawn again where the member is (groups.resume)."""
    _, store = bot
    group, ann, card = await member_with_card(fake, -100611, 5031, "Ann")
    await ack(fake, await ann.press(card, text=SEMI[0], chat=group))
    crashed = crash_after_commit_once(monkeypatch)
    state = await ann.press(card, text=SEMI[1], chat=group)
    for _ in range(100):
        if fake.callback_queries[state.id].answered:
            break
        await asyncio.sleep(0.05)
    assert crashed == [state.update_id] and fake.callback_queries[state.id].answered
    assert (await store.load_session(f"5031:{group.id}"))["a"] == {"factory": "own_factory"}   # not applied
