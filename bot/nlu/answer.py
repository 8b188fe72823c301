"""FAQ answers for the channels, respecting scope: what kind of question a Reading is and which
entries answer it (the same Answer every channel renders through bot.render.Renderer.faq_answer).

Handling, first that applies:
- other_platform: another platform's programme is the subject (named alone or beside TikTok, not just
  as the asker's history). What the sources say about that platform; TikTok's entry only labelled.
- other_mode: a TikTok mode or store type the knowledge base does not cover (POP, local or
  cross-border store). What the sources say; the entry only for a part about full/semi-managed.
- advice: asks which mode fits (the FAQ models' advice class reads it so, a self-describing question,
  a choosing entry, or choosing and switching words): the choosing entry if any, and the questionnaire
  offer. Never "I don't know".
- answer: one entry, or one per part of a two-part question.
- fallback: an honest "I don't know" with the closest topics; for a topic no source covers
  (knowledge/scope.yaml `uncovered`: taxes, ads tutorials, forwarders...), naming it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from bot.kb.models import FaqEntry, KnowledgeBase
from bot.nlu.parts import A_NOT_A, CIRCLED, PREFACE, PartSplitter
from bot.nlu.scope import COVERED_MODES, Mode, Platform, Scope, ScopeBook, Uncovered
from bot.nlu.text import has_cjk, normalize
from bot.nlu.understand import ADVICE_MIN, FACT_SURE, Reading, Understanding, oos_disowns_advice

HANDLINGS = ("answer", "other_platform", "other_mode", "advice", "fallback")
CHOOSING_TOPIC = "choosing"
MAX_PARTS = 3
PART_NEAR = 3                    # ...and among the whole message's this many nearest entries
PART_SECOND = 0.8                # a part's second choice, when another part took its first, this close
PART_ECHO = 0.1                  # a later part reading the first part's entry this sure, second or third, asks more of it
PART_WHOLE_MIN = 0.003           # ...that the whole message reads at least this sure (not disowned)
SPECIFIC_SHARE = 0.5            # a specific choosing entry this close to a generic one ("how to choose") answers
FIT_FLOOR = 0.1                 # the next nearest entry, when the first is about the other mode only, at least this sure
WHICH_MODE_SURE = 0.6             # an entry that answers "which mode lets me..." itself (scope.yaml which_mode_entries)
PART_MIN_PROBABILITY = 0.4       # a part's own entry, read from that part alone, at least this sure,
PART_LEAD, PART_FLOOR = 3.0, 0.25  # ...or this many times its runner-up and at least this sure: the lead is
                                   # kept when new examples flatten every probability (docs/scope.md)
@dataclass(frozen=True)
class Answer:
    query: str
    lang: str
    entry: FaqEntry | None              # the first entry answered (kept for older callers)
    score: float
    fallback: bool
    suggestions: tuple[FaqEntry, ...]
    handling: str = "answer"            # one of HANDLINGS
    entries: tuple[FaqEntry, ...] = ()  # every entry answered, in order (TikTok's, when labelled so)
    scope: Scope = Scope()
    platforms: tuple[Platform, ...] = ()   # other platforms it speaks about
    modes: tuple[Mode, ...] = ()           # TikTok's other modes it speaks about
    uncovered: Uncovered | None = None     # the uncovered topic a fallback names (taxes, ads tutorials...)
    advice: float = 0.0                    # the advice class's probability (bot.nlu.faq): asks which mode fits

    def to_dict(self, text: str | None) -> dict:
        """The JSON contract of `ask --json` (docs/scope.md). `text`: what the user is shown, rendered by
        the channel (bot.render.Renderer.faq_answer, plain text); `answer` carries it for every handling
        but fallback, where it is null (the honest "I don't know" is not an answer)."""
        return {
            "query": self.query,
            "lang": self.lang,
            "answer": text if self.handling != "fallback" else None,
            "entry": self.entry.id if self.entry is not None else None,
            "entries": [e.id for e in self.entries],
            "handling": self.handling,
            "scope": self.scope.to_dict(),
            "uncovered": self.uncovered.id if self.uncovered is not None else None,
            "score": round(self.score, 4),
            "fallback": self.fallback,
            "suggestions": [{"id": e.id, "title": e.title(self.lang)} for e in self.suggestions],
        }


class FaqAnswerer:
    """`ask(text, lang)` / `answer(reading)`: what the dialogue, bot.tg.inline, groups and the CLI call."""

    def __init__(self, kb: KnowledgeBase, understanding: Understanding):
        self.kb, self.nlu = kb, understanding
        self._bare: dict[str, int | None] = {}       # a mode's name -> what it alone reads as (_bare_reading)
        self._bare_of: Understanding | None = None   # ...by this understanding
        self.entries = tuple(kb.entries)
        self.book: ScopeBook = understanding.scope.book
        self.choosing_entries = {e.id for e in kb.entries if e.topic == CHOOSING_TOPIC}
        # entry -> (its mode, the same entry for the other mode)
        self.splitter = PartSplitter(self.book.part_words, self._asks, self._names_only)

    def ask(self, text: object, lang: str = "en") -> Answer:
        return self.answer(self.nlu.read(text, lang=lang))

    def _subjects(self, scope: Scope) -> tuple[list[str], list[Mode]]:
        """The other platforms a message asks about (not just as the asker's history), and TikTok's
        other modes it names."""
        book = self.book
        others = [p for p in scope.platforms if p != book.home and p not in scope.background and p in book.platforms]
        modes = [book.modes[m] for m in scope.modes
                 if m in book.modes and not book.modes[m].covered and book.modes[m].platform in (book.home, None)]
        return others, modes

    def scoped(self, reading: Reading) -> bool:
        """Whether the message asks about another platform or another TikTok mode (the dialogue answers
        such a question before reading it as a description or an advice question)."""
        others, modes = self._subjects(reading.scope)
        return bool(others or modes)

    def answer(self, reading: Reading) -> Answer:
        hits = [(self.kb.by_id[h.id], h.score) for h in reading.faq if h.id in self.kb.by_id]
        scope, book = reading.scope, self.book
        answerable = reading.answerable
        ranked = [e for e, _ in hits]
        top = self._fitting(hits, scope.modes) if answerable else None
        if top is not None and top.id in book.comparison_entries and scope.background \
                and not (set(scope.platforms) - set(scope.background) - {book.home}):
            # "我们一直在Temu做全托管，现在想上TK，全托还是半托？": Temu is the asker's history, not compared
            top = self._fitting([(e, score) for e, score in hits if e.id not in book.comparison_entries], scope.modes)
        if top is not None and top.id in book.generic_choosing:     # "factory here, full or semi?": fit_factory
            top = self._specific(top, hits)
        norm = normalize(CIRCLED.sub(";", reading.text))
        top = self._right_market(top, norm)
        others, modes = self._subjects(scope)

        def make(handling: str, entries: list[FaqEntry], **kw) -> Answer:
            entries = list(dict.fromkeys(entries))
            first = entries[0] if entries else None
            rest = self._related(first, ranked[1:]) if first else tuple(self._pad(ranked[:3]))
            return Answer(reading.text, reading.lang, first, reading.faq_probability, handling == "fallback",
                          rest, handling, tuple(entries), scope, advice=reading.advice_probability, **kw)

        if others:      # ...and a part that asks about TikTok alone, answered as TikTok's
            asked = [e for e in self._tiktok_parts(norm, scope) if e != top]
            return make("other_platform", ([top] if top else []) + asked,
                        platforms=tuple(book.platforms[p] for p in others), modes=tuple(modes))
        routed = self.nlu.scope.choosing(norm)
        outright = routed is not None and routed.outright     # asks for the decision itself ("how do I choose")
        if modes:
            # the part about full/semi-managed, if the question has one (never a cross-platform comparison)
            covered = self.kb.by_id.get(routed.entry) if routed is not None and routed.override else top
            if covered is not None and (covered.id in book.comparison_entries
                                        or not any(m in scope.modes for m in COVERED_MODES)):
                covered = None
            return make("other_mode", [covered] if covered else [], modes=tuple(modes))
        topic = self.nlu.scope.uncovered(norm)
        if topic is not None:       # "半托管的商品主图怎么拍": about photos, whatever covered mode it names
            return make("fallback", [], uncovered=topic)
        named = book.modes.get(scope.modes[0]) if len(scope.modes) == 1 else None
        if named is not None and named.entry in self.kb.by_id and self._names_only(norm):
            return make("answer", [self.kb.by_id[named.entry]])     # "半托?", "semi?": what it is
        near = {}                   # the whole message's nearest entries (either mode's), with their probability
        for e, score in hits[:PART_NEAR]:
            for x in (e, self._right_mode(e, scope.modes)):
                near[x.id] = max(near.get(x.id, 0.0), score)
        parts = self._parts_answered(norm, scope, near)
        if parts:                   # two questions in one, each read clearly: both answered (a choosing one too)
            return make("advice" if any(e.id in self.choosing_entries for e in parts) else "answer", parts)
        sides = [] if routed is not None or reading.asks_which_mode or reading.advice else self._both_sides(hits, scope)
        if sides:                   # "who handles customs in full managed vs in semi managed": each mode's entry
            return make("answer", sides)
        if top is not None and top.id in book.which_mode_entries and hits[0][1] >= WHICH_MODE_SURE and not outright:
            return make("answer", [top])    # "we have hosts, which mode lets us do our own lives": that entry says
        if reading.asks_which_mode and (top is None or top.id not in self.choosing_entries):
            # "is semi-managed overkill for a 2-person team?": not the entry about teams, but the nearest
            # choosing entry, or the one its choosing words route to ("全托管怎么退出": switching), if any
            chosen = self._nearest_choosing(hits, reading.advice_probability) or (
                self.kb.by_id.get(routed.entry) if routed is not None else None)
            return make("advice", [chosen] if chosen is not None else [])
        if reading.advice:
            # in a dialogue: the provisional recommendation; here its choosing entry, if any
            return make("advice", [top] if top is not None and top.id in self.choosing_entries else [])
        # a sure factual entry the advice class disowns: choosing words and a self-description do not make it
        # advice ("are semi-managed margins realistic or is it hype": the margins; "do i need an ops team...")
        factual = top is not None and top.id not in self.choosing_entries and hits[0][1] >= FACT_SURE \
            and not reading.asks_which_mode and not outright
        if top is not None and top.id not in self.choosing_entries and not factual \
                and (reading.answers or self._asks_choosing(norm)):
            chosen = self._choosing_question(norm)      # describes itself, then asks which mode
            if chosen is not None:
                return make("advice", [chosen])
            if reading.answers and routed is not None and self._asks_choosing(norm):
                # ...by choosing words in its one question: "做了三年亚马逊 有五个人的运营团队 应该上半托吧"
                return make("advice", [self._specific(self.kb.by_id[routed.entry], hits)]
                            if routed.entry in self.kb.by_id else [])
        if top is not None:
            if routed is not None and routed.override and routed.entry in self.kb.by_id and not factual:
                return make("advice", [self._specific(self.kb.by_id[routed.entry], hits)])   # "全托转半托难在哪": not semi's risks
            return make("advice" if top.id in self.choosing_entries else "answer", [top])
        if routed is not None and routed.entry in self.kb.by_id and (scope.modes or (
                reading.advice_probability >= ADVICE_MIN     # not "海运拼箱和整柜怎么选"
                and not oos_disowns_advice(reading.advice_probability, reading.oos_probability))):
            return make("advice", [self.kb.by_id[routed.entry]])
        return make("fallback", [])

    def _both_sides(self, hits: list[tuple[FaqEntry, float]], scope: Scope) -> list[FaqEntry]:
        """A question naming both covered modes whose nearest entry is one side of a counterpart pair and
        whose other side reads at least PART_SECOND as sure: the two sides, in the order the modes are
        named. Else none."""
        if not hits or not set(COVERED_MODES) <= set(scope.modes):
            return []
        pair = self.book.pair(hits[0][0].id)
        if pair is None:
            return []
        other = pair[1] if hits[0][0].id == pair[0] else pair[0]
        if not any(e.id == other and score >= PART_SECOND * hits[0][1] for e, score in hits[1:PART_NEAR]):
            return []
        first = [m for m in scope.modes if m in COVERED_MODES][0]
        ids = pair if first == COVERED_MODES[0] else pair[::-1]      # counterparts are (full, semi)
        return [self.kb.by_id[i] for i in ids if i in self.kb.by_id]

    def _nearest_choosing(self, hits: list[tuple[FaqEntry, float]], advice: float) -> FaqEntry | None:
        """Among the nearest entries, the first choosing one that reads at least SPECIFIC_SHARE as sure as the
        first and would be answered were the advice class not there (its probability over what the advice
        class leaves reaches the answer threshold): the advice class takes most of the probability of such
        a question, and the entries' small rest is still ranked ("我们小工厂 资金不多 是不是只能全托")."""
        rest = max(1.0 - advice, 1e-6)
        return next((e for e, score in hits[:PART_NEAR] if e.id in self.choosing_entries
                     and score >= SPECIFIC_SHARE * hits[0][1] and score / rest >= self.nlu.threshold), None)

    def _specific(self, entry: FaqEntry, hits: list[tuple[FaqEntry, float]]) -> FaqEntry:
        """For a generic choosing entry ("how to choose"), a specific one (fit_factory...) among the nearest
        that reads at least SPECIFIC_SHARE as sure as the first; else the entry itself."""
        if entry.id not in self.book.generic_choosing or not hits:
            return entry
        return next((e for e, score in hits[:PART_NEAR] if e.id in self.choosing_entries and e.id != entry.id
                     and e.id not in self.book.generic_choosing and score >= SPECIFIC_SHARE * hits[0][1]), entry)

    def _fitting(self, hits: list[tuple[FaqEntry, float]], modes: tuple[str, ...]) -> FaqEntry | None:
        """The nearest entry about the mode the question names: the first hit (its counterpart when it is
        the other mode's), or, when that one is about the other mode only, the next hit that fits and
        reads at least FIT_FLOOR; None when none does (the honest "not covered" is then shown)."""
        definitions = {m.entry for m in self.book.modes.values() if m.entry}
        for i, (entry, score) in enumerate(hits[:PART_NEAR]):
            if i and (score < FIT_FLOOR or entry.id in definitions):    # a definition reads the mode's name
                return None
            entry = self._right_mode(entry, modes)
            if self._fits(entry, modes):
                return entry
        return None

    def _fits(self, entry: FaqEntry, modes: tuple[str, ...]) -> bool:
        """False for an entry about one covered mode when the question names only the other one."""
        named = {m for m in modes if m in COVERED_MODES}
        mode = self.book.mode_of(entry.id)
        return mode is None or len(named) != 1 or mode in named

    def _right_mode(self, entry: FaqEntry, modes: tuple[str, ...]) -> FaqEntry:
        """The entry for the mode the question names, when it names one of the two and the entry is
        the other's."""
        return self.kb.by_id.get(self.book.twin(entry.id, modes) or "", entry)

    def _right_market(self, entry: FaqEntry | None, norm: str) -> FaqEntry | None:
        """The entry for the one market the question names, when the entry is another market's
        (`market_entries`: "is full managed open in the uk" read as the US entry)."""
        if entry is None or entry.id not in self.book.market_entries:
            return entry
        return self.kb.by_id.get(self.nlu.scope.market(norm) or "", entry)

    # -- two-part questions ------------------------------------------------------------------
    def parts(self, norm: str) -> list[str]:
        """The question parts of a normalised message (bot.nlu.parts)."""
        return self.splitter.parts(norm)

    def _choosing_question(self, norm: str) -> FaqEntry | None:
        """The choosing entry the message's one asking piece reads on its own ("..., zero time for
        content. which one"), or routes to by its choosing words when it reads nothing: what a
        self-describing message asks, whatever its description reads as."""
        asking = [p for p, d in self.splitter.pieces(norm) if p and ("?" in d or self._asks(p))]
        if len(asking) != 1:            # two questions: each part is answered on its own
            return None
        hits, p, ok, *_ = self.nlu.rank_faq(asking[-1])
        entry = self.kb.by_id.get(self.nlu.content.faq[hits[0].entry].id) if ok and hits else None
        if entry is None:                   # nothing read on its own: its choosing words, if any ("推荐什么模式")
            route = self.nlu.scope.choosing(asking[-1])
            entry = self.kb.by_id.get(route.entry) if route is not None else None
        return entry if entry is not None and entry.id in self.choosing_entries else None

    def _asks_choosing(self, norm: str) -> bool:
        """Whether the message's one asking piece has choosing words (bot.nlu.scope routes)."""
        asking = [p for p, d in self.splitter.pieces(norm) if p and ("?" in d or self._asks(p))]
        return len(asking) == 1 and self.nlu.scope.choosing(asking[0]) is not None

    def _names_only(self, text: str) -> bool:
        """Nothing but platform and mode names (and punctuation): "半托?", "tiktok full managed"."""
        return not re.search(r"[a-z0-9\u4e00-\u9fff]{2}", self.nlu.scope.without_names(text))

    def _asks(self, piece: str) -> bool:
        return (self.nlu.is_question(piece) or self.nlu.is_question(PREFACE.sub("", piece))
                or A_NOT_A.search(piece) is not None or self.nlu.scope.asks(piece))

    def _parts_answered(self, norm: str, scope: Scope, near: dict[str, float]) -> list[FaqEntry]:
        """One entry per part of a two-part question, each read from its own part (a part that names no
        mode gets the message's one mode) and among the entries the whole message reads as nearest
        (`near`, at least PART_WHOLE_MIN: a part's reading the whole disowns is a misreading of a
        fragment, or a fragment that only asks more about another part: "有没有人踩坑"); none when fewer
        than two parts read an entry of their own clearly (the whole message is then read as one)."""
        parts = self.parts(norm)
        if len(parts) < 2:
            return []
        covered = [m for m in scope.modes if m in COVERED_MODES]
        modes = scope.modes
        listed = self.splitter.numbered(norm)      # items the asker set apart: any clear reading answers
        read: list[list[tuple[FaqEntry, float]]] = []      # per part: its entry, and a close second choice
        for part in parts:
            implied = self.book.mode_of(read[0][0][0].id) if read and not covered else None
            if implied:
                # no mode named, but the first part's entry is about one ("overseas warehouse requirements,
                # and who pays the freight to get goods there?"): the later parts ask about that mode
                covered, modes = [implied], (implied,)
            if read and self.splitter.same_question(part):     # "②半托管呢": the question before, for this mode
                again = self._same_question(read[-1][0][0], self.nlu.scope.find(part).modes)
                if again is not None:
                    read.append([(again, read[-1][0][1])])
                continue
            texts, name = [part], ""
            if len(covered) == 1 and not self.nlu.scope.find(part).modes:    # with the message's mode, too
                name = self.book.modes[covered[0]].name('zh' if has_cjk(part) else 'en')
                texts.append(f"{name} {part}")
            hits, p, ok, *_ = max((self.nlu.rank_faq(t) for t in texts), key=lambda r: r.best if r.ok else -1.0)
            runner_up = hits[1].score if len(hits) > 1 else 0.0
            # an item of a numbered list needs only a clear reading, unless it reads a choosing entry (a
            # preface describing the asker is read with the first item: "toy factory here. Q1 who lists...")
            relaxed = listed and bool(hits) and self.nlu.content.faq[hits[0].entry].id not in self.choosing_entries
            if not ok or (not relaxed and p < PART_MIN_PROBABILITY and (p < PART_FLOOR or p < PART_LEAD * runner_up)):
                continue
            if name and hits[0].entry == self._bare_reading(name):
                continue    # "具体多久": only the mode name added reads; the part asks nothing of its own
            if read and any(self.nlu.content.faq[h.entry].id == read[0][0][0].id and h.score >= PART_ECHO
                            for h in hits[1:3]):
                continue    # "…平台到底帮卖家做了啥，流量给不给": it reads the first part's entry too: asks more of it
            choices = []
            for rank, hit in enumerate(hits[:2]):
                if rank and hit.score < PART_SECOND * p:
                    break
                entry = self.kb.by_id.get(self.nlu.content.faq[hit.entry].id)
                entry = self._right_market(self._right_mode(entry, modes), part) if entry is not None else None
                if entry is not None and near.get(entry.id, 0.0) >= PART_WHOLE_MIN and self._fits(entry, modes):
                    choices.append((entry, hit.score))
            if choices:
                read.append(choices)
        # two parts reading one entry: the less sure one takes its close second choice ("who handles returns,
        # plus who pays the return fees": after-sales, then the return fee)
        taken: dict[int, FaqEntry] = {}
        for i in sorted(range(len(read)), key=lambda i: -read[i][0][1]):
            free = [e for e, _ in read[i] if e not in taken.values()]
            if free:
                taken[i] = free[0]
        out = [taken[i] for i in sorted(taken)]
        return out[:MAX_PARTS] if len(out) >= 2 else []

    def _tiktok_parts(self, norm: str, scope: Scope) -> list[FaqEntry]:
        """Beside another platform's question, the entries of the parts that name TikTok and no other
        platform and read an entry clearly ("temu的半托跟tk的半托是一回事吗？顺带问下tk半托要交哪些费")."""
        parts = self.parts(norm)
        out: list[FaqEntry] = []
        for part in parts[1:] if len(parts) > 1 else ():
            named = self.nlu.scope.find(part)
            if named.platforms != (self.book.home,):
                continue
            hits, p, ok, *_ = self.nlu.rank_faq(part)
            if not ok or p < PART_MIN_PROBABILITY:
                continue
            entry = self.kb.by_id.get(self.nlu.content.faq[hits[0].entry].id)
            entry = self._right_mode(entry, named.modes) if entry is not None else None
            if entry is not None and entry not in out and self._fits(entry, named.modes) \
                    and entry.id not in self.book.comparison_entries:
                out.append(entry)
        return out[:MAX_PARTS - 1]

    def _same_question(self, entry: FaqEntry, modes: tuple[str, ...]) -> FaqEntry | None:
        """The entry that asks `entry`'s question about the one covered mode named, or None."""
        return self.kb.by_id.get(self.book.twin(entry.id, modes) or "")

    def _bare_reading(self, name: str) -> int | None:
        """What a mode's name alone reads as (its definition): a part read as this once the name is added
        to it reads the name, not its own words."""
        if self._bare_of is not self.nlu:        # understanding swapped in (a retrain): read again
            self._bare, self._bare_of = {}, self.nlu
        if name not in self._bare:
            hits, _, ok, *_ = self.nlu.rank_faq(name)
            self._bare[name] = hits[0].entry if ok and hits else None
        return self._bare[name]

    # -- suggestions ---------------------------------------------------------------------------
    def _related(self, entry: FaqEntry, rest: list[FaqEntry]) -> tuple[FaqEntry, ...]:
        out: list[FaqEntry] = []
        seen = {entry.id}
        for e in [self.kb.by_id[r] for r in entry.related if r in self.kb.by_id] + rest:
            if len(out) >= 3:
                break
            if e.id not in seen:
                out.append(e)
                seen.add(e.id)
        return tuple(self._pad(out, seen))

    def _pad(self, chosen: list[FaqEntry], seen: set[str] | None = None) -> list[FaqEntry]:
        """Fill up to three suggestions with one entry per topic, in knowledge-base order."""
        seen = set(seen or ()) | {e.id for e in chosen}
        out = list(chosen)
        topics_done = {e.topic for e in out}
        for pass_topics in (True, False):
            for e in self.entries:
                if len(out) >= 3:
                    return out
                if e.id in seen or (pass_topics and e.topic in topics_done):
                    continue
                out.append(e)
                seen.add(e.id)
                topics_done.add(e.topic)
        return out
