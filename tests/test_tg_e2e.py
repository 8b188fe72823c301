"""The Telegram bot end to end: the real python-telegram-bot Application over HTTP against the strict fake."""
from __future__ import annotations

import asyncio

import pytest

from tests.conftest import BOTH_CLIENTS
from tests.tg_harness import ADMIN_ID, crash_after_commit_once, forge_press, replies


async def session_of(store, user):
    return await store.load_session(f"{user.id}:{user.chat_id}")


async def start(user):
    """/start: the greeting and the first question come in one message (returned twice, for readability)."""
    await user.send("/start")
    shown = await user.next_reply()
    return shown, shown


async def press_and_read(user, text):
    """Press a button by its text on the latest keyboard; return the message as it then shows."""
    await user.press(text=text)
    return await user.next_reply()


@pytest.mark.parametrize("bot", BOTH_CLIENTS, indirect=True)
@pytest.mark.parametrize("lang_code,labels,headline,first_question", [
    ("zh-hans", ["自有工厂，成本可控", "新手，没做过跨境", "资金有限", "稳定出单，做供应商", "✅ 直接看结果"],
     "推荐：全托管", "你的货源和供应链是什么情况？"),
    ("en", ["Own factory, cost under control", "New to cross-border", "Limited capital",
            "Steady orders as a supplier", "✅ Show my result"], "Recommendation: Full-managed",
     "What does your supply chain look like?"),
])
async def test_whole_questionnaire_by_buttons(fake, bot, lang_code, labels, headline, first_question):
    _, store = bot
    user = fake.user(1001, "Li", language_code=lang_code)
    greeting, question = await start(user)
    assert "Li" in greeting.text
    assert first_question in question.text and ("1/4" in question.text)
    for label in labels:
        shown = await press_and_read(user, label)
    assert shown.text.startswith(headline), shown.text[:200]
    assert shown.via == "editMessageText"            # buttons edit the question message in place
    data = await session_of(store, user)
    assert data["s"] == "result"
    assert data["a"] == {"factory": "own_factory", "experience": "none", "capital": "limited", "brand": "volume",
                         "category": "skip", "risk": "skip", "content": "skip"}
    assert (await store.last_result(str(user.id)))["capital"] == "limited"
    assert all(len(d.encode()) <= 64 for d in shown.callback_datas)


@pytest.mark.parametrize("bot", BOTH_CLIENTS, indirect=True)
async def test_typed_answers_and_progress(fake, bot):
    user = fake.user(1002, "Sam", language_code="en")
    await start(user)
    await user.send("2")
    reply = await user.next_reply()
    assert "Question 2/4" in reply.text
    await user.send("we have a mature team")
    reply = await user.next_reply()
    assert "Question 3/4" in reply.text


async def test_one_message_description_is_confirmed(fake, bot):
    _, store = bot
    user = fake.user(1003, "王", language_code="zh")
    await start(user)
    await user.send("我们是东莞的工厂，没做过跨境，资金不多")
    confirm = await user.next_reply()
    assert "货源：自有工厂" in confirm.text and "资金：资金有限" in confirm.text
    after = await press_and_read(user, "✅ 对，就是这样")
    assert "第 4/4 题" in after.text
    assert (await session_of(store, user))["a"] == {"factory": "own_factory", "experience": "none", "capital": "limited"}


async def test_follow_up_question_is_answered_then_the_question_repeats(fake, bot):
    _, store = bot
    user = fake.user(1004, "Ann", language_code="en")
    await start(user)
    await user.send("全托管谁来定价？")
    shown = await replies(user)
    assert len(shown) == 1                          # one message: the answer, then the pending question
    hint, answer, again = shown[0].text.split("\n\n", 2)
    assert "/lang" in hint                          # the interface follows the seller's language: said once
    assert "来源" in answer                         # answered in Chinese, the language of the question
    assert again.startswith("第 1/4 题")            # the pending question, in that language too
    assert shown[0].callback_datas[0] == "a:0:factory:none"
    assert (await store.stats())["top_faq"]


async def test_unknown_question_gets_an_honest_answer(fake, bot):
    _, store = bot
    user = fake.user(1005, "Bo", language_code="en")
    await start(user)
    await user.send("what's the weather in Paris tomorrow?")
    reply, question = await replies(user)
    assert "don't have a reliable answer" in reply.text and "Question 1/4" in question.text
    assert len(reply.callback_datas) == 3 and all(d.startswith("v:entry:") for d in reply.callback_datas)
    await user.press(reply, callback_data=reply.callback_datas[0])
    assert "Source:" in (await replies(user))[0].text
    assert (await store.stats())["unanswered"][0][2] == "what's the weather in Paris tomorrow?"


async def test_lang_command_switches_language(fake, bot):
    user = fake.user(1006, "Kim", language_code="en")
    await start(user)
    await user.send("/lang")
    await user.next_reply()
    await user.press(text="中文")
    switched = await user.next_reply()
    question = await user.next_reply()
    assert switched.text == "已切换为中文。" and "第 1/4 题" in question.text
    await user.send("/help")
    assert "/quiz 重新开始测试" in (await user.next_reply()).text


async def test_stale_button_gets_an_explanation_and_the_current_question(fake, bot):
    _, store = bot
    user = fake.user(1007, "Eve", language_code="en")
    _, first = await start(user)
    await user.send("1")                                    # typed: a new message; the first keeps its buttons
    await user.next_reply()
    state = await user.press(first, text="Own factory, cost under control")
    current = await user.next_reply()
    answer = next(c for c in fake.calls("answerCallbackQuery") if c.params.get("callback_query_id") == state.id)
    assert "earlier step" in answer.params["text"]
    assert "Question 2/4" in current.text
    assert (await session_of(store, user))["a"] == {"factory": "none"}


async def test_a_press_committed_before_a_crash_is_answered_and_shows_where_the_user_is(fake, bot, monkeypatch):
    """A process committed the press's turn and died before answering it or editing the pressed message;
    Telegram redelivers it. It is not applied again, but it is answered and the pressed message is edited
    to where the user now is, as the press would have done."""
    _, store = bot
    user = fake.user(1012, "Ada", language_code="en")
    _, first = await start(user)
    await user.send("1")                          # the committed turn: question 2 is where the user is now
    await user.next_reply()
    crashed = crash_after_commit_once(monkeypatch)
    state = await user.press(first, text="Own factory, cost under control")
    shown = await user.next_reply()
    assert crashed == [state.update_id]
    assert fake.callback_queries[state.id].answered
    assert shown.via == "editMessageText" and shown.message_id == first.message_id
    assert "Question 2/4" in shown.text
    assert (await session_of(store, user))["a"] == {"factory": "none"}       # not applied a second time


@pytest.mark.parametrize("data", ["a:999:factory:none", "zz", "a:x:y", "v:entry:no_such_entry", "n:0:explode",
                                  "c:0:factory", "a:0:factory:" + "x" * 60, "", "v:lang:fr", "\u202e:1:factory"])
async def test_forged_or_garbage_callback_data_is_answered_and_harmless(fake, bot, data):
    _, store = bot
    user = fake.user(1008, "Max", language_code="en")
    _, question = await start(user)
    before = await session_of(store, user)
    state = await forge_press(fake, user, question, data)
    shown = await replies(user)
    assert fake.callback_queries[state.id].answered
    assert "Question 1/4" in shown[-1].text or "Pick a" in shown[-1].text
    assert (await session_of(store, user))["a"] == before["a"] == {}


@pytest.mark.parametrize("action", ["sticker", "photo", "voice", "location", "contact", "document"])
async def test_non_text_messages_get_a_friendly_reply(fake, bot, action):
    user = fake.user(1010, "Lin", language_code="en")
    await start(user)
    send = getattr(user, f"send_{action}")
    await (send(1.0, 2.0) if action == "location" else send("+100", "Lin") if action == "contact" else send())
    notice = await user.next_reply()
    current = await user.next_reply()
    assert "I can only read text" in notice.text and "Question 1/4" in current.text


async def test_edited_forwarded_long_and_html_texts(fake, bot):
    user = fake.user(1011, "<b>Evil</b> & Co", language_code="en")
    greeting, question = await start(user)
    assert "<b>Evil</b> & Co" in greeting.text          # shown literally: the name was escaped
    sent = await user.send("hello")
    assert "didn't quite get" in (await replies(user))[0].text
    await user.edit(sent, "edited text")
    assert "edited" in (await replies(user))[0].text
    await user.forward("我们是工厂")
    assert "Question 2/4" in (await replies(user))[-1].text   # a forwarded text is read like a typed one
    # (someone else wrote it: the interface does not follow its language)
    await user.send("<script>alert(1)</script> <b>全托管</b>谁定价 & more")
    assert "来源" in (await replies(user))[0].text          # typed in Chinese: the interface follows it
    await user.send("长" * 4096)
    assert "第 2/4 题" in (await replies(user))[-1].text
    await user.send("/nonsense with args")
    assert "我不认识这个命令" in (await replies(user))[0].text


async def test_result_compare_faq_and_change_answer(fake, bot):
    user = fake.user(1012, "Ivy", language_code="en")
    await start(user)
    for label in ("Own factory, cost under control", "Mature overseas team", "Limited capital", "Build my own brand",
                  "✅ Show my result"):
        result = await press_and_read(user, label)
    assert result.text.startswith("Borderline: slightly towards Full-managed")   # blocked by capital
    assert result.via == "editMessageText" and not result.buttons      # the detailed result, where the question was
    card = await user.next_reply()                                       # then its picture, with the buttons
    assert card.kind == "photo" and card.caption.startswith("Borderline")
    assert {"✏️ Change an answer", "⚖️ Compare the modes", "❓ Ask a question", "📤 Share my result"} <= set(card.button_texts)
    menu = await press_and_read(user, "✏️ Change an answer")
    assert "Capital: Limited capital" in menu.button_texts
    question = await press_and_read(user, "Capital: Limited capital")
    assert "Your earlier answer: Limited capital" in question.text
    new_result = await press_and_read(user, "Can pre-stock overseas")
    assert new_result.text.startswith("Recommendation: Semi-managed")
    new_card = await user.next_reply()
    await user.press(new_card, text="⚖️ Compare the modes")
    compare = await replies(user)                     # the comparison card; the detailed comparison a tap away
    assert len(compare) == 1 and compare[0].kind == "photo"
    assert compare[0].caption.startswith("Full-managed vs Semi-managed") and "contract governs" in compare[0].caption
    await user.press(compare[0], text="📋 Full comparison")
    detail = await replies(user)
    assert detail[0].text.startswith("Full-managed vs Semi-managed") and "Who sets the price" in detail[0].text
    assert all(len(m.text) <= 4096 for m in detail)
    await user.send("/faq")
    topics = (await replies(user))[-1]
    await user.press(topics, callback_data=topics.callback_datas[0])
    entries = (await replies(user))[-1]
    await user.press(entries, callback_data=entries.callback_datas[0])
    entry = (await replies(user))[-1]
    assert "Source:" in entry.text
    await user.send("/result")
    again = await replies(user)
    assert again[0].text.startswith("Recommendation: Semi-managed") and again[-1].kind == "photo"


async def test_back_and_quiz_commands(fake, bot):
    _, store = bot
    user = fake.user(1013, "Joe", language_code="en")
    await start(user)
    await user.send("1")
    await user.next_reply()
    await user.send("/back")
    assert "Question 1/4" in (await user.next_reply()).text
    await user.send("1")
    await user.next_reply()
    await user.send("/quiz")
    await user.next_reply()
    assert (await session_of(store, user))["a"] == {}


async def test_commands_and_descriptions_are_registered_in_both_languages(fake, bot):
    calls = fake.calls("setMyCommands")
    langs = {c.params.get("language_code") for c in calls}
    assert langs == {None, "zh"}
    zh = next(c for c in calls if c.params.get("language_code") == "zh")
    assert any(cmd["command"] == "quiz" and cmd["description"] == "重新开始测试" for cmd in zh.params["commands"])
    assert {c.params.get("language_code") for c in fake.calls("setMyDescription")} == {None, "zh"}
    assert {c.params.get("language_code") for c in fake.calls("setMyShortDescription")} == {None, "zh"}


async def test_stats_and_export_for_admins_only(fake, bot):
    stranger = fake.user(1014, "Nosy", language_code="en")
    await start(stranger)
    await stranger.send("/stats")
    assert "don't know that command" in (await stranger.next_reply()).text
    await stranger.send("/export")
    assert "don't know that command" in (await stranger.next_reply()).text
    admin = fake.user(ADMIN_ID, "Boss", language_code="en")
    await start(admin)
    await admin.send("is it going to rain in Shenzhen tomorrow?")
    await replies(admin)
    await admin.send("/stats")
    stats = (await replies(admin))[0]
    assert "Users: 2" in stats.text and "rain in Shenzhen" in stats.text
    await admin.send("/export")
    docs = [await admin.next_reply() for _ in range(4)]
    names = {d.media["document"].get("file_name") for d in docs if d.media}
    assert names == {"users.csv", "results.csv", "events.csv", "unanswered.csv"}, names


async def test_blocked_user_is_marked_inactive(fake, bot):
    _, store = bot
    user = fake.user(1015, "Gone", language_code="en")
    await start(user)
    await user.block()
    await asyncio.sleep(0.3)
    assert (await store.user(str(user.id))).active is False       # Telegram's my_chat_member "kicked" update
    await store.set_active(str(user.id), True)
    fake.push_update({"message": {"message_id": 999, "date": 0, "chat": {"id": user.id, "type": "private"},
                                  "from": {"id": user.id, "is_bot": False, "first_name": "Gone"}, "text": "1"}})
    await fake.wait_for(lambda c: c.method == "sendMessage" and c.status == 403)
    for _ in range(50):
        if not (await store.user(str(user.id))).active:
            break
        await asyncio.sleep(0.05)
    assert (await store.user(str(user.id))).active is False
    assert len([c for c in fake.calls("sendMessage") if c.status == 403]) == 1   # no retry storm
    fake.rejections[:] = [r for r in fake.rejections if r.error_code != 403]      # the one expected refusal


async def test_an_internal_error_is_logged_and_the_user_told_without_internals(fake, bot, caplog, monkeypatch):
    app, store = bot
    handlers = app.bot_data["handlers"]

    def boom(session, text, lang):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(handlers.dialogue, "text", boom)
    user = fake.user(1016, "Oops", language_code="en")
    await start(user)
    await user.send("anything")
    shown = await replies(user)
    assert shown[-1].text.startswith("Sorry, something went wrong. Your answers are saved")
    assert "secret internal detail" not in shown[-1].text
    assert "secret internal detail" in caplog.text and "1016" in caplog.text
    monkeypatch.undo()
    await user.send("1")
    assert "Question 2/4" in (await replies(user))[-1].text     # and the bot keeps working
