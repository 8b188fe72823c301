"""`python -m bot check`: every content problem at once, as file / entry / field / message."""
from __future__ import annotations

from pathlib import Path

from bot import LANGS
from bot.engine.spec import DIALOGS_DIR, load_dialogs
from bot.kb.loader import KNOWLEDGE_DIR, load_knowledge
from bot.problems import Problem

CALLBACK_LIMIT = 64
REV_DIGITS = 10   # callback data carries the session revision; assume it may grow this long
OWNER_DIGITS = 13  # and, in groups, the Telegram user id of the member it belongs to


def _placeholders(text: str) -> set[str]:
    import string
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def check_content(knowledge_dir: Path = KNOWLEDGE_DIR, dialogs_dir: Path = DIALOGS_DIR) -> list[Problem]:
    problems: list[Problem] = []
    kb = load_knowledge(knowledge_dir, problems)
    flow, _ = load_dialogs(dialogs_dir, problems, source_ids=set(kb.sources))
    for key, text in kb.ui.items():
        try:
            if _placeholders(text.zh) != _placeholders(text.en):
                problems.append(Problem("ui.yaml", key, "", "zh and en use different {placeholders}"))
        except ValueError as exc:
            problems.append(Problem("ui.yaml", key, "", f"bad placeholder: {exc}"))
    for step in flow.steps:
        for option in flow.choices(step):
            longest = len(f"a:{'9' * REV_DIGITS}:{step.id}:{option.id}:u{'9' * OWNER_DIGITS}".encode())
            if longest > CALLBACK_LIMIT:
                problems.append(Problem("seller_questionnaire.yaml", f"{step.id}.{option.id}", "id",
                                        f"callback data would be {longest} bytes (limit {CALLBACK_LIMIT})"))
    seen: dict[str, str] = {}
    for step in flow.steps:
        for option in step.options:
            for lang in LANGS:
                for alias in option.aliases.get(lang, ()):
                    key = alias.lower()
                    other = seen.get(key)
                    if other and other != f"{step.id}.{option.id}":
                        problems.append(Problem("seller_questionnaire.yaml", f"{step.id}.{option.id}", "aliases",
                                                f"alias {alias!r} is also used by {other}"))
                    seen[key] = f"{step.id}.{option.id}"
    return problems
