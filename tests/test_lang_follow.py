"""The conversation follows the language the seller writes in (docs/language.md): in private chat and in
groups over the fake Bot API, and in the console; both directions; /lang sticks; messages that show no
language change nothing; how to switch back is said once per user; the language survives a restart."""
from __future__ import annotations

import pytest

from bot import ROOT
from bot.console import ConsoleChat, _loop
from bot.conversation import Conversations, LangSwitch
from bot.kb.lang import written_lang
from bot.store import SQLiteStore
from tests.group_harness import ack, card_of, group_calls, is_result, wait_card
from tests.tg_harness import all_text, replies, running_bot, text_of

HINT_ZH = "想换回英文，发送 /lang"
HINT_EN = "To switch back to Chinese, send /lang"
QUIZ = "/quiz@ModeAdvisorBot"


# -- which language a message shows ---------------------------------------------------------------------
@pytest.mark.parametrize("text,lang", [
    ("我们有自己的工厂", "zh"), ("我們有自己的工廠", "zh"), ("好的", "zh"), ("我做过Amazon 3年", "zh"),
    ("全托模式 pricing 怎么算", "zh"), ("30万", "zh"),
    ("we have our own factory", "en"), ("not sure", "en"), ("how does 全托 pricing work for us", "en"),
    ("3 years on amazon", "en"),
    # no language shown: no letters, acknowledgements, amounts, names, acronyms, one word, other scripts
    ("1", None), ("42", None), ("ok", None), ("OK", None), ("👍", None), ("🙂🙂", None), ("$30k", None),
    ("3w", None), ("Amazon, Shopee", None), ("FBA OEM USD", None), ("ok thanks", None), ("yes", None),
    ("factory", None), ("Amazon 3 years", None), ("<b>🙂</b>", None), ("/lang", None), ("", None),
    ("こんにちは", None), ("안녕하세요", None),
])
def test_written_lang(services, text, lang):
    assert written_lang(text, services.kb.neutral_words) == lang


def test_the_neutral_words_are_content_in_knowledge_ui_yaml(tmp_path):
    """The words that show no language are read from knowledge/ui.yaml by the knowledge loader (content lives in
    YAML): a word added there is neutral; an entry the rule could never match (not a Latin word of two
    letters or more, or an unquoted yes/no that YAML reads as true/false) is a content problem."""
    import shutil

    import yaml

    from bot.kb.loader import load_knowledge
    from bot.problems import ContentError
    kb = load_knowledge()
    assert {"ok", "thanks", "amazon", "shopee", "rmb", "yes", "no"} <= kb.neutral_words
    assert written_lang("wechat alipay", kb.neutral_words) == "en"
    folder = shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    (tmp_path / "eval").symlink_to(ROOT / "eval")      # the learnt sets (knowledge/learned.yaml)
    ui = folder / "ui.yaml"
    rest = {k: v for k, v in yaml.safe_load(ui.read_text(encoding="utf-8")).items() if k != "neutral_words"}

    def neutral_words(flow_list: str) -> None:
        ui.write_text(yaml.safe_dump(rest, allow_unicode=True) + f"neutral_words: {flow_list}\n", encoding="utf-8")
    neutral_words("[wechat, alipay]")
    assert written_lang("wechat alipay", load_knowledge(folder).neutral_words) is None
    neutral_words("[ok, $30k, a, yes, no]")
    with pytest.raises(ContentError) as raised:
        load_knowledge(folder)
    found = str(raised.value)
    assert all(f"neutral_words[{i}]" in found for i in (1, 2, 3, 4)), found
    assert "neutral_words[0]" not in found


# -- the rules, on both store backends ------------------------------------------------------------------
async def test_follow_lang_rules_on_both_stores(services, any_store):
    conv = Conversations(services, any_store)
    await any_store.touch_user("1", "en")                        # Telegram client in English
    assert await conv.follow_lang("1", "en", None) is None       # no language shown: nothing, no write
    assert await conv.follow_lang("1", "en", "en") is None       # the interface's language: nothing
    assert await conv.follow_lang("1", "en", "zh") == LangSwitch("zh", hint=True)
    assert (await any_store.touch_user("1", "en")).lang == "zh"  # the client's language no longer replaces it
    assert await conv.follow_lang("1", "zh", "en") == LangSwitch("en", hint=False)   # back, told once only
    await conv.choose_lang("1", "zh")                            # /lang: messages never override it
    assert await conv.follow_lang("1", "zh", "en") is None
    assert (await any_store.user("1")).lang == "zh"
    await any_store.set_lang("2", "zh")                          # chosen with /lang before this feature
    assert await conv.follow_lang("2", "zh", "en") is None
    assert await conv.follow_lang("3", "en", "zh") == LangSwitch("zh", hint=True)    # someone not seen yet
    assert (await any_store.user("3")).lang == "zh"


# -- private chat over the fake Bot API ------------------------------------------------------------------
async def start(user):
    await user.send("/start")
    return await user.next_reply()


async def test_an_english_client_writing_chinese_gets_the_interface_in_chinese(fake, bot):
    _, store = bot
    user = fake.user(7001, "Lee", language_code="en")
    assert "Question 1/4" in (await start(user)).text
    await user.send("我们有自己的工厂")
    [shown] = await replies(user)                  # one message: the hint, then the next question
    assert shown.text.startswith("你用中文发消息，我已切换为中文") and HINT_ZH in shown.text
    assert "第 2/4 题" in shown.text and "新手，没做过跨境" in shown.button_texts   # buttons too
    await user.press(text="新手，没做过跨境")
    assert "第 3/4 题" in (await user.next_reply()).text
    await user.send("资金不多")
    [shown] = await replies(user)
    assert "第 4/4 题" in shown.text and "/lang" not in shown.text          # said once
    await user.press(text="稳定出单，做供应商")
    assert "选答" in (await user.next_reply()).text          # the optional questions, in Chinese
    await user.press(text="✅ 直接看结果")
    result = all_text(await replies(user))
    assert "推荐：全托管" in result and "Recommendation" not in result
    await user.send("/help")
    assert "/quiz 重新开始测试" in (await user.next_reply()).text
    known = await store.user("7001")
    assert known.lang == "zh"
    saved = await store.load_session(f"{user.id}:{user.chat_id}")
    assert saved["a"]["factory"] == "own_factory" and saved["a"]["capital"] == "limited"


async def test_a_chinese_client_writing_english_gets_english_and_back(fake, bot):
    user = fake.user(7002, "Wang", language_code="zh-hans")
    assert "第 1/4 题" in (await start(user)).text
    await user.send("we have our own factory")
    [shown] = await replies(user)
    assert shown.text.startswith("You wrote in English") and HINT_EN in shown.text
    assert "Question 2/4" in shown.text and "New to cross-border" in shown.button_texts
    await user.send("我们没做过跨境")            # Chinese again: back to Chinese, not told again
    [shown] = await replies(user)
    assert "第 3/4 题" in shown.text and "资金有限" in shown.button_texts and "/lang" not in shown.text


async def test_a_lang_choice_is_not_overridden_by_messages(fake, bot):
    _, store = bot
    user = fake.user(7003, "Kim", language_code="en")
    await start(user)
    await user.send("/lang")
    await user.next_reply()
    await user.press(text="中文")
    assert (await user.next_reply()).text == "已切换为中文。"
    await user.next_reply()
    for text, step in (("we have our own factory", "第 2/4 题"), ("we are new to cross-border", "第 3/4 题")):
        await user.send(text)
        shown = all_text(await replies(user))
        assert step in shown and "/lang" not in shown and "Question" not in shown
    await user.send("/lang")
    await user.next_reply()
    await user.press(text="English")
    assert (await user.next_reply()).text == "Switched to English."
    await user.next_reply()
    await user.send("资金不多")
    shown = all_text(await replies(user))
    assert "Question 4/4" in shown and "第 4/4 题" not in shown
    assert (await store.user("7003")).lang == "en"


async def test_messages_without_a_language_change_nothing(fake, bot):
    _, store = bot
    user = fake.user(7004, "Zhou", language_code="zh")
    await start(user)
    shown = []
    for text in ("1", "ok", "👍", "$30k", "OK!!", "Amazon"):
        await user.send(text)
        shown += await replies(user)
    text = all_text(shown)
    assert "You wrote in English" not in text and "Question" not in text and "/lang" not in text
    assert "第 2/4 题" in text                        # "1" answered the first question, in Chinese
    known = await store.user("7004")
    assert known.lang == "zh" and not known.lang_fixed   # still the Telegram client's language


async def test_the_followed_language_and_the_answers_survive_a_restart(fake, tmp_path):
    db = tmp_path / "bot.sqlite3"
    user = fake.user(7005, "Lu", language_code="en")
    async with running_bot(fake, db):
        await start(user)
        await user.send("我们有自己的工厂")
        assert "第 2/4 题" in (await user.next_reply()).text
    async with running_bot(fake, db) as (_, store):
        greeting = await start(user)
        assert "欢迎回来" in greeting.text and "第 2/4 题" in greeting.text
        await user.send("没做过跨境")                   # same language: not told how to switch back again
        shown = all_text(await replies(user))
        assert "第 3/4 题" in shown and "/lang" not in shown
        assert (await store.load_session(f"{user.id}:{user.chat_id}"))["a"]["factory"] == "own_factory"


# -- a group: the member's card follows the member -----------------------------------------------------
async def test_a_members_card_follows_the_member_in_a_group(fake, bot):
    group = fake.group(-100700, "Sellers")
    ann, ben = fake.user(7010, "Ann", language_code="en"), fake.user(7011, "Ben", language_code="zh-hans")
    for user in (ann, ben):
        group.add_member(user)
    await ann.send(QUIZ, chat=group)
    await ben.send(QUIZ, chat=group)
    card_a = await wait_card(fake, group, "Ann")
    card_b = await wait_card(fake, group, "Ben")
    assert "What does your supply chain look like?" in text_of(card_a)
    assert "你的货源和供应链是什么情况？" in text_of(card_b)
    # Ann writes Chinese: her card (the same message) comes back in Chinese, with the hint on it.
    await ann.send("@ModeAdvisorBot 我们有自己的工厂", chat=group)
    card_a = await wait_card(fake, group, "Ann", lambda m: "你的货源和供应链是什么情况？" in text_of(m))
    assert HINT_ZH in text_of(card_a) and "新手，没做过跨境" in card_a.button_texts
    # Ben writes English: his card comes back in English; Ann's stays Chinese.
    await ben.send("@ModeAdvisorBot no stable supply yet", chat=group)
    card_b = await wait_card(fake, group, "Ben", lambda m: "What does your supply chain look like?" in text_of(m))
    assert HINT_EN in text_of(card_b)
    assert "你的货源和供应链是什么情况？" in text_of(card_of(group, "Ann"))
    # Ann's presses are confirmed in Chinese, and her result comes in Chinese.
    for n, label in ((2, "新手，没做过跨境"), (3, "资金有限")):
        answered = (await ack(fake, await ann.press(card_a, text=label, chat=group)))["text"]
        assert label in answered and answered.endswith(f"（{n}/4）")
    done = await ack(fake, await ann.press(card_a, text="稳定出单，做供应商", chat=group))
    assert "4 道题都答完了" in done["text"]
    result = await wait_card(fake, group, "Ann", is_result)
    assert "推荐：全托管" in text_of(result)
    for name in ("Ann", "Ben"):
        assert len(group_calls(fake, group, name)) <= 3


# -- the console ----------------------------------------------------------------------------------------
def console(services, store, lang):
    lines: list[str] = []
    return ConsoleChat(Conversations(services, store), lang, lines.append), lines


async def test_the_console_follows_both_ways_and_says_so_once(services, store):
    chat, out = console(services, store, "en")
    await chat.start()
    for text in ("ok", "👍", "$30k", "no"):               # no language shown: English stays
        out.clear()
        await chat.handle(text)
        assert "/lang" not in "\n".join(out) and chat.lang == "en"
    out.clear()
    await chat.handle("我们有自己的工厂")
    text = "\n".join(out)
    assert HINT_ZH in text and "第 2/4 题" in text and "1. 新手，没做过跨境" in text and chat.lang == "zh"
    out.clear()
    await chat.handle("we sold on amazon for two years")   # English again: English, not told again
    text = "\n".join(out)
    assert "Question 3/4" in text and "1. Limited capital" in text and "/lang" not in text and chat.lang == "en"


async def test_the_console_keeps_a_lang_choice(services, store):
    chat, out = console(services, store, "en")
    await chat.start()
    await chat.handle("lang")
    out.clear()
    await chat.handle("we have our own factory")
    text = "\n".join(out)
    assert "第 2/4 题" in text and "/lang" not in text and chat.lang == "zh"


async def test_the_console_starts_in_the_followed_language_after_a_restart(services, tmp_path):
    db = str(tmp_path / "console.sqlite3")
    first: list[str] = []
    lines = iter(["我们有自己的工厂", "quit"])
    await _loop(Conversations(services, SQLiteStore(db)), None, "en", lambda _: next(lines), first.append)
    assert any(HINT_ZH in line for line in first)
    again: list[str] = []
    await _loop(Conversations(services, SQLiteStore(db)), None, "en", lambda _: "quit", again.append)
    text = "\n".join(again)
    assert "欢迎回来" in text and "第 2/4 题" in text
