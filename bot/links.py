"""Links that open the bot: https://t.me/<bot>?start=<payload>.

Channel-neutral on purpose: picture cards print the quiz link and the Telegram adapter puts links on
buttons, and cards must not import bot.tg. Which payloads mean what is bot.tg.deeplink's business.
"""
from __future__ import annotations

import re

# Telegram allows A-Z, a-z, 0-9, _ and - in start parameters, up to 64 characters.
PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
QUIZ = "quiz"   # the payload that starts (or resumes) the questionnaire


def start_link(bot_username: str | None, payload: str) -> str | None:
    """The https://t.me link that opens the bot with `payload`; None before the bot knows its name or
    when Telegram would not accept the payload. A leading @ in the username is dropped."""
    name = (bot_username or "").lstrip("@")
    if not name or not PAYLOAD.match(payload):
        return None
    return f"https://t.me/{name}?start={payload}"
