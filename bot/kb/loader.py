"""Load and validate knowledge/*.yaml into a KnowledgeBase."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from bot import ROOT
from bot.kb.learned import load_learned
from bot.kb.models import (Dimension, FaqEntry, KnowledgeBase, Mode, Source, Sourced, SynonymGroup, Text,
                           Topic)
from bot.problems import ContentError, Problem, read_yaml
from bot.schema import Reader

KNOWLEDGE_DIR = ROOT / "knowledge"
MODE_IDS = ("full", "semi")
NEUTRAL_WORD = re.compile(r"[A-Za-z]{2,}")


def _sources(data, r: Reader) -> dict[str, Source]:
    out: dict[str, Source] = {}
    for raw in r.items(r.mapping(data, "sources"), "sources"):
        raw = r.mapping(raw, "sources[]")
        sid = r.string(raw, "id")
        e = r.at(sid)
        if sid in out:
            e.fail("id", "duplicate id")
        out[sid] = Source(sid, e.text(raw, "title"), e.string(raw, "ref"), raw.get("url"),
                          bool(raw.get("uncertain", False)), raw.get("market"))
    return out


def _caveats(raw: dict, r: Reader) -> tuple[Sourced, ...]:
    out = []
    for i, c in enumerate(r.items(raw, "caveats", required=False)):
        c = r.mapping(c, f"caveats[{i}]")
        out.append(Sourced(r.text(c, "text"), r.strings(c, "sources")))
    return tuple(out)


def _modes(data, r: Reader) -> tuple[dict[str, Mode], tuple[Dimension, ...]]:
    data = r.mapping(data, "modes.yaml")
    modes_raw = r.mapping(data.get("modes", {}), "modes")
    modes = {}
    for mid in MODE_IDS:
        e = r.at(mid)
        raw = e.mapping(modes_raw.get(mid), "modes")
        modes[mid] = Mode(mid, e.text(raw, "name"), e.text(raw, "summary"), e.strings(raw, "sources"))
    dims, seen = [], set()
    for raw in r.items(data, "dimensions"):
        raw = r.mapping(raw, "dimensions[]")
        did = r.ident(raw)
        e = r.at(did)
        if did in seen:
            e.fail("id", "duplicate id")
        seen.add(did)
        dims.append(Dimension(did, e.text(raw, "title"), e.text(raw, "full"), e.text(raw, "semi"),
                              e.strings(raw, "sources"), _caveats(raw, e)))
    return modes, tuple(dims)


def _faq(data, r: Reader) -> tuple[tuple[Topic, ...], tuple[FaqEntry, ...]]:
    data = r.mapping(data, "faq.yaml")
    topics = []
    for raw in r.items(data, "topics"):
        raw = r.mapping(raw, "topics[]")
        tid = r.ident(raw, max_len=16)
        topics.append(Topic(tid, r.at(tid).text(raw, "title", max_len=40)))
    entries, seen = [], set()
    for raw in r.items(data, "entries"):
        raw = r.mapping(raw, "entries[]")
        eid = r.ident(raw)
        e = r.at(eid)
        if eid in seen:
            e.fail("id", "duplicate id")
        seen.add(eid)
        questions = e.per_lang(raw, "questions")
        keywords = e.per_lang(raw, "keywords", required=False)
        entries.append(FaqEntry(
            id=eid, topic=e.string(raw, "topic"), title=e.text(raw, "title", max_len=40),
            questions_zh=questions["zh"], questions_en=questions["en"],
            answer=e.text(raw, "answer", max_len=1500), sources=e.strings(raw, "sources"),
            keywords_zh=keywords["zh"], keywords_en=keywords["en"],
            related=e.strings(raw, "related", required=False)))
    return tuple(topics), tuple(entries)


def _synonyms(data, r: Reader) -> tuple[SynonymGroup, ...]:
    out, seen = [], set()
    for raw in r.items(r.mapping(data, "synonyms.yaml"), "groups"):
        raw = r.mapping(raw, "groups[]")
        gid = r.ident(raw)
        if gid in seen:
            r.at(gid).fail("id", "duplicate id")
        seen.add(gid)
        out.append(SynonymGroup(gid, tuple(t.lower() for t in r.at(gid).strings(raw, "terms"))))
    return tuple(out)


def _ui(data, r: Reader) -> dict[str, Text]:
    strings = r.mapping(r.mapping(data, "ui.yaml").get("strings"), "strings")
    return {key: r.at(key).text(strings, key) for key in strings}


def _neutral_words(data, r: Reader) -> frozenset[str]:
    """ui.yaml's `neutral_words`, lower case; an entry written_lang could never meet is a problem."""
    data = r.mapping(data, "ui.yaml")
    words = set()
    for i, word in enumerate(data.get("neutral_words") or ()):
        if isinstance(word, str) and NEUTRAL_WORD.fullmatch(word):
            words.add(word.lower())
        else:
            r.fail(f"neutral_words[{i}]", f"{word!r} is not a Latin word of two letters or more"
                   + (" (quote yes and no: YAML reads them as true and false)" if isinstance(word, bool) else ""))
    if not words:
        r.fail("neutral_words", "is missing")
    return frozenset(words)


def _check_refs(kb: KnowledgeBase, problems: list[Problem]) -> None:
    sources = kb.sources
    for m in kb.modes.values():
        Reader("modes.yaml", problems, m.id).refs(m.sources, sources, "sources")
    for d in kb.dimensions:
        r = Reader("modes.yaml", problems, d.id)
        r.refs(d.sources, sources, "sources")
        for c in d.caveats:
            r.refs(c.sources, sources, "caveats.sources")
    topic_ids = {t.id for t in kb.topics}
    for e in kb.entries:
        r = Reader("faq.yaml", problems, e.id)
        r.refs(e.sources, sources, "sources")
        r.refs((e.topic,), topic_ids, "topic")
        r.refs(e.related, kb.by_id, "related")
        if not e.sources:
            r.fail("sources", "every entry needs at least one source")


def _questions(data, file: str, problems: list[Problem]) -> dict[str, tuple[str, ...]]:
    """A file that is one `questions: {zh: [...], en: [...]}` (out_of_scope.yaml, advice_questions.yaml)."""
    r = Reader(file, problems)
    return r.per_lang(r.mapping(data, file), "questions")


def load_knowledge(directory: Path = KNOWLEDGE_DIR, problems: list[Problem] | None = None) -> KnowledgeBase:
    """Load every knowledge file. Raises ContentError unless a `problems` list is given to collect into."""
    collect = problems if problems is not None else []
    def read(name: str):
        return read_yaml(directory / name, collect) or {}
    sources = _sources(read("sources.yaml"), Reader("sources.yaml", collect))
    modes, dims = _modes(read("modes.yaml"), Reader("modes.yaml", collect))
    topics, entries = _faq(read("faq.yaml"), Reader("faq.yaml", collect))
    oos = _questions(read("out_of_scope.yaml"), "out_of_scope.yaml", collect)
    advice = _questions(read("advice_questions.yaml"), "advice_questions.yaml", collect)
    ui = read("ui.yaml")
    kb = KnowledgeBase(sources=sources, modes=modes, dimensions=dims, topics=topics, entries=entries,
                       synonyms=_synonyms(read("synonyms.yaml"), Reader("synonyms.yaml", collect)),
                       ui=_ui(ui, Reader("ui.yaml", collect)),
                       neutral_words=_neutral_words(ui, Reader("ui.yaml", collect)),
                       by_id={e.id: e for e in entries}, out_of_scope=oos, advice=advice)
    kb = replace(kb, learned=load_learned(directory, set(kb.by_id), collect, root=directory.parent,
                                          topics={e.id: e.topic for e in entries}))
    _check_refs(kb, collect)
    if problems is None and collect:
        raise ContentError(collect)
    return kb
