"""Scripted conversations (tests/stories/*.yaml): what the user taps or types, what the bot must show.

A private story has one `user`; a group story (`group_*.yaml`) has a `group` and its `members`, each
step naming `who` acts: `send` in the group (`reply: true` answers their card), or `press` a button on
their card (`owner: <name>`: on that member's), then `ack` (texts the callback answer must contain)
and `card` (texts their card must come to show); `calls` caps the group messages+edits per member.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.group_harness import ack, card_of, group_calls, wait_card
from tests.tg_harness import all_text, replies, running_bot, text_of

ALL = sorted((Path(__file__).parent / "stories").glob("*.yaml"))
STORIES = [p for p in ALL if not p.name.startswith("group_")]
GROUP_STORIES = [p for p in ALL if p.name.startswith("group_")]


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", STORIES, ids=[p.stem for p in STORIES])
async def test_story(fake, tmp_path, path):
    story = load(path)
    async with running_bot(fake, tmp_path / "bot.sqlite3") as (_, store):
        info = dict(story["user"])
        user = fake.user(info.pop("id"), info.pop("first_name"), **info)
        for i, step in enumerate(story["steps"]):
            if "send" in step:
                await user.send(str(step["send"]))
            else:
                await user.press(text=str(step["press"]))
            shown = all_text(await replies(user))
            for expected in step.get("expect", []) + step.get("expect_tg", []):   # expect_tg: Telegram only
                assert expected in shown, f"step {i} ({step}): {expected!r} not in:\n{shown}"
            if "state" in step:
                saved = await store.load_session(f"{user.id}:{user.chat_id}")
                assert {k: saved[k] for k in step["state"]} == step["state"]


@pytest.mark.parametrize("path", GROUP_STORIES, ids=[p.stem for p in GROUP_STORIES])
async def test_group_story(fake, tmp_path, path):
    story = load(path)
    async with running_bot(fake, tmp_path / "bot.sqlite3"):
        group = fake.group(story["group"]["id"], story["group"]["title"])
        people = {}
        for raw in story["members"]:
            info = dict(raw)
            name = info.pop("first_name")
            people[name] = fake.user(info.pop("id"), name, **info)
            group.add_member(people[name])
        for i, step in enumerate(story["steps"]):
            who, user = step["who"], people[step["who"]]
            if "send" in step:
                await user.send(str(step["send"]), chat=group, reply_to=card_of(group, who) if step.get("reply") else None)
            else:
                card = await wait_card(fake, group, step.get("owner", who))
                answer = (await ack(fake, await user.press(card, text=str(step["press"]), chat=group))).get("text", "")
                for expected in step.get("ack", []):
                    assert expected in answer, f"step {i} ({step}): {expected!r} not in the answer {answer!r}"
            for expected in step.get("card", []):
                try:
                    await wait_card(fake, group, who, lambda m: expected in text_of(m))
                except TimeoutError:
                    raise AssertionError(f"step {i} ({step}): {expected!r} not on the card:\n"
                                         f"{text_of(card_of(group, who)) if card_of(group, who) else ''}") from None
        for name, most in story.get("calls", {}).items():
            assert len(group_calls(fake, group, name)) <= most, name
