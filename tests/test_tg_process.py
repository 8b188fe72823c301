"""The bot as its own process: killed with SIGKILL mid-questionnaire and restarted; the token never logged."""
from __future__ import annotations

import signal

import pytest

from tests.process_harness import BotProcess
from tests.tg_harness import replies

pytestmark = pytest.mark.crash   # the bot as its own process (make test-fast leaves these out)


async def test_sigkill_mid_questionnaire_then_restart_continues_where_the_user_was(fake, tmp_path):
    bot = BotProcess(fake, tmp_path, log_level="DEBUG")
    bot.start()
    try:
        user = fake.user(2001, "Zhou", language_code="zh-hans")
        await user.send("/start")
        shown = await replies(user, first=30)
        assert "第 1/4 题" in shown[-1].text
        await user.press(text="自有工厂，成本可控")
        await user.next_reply()
        await user.press(text="新手，没做过跨境")
        question3 = await user.next_reply()
        assert "第 3/4 题" in question3.text
        bot.kill()
        # While the bot is down the user taps the next answer; Telegram keeps the update for later.
        await user.press(question3, text="资金有限")
        bot.start()
        after = await user.next_reply(timeout=30)
        assert "第 4/4 题" in after.text
        await user.press(after, text="稳定出单，做供应商")
        assert "选答 1/3" in (await user.next_reply()).text
        bot.kill()
        bot.start()
        await user.send("/start")
        resumed = await replies(user, first=30)
        assert "欢迎回来" in resumed[0].text and "选答 1/3" in resumed[-1].text
        await user.press(resumed[-1], text="✅ 直接看结果")
        result = await user.next_reply()
        assert result.text.startswith("推荐：全托管")
        shown_events = [m.text for m in fake.world.chats[user.chat_id].events]
        assert len([t for t in shown_events if t and "第 4/4 题" in t]) == 1, "a reply was duplicated by the restart"
        # A press answered just before a kill and redelivered is answered again, and Telegram refuses that
        # (the bot ignores it): only such repeats may be refused, at most one per kill.
        again = [r for r in fake.rejections if r.method == "answerCallbackQuery"
                 and fake.callback_queries[str(r.params["callback_query_id"])].answered]
        assert len(again) <= 2
        fake.rejections[:] = [r for r in fake.rejections if r not in again]
    finally:
        assert await bot.stop() in (0, -signal.SIGTERM)   # waits in a thread: the fake must answer meanwhile
    log = bot.log.read_text(encoding="utf-8", errors="replace")
    assert "starting long polling" in log
    assert fake.token not in log and fake.token.split(":")[1] not in log


async def test_sigterm_shuts_down_cleanly(fake, tmp_path):
    bot = BotProcess(fake, tmp_path, log_level="DEBUG")
    bot.start()
    user = fake.user(2002, "Wu", language_code="en")
    await user.send("/start")
    await replies(user, first=30)
    assert await bot.stop() == 0
