"""The one grammar of callback data: short ASCII ids, never labels, each at most 64 bytes.

    a:<rev>:<step>:<option>   answer the question shown at session revision <rev>
    n:<rev>:<action>          back | restart | skip | finish | yes | no | change (menu) | optional | keep | take
    c:<rev>:<step>            change one answer from the result
    g:<card>:<step>[:<opt>]   a group card: answer <step> with <opt>, or (no option) show the question
    v:<view>[:<arg>]          stateless views: compare | faq | topic:<id> | entry:<id> | lang:<zh|en> | quiz | result | ask
    r:<item>:<decision>[:<x>] admins' review (bot/tg/review.py): f:<entry> | l:<level> | a | o | s | d on review item <item>

Buttons of a dialogue carry the session revision, so a press on an older message (or from before
a restart of the bot, or of an older questionnaire) is recognised as stale. In groups, dialogue
buttons end with `:u<user id>`, the member whose questionnaire they belong to. A group card shows
every core question at once and is not edited on each press, so its buttons carry the card's number
(the revision when it was made) instead of the current revision.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

LIMIT = 64
_PART = re.compile(r"^[a-z0-9_]{1,24}$")
NAV = ("back", "restart", "skip", "finish", "yes", "no", "change", "optional", "keep", "take")
VIEWS = ("compare", "faq", "topic", "entry", "lang", "quiz", "result", "ask")
REVIEW = ("f", "l", "a", "o", "s", "d")     # a phrasing of an entry, a level, advice, out of scope, skip, delete


@dataclass(frozen=True)
class Callback:
    kind: str                 # "a", "n", "c", "g", "v" or "r"
    rev: int | None = None    # the session revision ("g": the card's number; "r": the review item)
    arg: str = ""
    arg2: str = ""
    owner: int | None = None  # in groups: the member the button belongs to


def encode(kind: str, *parts: object) -> str:
    data = ":".join([kind, *(str(p) for p in parts)])
    if len(data.encode()) > LIMIT:
        raise ValueError(f"callback data over {LIMIT} bytes: {data!r}")
    return data


def _owned(data: list[object], owner: int | None) -> list[object]:
    return data + [f"u{owner}"] if owner is not None else data


def answer(rev: int, step: str, option: str, owner: int | None = None) -> str:
    return encode("a", *_owned([rev, step, option], owner))


def nav(rev: int, action: str, owner: int | None = None) -> str:
    return encode("n", *_owned([rev, action], owner))


def change(rev: int, step: str, owner: int | None = None) -> str:
    return encode("c", *_owned([rev, step], owner))


def card(number: int, step: str, option: str = "", owner: int | None = None) -> str:
    return encode("g", *_owned([number, step] + ([option] if option else []), owner))


def view(name: str, arg: str = "") -> str:
    return encode("v", name, arg) if arg else encode("v", name)


def review(item: int, decision: str, arg: str = "") -> str:
    return encode("r", item, decision, arg) if arg else encode("r", item, decision)


def parse(data: str | None) -> Callback | None:
    """The callback a button carries, or None for anything forged, truncated or unknown."""
    if not data or len(data.encode("utf-8", "replace")) > LIMIT:
        return None
    parts = data.split(":")
    kind, rest = parts[0], parts[1:]
    if not all(_PART.match(p) for p in rest):
        return None
    if kind in ("a", "n", "c", "g"):
        if not rest or not rest[0].isdigit():
            return None
        rev, rest = int(rest[0]), rest[1:]
        owner = None
        if rest and rest[-1][:1] == "u" and rest[-1][1:].isdigit():
            owner, rest = int(rest[-1][1:]), rest[:-1]
        if kind == "a" and len(rest) == 2:
            return Callback("a", rev, rest[0], rest[1], owner)
        if kind == "n" and len(rest) == 1 and rest[0] in NAV:
            return Callback("n", rev, rest[0], owner=owner)
        if kind == "c" and len(rest) == 1:
            return Callback("c", rev, rest[0], owner=owner)
        if kind == "g" and len(rest) in (1, 2):
            return Callback("g", rev, rest[0], rest[1] if len(rest) == 2 else "", owner)
        return None
    if kind == "r" and len(rest) in (2, 3) and rest[0].isdigit() and rest[1] in REVIEW:
        return Callback("r", int(rest[0]), rest[1], rest[2] if len(rest) == 3 else "")
    if kind == "v" and rest and rest[0] in VIEWS and len(rest) <= 2:
        return Callback("v", None, rest[0], rest[1] if len(rest) == 2 else "")
    return None
