"""Helpers for conversations in groups over the fake: members' cards, callback answers, group calls."""
from __future__ import annotations

from tests.fakebot.records import SEND_METHODS


def card_of(group, name: str):
    """The member's card as the group sees it now (their newest), or None."""
    cards = [m for m in group.transcript() if (m.text or "").startswith(f"👤 {name} ·")]
    return cards[-1] if cards else None


async def wait_card(fake, group, name: str, ready=lambda m: True, timeout: float = 5.0):
    return await fake.notifier.wait_until(lambda: (c := card_of(group, name)) is not None and ready(c) and c, timeout)


def is_result(card) -> bool:
    return card.text.split("\n", 1)[0].endswith(("result", "测试结果"))


async def ack(fake, state, timeout: float = 3.0) -> dict:
    """The callback answer a press got (waits for it)."""
    await fake.notifier.wait_until(lambda: fake.callback_queries[state.id].answered, timeout)
    return fake.callback_queries[state.id].answer or {}


def group_calls(fake, group, name: str | None = None) -> list:
    """Successful sends and edits in the group (those showing a member's card or result, given `name`)."""
    return [c for c in fake.call_log if c.method in SEND_METHODS and str(c.chat_id) == str(group.id)
            and c.status == 200 and (name is None or f"👤 {name} ·" in c.params.get("text", ""))]
