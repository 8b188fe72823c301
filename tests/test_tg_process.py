"""The bot as its own process: killed with SIGKILL mid-questionnaire and restarted; the token never logged."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakebot import FakeTelegram
from tests.tg_harness import replies

pytestmark = pytest.mark.crash   # the bot as its own process (make test-fast leaves these out)

ROOT = Path(__file__).resolve().parent.parent


class BotProcess:
    """`python -m bot run` pointed at the fake, logging at DEBUG into a file."""

    def __init__(self, fake: FakeTelegram, tmp: Path):
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp),
                    "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE_URL": fake.base_url,
                    "DATABASE_URL": f"sqlite:///{tmp}/bot.sqlite3", "TELEGRAM_FLOOD_LIMIT": "off",
                    "POLL_TIMEOUT": "1", "LOG_LEVEL": "DEBUG"}
        self.log = tmp / "bot.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(20)


async def test_sigkill_mid_questionnaire_then_restart_continues_where_the_user_was(fake, tmp_path):
    bot = BotProcess(fake, tmp_path)
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
        assert bot.stop() in (0, -signal.SIGTERM)
    log = bot.log.read_text(encoding="utf-8", errors="replace")
    assert "starting long polling" in log
    assert fake.token not in log and fake.token.split(":")[1] not in log


async def test_sigterm_shuts_down_cleanly(fake, tmp_path):
    bot = BotProcess(fake, tmp_path)
    bot.start()
    user = fake.user(2002, "Wu", language_code="en")
    await user.send("/start")
    await replies(user, first=30)
    assert bot.stop() == 0
