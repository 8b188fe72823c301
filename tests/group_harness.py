"""Helpers for conversations in groups over the fake: members' cards, callback answers, group calls.

A member's card is a photo (its questions, then its result, in the caption) where the member's language
has a font for pictures, else a text message: `text_of` reads either."""
from __future__ import annotations

from tests.fakebot.records import SEND_METHODS
from tests.tg_harness import text_of


def card_of(group, name: str):
    """The member's card as the group sees it now (their newest), or None."""
    cards = [m for m in group.transcript() if text_of(m).startswith(f"👤 {name} ·")]
    return cards[-1] if cards else None


async def wait_card(fake, group, name: str, ready=lambda m: True, timeout: float = 5.0):
    return await fake.notifier.wait_until(lambda: (c := card_of(group, name)) is not None and ready(c) and c, timeout)


def is_result(card) -> bool:
    return text_of(card).split("\n", 1)[0].endswith(("result", "测试结果"))


async def ack(fake, state, timeout: float = 3.0) -> dict:
    """The callback answer a press got (waits for it)."""
    await fake.notifier.wait_until(lambda: fake.callback_queries[state.id].answered, timeout)
    return fake.callback_queries[state.id].answer or {}


def call_text(call) -> str:
    """The text a send or edit carried: a message's text, a caption, or the caption of new media."""
    media = call.params.get("media")
    return (call.params.get("text") or call.params.get("caption")
            or (media.get("caption") if isinstance(media, dict) else None) or "")


def group_calls(fake, group, name: str | None = None) -> list:
    """Successful sends and edits in the group (those showing a member's card or result, given `name`)."""
    return [c for c in fake.call_log if c.method in SEND_METHODS and str(c.chat_id) == str(group.id)
            and c.status == 200 and (name is None or f"👤 {name} ·" in call_text(c))]


def uploaded(call) -> bool:
    """Whether a send or edit uploaded a file (rather than naming a file_id Telegram already has)."""
    return any(isinstance(value, dict) and "upload" in value for value in call.params.values())


async def member_with_card(fake, group_id: int, user_id: int, name: str, lang: str = "en"):
    """A group with one member who sent /quiz there: (group, member, their card)."""
    group = fake.group(group_id, "Sellers")
    user = fake.user(user_id, name, language_code=lang)
    group.add_member(user)
    await user.send("/quiz@ModeAdvisorBot", chat=group)
    return group, user, await wait_card(fake, group, name)

