"""Labelled questions learnt from as examples (knowledge/learned.yaml).

Sellers ask around the subject in ways no entry's own questions foresee. Blind writers (who never
saw the code or the examples) wrote sets of such questions with the entry that answers each; the
sets listed in knowledge/learned.yaml are learnt from beside the entries' own questions. They stay
where they are (eval/dev/...), so `make eval` still reads them, but their figures are then training
accuracy, not a generalisation figure: the gauges and the held-out sets are never listed here.

Per item: a typed set's answer (`items` with `step`, `expect`: a level or "unsure"), learnt by that step's
model alone (a short "no" means something else at another step, so it teaches no other step anything);
a FAQ set's `expect` (an entry id, or "fallback": out of scope); an edge set's in_scope or
choosing question with exactly one expected entry, and its out_of_scope questions. Two-part, other
platforms' and other modes' questions teach no single entry and are left out, and so is any question
whose text is also in a gauge or a held-out set (independent writers do write "全托清关谁负责" alike):
what the product is measured on is never learnt from.
"""
from __future__ import annotations

from pathlib import Path

from bot import ROOT
from bot.kb.models import Learned
from bot.nlu.text import normalize
from bot.problems import Problem, read_yaml
from bot.schema import Reader

FILE = "learned.yaml"
FALLBACK = "fallback"
NEVER = ("eval/holdout", "eval/dev/extra_check", "eval/dev/edge_check")   # what must stay unseen


def text_key(text: str) -> str:
    """A text as compared across sets: normalised, letters and digits only."""
    return "".join(ch for ch in normalize(text) if ch.isalnum())


def unseen_keys(root: Path = ROOT) -> set[str]:
    """The texts of the gauges and the held-out sets (current and retired)."""
    keys: set[str] = set()
    for path in sorted((root / "eval").rglob("*.yaml")):
        if path.relative_to(root).as_posix().startswith(NEVER):
            raw = read_yaml(path, [])
            for item in (raw or {}).get("items") or (raw or {}).get("questions") or () if isinstance(raw, dict) else ():
                if isinstance(item, dict):
                    keys.add(text_key(str(item.get("q", item.get("text", "")))))
    return keys


def _target(item: dict) -> str | None:
    """The entry an item teaches ("" for out of scope), or None when it teaches no single one."""
    kind = item.get("kind")
    if kind is None:
        expect = item.get("expect")
        return "" if expect == FALLBACK else expect if isinstance(expect, str) else None
    if kind == "out_of_scope":
        return ""
    expect = item.get("expect")
    expect = [expect] if isinstance(expect, str) else list(expect or [])
    return expect[0] if kind in ("in_scope", "choosing") and len(expect) == 1 else None


def load_learned(directory: Path, entry_ids: set[str], problems: list[Problem], root: Path = ROOT,
                 topics: dict[str, str] | None = None) -> Learned:
    """The questions of the sets knowledge/learned.yaml lists (none when it is missing). `topics`: entry ->
    topic, for `left_out_topics` (entries of those topics learn nothing from the sets)."""
    if not (directory / FILE).exists():
        return Learned()
    r = Reader(FILE, problems)
    data = r.mapping(read_yaml(directory / FILE, problems) or {}, FILE)
    faq: dict[str, dict[str, list[str]]] = {}
    oos: dict[str, list[str]] = {}
    typed: dict[str, dict[str, dict[str, list[str]]]] = {}
    sets = tuple(str(p) for p in r.items(data, "sets"))
    unseen = unseen_keys(root) if sets else set()
    left_out = {str(t) for t in r.items(data, "left_out_topics", required=False)}
    for i, rel in enumerate(sets):
        where = r.at(rel)
        if rel.startswith(NEVER):
            where.fail(f"sets[{i}]", "a gauge or held-out set is never learnt from")
            continue
        raw = read_yaml(root / rel, problems)
        items = (raw or {}).get("questions") if isinstance(raw, dict) else None
        answers = (raw or {}).get("items") if isinstance(raw, dict) and rel.endswith("typed.yaml") else None
        if isinstance(answers, list):
            _typed_answers(answers, unseen, typed)
            continue
        if not isinstance(items, list):
            where.fail(f"sets[{i}]", "expected a set with a `questions` list, or a typed.yaml with `items` (eval/ schema)")
            continue
        for item in items:
            target = _target(item) if isinstance(item, dict) else None
            lang, text = (item.get("lang"), item.get("q")) if isinstance(item, dict) else (None, None)
            if target is None or lang not in ("zh", "en") or not isinstance(text, str) or not text.strip() \
                    or text_key(text) in unseen:
                continue
            if target and target not in entry_ids:
                where.fail("expect", f"unknown FAQ entry id {target!r}")
                continue
            if target and (topics or {}).get(target) in left_out:
                continue
            bucket = faq.setdefault(target, {}) if target else oos
            bucket.setdefault(lang, []).append(text)
    return Learned({e: {lang: tuple(qs) for lang, qs in per.items()} for e, per in faq.items()},
                   {lang: tuple(qs) for lang, qs in oos.items()}, sets,
                   {step: {level: {lang: tuple(ts) for lang, ts in per.items()} for level, per in levels.items()}
                    for step, levels in typed.items()})


def _typed_answers(items: list, unseen: set[str], into: dict[str, dict[str, dict[str, list[str]]]]) -> None:
    """A typed set's answers by step, level and language (the step and level ids are checked where the
    questionnaire is known: bot.services.understanding_content)."""
    for item in items:
        if not isinstance(item, dict):
            continue
        step, level, lang, text = item.get("step"), item.get("expect"), item.get("lang"), item.get("text")
        if not (isinstance(step, str) and isinstance(level, str) and lang in ("zh", "en")
                and isinstance(text, str) and text.strip()) or text_key(text) in unseen:
            continue
        into.setdefault(step, {}).setdefault(level, {}).setdefault(lang, []).append(text)
