"""Tests of the strict fake Telegram Bot API server (tests/fakebot), driven by real PTB."""

from __future__ import annotations

import asyncio
import io
import json

import aiohttp
import pytest
import pytest_asyncio
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from tests.fakebot import (
    DEFAULT_TOKEN,
    FakeProcess,
    FakeTelegram,
    FakeUsageError,
    HtmlError,
    RemoteFake,
    free_port,
    parse_html,
    utf16_len,
)
from tests.fakebot import validate as V
from tests.fakebot.errors import ApiError

pytestmark = [pytest.mark.asyncio, pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")]

GO = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]])


@pytest_asyncio.fixture
async def fake():
    async with FakeTelegram() as server:
        yield server


@pytest_asyncio.fixture
async def bot(fake):
    async with fake.make_bot() as client:
        yield client


@pytest_asyncio.fixture
async def li(fake):
    user = fake.user(1001, "Li", language_code="zh-hans")
    await user.send("/start")  # opens the private chat, like a real user must
    return user


async def raw_post(fake: FakeTelegram, method: str, *, token: str | None = None, **kwargs):
    url = f"{fake.api_base_url}{token or fake.token}/{method}"
    async with aiohttp.ClientSession() as session, session.post(url, **kwargs) as resp:
        return resp.status, await resp.json()


# --- pure rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "message"),
    [
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x <div>y</div>", 'Unsupported start tag "div" at byte offset 2'),
        ("5 < 7", 'Unsupported start tag "" at byte offset 2'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b><i>test</b></i>", 'Unmatched end tag at byte offset 10, expected "</i>", found "</b>"'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("tail <b", "Unclosed start tag at byte offset 5"),
        ("a &nbsp; b", 'Unsupported HTML entity "&nbsp;" at byte offset 2'),
        ('<a href="x>y</a>', "Unclosed start tag at byte offset 0"),
        ("<b class>x</b>", 'Expected equal sign in declaration of an attribute of the tag "b" at byte offset 0'),
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
        ("Привет <p>", 'Unsupported start tag "p" at byte offset 13'),
    ],
)
async def test_html_errors_match_telegram(html, message):
    with pytest.raises(HtmlError) as info:
        parse_html(html)
    assert str(info.value) == message


async def test_html_subset_and_utf16_offsets():
    text, entities = parse_html(
        '😀<b>粗</b> <i>i</i><u>u</u><s>s</s><tg-spoiler>p</tg-spoiler><span class="tg-spoiler">q</span>'
        '<a href="https://example.org/?a=1&amp;b=2">L</a> <code>c</code> '
        '<pre><code class="language-python">x=1</code></pre><blockquote expandable>Q</blockquote>'
        "&lt;&gt;&amp;&quot;&#39;&#x41;"
    )
    assert text == "😀粗 iuspqL c x=1Q<>&\"'A"
    kinds = [(e["type"], e["offset"], e["length"]) for e in entities]
    assert ("bold", 2, 1) in kinds  # the emoji is two UTF-16 units
    assert ("spoiler", 7, 1) in kinds and ("spoiler", 8, 1) in kinds
    assert next(e for e in entities if e["type"] == "text_link")["url"] == "https://example.org/?a=1&b=2"
    assert next(e for e in entities if e["type"] == "pre")["language"] == "python"
    assert ("expandable_blockquote", 16, 1) in kinds
    assert utf16_len("😀a") == 3


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ({"inline_keyboard": [[{"text": "x", "callback_data": "é" * 33}]]}, "BUTTON_DATA_INVALID"),
        ({"inline_keyboard": [[{"text": "x"}]]}, "Text buttons are unallowed"),
        ({"inline_keyboard": [[{"text": "x", "callback_data": ""}]]}, "Text buttons are unallowed"),
        ({"inline_keyboard": [[{"callback_data": "x"}]]}, 'Can\'t find field "text"'),
        ({"inline_keyboard": [[{"text": "x", "url": "ftp://e.org"}]]}, "Unsupported URL protocol"),
        ({"inline_keyboard": [[{"text": "x", "url": "http://localhost:8080"}]]}, "Wrong HTTP URL"),
        ({"inline_keyboard": [[{"text": "x", "url": "https://e.org", "callback_data": "a"}]]}, "exactly one"),
        ({"inline_keyboard": [[{"text": "x", "callback_data": str(i)} for i in range(101)]]}, "too long"),
        ({"inline_keyboard": "bad"}, 'field "inline_keyboard" must be of type Array'),
        ({"remove_keyboard": "yes"}, 'field "remove_keyboard" must be of type Boolean'),
        ({"keyboard": [[{"text": "a"}]], "resize_keyboard": "yes"}, "must be of type Boolean"),
        ({"bogus": 1}, "can't parse reply keyboard markup"),
    ],
)
async def test_reply_markup_rules(markup, error):
    with pytest.raises(ApiError) as info:
        V.check_reply_markup(markup)
    assert info.value.code == 400 and error in info.value.description


async def test_reply_markup_accepts_valid_kinds():
    ok = [
        {"inline_keyboard": [[{"text": "a", "callback_data": "é" * 32}, {"text": "b", "url": "tg://resolve?domain=x"}],
                             [{"text": "c", "switch_inline_query": ""}, {"text": "d", "copy_text": {"text": "t"}}]]},
        {"keyboard": [["a", {"text": "b", "request_contact": True}]], "resize_keyboard": True},
        {"remove_keyboard": True},
        {"force_reply": True, "input_field_placeholder": "type"},
    ]
    for markup in ok:
        assert V.check_reply_markup(markup) == markup


async def test_text_rules():
    assert V.parse_text("  hi  ", None) == ("hi", [])
    assert V.parse_text("😀" * 2048, None)[0]
    for text, parse_mode, error in [
        ("", None, "message text is empty"),
        ("   ", None, "text must be non-empty"),
        ("<b> </b>", "HTML", "text must be non-empty"),
        ("😀" * 2049, None, "message is too long"),
        ("x" * 4097, None, "message is too long"),
        ("*x*", "MarkdownV2", "unsupported parse_mode"),
        ("x", "Textile", "unsupported parse_mode"),
    ]:
        with pytest.raises(ApiError, match=error):
            V.parse_text(text, parse_mode)
    assert V.parse_text("<b>" + "x" * 4096 + "</b>", "HTML")[0] == "x" * 4096
    with pytest.raises(ApiError, match="caption is too long"):
        V.parse_text("x" * 1025, None, limit=V.CAPTION_LIMIT, caption=True)
    with pytest.raises(ApiError, match="ends after the end of the text"):
        V.parse_text("hello", None, [{"type": "bold", "offset": 0, "length": 9}])


async def test_html_links_are_checked():
    assert V.parse_text('<a href="https://e.org">x</a>', "HTML")[1][0]["url"] == "https://e.org"
    with pytest.raises(ApiError, match="Telegram would silently drop the link"):
        V.parse_text('<a href="/relative">x</a>', "HTML")


async def test_command_and_language_rules():
    assert V.check_language_code("zh") == "zh"
    with pytest.raises(ApiError, match="invalid language code specified"):
        V.check_language_code("zh-hans")
    with pytest.raises(ApiError, match="BOT_COMMAND_INVALID"):
        V.check_commands([{"command": "Mode-Advice", "description": "x"}])
    with pytest.raises(ApiError, match="description must be non-empty"):
        V.check_commands([{"command": "start", "description": ""}])
    with pytest.raises(ApiError, match="BOT_COMMANDS_TOO_MUCH"):
        V.check_commands([{"command": f"c{i}", "description": "d"} for i in range(101)])


async def test_inline_result_rules():
    article = {"type": "article", "id": "1", "title": "T", "input_message_content": {"message_text": "hi"}}
    assert V.check_inline_results([article])
    cases = [
        ([article] * 51, "RESULTS_TOO_MUCH"),
        ([article, article], "RESULT_ID_DUPLICATE"),
        ([{**article, "id": "x" * 65}], "RESULT_ID_INVALID"),
        ([{**article, "type": "carousel"}], 'type "carousel" is unsupported'),
        ([{**article, "input_message_content": {"message_text": "<b>x", "parse_mode": "HTML"}}],
         "can't parse inline query result: Can't parse entities"),
        ([{**article, "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "x" * 65}]]}}],
         "BUTTON_DATA_INVALID"),
    ]
    for results, error in cases:
        with pytest.raises(ApiError, match=error):
            V.check_inline_results(results)


# --- direct Bot API calls with python-telegram-bot ----------------------------------------------


async def test_get_me_and_send_message(fake, bot, li):
    me = await bot.get_me()
    assert me.username == "ModeAdvisorBot" and me.id == int(DEFAULT_TOKEN.split(":")[0])
    sent = await bot.send_message(li.id, "<b>你好</b> &amp; welcome", parse_mode="HTML", reply_markup=GO)
    assert sent.text == "你好 & welcome" and sent.entities[0].type == "bold"
    assert sent.reply_markup == GO
    shown = fake.transcript(li.id)[-1]
    assert shown.text == "你好 & welcome" and shown.callback_datas == ["go"]
    assert shown.source == "<b>你好</b> &amp; welcome"
    call = fake.calls("sendMessage")[-1]
    assert call.params["reply_markup"] == GO.to_dict() and call.status == 200
    assert fake.rejections == []


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": "x" * 4097}, "Message is too long"),
        ({"text": "<b>bold", "parse_mode": "HTML"}, 'Can\'t find end tag corresponding to start tag "b"'),
        ({"text": "<div>x</div>", "parse_mode": "HTML"}, 'Unsupported start tag "div" at byte offset 0'),
        ({"text": "ok", "reply_markup": InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])},
         "Button_data_invalid"),
    ],
)
async def test_send_message_rejections(fake, bot, li, kwargs, error):
    with pytest.raises(BadRequest) as info:
        await bot.send_message(li.id, **kwargs)
    assert error.lower() in info.value.message.lower()
    assert len(fake.rejections) == 1 and fake.rejections[0].error_code == 400
    assert fake.rejections[0].description.startswith("Bad Request: ")


async def test_unknown_chat_blocked_and_not_started(fake, bot, li):
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "hi")
    stranger = fake.user(2002, "Stranger")
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await bot.send_message(stranger.id, "hi")
    await li.block()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(li.id, "hi")
    status, body = await raw_post(fake, "sendMessage", json={"chat_id": li.id, "text": "hi"})
    assert (status, body) == (403, {"ok": False, "error_code": 403,
                                    "description": "Forbidden: bot was blocked by the user"})
    assert [r.error_code for r in fake.rejections] == [400, 403, 403, 403]


async def test_edit_rules(fake, bot, li):
    sent = await bot.send_message(li.id, "one", reply_markup=GO)
    with pytest.raises(BadRequest, match="Message is not modified: specified new message content"):
        await bot.edit_message_text("one", li.id, sent.message_id, reply_markup=GO)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", li.id, 9999)
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("x", li.id, 1)  # the user's own /start
    edited = await bot.edit_message_text("two", li.id, sent.message_id)  # drops the keyboard
    assert edited.text == "two" and edited.reply_markup is None
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_reply_markup(li.id, sent.message_id, reply_markup=None)
    await bot.edit_message_reply_markup(li.id, sent.message_id, reply_markup=GO)
    assert fake.transcript(li.id)[-1].text == "two" and fake.transcript(li.id)[-1].buttons
    assert await bot.delete_message(li.id, sent.message_id)
    assert fake.transcript(li.id) == []
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(li.id, sent.message_id)
    assert len(fake.sent_messages(li.id)) == 1


async def test_callback_query_answers(fake, bot, li):
    await bot.send_message(li.id, "pick", reply_markup=GO)
    with pytest.raises(FakeUsageError):
        await li.press(callback_data="missing")
    query = await li.press(callback_data="go")
    update = Update.de_json((await bot.get_updates())[-1].to_dict(), bot)
    assert update.callback_query.data == "go" and update.callback_query.message.text == "pick"
    assert [q.id for q in fake.unanswered_callback_queries()] == [query.id]
    assert await bot.answer_callback_query(query.id, text="ok")
    assert query.answered and query.answer == {"text": "ok"}
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query.id)
    with pytest.raises(BadRequest, match="Query is too old and response timeout expired or query id is invalid"):
        await bot.answer_callback_query("123")
    forged = fake.forge_callback(li, fake.transcript(li.id)[-1], "tampered")
    assert (await bot.get_updates())[-1].callback_query.data == "tampered"
    assert await bot.answer_callback_query(forged.id)
    second = await li.press(callback_data="go")
    with pytest.raises(BadRequest, match="Message_too_long"):
        await bot.answer_callback_query(second.id, text="x" * 201)
    assert fake.unanswered_callback_queries() == [second]


async def test_unknown_method_wrong_token_and_case_insensitive_names(fake, bot):
    status, body = await raw_post(fake, "fooBar", json={})
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    status, body = await raw_post(fake, "getMe", token="1:wrongtokenwrongtokenwrongtoken000")
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    status, body = await raw_post(fake, "GETME", data={})
    assert status == 200 and body["result"]["is_bot"] is True
    with pytest.raises(InvalidToken):
        await Bot("123:" + "x" * 35, base_url=fake.api_base_url).get_me()
    assert [r.error_code for r in fake.rejections] == [404, 401, 401]


async def test_form_and_json_bodies(fake, li):
    markup = json.dumps({"inline_keyboard": [[{"text": "a", "callback_data": "b"}]]})
    status, body = await raw_post(fake, "sendMessage",
                                  data={"chat_id": str(li.id), "text": "form", "reply_markup": markup})
    assert status == 200 and body["result"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "b"
    status, body = await raw_post(fake, "sendmessage", json={"chat_id": li.id, "text": "json"})
    assert status == 200 and body["result"]["text"] == "json"
    status, body = await raw_post(fake, "sendMessage", data={"chat_id": li.id, "text": "x", "reply_markup": "{oops"})
    assert status == 400 and body["description"] == "Bad Request: can't parse reply_markup JSON object"


async def test_injected_faults(fake, bot, li):
    fake.faults.add("429", "sendMessage", retry_after=3)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(li.id, "x")
    assert "Retry in 3 seconds" in str(info.value)
    call = fake.calls("sendMessage")[-1]
    assert call.status == 429 and call.description == "Too Many Requests: retry after 3"
    fake.faults.add("500")
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(li.id, "x")
    fake.faults.add("502", "sendMessage")
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(li.id, "x")
    fake.faults.add("drop", "sendMessage")
    with pytest.raises(NetworkError):
        await bot.send_message(li.id, "x")
    fake.faults.add("delay", "getMe", delay=0.2)
    started = asyncio.get_running_loop().time()
    await bot.get_me()
    assert asyncio.get_running_loop().time() - started >= 0.2
    assert fake.faults.injected == {"429": 1, "500": 1, "502": 1, "drop": 1, "delay": 1}
    assert fake.rejections == [] and fake.faults.pending == []
    assert (await bot.send_message(li.id, "after")).text == "after"


async def test_flood_limits(fake, bot, li):
    fake.flood.configure(enabled=True, private_burst=2, private_per_second=1.0)
    await bot.send_message(li.id, "1")
    await bot.send_message(li.id, "2")
    with pytest.raises(RetryAfter):
        await bot.send_message(li.id, "3")
    group = fake.group(-100123, "Group")
    fake.flood.configure(group_per_minute=2)
    await bot.send_message(group.id, "a")
    await bot.send_message(group.id, "b")
    with pytest.raises(RetryAfter):
        await bot.send_message(group.id, "c")
    assert fake.flood.sent_429 == 2 and fake.rejections == []


async def test_commands_descriptions_and_chats(fake, bot, li):
    with pytest.raises(BadRequest, match="Invalid language code specified"):
        await bot.set_my_commands([BotCommand("start", "开始")], language_code="zh-hans")
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Start-Now", "x")])
    await bot.set_my_commands([BotCommand("start", "开始")], scope=BotCommandScopeAllPrivateChats(),
                              language_code="zh")
    assert await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="zh") == (
        BotCommand("start", "开始"),)
    assert await bot.get_my_commands() == ()
    assert fake.commands[("all_private_chats", "zh")] == [{"command": "start", "description": "开始"}]
    await bot.set_my_description("Mode advice", language_code="en")
    await bot.set_my_short_description("短", language_code="zh")
    assert (await bot.get_my_description(language_code="en")).description == "Mode advice"
    assert (await bot.get_my_short_description(language_code="zh")).short_description == "短"
    channel = fake.channel(-100777, "News", username="modenews")
    member = await bot.get_chat_member("@modenews", bot.id)
    assert member.status == "administrator" and member.can_post_messages
    fake.channel(-100778, "Other", bot_status="member")
    assert (await bot.get_chat_member(-100778, bot.id)).status == "member"
    with pytest.raises(BadRequest, match="Need administrator rights"):
        await bot.send_message(-100778, "x")
    assert (await bot.get_chat(channel.id)).title == "News"
    assert (await bot.get_chat(li.id)).first_name == "Li"
    with pytest.raises(BadRequest, match="Wrong parameter action"):
        await bot.send_chat_action(li.id, "dancing")
    assert await bot.send_chat_action(li.id, "typing")
    assert await bot.close() and await bot.log_out()


async def test_send_document_upload_and_download(fake, bot, li):
    sent = await bot.send_document(li.id, b"%PDF-1.4 report", filename="report.pdf",
                                   caption="<i>Report</i>", parse_mode="HTML")
    assert sent.document.file_name == "report.pdf" and sent.caption == "Report"
    call = fake.calls("sendDocument")[-1]
    assert call.params["document"]["upload"] == "report.pdf" and call.params["document"]["size"] == 15
    stored = fake.file_of(fake.transcript(li.id)[-1])
    assert (stored.file_name, stored.data) == ("report.pdf", b"%PDF-1.4 report")
    file = await bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"%PDF-1.4 report"
    with pytest.raises(BadRequest, match="File must be non-empty"):
        await bot.send_document(li.id, b"", filename="empty.txt")


async def test_inline_mode(fake, bot, li):
    query = await li.inline_query("mode")
    result = InlineQueryResultArticle("r1", "Mode", InputTextMessageContent("<b>Mode</b>", parse_mode="HTML"),
                                      reply_markup=GO)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_inline_query("nope", [result])
    assert await bot.answer_inline_query(query.id, [result])
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_inline_query(query.id, [result])
    inline_id = await li.choose_inline_result(query, "r1")
    updates = await bot.get_updates()
    assert updates[1].inline_query.query == "mode"
    assert updates[-1].chosen_inline_result.inline_message_id == inline_id
    assert await bot.edit_message_text("Edited", inline_message_id=inline_id) is True
    assert (await li.next_inline_reply()).text == "Edited"
    other = await li.inline_query("x")
    with pytest.raises(BadRequest, match="Result_id_duplicate"):
        await bot.answer_inline_query(other.id, [result, result])


async def test_user_updates_parse_with_ptb(fake, bot, li):
    group = fake.group(-100123, "Mode fans")
    pal = fake.user(1002, "Pal")
    await li.send("/mode@ModeAdvisorBot now", chat=group)
    await li.send("chatter without mention", chat=group)  # privacy mode: not delivered
    await li.send_sticker()
    await li.send_photo(caption="look")
    await li.send_voice()
    await li.send_location(31.2, 121.5)
    await li.send_contact("+8613800000000", "Wang")
    await li.send_document("a.txt", b"abc")
    await li.forward("fwd", origin_user=pal)
    msg = await li.send("typo")
    await li.edit(msg, "fixed")
    await group.add_bot(by=li, status="administrator")
    channel = fake.channel(-100999, "Chan")
    await channel.post("news")
    updates = (await bot.get_updates())[1:]  # [0] is the fixture's /start
    kinds = [
        ("command", updates[0].message.entities[0].type, updates[0].message.text),
        updates[1].message.sticker.emoji, updates[2].message.caption, updates[3].message.voice.duration,
        updates[4].message.location.latitude, updates[5].message.contact.first_name,
        updates[6].message.document.file_name, updates[7].message.forward_origin.sender_user.first_name,
        updates[8].message.text, updates[9].edited_message.text,
        updates[10].my_chat_member.new_chat_member.status, updates[11].channel_post.text,
    ]
    assert kinds == [("command", "bot_command", "/mode@ModeAdvisorBot now"), "👍", "look", 2, 31.2,
                     "Wang", "a.txt", "Pal", "typo", "fixed", "administrator", "news"]
    assert updates[0].message.entities[0].length == len("/mode@ModeAdvisorBot")
    assert [u.update_id for u in updates] == list(range(updates[0].update_id, updates[0].update_id + 12))


async def test_group_privacy_mode_and_callback_ttl(fake, bot, li):
    group = fake.group(-100555, "Sellers")
    await li.send("/start@OtherBot", chat=group)  # meant for another bot: not delivered
    await li.send("hello @ModeAdvisorBot", chat=group)
    await li.send("/help", chat=group)
    texts = [u.message.text for u in (await bot.get_updates())[1:]]
    assert texts == ["hello @ModeAdvisorBot", "/help"]
    await bot.send_message(group.id, "pick", reply_markup=GO)
    fake.options.callback_query_ttl = 0.0
    late = await li.press(callback_data="go", chat=group)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(late.id)
    await group.remove_bot(by=li)
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await bot.send_message(group.id, "x")


# --- getUpdates semantics -----------------------------------------------------------------------


async def test_get_updates_offset_limit_timeout_and_allowed(fake, bot, li):
    first = await bot.get_updates(timeout=0)
    assert [u.message.text for u in first] == ["/start"]
    await li.send("a")
    await li.send("b")
    assert [u.message.text for u in await bot.get_updates(offset=first[0].update_id + 1, limit=1)] == ["a"]
    started = asyncio.get_running_loop().time()
    assert [u.message.text for u in await bot.get_updates(timeout=5)] == ["a", "b"]  # not confirmed yet
    assert asyncio.get_running_loop().time() - started < 1
    last = (await bot.get_updates())[-1].update_id
    waiter = asyncio.create_task(bot.get_updates(offset=last + 1, timeout=5))
    await asyncio.sleep(0.05)
    await li.send("c")
    assert [u.message.text for u in await asyncio.wait_for(waiter, 2)] == ["c"]
    await li.send("d")
    q = await li.inline_query("q")
    got = await bot.get_updates(offset=last + 2, allowed_updates=["inline_query"])
    assert [u.inline_query.id for u in got] == [q.id]  # the "d" message was dropped


async def test_conflicts(fake, bot, li):
    async with fake.make_bot() as other_instance:
        first = asyncio.create_task(other_instance.get_updates(offset=999, timeout=3))
        await asyncio.sleep(0.05)
        await bot.get_updates(offset=999, timeout=0)
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await first
    await bot.set_webhook("https://example.org/hook")
    with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook()
    status, body = await raw_post(fake, "deleteWebhook", json={"drop_pending_updates": True})
    assert body == {"ok": True, "result": True, "description": "Webhook is already deleted"}
    assert fake.updates.pending == []


# --- end to end with a real Application -------------------------------------------------------


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lang = update.effective_user.language_code or "en"
    text = "<b>你好</b>" if lang.startswith("zh") else "<b>Hello</b>"
    await update.message.reply_html(text, reply_markup=GO)


async def _pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(f"chosen: {update.callback_query.data}")


def _application(fake: FakeTelegram) -> Application:
    app = fake.application_builder().build()
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(CallbackQueryHandler(_pressed))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, lambda u, c: u.message.reply_text(u.message.text)))
    return app


async def test_application_polling_end_to_end(fake):
    app = _application(fake)
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        li = fake.user(1001, "Li", language_code="zh-hans")
        en = fake.user(1002, "Ann", language_code="en")
        await li.send("/start")
        await en.send("/start")
        reply = await li.next_reply()
        assert reply.text == "你好" and reply.entities == [{"type": "bold", "offset": 0, "length": 2}]
        assert (await en.next_reply()).text == "Hello"
        query = await li.press(reply, "go")
        edited = await li.next_reply()
        assert edited.via == "editMessageText" and edited.text == "chosen: go" and edited.buttons == []
        await fake.wait_for(lambda c: c.method == "answerCallbackQuery" and c.ok)
        assert query.answered
        await en.send("echo me")
        assert (await en.next_reply()).text == "echo me"
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert fake.rejections == [] and fake.unanswered_callback_queries() == []
    assert [m.text for m in fake.transcript(1001)] == ["chosen: go"]
    assert len(fake.reply_latencies()) == 4 and all(0 <= x < 2 for x in fake.reply_latencies())


async def test_webhook_delivery_with_secret(fake, li):
    app = _application(fake)
    port = free_port()
    await app.initialize()
    await app.start()
    await app.updater.start_webhook(listen="127.0.0.1", port=port, url_path="hook", secret_token="s3cret_-X",
                                    webhook_url=f"http://127.0.0.1:{port}/hook")
    try:
        info = await app.bot.get_webhook_info()
        assert info.url.endswith("/hook")
        reply = await li.next_reply()  # the /start sent by the fixture is delivered by webhook
        assert reply.text == "你好"
        delivery = fake.updates.deliveries[-1]
        assert delivery.status == 200 and delivery.error is None
        await app.bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="wrong")
        await li.send("/start")
        await fake.notifier.wait_until(lambda: any(d.status == 403 for d in fake.updates.deliveries), 5)
        info = await app.bot.get_webhook_info()
        assert info.pending_update_count == 1 and "403" in info.last_error_message
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    with pytest.raises(ApiError, match="illegal characters"):
        V.check_secret_token("bad secret!")


# --- standalone process with the control API --------------------------------------------------


async def test_standalone_process_control_api():
    proc = await FakeProcess().astart()
    try:
        async with RemoteFake(proc.base_url) as remote, Bot(proc.token, base_url=proc.api_base_url) as bot:
            assert (await remote.health())["ok"]
            await remote.add_user(1001, "Li", language_code="zh-hans")
            await remote.act(1001, "send", text="/start")
            update_id = await remote.push_update({"message": {
                "message_id": 99, "date": 0, "chat": {"id": 1001, "type": "private"}, "text": "raw"}})
            updates = await bot.get_updates()
            assert [u.message.text for u in updates] == ["/start", "raw"] and updates[-1].update_id == update_id
            await bot.send_message(1001, "<b>hi</b>", parse_mode="HTML", reply_markup=GO)
            index, message = await remote.next_reply(1001)
            assert index == 1 and message["text"] == "hi" and message["reply_markup"] == GO.to_dict()
            query = await remote.act(1001, "press", callback_data="go")
            await remote.add_fault("429", "answerCallbackQuery", retry_after=2)
            with pytest.raises(RetryAfter):
                await bot.answer_callback_query(query["id"])
            await bot.answer_callback_query(query["id"])
            calls = await remote.calls("sendMessage")
            assert calls[0]["params"]["parse_mode"] == "HTML" and calls[0]["status"] == 200
            await remote.act(1001, "forward", text="fwd", hidden_name="Anon")
            assert (await bot.get_updates(offset=-1))[0].message.forward_origin.sender_user_name == "Anon"
            stats = await remote.stats()
            assert stats["faults_injected"]["429"] == 1 and stats["unanswered_callback_queries"] == []
            with pytest.raises(BadRequest):
                await bot.send_message(1001, "<p>", parse_mode="HTML")
            assert (await remote.rejections())[0]["description"].startswith("Bad Request: can't parse entities")
    finally:
        assert proc.stop() == 0


# --- photos: uploads, file_id reuse, edits, inline cached photos, flood budget ------------------


def _image(width: int = 1280, height: int = 720, fmt: str = "PNG", color: str = "#2563eb",
           mode: str = "RGB") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new(mode, (width, height), color if mode == "RGB" else 1).save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "file must be non-empty"),
        (b"plain text, not an image", "IMAGE_PROCESS_FAILED"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "IMAGE_PROCESS_FAILED"),
        ("truncated", "IMAGE_PROCESS_FAILED"),
        ("tiff", "IMAGE_PROCESS_FAILED"),
        ((9000, 1001), "PHOTO_INVALID_DIMENSIONS"),        # width + height over 10,000
        ((2100, 100), "PHOTO_INVALID_DIMENSIONS"),         # aspect ratio over 20
        ((100, 2100), "PHOTO_INVALID_DIMENSIONS"),
        ("huge", "PHOTO_SAVE_FILE_INVALID"),               # over 10 MB
    ],
)
async def test_photo_rules(data, error):
    if data == "truncated":
        data = _image()[:300]
    elif data == "tiff":
        data = _image(64, 64, "TIFF")
    elif data == "huge":
        data = _image(64, 64) + b"\0" * (10 * 1024 * 1024)
    elif isinstance(data, tuple):
        data = _image(*data)
    with pytest.raises(ApiError) as info:
        V.check_photo(data)
    assert info.value.code == 400 and info.value.description == f"Bad Request: {error}"


async def test_photo_rules_accept_the_limits():
    assert V.check_photo(_image(9000, 1000, "PNG")) == (9000, 1000)   # exactly 10,000
    assert V.check_photo(_image(2000, 100, "JPEG")) == (2000, 100)    # exactly 20:1
    assert V.check_photo(_image(64, 48, "WEBP")) == (64, 48)


async def test_send_photo_upload_sizes_and_file_id_reuse(fake, bot, li):
    png = _image()
    sent = await bot.send_photo(li.id, png, caption="<b>Card</b> &amp; more", parse_mode="HTML", reply_markup=GO)
    assert [(p.width, p.height) for p in sent.photo] == [(90, 51), (320, 180), (800, 450), (1280, 720)]
    assert len({p.file_id for p in sent.photo}) == len({p.file_unique_id for p in sent.photo}) == 4
    assert sent.photo[-1].file_size == len(png) and all(p.file_size < len(png) for p in sent.photo[:-1])
    assert sent.photo[-1].file_id.startswith("AgAC") and sent.caption == "Card & more"
    assert sent.caption_entities[0].type == "bold" and sent.reply_markup == GO
    call = fake.calls("sendPhoto")[-1]
    assert call.params["photo"]["size"] == len(png) and call.status == 200
    shown = fake.transcript(li.id)[-1]
    assert shown.kind == "photo" and shown.caption == "Card & more" and fake.file_of(shown).data == png
    file = await bot.get_file(sent.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == png
    group = fake.group(-100300, "Sellers")
    again = await bot.send_photo(group.id, sent.photo[-1].file_id, caption="again")
    assert again.photo == sent.photo                      # reused, not uploaded again
    assert (await bot.send_photo(li.id, sent.photo[0].file_id)).photo == sent.photo
    assert fake.calls("sendPhoto")[-1].params["photo"] == sent.photo[0].file_id
    doc = await bot.send_document(li.id, b"%PDF-1.4", filename="a.pdf")
    with pytest.raises(BadRequest, match="(?i)can't use file of type Document as Photo"):
        await bot.send_photo(li.id, doc.document.file_id)
    with pytest.raises(BadRequest, match="Wrong file identifier/http url specified"):
        await bot.send_photo(li.id, "AgACAgIAAxkBAAnotknowntothefake")
    assert [r.description for r in fake.rejections] == [
        "Bad Request: can't use file of type Document as Photo",
        "Bad Request: wrong file identifier/HTTP URL specified"]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"photo": b"GIF89a but not really"}, "Image_process_failed"),
        ({"photo": "big"}, "Photo_invalid_dimensions"),
        ({"photo": "png", "caption": "x" * 1025}, "Message caption is too long"),
        ({"photo": "png", "caption": "😀" * 513}, "Message caption is too long"),   # 1,026 UTF-16 units
        ({"photo": "png", "caption": "<b>x", "parse_mode": "HTML"}, "Can't parse entities"),
    ],
)
async def test_send_photo_rejections(fake, bot, li, kwargs, error):
    photo = {"png": _image(320, 180), "big": _image(5001, 5000, mode="1")}.get(kwargs["photo"], kwargs["photo"])
    with pytest.raises(BadRequest) as info:
        await bot.send_photo(li.id, **{**kwargs, "photo": photo})
    assert error.lower() in info.value.message.lower()
    assert len(fake.rejections) == 1 and fake.transcript(li.id) == []


async def test_caption_limit_counts_text_after_entity_parsing(fake, bot, li):
    caption = "<b>" + "x" * 1000 + "</b><i>" + "y" * 24 + "</i>"       # 1,024 characters once parsed
    sent = await bot.send_photo(li.id, _image(320, 180), caption=caption, parse_mode="HTML")
    assert len(sent.caption) == 1024 and [e.type for e in sent.caption_entities] == ["bold", "italic"]


async def test_photo_part_content_type_is_not_trusted(fake, li):
    for content_type, data, status in (("application/octet-stream", _image(64, 64), 200),
                                       ("image/png", b"<html>not a png</html>", 400)):
        form = aiohttp.FormData()
        form.add_field("chat_id", str(li.id))
        form.add_field("photo", data, filename="card.png", content_type=content_type)
        got, body = await raw_post(fake, "sendPhoto", data=form)
        assert got == status, body
    assert body["description"] == "Bad Request: IMAGE_PROCESS_FAILED"
    status, body = await raw_post(fake, "sendPhoto", json={"chat_id": li.id})
    assert (status, body["description"]) == (400, "Bad Request: there is no photo in the request")


async def test_edit_photo_messages(fake, bot, li):
    from telegram import InputMediaPhoto

    sent = await bot.send_photo(li.id, _image(), caption="first", reply_markup=GO)
    edited = await bot.edit_message_caption(li.id, sent.message_id, caption="<i>second</i>", parse_mode="HTML",
                                            reply_markup=GO)
    assert edited.caption == "second" and edited.photo == sent.photo
    new = _image(800, 800, color="#ea580c")
    replaced = await bot.edit_message_media(InputMediaPhoto(new, caption="third"), li.id, sent.message_id,
                                            reply_markup=GO)
    assert [(p.width, p.height) for p in replaced.photo] == [(90, 90), (320, 320), (800, 800)]
    assert replaced.caption == "third" and replaced.photo[-1].file_unique_id != sent.photo[-1].file_unique_id
    shown = fake.world.chats[li.id].events[-1]                 # what the user saw change
    assert shown.via == "editMessageMedia" and fake.file_of(shown).data == new and shown.callback_datas == ["go"]
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_media(InputMediaPhoto(replaced.photo[-1].file_id, caption="third"), li.id,
                                     sent.message_id, reply_markup=GO)
    back = await bot.edit_message_media(InputMediaPhoto(sent.photo[-1].file_id), li.id, sent.message_id)
    assert back.photo == sent.photo and back.caption is None and back.reply_markup is None
    with pytest.raises(BadRequest, match="Image_process_failed"):
        await bot.edit_message_media(InputMediaPhoto(b"not an image"), li.id, sent.message_id)
    with pytest.raises(BadRequest, match="There is no text in the message to edit"):
        await bot.edit_message_text("text", li.id, sent.message_id)
    text = await bot.send_message(li.id, "just text")
    with pytest.raises(BadRequest, match="There is no media in the message to edit"):
        await bot.edit_message_media(InputMediaPhoto(sent.photo[-1].file_id), li.id, text.message_id)
    with pytest.raises(BadRequest, match="There is no caption in the message to edit"):
        await bot.edit_message_caption(li.id, text.message_id, caption="x")
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.edit_message_caption(li.id, sent.message_id, caption="x" * 1025)


async def test_inline_cached_photo(fake, bot, li):
    from telegram import InlineQueryResultCachedPhoto

    photo = (await bot.send_photo(li.id, _image())).photo
    doc = await bot.send_document(li.id, b"%PDF-1.4", filename="a.pdf")
    query = await li.inline_query("")
    for file_id, error in (("AgACAgIAAxkBAAunknown", "Wrong file identifier"),
                           (doc.document.file_id, "(?i)can't use file of type Document as Photo")):
        with pytest.raises(BadRequest, match=error):
            await bot.answer_inline_query(query.id, [InlineQueryResultCachedPhoto("card", file_id)])
    status, body = await raw_post(fake, "answerInlineQuery", json={
        "inline_query_id": query.id, "results": [{"type": "photo", "id": "x"}]})
    assert body["description"] == "Bad Request: can't parse inline query result: Can't find field \"photo_file_id\""
    long_caption = InlineQueryResultCachedPhoto("card", photo[-1].file_id, caption="x" * 1025)
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.answer_inline_query(query.id, [long_caption])
    card = InlineQueryResultCachedPhoto("card", photo[-1].file_id, caption="<b>My result</b>", parse_mode="HTML",
                                        reply_markup=GO)
    assert await bot.answer_inline_query(query.id, [card], is_personal=True)
    inline_id = await li.choose_inline_result(query, "card")
    shown = fake.inline_messages[inline_id]
    assert shown.kind == "photo" and shown.caption == "My result"
    assert [size["file_unique_id"] for size in shown.media["photo"]] == [p.file_unique_id for p in photo]
    assert shown.callback_datas == ["go"]
    assert await bot.edit_message_caption(inline_message_id=inline_id, caption="edited") is True
    assert (await li.next_inline_reply()).caption == "edited"


async def test_flood_budget_counts_photos_and_edits_like_messages(fake, bot, li):
    from telegram import InputMediaPhoto

    group = fake.group(-100400, "Busy group")
    fake.flood.configure(enabled=True, group_per_minute=5)
    text = await bot.send_message(group.id, "1")                                       # 1
    photo = await bot.send_photo(group.id, _image(320, 180), caption="2")              # 2
    await bot.edit_message_caption(group.id, photo.message_id, caption="3")           # 3
    await bot.edit_message_media(InputMediaPhoto(_image(200, 100)), group.id, photo.message_id)  # 4
    await bot.edit_message_text("5", group.id, text.message_id)                        # 5
    for call in (bot.edit_message_reply_markup(group.id, text.message_id, reply_markup=GO),
                 bot.send_photo(group.id, photo.photo[-1].file_id),
                 bot.edit_message_caption(group.id, photo.message_id, caption="6")):
        with pytest.raises(RetryAfter) as info:
            await call
        assert 0 < info.value.retry_after <= 60
    assert fake.flood.sent_429 == 3
    other = fake.group(-100401, "Quiet group")
    assert (await bot.send_photo(other.id, photo.photo[-1].file_id)).photo == photo.photo
    await bot.send_message(li.id, "pick", reply_markup=GO)                              # private chats
    query = await li.press(callback_data="go", chat=li.chat)
    assert await bot.answer_callback_query(query.id, text="free")                         # never counted
    assert fake.rejections == []
