"""Scripted conversations (tests/stories/*.yaml): what the user taps or types, what the bot must show."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.tg_harness import replies, running_bot

STORIES = sorted((Path(__file__).parent / "stories").glob("*.yaml"))


@pytest.mark.parametrize("path", STORIES, ids=[p.stem for p in STORIES])
async def test_story(fake, tmp_path, path):
    story = yaml.safe_load(path.read_text(encoding="utf-8"))
    async with running_bot(fake, tmp_path / "bot.sqlite3") as (_, store):
        info = dict(story["user"])
        user = fake.user(info.pop("id"), info.pop("first_name"), **info)
        for i, step in enumerate(story["steps"]):
            if "send" in step:
                await user.send(str(step["send"]))
            else:
                await user.press(text=str(step["press"]))
            shown = "\n---\n".join(m.text for m in await replies(user))
            for expected in step.get("expect", []) + step.get("expect_tg", []):   # expect_tg: Telegram only
                assert expected in shown, f"step {i} ({step}): {expected!r} not in:\n{shown}"
            if "state" in step:
                saved = store.load_session(f"{user.id}:{user.chat_id}")
                assert {k: saved[k] for k in step["state"]} == step["state"]
