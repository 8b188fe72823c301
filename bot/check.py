"""`python -m bot check`: every content problem at once, as file / entry / field / message."""
from __future__ import annotations

from pathlib import Path

from bot import LANGS
from bot.engine.spec import DIALOGS_DIR, load_dialogs, load_reading
from bot.kb.loader import KNOWLEDGE_DIR, load_knowledge
from bot.nlu.text import normalize
from bot.problems import Problem

CALLBACK_LIMIT = 64
REV_DIGITS = 10   # callback data carries the session revision; assume it may grow this long
OWNER_DIGITS = 13  # and, in groups, the Telegram user id of the member it belongs to
MIN_EXAMPLES = 10        # per option and language: what understanding needs to learn a level
MIN_FAQ_EXAMPLES = 6     # per FAQ entry and language
FLOW_FILE = "seller_questionnaire.yaml"


def _placeholders(text: str) -> set[str]:
    import string
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def check_content(knowledge_dir: Path = KNOWLEDGE_DIR, dialogs_dir: Path = DIALOGS_DIR) -> list[Problem]:
    problems: list[Problem] = []
    kb = load_knowledge(knowledge_dir, problems)
    flow, _ = load_dialogs(dialogs_dir, problems, source_ids=set(kb.sources))
    reading = load_reading(flow, dialogs_dir, problems)
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
                problems.append(Problem(FLOW_FILE, f"{step.id}.{option.id}", "id",
                                        f"callback data would be {longest} bytes (limit {CALLBACK_LIMIT})"))
    problems += check_examples(flow)
    problems += check_questions(kb)
    try:                                     # knowledge/scope.yaml (bot.nlu.scope): its ids must exist
        from bot.nlu.scope import check_book, parse_book
        from bot.problems import read_yaml
        book = parse_book(read_yaml(knowledge_dir / "scope.yaml", problems) or {})
        problems += [Problem("scope.yaml", where, "", what) for where, what in
                     check_book(book, set(kb.sources), {e.id for e in kb.entries})]
    except (ValueError, KeyError, TypeError) as exc:
        problems.append(Problem("scope.yaml", "", "", str(exc)))
    for e in kb.entries:
        for lang, questions in (("zh", e.questions_zh), ("en", e.questions_en)):
            if len(questions) < MIN_FAQ_EXAMPLES:
                problems.append(Problem("faq.yaml", e.id, f"questions.{lang}",
                                        f"{len(questions)} example questions; understanding needs at least {MIN_FAQ_EXAMPLES}"))
    if not problems:
        problems += check_reviewed(flow, reading, kb)
    return problems


def check_reviewed(flow, reading, kb) -> list[Problem]:
    """The review decisions in the files (knowledge/reviewed/, learnt like the sets knowledge/learned.yaml
    lists): each belongs to one place only, as in the overlay (bot.content.overlay.conflict)."""
    from bot.content.overlay import check_decided
    from bot.kb.learned import REVIEWED
    from bot.problems import ContentError
    from bot.services import understanding_content
    try:
        content = understanding_content(flow, reading, kb)
    except ContentError as exc:
        return list(exc.problems)
    return [Problem(REVIEWED.rstrip("/"), "", "", message) for message in check_decided(content)]


def check_examples(flow) -> list[Problem]:
    """Every option has enough examples in both languages, and no example is claimed by two levels
    of one question, nor by a level and "not sure"; short answers must not clash within one question.
    (One example may teach two questions: "饰品加工厂" is both a factory and a category.)"""
    problems: list[Problem] = []
    hedges = {normalize(t) for lang in LANGS for t in flow.unsure.examples.get(lang, ())}
    for step in flow.steps:
        owner: dict[str, str] = {}
        short: dict[str, str] = {}
        for t in (t for lang in LANGS for t in step.unsure_examples.get(lang, ())):
            owner[normalize(t)] = f"{step.id}.unsure"
        for option in step.options:
            where = f"{step.id}.{option.id}"
            for lang in LANGS:
                examples = option.examples.get(lang, ())
                if len(examples) < MIN_EXAMPLES:
                    problems.append(Problem(FLOW_FILE, where, f"examples.{lang}",
                                            f"{len(examples)} examples; understanding needs at least {MIN_EXAMPLES}"))
                for t in examples:
                    key = normalize(t)
                    other = "unsure" if key in hedges else owner.get(key)
                    if other is not None and other != where:
                        problems.append(Problem(FLOW_FILE, where, "examples", f"example {t!r} is also claimed by {other}"))
                    owner[key] = where
                for t in option.short.get(lang, ()):
                    key = normalize(t)
                    if short.get(key, option.id) != option.id:
                        problems.append(Problem(FLOW_FILE, where, "short",
                                                f"short answer {t!r} is also claimed by {step.id}.{short[key]}"))
                    short[key] = option.id
    return problems


def check_questions(kb) -> list[Problem]:
    """No question is claimed twice among the FAQ entries, out_of_scope.yaml and advice_questions.yaml (the
    FAQ models would learn it as two classes; the overlay refuses the same, bot.content.overlay.conflict)."""
    problems: list[Problem] = []
    owner: dict[str, str] = {}
    claims = [("faq.yaml", e.id, e.questions_zh + e.questions_en) for e in kb.entries]
    claims += [(file, "", tuple(q for qs in per.values() for q in qs))
               for file, per in (("out_of_scope.yaml", kb.out_of_scope), ("advice_questions.yaml", kb.advice))]
    for file, entry, questions in claims:
        where = f"entry {entry!r}" if entry else file
        for q in questions:
            other = owner.setdefault(normalize(q), where)
            if other != where:
                problems.append(Problem(file, entry, "questions", f"question {q!r} is also claimed by {other}"))
    return problems


# -- the content overlay (examples decided in review, kept in the store: bot/content) -----------------------
def overlay_store(database_url: str):
    """The store holding the overlay, or None when there is none to check (an SQLite file not made yet)."""
    from bot.store import open_store, sqlite_path
    if database_url.startswith("sqlite:"):
        path = sqlite_path(database_url)
        if path == ":memory:" or not Path(path).exists():
            return None
    return open_store(database_url, pool_size=1)


async def check_overlay(store, knowledge_dir: Path = KNOWLEDGE_DIR, dialogs_dir: Path = DIALOGS_DIR) -> list[Problem]:
    """The overlay over the files: every target exists, no example belongs to two entries or levels."""
    from bot.content.overlay import check_overlay as problems_of
    from bot.services import understanding_content
    kb = load_knowledge(knowledge_dir)
    flow, _ = load_dialogs(dialogs_dir, source_ids=set(kb.sources))
    base = understanding_content(flow, load_reading(flow, dialogs_dir), kb)
    await store.open()
    overlay = await store.overlay_examples()
    return [Problem("overlay", "", "", message) for message in problems_of(base, overlay)]
