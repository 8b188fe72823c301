"""The scripted conversations of tests/stories/ through the console chat (the Telegram run is in
test_tg_stories.py): a `press` step is replaced by what a console user types (`console`)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.console import ConsoleChat
from bot.conversation import Conversations

# Stories of one user (group stories, with several members, only run on Telegram).
STORIES = [p for p in sorted((Path(__file__).parent / "stories").glob("*.yaml"))
           if "user" in yaml.safe_load(p.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("path", STORIES, ids=[p.stem for p in STORIES])
async def test_story_in_the_console(services, store, path):
    story = yaml.safe_load(path.read_text(encoding="utf-8"))
    lang = "zh" if story["user"].get("language_code", "").startswith("zh") else "en"
    lines: list[str] = []
    chat = ConsoleChat(Conversations(services, store), lang, lines.append)
    for i, step in enumerate(story["steps"]):
        lines.clear()
        typed = step.get("console", step.get("send"))
        if typed is None:
            pytest.skip(f"step {i} has a button press without a console equivalent")
        if typed == "" or typed == "/start":
            await chat.start()
        else:
            assert await chat.handle(str(typed)) is True
        shown = "\n".join(lines)
        for expected in step.get("expect", []):
            assert expected in shown, f"step {i} ({step}): {expected!r} not in:\n{shown}"
        if "state" in step:
            saved = await store.load_session(chat.key)
            assert {k: saved[k] for k in step["state"]} == step["state"]
