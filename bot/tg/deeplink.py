"""Deep links: t.me/<bot>?start=<payload>. Payloads are validated; anything else is a normal start.

    quiz              start (or resume) the questionnaire
    faq_<entry id>    open one FAQ entry
    src_<tag>         a referral source tag (which group or channel brought the user)
    mv<chat id>       continue a questionnaire begun in a group, in the private chat
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from bot.links import PAYLOAD, QUIZ
_TAG = re.compile(r"^[A-Za-z0-9_]{1,32}$")
_ENTRY = re.compile(r"^[a-z][a-z0-9_]{0,23}$")
_CHAT = re.compile(r"^-?\d{1,15}$")


@dataclass(frozen=True)
class DeepLink:
    kind: str      # "quiz", "faq", "src", "move", or "none" (no payload or an invalid one)
    arg: str = ""


NONE = DeepLink("none")


def parse_payload(payload: str | None) -> DeepLink:
    if not payload or not PAYLOAD.match(payload):
        return NONE
    if payload == QUIZ:
        return DeepLink("quiz")
    if payload.startswith("faq_") and _ENTRY.match(payload[4:]):
        return DeepLink("faq", payload[4:])
    if payload.startswith("src_") and _TAG.match(payload[4:]):
        return DeepLink("src", payload[4:].lower())
    if payload.startswith("mv") and _CHAT.match(payload[2:]):
        return DeepLink("move", payload[2:])
    return NONE

