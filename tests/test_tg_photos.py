"""Picture cards sent by the bot, end to end over the fake: a result's picture uploaded once and then sent
by file_id (also after a restart, and uploaded again when Telegram refuses a stored file_id); captions
that fit Telegram's limit; and, without a CJK font, Chinese getting today's text everywhere while English
keeps its pictures."""
from __future__ import annotations

import logging
import os
import signal
import time
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cards import CardMaker, find_fonts
from bot.cards import maker as maker_module
from bot.engine.dialogue import ResultView
from bot.engine.recommend import recommend
from bot.engine.spec import SKIP
from bot.render import HTML
from bot.services import load_services
from bot.tg.photos import CAPTION_LIMIT, Picture, caption_size, fits_caption, refused_file
from tests.group_harness import ack, group_calls, is_result, uploaded, wait_card
from tests.conftest import BOTH_CLIENTS
from tests.tg_harness import ADMIN_ID, assert_clean, replies, running_bot

SERVICES = load_services()
FLOW = SERVICES.flow
SEMI = ("Own factory, cost under control", "Mature overseas team", "Can pre-stock overseas", "Build my own brand")
SEMI_ANSWERS = {"factory": "own_factory", "experience": "mature", "capital": "strong", "brand": "brand",
                "category": SKIP, "risk": SKIP, "content": SKIP}
FULL_ZH = ("还没有稳定货源", "新手，没做过跨境", "资金有限", "稳定出单，做供应商")


async def quiz_in_private(user, labels, finish: str = "✅ Show my result") -> list:
    await user.send("/start")
    await replies(user)
    for label in labels:
        await user.press(text=label)
        await replies(user)
    await user.press(text=finish)
    return await replies(user, quiet=1.5)      # the picture follows the text once a worker has drawn it


def photos_to(fake, chat_id) -> list:
    return [c for c in fake.calls("sendPhoto") if c.chat_id == chat_id and c.status == 200]


async def test_a_result_picture_is_uploaded_once_then_sent_by_its_file_id_even_after_a_restart(fake, tmp_path):
    db = tmp_path / "bot.sqlite3"
    ann, bob = fake.user(6001, "Ann", language_code="en"), fake.user(6002, "Bob", language_code="en")
    async with running_bot(fake, db) as (app, store):
        shown = await quiz_in_private(ann, SEMI)
        text, picture = shown
        # The question became the detailed result (reasons, trade-offs, next steps, caveats), without buttons;
        # the picture card follows with a short caption and the result's buttons, so the last message has them.
        assert text.via == "editMessageText" and not text.buttons
        assert "Trade-offs" in text.text and "What to prepare next" in text.text and "contract governs" in text.text
        assert picture.kind == "photo" and picture.caption.startswith("Recommendation: Semi-managed")
        assert "in the message above" in picture.caption and "your own contract governs" in picture.caption
        assert {"✏️ Change an answer", "📤 Share my result", "🔄 Restart"} <= set(picture.button_texts)
        [first] = photos_to(fake, ann.chat_id)
        assert uploaded(first)
        file_id = picture.media["photo"][-1]["file_id"]
        key = app.bot_data["handlers"].photos.result(recommend(FLOW, SERVICES.rules, SEMI_ANSWERS), "en",
                                                     app.bot.username).key
        assert await store.card_file(key) == file_id               # kept in the store, under the card's content
        await ann.send("/result")                                  # the same card again: by file_id
        assert (await replies(ann))[-1].kind == "photo"
        await quiz_in_private(bob, SEMI)                           # another user, the same answers: the same card
        again = photos_to(fake, ann.chat_id)[1:] + photos_to(fake, bob.chat_id)
        assert len(again) == 2 and [c.params["photo"] for c in again] == [file_id, file_id]
    async with running_bot(fake, db):                              # a restart: the file_id comes from the store
        await bob.send("/result")
        assert (await replies(bob))[-1].kind == "photo"
        assert photos_to(fake, bob.chat_id)[-1].params["photo"] == file_id
    assert sum(uploaded(c) for c in fake.calls("sendPhoto")) == 1


@pytest.mark.parametrize("bot", BOTH_CLIENTS, indirect=True)      # an upload: a multipart form
async def test_a_file_id_telegram_refuses_is_replaced_by_a_new_upload(fake, bot):
    app, store = bot
    photos = app.bot_data["handlers"].photos
    key = photos.result(recommend(FLOW, SERVICES.rules, SEMI_ANSWERS), "en", app.bot.username).key
    await store.save_card_file(key, "AgACAgIAAxkBAAIBfromAnotherBot")     # e.g. a database copied from another bot
    cy = fake.user(6003, "Cy", language_code="en")
    picture = (await quiz_in_private(cy, SEMI))[-1]
    assert picture.kind == "photo" and "Recommendation: Semi-managed" in picture.caption
    refused, sent = [c for c in fake.calls("sendPhoto") if c.chat_id == cy.chat_id]
    assert refused.status == 400 and "wrong file identifier" in refused.description and uploaded(sent)
    assert await store.card_file(key) == picture.media["photo"][-1]["file_id"]
    fake.rejections[:] = [r for r in fake.rejections if r.params.get("photo") != "AgACAgIAAxkBAAIBfromAnotherBot"]


async def test_buttons_on_a_result_picture_answer_in_new_messages_and_the_picture_stays(fake, bot):
    dee = fake.user(6004, "Dee", language_code="en")
    picture = (await quiz_in_private(dee, SEMI))[-1]
    await dee.press(picture, text="➕ Answer the optional questions")
    question = (await replies(dee))[-1]                  # a caption cannot hold a question: a new message
    assert "Optional 1/3" in question.text and question.message_id > picture.message_id
    for label in ("High-ticket or time-sensitive", "⏭ Skip", "⏭ Skip"):
        await dee.press(text=label)
        shown = await replies(dee)
    text, refined = shown                                # the question became the new result, its picture below
    assert text.message_id == question.message_id and "High-ticket" in text.text and refined.kind == "photo"
    assert refined.media != picture.media                # another card (another answer on it)
    assert fake.world.chats[dee.chat_id].messages[picture.message_id].kind == "photo"


@pytest.fixture
def no_cjk_font(monkeypatch, caplog):
    """Card fonts as on a machine without any CJK font (the way tests/test_cards.py forces it), the
    'missing font' log line not yet given in this process."""
    monkeypatch.setattr(maker_module, "_told", set())
    caplog.set_level(logging.INFO, logger="bot.cards")
    return find_fonts("", cjk_files=(), latin_files=(), fontconfig=False)


async def test_without_a_cjk_font_chinese_gets_text_everywhere_and_english_keeps_pictures(fake, bot, no_cjk_font,
                                                                                      caplog):
    app, _ = bot
    handlers = app.bot_data["handlers"]
    handlers.photos.cards = CardMaker(SERVICES.kb, FLOW, no_cjk_font)
    # Private: the result is today's text, with its buttons; /compare is the text comparison.
    li = fake.user(6101, "李", language_code="zh-hans")
    shown = await quiz_in_private(li, FULL_ZH, finish="✅ 直接看结果")
    assert len(shown) == 1 and shown[0].text.startswith("推荐：全托管") and "📤 分享结果" in shown[0].button_texts
    await li.send("/compare")
    compared = await replies(li)
    assert compared[0].kind == "text" and compared[0].text.startswith("全托管 与 半托管 对比")
    # Inline mode: the result and the comparison are text articles.
    state = await li.inline_query("")
    await fake.notifier.wait_until(lambda: fake.inline_queries[state.id].answered, 5)
    results = {r["id"]: r for r in fake.inline_queries[state.id].answer["results"]}
    assert results["res"]["type"] == "article" and results["cmp"]["type"] == "article"
    # A group: the Chinese member's card is text, edited once into the result; the English one's is a photo.
    group = fake.group(-100950, "卖家群")
    sam = fake.user(6102, "Sam", language_code="en")
    for user in (li, sam):
        group.add_member(user)
        await user.send("/quiz@ModeAdvisorBot", chat=group)
    for user, name, labels in ((li, "李", FULL_ZH), (sam, "Sam", SEMI)):
        card = await wait_card(fake, group, name)
        for label in labels:
            await ack(fake, await user.press(card, text=label, chat=group))
        result = await wait_card(fake, group, name, is_result)
        assert ("推荐：全托管" if user is li else "Recommendation: Semi-managed") in (result.text or result.caption)
    assert [c.method for c in group_calls(fake, group, "李")] == ["sendMessage", "editMessageText"]
    assert [c.method for c in group_calls(fake, group, "Sam")] == ["sendPhoto", "editMessageMedia"]
    assert "以你签署的合同为准" in group_calls(fake, group, "李")[-1].params["text"]
    # A channel post by a Chinese-speaking admin: the text comparison card.
    admin = fake.user(ADMIN_ID, "Boss", language_code="zh-hans")
    channel = fake.channel(-100951, "卖家资讯", username="sellernews_cn")
    await admin.send("/post @sellernews_cn")
    await replies(admin)
    assert channel.transcript()[-1].kind == "text" and channel.transcript()[-1].text.startswith("全托管 与 半托管 对比")
    # English, meanwhile, still gets pictures in private; the log said once how to get Chinese pictures.
    en = fake.user(6103, "Eve", language_code="en")
    assert (await quiz_in_private(en, SEMI))[-1].kind == "photo"
    told = [r.getMessage() for r in caplog.records if "CJK font" in r.getMessage()]
    assert len(told) == 1 and "fonts-noto-cjk" in told[0]
    assert not photos_to(fake, li.chat_id) and not fake.calls("editMessageCaption")


# --- captions ----------------------------------------------------------------------------------------

R = SERVICES.renderer(HTML)
LONGEST_NAME = "𝕎" * 64          # Telegram allows 64 characters in a first name; these count twice in UTF-16


@settings(max_examples=150, deadline=None)
@given(answers=st.fixed_dictionaries({s.id: st.sampled_from([o.id for o in FLOW.choices(s)] + ([] if s.core else [SKIP]))
                                      for s in FLOW.steps}),
       lang=st.sampled_from(["zh", "en"]))
def test_every_caption_fits_telegrams_limit(answers, lang):
    view = ResultView(recommend(FLOW, SERVICES.rules, answers), answers)
    captions = [R.result_caption(view, lang), R.result_caption(view, lang, shared=True),
                R.group_result_caption(LONGEST_NAME, view, lang), R.compare_caption(lang),
                R.compare_caption(lang, shared=True),
                R.group_card(LONGEST_NAME, {s.id: answers[s.id] for s in FLOW.core_steps}, lang,
                             R.t("group.card_unread", lang, text="x" * 60))]
    for caption in captions:
        assert fits_caption(caption), (caption_size(caption), caption)
    assert all(R.t("photo.caveat", lang) in c for c in captions[:5])     # the caveat wherever a result is


def test_caption_size_counts_what_telegram_counts():
    assert caption_size("<b>a &amp; b</b>") == 5 and caption_size("𝕎") == 2 and caption_size("中文") == 2
    assert fits_caption("x" * CAPTION_LIMIT) and not fits_caption("x" * (CAPTION_LIMIT + 1))


def test_refused_file_ids_are_recognised():
    from telegram.error import BadRequest
    for text in ("Wrong file identifier/HTTP URL specified", "Can't use file of type Document as Photo",
                 "FILE_REFERENCE_EXPIRED", "Wrong remote file identifier specified: can't unserialize it"):
        assert refused_file(BadRequest(text)), text
    for text in ("Chat not found", "Message caption is too long", "Not enough rights to send photos to the chat"):
        assert not refused_file(BadRequest(text)), text


async def test_a_result_reached_while_a_card_is_being_drawn_does_not_wait_for_it(fake, tmp_path, monkeypatch):
    ann, bob = fake.user(6101, "Ann", language_code="en"), fake.user(6102, "Bob", language_code="en")
    async with running_bot(fake, tmp_path / "bot.sqlite3") as (app, store):
        photos = app.bot_data["handlers"].photos
        real, held = photos.result, []

        def result(rec, lang, name):
            """Ann's card holds the only card worker for 4 s (it then comes back without a picture)."""
            picture = real(rec, lang, name)
            if not held:
                held.append(picture.key)
                return Picture(picture.key, partial(time.sleep, 4))
            return picture
        monkeypatch.setattr(photos, "result", result)
        for user in (ann, bob):
            await user.send("/start")
            await replies(user)
            for label in SEMI:
                await user.press(text=label)
                await replies(user)
        await ann.press(text="✅ Show my result")
        assert (await ann.next_reply(5)).via == "editMessageText"      # Ann's text result; her card is drawn now
        pressed = time.monotonic()
        await bob.press(text="✅ Show my result")
        shown = await bob.next_reply(5)
        waited = time.monotonic() - pressed
        assert shown.via == "editMessageText" and "Trade-offs" in shown.text
        assert waited < 2.5, f"Bob's result waited {waited:.1f} s for Ann's card"
        assert not [m for m in fake.world.chats[ann.chat_id].events if m.kind == "photo"]   # still drawing
        late = await ann.next_reply(8)                                   # Ann's drawing came back empty: text
        assert late.kind != "photo" and late.text.startswith("Recommendation: Semi-managed")
        assert {"📤 Share my result", "🔄 Restart"} <= set(late.button_texts)
        assert (await bob.next_reply(8)).kind == "photo"                  # Bob's card, drawn after Ann's


async def test_a_card_worker_killed_while_drawing_a_result_is_replaced_and_the_result_still_goes_out(fake, tmp_path,
                                                                                                    monkeypatch):
    eve, fay = fake.user(6201, "Eve", language_code="en"), fake.user(6202, "Fay", language_code="en")
    async with running_bot(fake, tmp_path / "bot.sqlite3") as (app, store):
        photos = app.bot_data["handlers"].photos
        workers = photos.drawer.workers
        [first] = workers.pids()
        real = photos.result

        def result(rec, lang, name):
            """Eve's card takes long enough to kill its worker while it draws."""
            picture = real(rec, lang, name)
            return Picture(picture.key, partial(time.sleep, 30)) if workers.restarts == 0 else picture
        monkeypatch.setattr(photos, "result", result)
        await eve.send("/start")
        await replies(eve)
        for label in SEMI:
            await eve.press(text=label)
            await replies(eve)
        await eve.press(text="✅ Show my result")
        assert (await eve.next_reply(5)).via == "editMessageText"      # the detailed text result
        os.kill(first, signal.SIGKILL)
        late = await eve.next_reply(10)                                 # the card's caption and buttons, as text
        assert late.kind != "photo" and late.text.startswith("Recommendation: Semi-managed")
        assert {"📤 Share my result", "🔄 Restart"} <= set(late.button_texts)
        assert workers.restarts == 1 and first not in workers.pids()
        shown = await quiz_in_private(fay, SEMI)                        # the new worker draws the next card
        assert shown[-1].kind == "photo"
    assert_clean(fake)
