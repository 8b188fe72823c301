"""Labelled questions learnt from as examples (knowledge/learned.yaml).

Sellers ask around the subject in ways no entry's own questions foresee. Blind writers (who never
saw the code or the examples) wrote sets of such questions with the entry that answers each; the
sets listed in knowledge/learned.yaml are learnt from beside the entries' own questions. They stay
where they are (eval/dev/...), so `make eval` still reads them, but their figures are then training
accuracy, not a generalisation figure: the gauges and the held-out sets are never listed here.

Per item: a typed set's answer (`items` with `step`, `expect`: a level or "unsure"), learnt by that step's
model alone (a short "no" means something else at another step, so it teaches no other step anything);
a FAQ set's `expect` (an entry id, or "fallback": out of scope); an edge set's in_scope or
choosing question with exactly one expected entry, and its out_of_scope questions; a choosing question
with no single expected entry teaches the FAQ models' advice class (what a seller asks when they want
to know which mode fits: "is semi worth it for a 2-person team?", bot.nlu.faq). Two-part, other
platforms' and other modes' questions teach no single entry and are left out, and so is any question
whose text is also in a gauge or a held-out set (independent writers do write "全托清关谁负责" alike):
what the product is measured on is never learnt from.

The sets under knowledge/reviewed/ hold what admins decided in /review (bot.content.patch writes them):
learnt like the others, and also listed in `Learned.decided_questions` / `decided_answers`, which
understanding reads word for word as decided.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import yaml

from bot import ROOT
from bot.atomic import write_atomically
from bot.kb.models import Learned
from bot.nlu.text import normalize
from bot.problems import YAML_LOADER, Problem, read_yaml
from bot.schema import Reader

FILE = "learned.yaml"
FALLBACK = "fallback"
ADVICE = "advice"       # what _target says of a choosing question no single entry answers
NEVER = ("eval/holdout", "eval/dev/extra_check", "eval/dev/edge_check", "eval/dev/typed_check")   # what must stay unseen
REVIEWED = "knowledge/reviewed/"        # the sets of review decisions (bot.content.patch)
CACHE_DIR = Path(os.environ.get("LEARNED_CACHE_DIR", ROOT / ".cache" / "learned"))
KEEP_CACHED = 4


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
    """The entry an item teaches ("" for out of scope, ADVICE for a choosing question no single entry
    answers), or None when it teaches no single one."""
    kind = item.get("kind")
    if kind is None:
        expect = item.get("expect")
        return "" if expect == FALLBACK else expect if isinstance(expect, str) else None
    if kind == "out_of_scope":
        return ""
    expect = item.get("expect")
    expect = [expect] if isinstance(expect, str) else list(expect or [])
    if len(expect) == 1 and kind in ("in_scope", "choosing"):
        return expect[0]
    return ADVICE if kind == "choosing" else None


def load_learned(directory: Path, entry_ids: set[str], problems: list[Problem], root: Path = ROOT,
                 topics: dict[str, str] | None = None, cache_dir: Path | None = CACHE_DIR) -> Learned:
    """The questions of the sets knowledge/learned.yaml lists (none when it is missing). `topics`: entry ->
    topic, for `left_out_topics` (entries of those topics learn nothing from the sets).

    Reading the sets (and the gauges' and held-out sets' texts, to leave out) is most of a start-up's
    loading, so what was read is kept in `cache_dir` under a hash of every file's bytes it came from and of
    this module: a start with unchanged files reads one JSON file."""
    if not (directory / FILE).exists():
        return Learned()
    key = _cache_key(directory, entry_ids, root, topics) if cache_dir is not None else None
    if key is not None and (cached := _from_cache(cache_dir / f"{key}.json")) is not None:
        return cached
    found: list[Problem] = []
    learned = _read_sets(directory, entry_ids, found, root, topics)
    problems.extend(found)
    if key is not None and not found:
        _to_cache(cache_dir, key, learned)
    return learned


def _cache_key(directory: Path, entry_ids: set[str], root: Path, topics: dict[str, str] | None) -> str | None:
    """A hash of everything `_read_sets` reads, or None when learned.yaml cannot be read (no cache then)."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    try:
        listing = (directory / FILE).read_bytes()
        data = yaml.load(listing, Loader=YAML_LOADER)
    except (OSError, yaml.YAMLError):
        return None
    sets = data.get("sets") if isinstance(data, dict) else None
    files = [str(p) for p in sets] if isinstance(sets, list) else []
    files += sorted(p.relative_to(root).as_posix() for p in (root / "eval").rglob("*.yaml")
                    if p.relative_to(root).as_posix().startswith(NEVER))
    digest.update(listing)
    for rel in files:
        try:
            body = (root / rel).read_bytes()
        except OSError:
            body = b"(missing)"
        digest.update(f"\0{rel}\0{len(body)}\0".encode() + body)
    digest.update(json.dumps([sorted(entry_ids), sorted((topics or {}).items())]).encode())
    return digest.hexdigest()[:24]


def _from_cache(path: Path) -> Learned | None:
    try:
        raw = json.loads(path.read_bytes())
        tuples = lambda per: {lang: tuple(texts) for lang, texts in per.items()}  # noqa: E731
        return Learned(faq={e: tuples(per) for e, per in raw["faq"].items()}, out_of_scope=tuples(raw["out_of_scope"]),
                       sets=tuple(raw["sets"]), advice=tuples(raw["advice"]),
                       typed={step: {level: tuples(per) for level, per in levels.items()}
                              for step, levels in raw["typed"].items()},
                       decided_questions=tuple(map(tuple, raw["decided_questions"])),
                       decided_answers=tuple(map(tuple, raw["decided_answers"])))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _to_cache(cache_dir: Path, key: str, learned: Learned) -> None:
    """Keeps the KEEP_CACHED newest; a read-only checkout just reads the sets at every start."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(cache_dir / f"{key}.json", json.dumps(
            {"faq": learned.faq, "out_of_scope": learned.out_of_scope, "sets": learned.sets, "advice": learned.advice,
             "typed": learned.typed, "decided_questions": learned.decided_questions,
             "decided_answers": learned.decided_answers},
            ensure_ascii=False).encode("utf-8"))
        for old in sorted(cache_dir.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)[KEEP_CACHED:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass


def _read_sets(directory: Path, entry_ids: set[str], problems: list[Problem], root: Path,
               topics: dict[str, str] | None) -> Learned:
    r = Reader(FILE, problems)
    data = r.mapping(read_yaml(directory / FILE, problems) or {}, FILE)
    faq: dict[str, dict[str, list[str]]] = {}
    oos: dict[str, list[str]] = {}
    advice: dict[str, list[str]] = {}
    typed: dict[str, dict[str, dict[str, list[str]]]] = {}
    decided_questions: list[tuple[str, str]] = []
    decided_answers: list[tuple[str, str, str]] = []
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
            _typed_answers(answers, unseen, typed, decided_answers if rel.startswith(REVIEWED) else None)
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
            if target and target != ADVICE and target not in entry_ids:
                where.fail("expect", f"unknown FAQ entry id {target!r}")
                continue
            if target and target != ADVICE and (topics or {}).get(target) in left_out:
                continue
            bucket = advice if target == ADVICE else faq.setdefault(target, {}) if target else oos
            bucket.setdefault(lang, []).append(text)
            if rel.startswith(REVIEWED):
                decided_questions.append((text, target))
    return Learned(faq={e: {lang: tuple(qs) for lang, qs in per.items()} for e, per in faq.items()},
                   out_of_scope={lang: tuple(qs) for lang, qs in oos.items()}, sets=sets,
                   advice={lang: tuple(qs) for lang, qs in advice.items()},
                   typed={step: {level: {lang: tuple(ts) for lang, ts in per.items()} for level, per in levels.items()}
                    for step, levels in typed.items()},
                   decided_questions=tuple(decided_questions), decided_answers=tuple(decided_answers))


def _typed_answers(items: list, unseen: set[str], into: dict[str, dict[str, dict[str, list[str]]]],
                   decided: list[tuple[str, str, str]] | None = None) -> None:
    """A typed set's answers by step, level and language (the step and level ids are checked where the
    questionnaire is known: bot.services.understanding_content); with `decided`, each also (step, level, text)
    there."""
    for item in items:
        if not isinstance(item, dict):
            continue
        step, level, lang, text = item.get("step"), item.get("expect"), item.get("lang"), item.get("text")
        if not (isinstance(step, str) and isinstance(level, str) and lang in ("zh", "en")
                and isinstance(text, str) and text.strip()) or text_key(text) in unseen:
            continue
        into.setdefault(step, {}).setdefault(level, {}).setdefault(lang, []).append(text)
        if decided is not None:
            decided.append((step, level, text))
