"""Scope: which platforms and selling modes a message names (knowledge/scope.yaml).

`ScopeReader.find(norm)` reads a normalised message (bot.nlu.text.normalize: lower case, Traditional
already Simplified) into a `Scope`. Word lists, what the sources say about each platform and mode
the knowledge base does not cover, the words that route a question to advice, and the UI strings of
scope-aware answers all live in the YAML; this module only matches and loads them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from bot import ROOT
from bot.kb.models import Sourced, Text
from bot.nlu.parts import PartWords
from bot.nlu.text import has_cjk, normalize

SCOPE_FILE = ROOT / "knowledge" / "scope.yaml"
# Sentences end at punctuation (a full stop before a space too: "team in the US. Full or semi?") and at a
# space beside a Chinese word (Chinese written without punctuation: "亚马逊卖家转tk 全托还是半托"); clauses
# also at the connectives ("tiktok full managed and shein too" is one sentence, two clauses).
_SENTENCE_ENDS = r"[，,。；;！!？?\n、]+|\.(?=\s)|(?<=[\u4e00-\u9fff])\s+|\s+(?=[\u4e00-\u9fff])"
_SENTENCE_SPLIT = re.compile(_SENTENCE_ENDS)
_CLAUSE_SPLIT = re.compile(_SENTENCE_ENDS + r"|\s+(?:but|and|so)\s+|但是|不过|但")
_QUESTION_WORD = r"(?:is|are|does|do|can|could|will|would|should|how|what|which)"
_ASKS_START = re.compile(rf"^\s*{_QUESTION_WORD}\b")                            # a clause that starts asking
_WH_START = re.compile(rf"^\s*(?:why|who|when|where|whose|{_QUESTION_WORD})\b")    # ...or starts with any wh-word
_QUESTION_START = re.compile(rf"^\s*(?:may|{_QUESTION_WORD})\s+(?:i|we)\b")   # ...about what the asker may do
COVERED_MODES = ("full_managed", "semi_managed")     # the two modes the knowledge base answers about
_ASCII_ALNUM = re.compile(r"[a-z0-9]")
_APPROXIMATE = re.compile(r"[0-9一二两三四五六七八九十百千万]几|几[十百千万]")


@dataclass(frozen=True)
class Scope:
    """The platforms and modes a message names, in the order they first appear. `background`: the
    platforms named only as the asker's history ("we sold on Amazon for 3 years, ...")."""

    platforms: tuple[str, ...] = ()
    modes: tuple[str, ...] = ()
    background: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"platforms": list(self.platforms), "modes": list(self.modes)}


@dataclass(frozen=True)
class Platform:
    id: str
    name: Text
    words: tuple[str, ...]
    facts: tuple[Sourced, ...] = ()


@dataclass(frozen=True)
class Mode:
    id: str
    name: Text
    words: tuple[str, ...]
    covered: bool = False              # the knowledge base answers it (full-, semi-managed, FBT)
    entry: str | None = None           # the entry saying what it is, for a message that only names it
    platform: str | None = None        # whose programme it is (implied when no other platform is named)
    requires: tuple[str, ...] = ()     # counted only beside one of these platforms
    not_in: tuple[str, ...] = ()       # longer phrases in which its words mean something else
    facts: tuple[Sourced, ...] = ()
    relation: Sourced | None = None       # how it relates to full- and semi-managed


@dataclass(frozen=True)
class Route:
    """Choosing words and the entry they route to; `override`: even over another entry that
    answered (switching: "全托转半托难在哪" is not about semi-managed's risks); `outright`: the words ask
    for the decision itself ("...how do I choose?"), so even over an entry read as sure as a fact."""

    entry: str
    words: tuple[str, ...]
    override: bool = False
    outright: bool = False


@dataclass(frozen=True)
class Uncovered:
    """A topic sellers ask about beside the modes that no source covers (taxes, ads tutorials...)."""

    id: str
    name: Text
    words: tuple[str, ...]
    says: str = "scope.uncovered"     # the UI string (knowledge/scope.yaml `ui`) a fallback about it shows


@dataclass(frozen=True)
class ScopeBook:
    home: str
    platforms: dict[str, Platform]
    modes: dict[str, Mode]
    background_words: tuple[str, ...]
    choosing: tuple["Route", ...]                          # first match wins
    question_words: tuple[str, ...] = ()                   # beside understanding's own: a part that asks
    counterparts: tuple[tuple[str, str], ...] = ()          # (full-managed entry, semi-managed entry)
    comparison_entries: tuple[str, ...] = ()                # entries comparing TikTok with other platforms
    ui: dict[str, Text] = field(default_factory=dict)
    moving_words: tuple[str, ...] = ()                     # "转tk", "thinking about tiktok": what came before is history
    one_mode: dict[str, str] = field(default_factory=dict)  # entry -> the one covered mode it is about
    uncovered: tuple[Uncovered, ...] = ()
    part_words: PartWords = PartWords()                    # how one message asks two questions
    generic_choosing: tuple[str, ...] = ()                 # "how to choose": a specific fit entry close by wins
    both_sides_words: tuple[str, ...] = ()                 # "两边", "both platforms": history is compared, not history
    which_mode_entries: tuple[str, ...] = ()               # entries that answer "which mode lets me..." themselves
    market_entries: dict[str, tuple[str, ...]] = field(default_factory=dict)  # entry about one market -> its words

    def mode_of(self, entry: str) -> str | None:
        """The one covered mode an entry is about (a counterpart's side, or listed in `one_mode`)."""
        pair = self.pair(entry)
        if pair is not None:
            return COVERED_MODES[pair.index(entry)]      # counterparts are (full-managed, semi-managed)
        return self.one_mode.get(entry)

    def pair(self, entry: str) -> tuple[str, str] | None:
        """The counterpart pair (full-managed entry, semi-managed entry) an entry is a side of, or None."""
        return next((p for p in self.counterparts if entry in p), None)

    def twin(self, entry: str, modes: tuple[str, ...]) -> str | None:
        """The same entry for the one covered mode `modes` names, when `entry` is the other mode's side of a
        counterpart pair (semi_promotions and a question naming full-managed: full_promotions); else None."""
        named = [m for m in modes if m in COVERED_MODES]
        pair = self.pair(entry)
        if len(named) != 1 or pair is None:
            return None
        other = pair[COVERED_MODES.index(named[0])]
        return other if other != entry else None

    def source_ids(self) -> set[str]:
        facts = [f for p in self.platforms.values() for f in p.facts]
        facts += [f for m in self.modes.values() for f in (*m.facts, *((m.relation,) if m.relation else ()))]
        return {s for f in facts for s in f.sources}


def _text(raw: object, where: str) -> Text:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) and raw[k].strip() for k in ("zh", "en")):
        raise ValueError(f"{SCOPE_FILE.name}: {where} needs zh and en text")
    return Text(raw["zh"], raw["en"])


def _facts(raw: list | None, where: str) -> tuple[Sourced, ...]:
    out = []
    for i, f in enumerate(raw or []):
        sources = tuple(f.get("sources") or ())
        if not sources:
            raise ValueError(f"{SCOPE_FILE.name}: {where}.facts[{i}] needs sources")
        out.append(Sourced(_text(f.get("text"), f"{where}.facts[{i}]"), sources))
    return tuple(out)


def parse_book(data: dict) -> ScopeBook:
    platforms = {}
    for p in data.get("platforms") or []:
        platforms[p["id"]] = Platform(p["id"], _text(p.get("name"), p["id"]), tuple(p.get("words") or ()),
                                      _facts(p.get("facts"), p["id"]))
    modes = {}
    for m in data.get("modes") or []:
        rel = m.get("relation")
        relation = Sourced(_text(rel.get("text"), f"{m['id']}.relation"), tuple(rel.get("sources") or ())) if rel else None
        if m.get("platform") is not None and m["platform"] not in platforms:
            raise ValueError(f"{SCOPE_FILE.name}: mode {m['id']}: unknown platform {m['platform']!r}")
        modes[m["id"]] = Mode(m["id"], _text(m.get("name"), m["id"]), tuple(m.get("words") or ()),
                              bool(m.get("covered", False)), m.get("entry"), m.get("platform"),
                              tuple(m.get("requires") or ()), tuple(m.get("not_in") or ()),
                              _facts(m.get("facts"), m["id"]), relation)
    home = data.get("home", "tiktok")
    if home not in platforms:
        raise ValueError(f"{SCOPE_FILE.name}: home platform {home!r} is not listed")
    choosing = tuple(Route(c["entry"], tuple(c.get("words") or ()), bool(c.get("override", False)),
                           bool(c.get("outright", False)))
                     for c in data.get("choosing") or [])
    ui = {k: _text(v, f"ui.{k}") for k, v in (data.get("ui") or {}).items()}
    for u in data.get("uncovered") or []:
        if u.get("says") and u["says"] not in ui:
            raise ValueError(f"{SCOPE_FILE.name}: uncovered {u['id']}: says {u['says']!r}, which ui does not have")
    return ScopeBook(home, platforms, modes, tuple(data.get("background_words") or ()), choosing,
                     tuple(normalize(w) for w in data.get("question_words") or ()),
                     tuple((str(a), str(b)) for a, b in data.get("counterparts") or []),
                     tuple(data.get("comparison_entries") or ()), ui, tuple(data.get("moving_words") or ()),
                     {str(e): str(mode) for mode, entries in (data.get("one_mode") or {}).items() for e in entries},
                     tuple(Uncovered(u["id"], _text(u.get("name"), u["id"]), tuple(u.get("words") or ()),
                                     str(u.get("says") or "scope.uncovered"))
                           for u in data.get("uncovered") or []),
                     PartWords.parse(data.get("parts")), tuple(data.get("generic_choosing") or ()),
                     tuple(data.get("both_sides_words") or ()), tuple(data.get("which_mode_entries") or ()),
                     {str(e): tuple(str(w) for w in words) for e, words in (data.get("market_entries") or {}).items()})


@lru_cache(maxsize=4)
def load_book(path: Path = SCOPE_FILE) -> ScopeBook:
    with Path(path).open(encoding="utf-8") as fh:
        return parse_book(yaml.safe_load(fh) or {})


def check_book(book: ScopeBook, source_ids: set[str], entry_ids: set[str]) -> list[tuple[str, str]]:
    """(where, what is wrong) for every source or entry id the file names that does not exist."""
    problems = [(f"source {s}", "unknown source id (knowledge/sources.yaml)")
                for s in sorted(book.source_ids() - source_ids)]
    named = {r.entry for r in book.choosing} | {x for pair in book.counterparts for x in pair}
    named |= set(book.comparison_entries) | {m.entry for m in book.modes.values() if m.entry} | set(book.one_mode)
    named |= set(book.generic_choosing) | set(book.which_mode_entries)
    problems += [(f"one_mode {m}", "unknown mode id") for m in sorted(set(book.one_mode.values()) - set(book.modes))]
    problems += [(f"entry {e}", "unknown FAQ entry id (knowledge/faq.yaml)") for e in sorted(named - entry_ids)]
    return problems


def prepare(norm: str) -> str:
    """'-' and '_' read as spaces, so "semi-managed", "semi_managed" and "semi managed" are one word."""
    return re.sub(r"\s+", " ", re.sub(r"[-_]", " ", norm)).strip()


def word_pattern(words: tuple[str, ...]) -> re.Pattern | None:
    """One regex for a word list: Latin words stand alone (no letter or digit beside them), a space
    inside a word may be left out ("semimanaged"), an English word of four letters or more may take a
    plural 's' ("cross-border shops", "local sellers"), Chinese words match anywhere."""
    parts = []
    for w in sorted({prepare(normalize(w)) for w in words if w and w.strip()}, key=len, reverse=True):
        body = re.escape(w).replace(r"\ ", r"\s?")
        pre = r"(?<![a-z0-9])" if _ASCII_ALNUM.match(w[0]) else ""
        post = r"(?![a-z0-9])" if _ASCII_ALNUM.match(w[-1]) else ""
        if re.search(r"[a-z]{4}$", w) and not w.endswith("s"):
            body += "s?"
        parts.append(pre + body + post)
    return re.compile("|".join(parts)) if parts else None


OTHER = "other"     # the platform id of the many small platforms (no typos made up for their names)


def swapped_letters(name: str) -> tuple[str, ...]:
    """A platform's first name, when it is one Latin word of four letters or more, with two neighbouring
    letters swapped: the commonest typo in a name ("tmeu", "amazno"), read as that platform. Other typos
    are listed as words (scope.yaml)."""
    if not re.fullmatch(r"[a-z]{4,}", name):
        return ()
    return tuple(dict.fromkeys(name[:i] + name[i + 1] + name[i] + name[i + 2:]
                               for i in range(len(name) - 1) if name[i] != name[i + 1]))


class ScopeReader:
    """Finds the platforms and modes in a normalised message (see the module docstring)."""

    def __init__(self, book: ScopeBook):
        self.book = book
        self._platforms = [(p.id, word_pattern(p.words + (swapped_letters(p.words[0]) if p.words and p.id != OTHER else ())))
                           for p in book.platforms.values()]
        self._modes = [(m, word_pattern(m.words)) for m in book.modes.values()]
        self._not_in = {m.id: word_pattern(m.not_in) for m in book.modes.values() if m.not_in}
        self._background = word_pattern(book.background_words)
        self._moving = word_pattern(book.moving_words)
        self._both_sides = word_pattern(book.both_sides_words)
        self._choosing = [(route, word_pattern(route.words)) for route in book.choosing]
        self._asks = word_pattern(book.question_words)
        self._uncovered = [(topic, word_pattern(topic.words)) for topic in book.uncovered]
        self._markets = [(entry, word_pattern(words)) for entry, words in book.market_entries.items()]

    @classmethod
    def default(cls) -> "ScopeReader":
        return _default_reader()

    def find(self, norm: str) -> Scope:
        text = prepare(norm)
        if not text:
            return Scope()
        found: list[tuple[int, str]] = []
        for pid, pattern in self._platforms:
            m = pattern.search(text) if pattern else None
            if m:
                found.append((m.start(), pid))
        platforms = [pid for _, pid in sorted(found)]
        modes: list[tuple[int, str]] = []
        for mode, pattern in self._modes:
            if pattern is None:
                continue
            blocked = self._not_in.get(mode.id)
            here = blocked.sub(lambda b: " " * len(b.group()), text) if blocked else text
            m = pattern.search(here)
            if not m or (mode.requires and not set(mode.requires) & set(platforms)):
                continue
            modes.append((m.start(), mode.id))
            if mode.platform and mode.platform != self.book.home and not (set(platforms) - {self.book.home}):
                found.append((m.start(), mode.platform))     # "Y2模式" is Temu's, unless a platform is named
        platforms = list(dict.fromkeys(pid for _, pid in sorted(found)))
        return Scope(tuple(platforms), tuple(mid for _, mid in sorted(modes)), self._background_of(text, platforms))

    def _background_of(self, text: str, platforms: list[str]) -> tuple[str, ...]:
        """Platforms named only in clauses about the asker's history, beside a clause that does not
        name them (the question itself). A clause is history when it has a background word ("we sold
        on Amazon for 3 years"), or when it is a sentence of its own that states (asks nothing, names
        no selling mode, says more than a name) before a sentence naming TikTok ("8 figures on Amazon,
        team in the US. Full or semi for TikTok Shop?"; not "tiktok full managed, and shein too?"), or
        any sentence that asks nothing before a TikTok sentence with a moving word ("做亚马逊fba的 转tk全托管").
        Nothing is history when the message compares both sides ("我在temu做全托管两年了，两边规则一样吗")."""
        if self._background is None or (self._both_sides is not None and self._both_sides.search(text)):
            return ()
        clauses = [c.strip() for c in _CLAUSE_SPLIT.split(text) if c and c.strip()]
        sentences = [c.strip() for c in _SENTENCE_SPLIT.split(text) if c and c.strip()]
        home = dict(self._platforms).get(self.book.home)
        first_home = next((i for i, c in enumerate(sentences) if home is not None and home.search(c)), None)
        moving = (first_home is not None and self._moving is not None
                  and self._moving.search(sentences[first_home]) is not None)
        out = []
        for pid, pattern in self._platforms:
            if pid not in platforms or pid == self.book.home or pattern is None:
                continue
            modes = [mp for m, mp in self._modes if m.platform == pid and mp is not None]
            # a clause that asks and names the platform's mode, with no background word, compares ("Amazon
            # seller here. Is TikTok full-managed basically just FBA with extra steps?", "...why would I hand
            # my pricing to TikTok when FBA lets me keep full control?"; not "we did amazon fba for 3 years,
            # which mode...", nor "coming from amazon fba where i control everything. on tiktok...")
            if any(((has_cjk(c) and self.asks(c)) or _WH_START.match(c)) and not self._background.search(c)
                   and any(mp.search(c) for mp in modes) for c in clauses):
                continue
            # a question naming the platform's mode asks about it ("...is tiktok's full-managed basically FBA")
            mine = [c for c in clauses if pattern.search(c)
                    or (_ASKS_START.match(c) and any(mp.search(c) for mp in modes))]
            rest = [c for c in clauses if c not in mine]
            if mine and rest and all(self._background.search(c) and not self._asks_start(c) for c in mine):
                out.append(pid)
                continue
            stated = [i for i, c in enumerate(sentences) if pattern.search(c)]
            if stated and first_home is not None and all(i < first_home and (
                    self._states(sentences[i]) or (moving and not self.asks(sentences[i]))) for i in stated):
                out.append(pid)
        return tuple(out)

    def _states(self, sentence: str) -> bool:
        """A statement about the asker: asks nothing, names no mode, says more than a platform's name."""
        return (not self.asks(sentence) and not self._names_a_mode(sentence)
                and re.search(r"[a-z0-9\u4e00-\u9fff]{2}", self.without_names(sentence)) is not None)

    def without_background(self, norm: str, scope: Scope) -> str:
        """The message without its sentences about the asker's history (what the question itself says)."""
        if not scope.background:
            return norm
        patterns = [p for pid, p in self._platforms if pid in scope.background and p is not None]
        kept = [c for c in _SENTENCE_SPLIT.split(prepare(norm)) if c.strip() and not any(p.search(c) for p in patterns)]
        return ", ".join(c.strip() for c in kept)

    def _names_a_mode(self, clause: str) -> bool:
        return any(p is not None and p.search(clause) for _, p in self._modes)

    def without_names(self, norm: str) -> str:
        """The message with every platform and mode word taken out ("tiktok full managed?" -> "?")."""
        text = prepare(norm)
        for pattern in [p for _, p in self._platforms] + [p for _, p in self._modes]:
            if pattern is not None:
                text = pattern.sub(" ", text)
        return re.sub(r"\s+", " ", text).strip()

    @staticmethod
    def _asks_start(clause: str) -> bool:
        """A clause that starts as an English question ("can i sell the same skus on temu..."): its "i sell"
        is the question, not the asker's history."""
        return _QUESTION_START.match(clause) is not None

    def asks(self, norm: str) -> bool:
        """Whether a piece of a message has one of the file's question words (a part that asks). An
        approximate number ("二十几个人", "几十万") asks nothing."""
        text = _APPROXIMATE.sub(" ", prepare(norm))
        return self._asks is not None and self._asks.search(text) is not None

    def uncovered(self, norm: str) -> Uncovered | None:
        """The uncovered topic a message asks about, by its words, or None."""
        text = prepare(norm)
        return next((topic for topic, pattern in self._uncovered if pattern is not None and pattern.search(text)), None)

    def market(self, norm: str) -> str | None:
        """The entry about the one market a message names (`market_entries`: "英国", "the UK"), or None when
        it names none or several."""
        text = prepare(norm)
        named = [entry for entry, pattern in self._markets if pattern is not None and pattern.search(text)]
        return named[0] if len(named) == 1 else None

    def choosing(self, norm: str) -> Route | None:
        """Where a choosing, fit, control or switching question is routed, or None."""
        text = prepare(norm)
        for route, pattern in self._choosing:
            if pattern is not None and pattern.search(text):
                return route
        return None


@lru_cache(maxsize=1)
def _default_reader() -> ScopeReader:
    return ScopeReader(load_book())
