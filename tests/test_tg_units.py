"""Telegram pieces without a server: callback grammar, message splitting, settings."""
import pytest

from bot.config import Settings
from bot.tg import callbacks as cb
from bot.tg.render import MESSAGE_LIMIT, split_message


def test_callback_round_trip_and_limits(services):
    for step in services.flow.steps:
        for option in services.flow.choices(step):
            data = cb.answer(9_999_999_999, step.id, option.id)
            assert len(data.encode()) <= 64
            assert cb.parse(data) == cb.Callback("a", 9_999_999_999, step.id, option.id)
    assert cb.parse(cb.nav(3, "back")) == cb.Callback("n", 3, "back")
    assert cb.parse(cb.view("entry", "full_pricing")) == cb.Callback("v", None, "entry", "full_pricing")
    with pytest.raises(ValueError):
        cb.encode("a", 1, "x" * 70)


@pytest.mark.parametrize("data", [None, "", "a", "a:1", "a:x:factory:none", "n:1:explode", "v:nothing", "q:1:2",
                                  "a:1:Factory:none", "a:1:fac tory:none", "a:1:工厂:none", "v:entry:a:b", "x" * 65])
def test_forged_callback_data_is_rejected(data):
    assert cb.parse(data) is None


def test_split_message_keeps_paragraphs_and_fits():
    paragraphs = [f"<b>Title {i}</b>\n" + "word " * 150 for i in range(20)]
    text = "\n\n".join(paragraphs)
    parts = split_message(text)
    assert len(parts) > 1 and all(len(p) <= MESSAGE_LIMIT for p in parts)
    assert "\n\n".join(parts) == text
    assert all(p.count("<b>") == p.count("</b>") for p in parts)


def test_split_message_cuts_enormous_lines_and_counts_utf16():
    parts = split_message("😀" * 5000)
    assert all(len(p.encode("utf-16-le")) // 2 <= MESSAGE_LIMIT for p in parts)
    assert "".join(parts) == "😀" * 5000
    parts = split_message("&amp;" * 2000)
    assert all(not p.endswith("&") and p.count("&") == p.count(";") for p in parts)


def test_settings_from_env_file(tmp_path):
    env = tmp_path / ".env"
    env.write_text("TELEGRAM_BOT_TOKEN='123:abc'\nADMIN_USER_IDS=1, 2;x\nTELEGRAM_FLOOD_LIMIT=off\n# c\n", encoding="utf-8")
    s = Settings.load(env={"DEFAULT_LANG": "zh"}, env_file=env)
    assert s.token == "123:abc" and s.admin_user_ids == {1, 2} and s.flood_limit is False and s.default_lang == "zh"
    assert Settings.load(env={"TELEGRAM_BOT_TOKEN": "9:z"}, env_file=env).token == "9:z"   # environment wins
