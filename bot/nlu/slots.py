"""Reading answers to questionnaire steps: one learned classifier per step, read clause by clause.

Each step has a softmax classifier over its levels, `unsure` and NONE ("this clause says nothing
about this step"). It learns from the step's examples; every other step's examples, the
messages that answer nothing and the knowledge-base questions are its NONE examples, which is
what keeps a fact about one thing from being read as an answer to another. A description is
split into clauses and each clause goes through every step's classifier, so one clause can
state two facts ("we are a factory new to cross-border") and two clauses can state the same
one. Money amounts and years of experience are read by rules of thumb (ours, in
dialogs/reading.yaml) that override the classifier for their step.

Before a clause is weighed, its cues (bot.nlu.cues) say what it can be about: a clause about
someone else ("my cousin runs a big amazon store") or a state that has ended ("used to have a
factory") answers nothing about the seller now; a hedge naming a step ("经验的话不好说", "budget not decided") is "not sure"
about that step only; a bare hedge ("不知道算不算", "idk tbh") makes what the clause before it said,
or the question on screen, "not sure"; "experience: none" reads "none" as an answer to experience.

When clauses disagree about a step, a clause of concession ("虽然", "although") yields; stated
domestic or export experience ("淘宝做了四年") is `some` even beside "never sold cross-border"; a
clause introduced by a contrast ("但", "but") wins; else a hedge wins over a reading of the words;
else a stated amount or number of years; else what a clause says is wins over what another says
is not ("没厂，我们是贸易公司"); else a clearly stronger reading wins; else the step is left unread
rather than guessed, and the dialogue asks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bot.nlu.content import AmountRule, Content, Slot, YearsRule
from bot.nlu.cues import Cues
from bot.nlu.facts import Amount, WordLists, amounts, durations, foreign_amount
from bot.nlu.features import Featurizer, negated
from bot.nlu.linear import LinearModel, SparseVec, Vectorizer, train
from bot.nlu.text import Clause, clauses, normalize

NONE = "_none"
UNSURE = "unsure"
HEDGE = "hedge"
# Thresholds, tuned on the development sets (eval/dev/).
DESCRIPTION_MIN = 0.45    # a clause's reading of a step needs at least this probability
TYPED_MIN = 0.65          # a typed answer: probability among the step's levels (NONE set aside); a miss beats a wrong level
TYPED_NONE_MAX = 0.75     # ...unless the message is mostly about something else
TYPED_DISAGREE_MARGIN = 0.1   # the whole message and its clauses read different levels this close: ask again
TYPED_OVER_CLAUSE = 0.8   # ...but a typed-answer model this sure beats a clause model's reading (not a rule's)
TYPED_OVER_AMBIGUOUS = 0.92   # ...and this sure, clauses that disagree among themselves
CLAUSE_ALONE_MIN = 0.8    # at the question on screen, a clause model's reading the typed-answer model does not back
HEDGE_MIN = 0.6           # a typed answer nothing else reads, this hedge-like, is "not sure"
HEDGE_SURE = 0.7          # a clause this hedge-like is "not sure" whatever else it mentions
SECOND_FACT_MIN = 0.3     # ...a level behind "nothing about me" in a two-fact clause, with
SECOND_FACT_SHARE = 0.8   # ...at least this share of the probability the levels have
SECOND_FACT_OPTIONAL_MIN = 0.4   # ...higher for the optional steps, as for a first fact
SHARED_CLAUSE_MIN = 0.6   # a second step read from the same clause needs at least this
SHARED_RULED_MIN = 0.7    # ...beside a step read by a rule from that clause
SECOND_BESIDE_MIN = 0.8   # a second fact beside a first one only when that first one is this clear
IN_PASSING_MIN = 0.2      # goods named in a clause about something else (lexicon.in_passing): this probability
IN_PASSING_SHARE = 0.7    # ...and this share of what the levels have
MAX_FAQ_NEGATIVES = 1500  # knowledge-base questions the step models see as "says nothing about me"
CONTRAST_MIN = 0.6        # a clause after "but" overrides the others only when read this clearly
SAID_MIN = 0.75           # what a clause says is beats what another says is not, when read this clearly
BARE_HEDGE_MIN = 0.3      # a clause with a hedge word, nothing else read, this hedge-like: a bare hedge
RULED = ("amount", "years", "domestic", "export", "maker", "short", "key", "unsettled")     # readings from rules, not from the words


# Feature weights of the step models (beside idf): an English word's character n-grams are there
# for typos, not meaning; a lone function character (的, 就, 想, 把...) says little about a level,
# though a model with few examples would happily learn it as a cue ("就想把产能消化掉" -> volume
# taught "就是想把牌子做起来" -> volume). Their pairs and triples keep full weight.
CHAR_GRAM_WEIGHT = 0.6
FUNCTION_CHAR_WEIGHT = 0.3
FUNCTION_CHARS = frozenset("的了是我们你他她它就想把在有也都和要很还吧呢啊吗这那个一些")


def slot_feature_weight(feature: str, idf: float) -> float:
    if feature.startswith("g:"):
        return idf * CHAR_GRAM_WEIGHT
    bare = feature[1:] if feature.startswith("~") else feature
    if len(bare) == 1 and bare in FUNCTION_CHARS:
        return idf * FUNCTION_CHAR_WEIGHT
    return idf


@dataclass(frozen=True)
class SlotReading:
    step: str
    level: str
    confidence: float
    clause: str
    amount: Amount | None = None   # the amount a capital level was read from
    years: float | None = None     # the years an experience level was read from
    second: bool = False           # read as the second fact of a clause about something else
    source: str = "model"          # model, amount, years, domestic, export, maker, hedge, key...


@dataclass(frozen=True)
class Described:
    """What a message's clauses state (see SlotReader.describe_all)."""

    readings: dict[str, SlotReading]
    ambiguous: set[str]             # steps its clauses read in conflicting ways, so left unread
    kept: str                       # the message without the clauses about someone else or the past
    dismissed: frozenset[str] = frozenset()     # steps a clause said no to ("品牌嘛，暂时不想")


# A clause that is only a number of years, with these words around it ("做了2年了", "about 2 years"): at the
# experience question it answers it. Digits are invisible to the models (every number is one feature).
_SELLING_LISTS = ("cb_platforms", "dom_platforms", "cb_words", "export", "oem")
_DURATION_TEXT_RE = re.compile(r"[\d.]+\s?(?:年|个月|years?|yrs?|months?)|[一二两三四五六七八九十几半]+多?个?(?:年|月)半?")
_FILLER_RE = re.compile(r"大概|差不多|左右|将近|快|已经|做了|干了|卖了|做|干|卖|有|了|吧|啊|呀|多|的|"
                        r"\b(?:about|around|roughly|almost|nearly|over|just|only|for|i|we|i've|we've|have|been|doing|it|"
                        r"selling|sold|so|or|ish|now|yes|yeah)\b")


def _bands(value: float, bands: tuple[tuple[str, float | None], ...]) -> str:
    for level, below in bands:
        if below is None or value < below:
            return level
    return bands[-1][0]


@dataclass(frozen=True)
class TypedModels:
    """Whole-message models of the steps with learnt typed answers (knowledge/learned.yaml), and their
    vocabulary."""

    vectorizer: Vectorizer
    models: dict[str, LinearModel]


class SlotReader:
    """The per-step classifiers plus the amount and years rules."""

    def __init__(self, content: Content, featurize: Featurizer, vectorizer: Vectorizer,
                 models: dict[str, LinearModel], hedge: LinearModel, typed: "TypedModels | None" = None):
        self.content, self.featurize, self.vec = content, featurize, vectorizer
        self.models, self.hedge = models, hedge
        self.typed_models = typed
        # Every step's weights and the hedge model's side by side: one gather per clause scores them all.
        self.steps = tuple(s.step for s in content.slots if s.step in models)
        stacked = [models[s] for s in self.steps] + [hedge]
        self._w = np.hstack([m.weights for m in stacked])
        self._b = np.concatenate([m.bias for m in stacked])
        bounds, start = {}, 0
        for st, m in zip(self.steps + (HEDGE,), stacked):
            k = len(m.classes)
            bounds[st] = (start, start + k)
            start += k
        self._bounds = bounds
        self._starts = np.array([a for a, _ in bounds.values()], dtype=np.intp)
        self._owner = np.repeat(np.arange(len(bounds)), [b - a for a, b in bounds.values()])
        lex = content.lexicon
        norm = lambda words: tuple(normalize(t) for t in words)  # noqa: E731
        # Every word list a clause is checked against, scanned in one pass per clause (WordLists).
        lists = {"cb_platforms": norm(lex.cross_border_platforms), "dom_platforms": norm(lex.domestic_platforms),
                 "cb_words": norm(lex.cross_border_words), "export": norm(lex.export_words),
                 "oem": norm(lex.oem_words), "revenue": norm(lex.revenue_words),
                 "hedge": norm(lex.hedge_words), "maker": norm(lex.maker_words),
                 "unsettled": norm(lex.unsettled_words), "operations": norm(lex.overseas_operations)}
        lists.update(Cues.lists(lex))
        self.words = lru_cache(maxsize=512)(WordLists(lists).scan)
        self.cues = Cues(lex)
        self._dismissals = frozenset(normalize(t) for t in lex.dismissals)
        self._both = {step: (a, b, read) for step, a, b, read in lex.both}
        self._partial = {step: (no, yes, read) for step, no, yes, read in lex.partial}
        self._unsure_words = frozenset(normalize(w).strip(" .!。！、") for ws in content.unsure_short.values() for w in ws)
        self._slot = {slot.step: slot for slot in content.slots}
        self.vector = lru_cache(maxsize=512)(self._vector)     # the same clause is often read twice
        self.typed_vector = lru_cache(maxsize=64)(
            lambda norm: typed.vectorizer(featurize(norm)) if typed is not None else [])
        self.short: dict[str, dict[str, str]] = {}
        decided: dict[str, list[tuple[str, str]]] = {}
        for step, level, text in content.decided_answers:
            decided.setdefault(step, []).append((text, level))
        for slot in content.slots:
            table: dict[str, str] = {}
            for i, level in enumerate(slot.levels, 1):
                for name in level.labels + tuple(w for ws in level.short.values() for w in ws):
                    table.setdefault(normalize(name).strip(" .!。！、"), level.id)
            for ws in content.unsure_short.values():
                for w in ws:
                    table.setdefault(normalize(w).strip(" .!。！、"), UNSURE)
            for text, level in decided.get(slot.step, ()):     # typed answers decided in review, word for word
                table.setdefault(normalize(text).strip(" .!。！、"), level)
            self.short[slot.step] = table

    # -- training -----------------------------------------------------------------------
    @staticmethod
    def training_sets(content: Content, learned: bool = False) -> dict[str, list[tuple[str, str, float]]]:
        """Per step: (text, label, weight). See the module docstring for what is NONE. `learned`: with the
        typed answers learnt from (knowledge/learned.yaml), for the steps that have some: the whole-message
        models that read an answer with its question on screen (a short "500万" answers the capital
        question; in a description it may be turnover, so the clause models never learn from them)."""
        own: dict[str, list[tuple[str, str]]] = {}
        for slot in content.slots:
            rows = [(t, lvl.id) for lvl in slot.levels for ts in lvl.examples.values() for t in ts]
            rows += [(t, UNSURE) for ts in slot.unsure.values() for t in ts]
            own[slot.step] = rows
        common = [t for ts in content.other.values() for t in ts]
        common += [t for ts in content.out_of_scope.values() for t in ts]
        common += [t for ts in content.unsure.values() for t in ts]
        advice = set(content.lexicon.advice_entries)
        questions = [q for doc in content.faq if doc.id not in advice for qs in doc.questions.values() for q in qs]
        common += questions[:: max(1, len(questions) // MAX_FAQ_NEGATIVES)]   # a large knowledge base: a sample
        sets = {}
        for slot in content.slots:
            # Learnt typed answers teach their own step only: "没有" is an answer at every step.
            extra = [(t, lvl.id) for lvl in slot.levels for ts in lvl.learned.values() for t in ts]
            extra += [(t, UNSURE) for ts in slot.learned_unsure.values() for t in ts]
            if learned and not extra:
                continue
            pos = own[slot.step] + (extra if learned else [])
            mine = {normalize(t) for t, _ in pos}
            neg = [t for step, rows in own.items() if step != slot.step for t, _ in rows if normalize(t) not in mine]
            neg += common
            neg_w = 1.5 * len(pos) / max(1, len(neg))
            sets[slot.step] = [(t, lab, 1.0) for t, lab in pos] + [(t, NONE, neg_w) for t in neg]
        return sets

    @classmethod
    def fit(cls, content: Content, featurize: Featurizer) -> tuple[Vectorizer, dict[str, LinearModel], LinearModel]:
        """The clause models and the hedge model, over one vocabulary. They never read a learnt example
        (`Level.learned`, `Slot.learned_unsure`, nor the FAQ's learnt questions): bot.nlu.understand caches
        them apart from the models that do."""
        sets = cls.training_sets(content)
        texts = sorted({normalize(t) for rows in sets.values() for t, _, _ in rows})
        feats = {t: featurize(t) for t in texts}
        vectorizer = Vectorizer.fit(list(feats.values()), weigh=slot_feature_weight)
        vecs = {t: vectorizer(f) for t, f in feats.items()}
        for slot in content.slots:          # the short answers, for the hedge model below
            for lvl in slot.levels:
                for t in (t for ts in lvl.short.values() for t in ts):
                    vecs.setdefault(normalize(t), vectorizer(featurize(normalize(t))))
        models = {slot.step: cls._fit_step(slot, sets[slot.step], vecs, len(vectorizer.idf)) for slot in content.slots}
        hedges = [t for ts in content.unsure.values() for t in ts]
        hedges += [t for slot in content.slots for ts in slot.unsure.values() for t in ts]
        hedges += [t for ts in content.unsure_short.values() for t in ts if t.strip("?？")]
        for t in hedges:
            vecs.setdefault(normalize(t), vectorizer(featurize(normalize(t))))
        others = [t for rows in sets.values() for t, lab, _ in rows if lab not in (UNSURE,)]
        # Short answers ("no", "none", "没有") are answers, not hedges: they teach the hedge model that.
        others += [t for slot in content.slots for lvl in slot.levels for ts in lvl.short.values() for t in ts]
        others = sorted(set(others) - set(hedges))
        w_other = len(hedges) / max(1, len(others))
        hedge = train([vecs[normalize(t)] for t in hedges + others], [HEDGE] * len(hedges) + [NONE] * len(others),
                      [HEDGE, NONE], sample_weight=[1.0] * len(hedges) + [w_other] * len(others),
                      n_features=len(vectorizer.idf))
        return vectorizer, models, hedge

    @classmethod
    def fit_typed(cls, content: Content, featurize: Featurizer) -> TypedModels | None:
        """The typed-answer models of the steps with learnt answers, over a vocabulary of their own (the
        clause models' vectors stay exactly what they were without the learnt answers)."""
        sets = cls.training_sets(content, learned=True)
        if not sets:
            return None
        texts = sorted({normalize(t) for rows in sets.values() for t, _, _ in rows})
        feats = {t: featurize(t) for t in texts}
        vectorizer = Vectorizer.fit(list(feats.values()), weigh=slot_feature_weight)
        vecs = {t: vectorizer(f) for t, f in feats.items()}
        return TypedModels(vectorizer, {slot.step: cls._fit_step(slot, sets[slot.step], vecs, len(vectorizer.idf))
                                        for slot in content.slots if slot.step in sets})

    @staticmethod
    def _fit_step(slot: Slot, rows: list[tuple[str, str, float]], vecs: dict[str, SparseVec],
                  n_features: int) -> LinearModel:
        classes = [lvl.id for lvl in slot.levels] + [UNSURE, NONE]
        return train([vecs[normalize(t)] for t, _, _ in rows], [lab for _, lab, _ in rows], classes,
                     sample_weight=[w for _, _, w in rows], n_features=n_features)

    # -- reading ------------------------------------------------------------------------
    def _vector(self, norm: str) -> SparseVec:
        return self.vec(self.featurize(norm))

    def exact(self, step: str, norm: str) -> str | None:
        """A whole message that is an option's number, label or short answer at this step, or a typed answer
        to it decided in review (Content.decided_answers)."""
        slot = self._slot.get(step)
        if slot is None:
            return None
        text = norm.strip(" .!。！、")
        if text.isdigit():
            n = int(text)
            choices = [lvl.id for lvl in slot.levels] + [UNSURE]
            return choices[n - 1] if 1 <= n <= len(choices) else None
        return self.short[step].get(text)

    def hedge_probability(self, norm: str) -> float:
        return self.hedge.proba(self.vector(norm))[0]

    def _amount_level(self, clause: str, bare_ok: bool, words: dict) -> tuple[str, Amount] | None:
        rule: AmountRule = self.content.amounts
        if "revenue" in words:
            return None
        found = amounts(clause, rule.usd_rate, bare_ok=bare_ok)
        if not found:
            return None
        amount = max(found, key=lambda a: a.value)
        return _bands(amount.value, rule.bands), amount

    def _years_level(self, clause: str, words: dict, bare_ok: bool = False) -> tuple[str, float | None, str] | None:
        """(level, years, which rule) for a clause stating years or platforms of selling; with `bare_ok` (the
        experience question on screen), also a clause that is only a number of years ("2年", "2 years")."""
        rule: YearsRule = self.content.years
        if "oem" in words:
            return None             # years of making goods for others are not selling cross-border
        # Export that runs its own operations abroad ("深耕美国市场十年，有成熟的本土运营团队") is selling
        # cross-border, the source article's semi-managed seller; B2B export alone is `some`.
        operates = "export" in words and "operations" in words
        cross_border = "cb_platforms" in words or "cb_words" in words or operates
        export = "export" in words and not operates
        domestic = "dom_platforms" in words
        found = durations(clause)
        if not found and negated(clause):
            return None             # "也没做过外贸": no export, no domestic selling stated
        if not found:
            if domestic and not cross_border and not export:
                return rule.domestic_level, None, "domestic"
            if export and not cross_border and not domestic:        # "we used to do wholesale to europe"
                return rule.export_level, None, "export"
            return None
        years = max(d.years for d in found)
        if cross_border:
            return _bands(years, rule.bands), years, "years"
        if export:
            return rule.export_level, years, "export"
        if domestic:
            return rule.domestic_level, years, "domestic"
        if bare_ok and "selling_named" not in words and not _FILLER_RE.sub("", _DURATION_TEXT_RE.sub("", clause)).strip(" ,.!?+~-"):
            return _bands(years, rule.bands), years, "years"    # the question asks about selling cross-border
        return None

    @staticmethod
    def making_not_selling(words: dict) -> bool:
        """A text about making goods (OEM for others, our own plant) that names no cross-border selling: its
        years ("做了8年代工", "we've run our plant for 12 years") are no selling experience."""
        return ("oem" in words or "maker" in words) and "cb_platforms" not in words and "cb_words" not in words

    def all_probabilities(self, vec: SparseVec) -> dict[str, list[float]]:
        """Every step's class probabilities for one vector."""
        if vec:
            idx = [j for j, _ in vec]
            vals = np.fromiter((v for _, v in vec), dtype=np.float32, count=len(idx))
            z = vals @ self._w[idx] + self._b
        else:
            z = self._b
        # Each step's softmax over its own slice of the scores, all in three numpy calls.
        e = np.exp(z - np.maximum.reduceat(z, self._starts)[self._owner])
        p = (e / np.add.reduceat(e, self._starts)[self._owner]).tolist()
        return {st: p[a:b] for st, (a, b) in self._bounds.items()}

    def read_clause(self, clause: str, steps: tuple[str, ...], on_screen: str | None,
                    probs: dict[str, list[float]] | None = None, words: dict | None = None) -> list[SlotReading]:
        out, second_facts = [], []
        if probs is None:
            probs = self.all_probabilities(self.vector(clause))
        if words is None:
            words = self.words(clause)
        lowest_experience = self._lowest(self.content.years.step)
        maker = self.content.lexicon.maker or None
        for step in steps:
            model = self.models.get(step)
            if model is None:
                continue
            p = probs[step]
            best = max(range(len(p)), key=p.__getitem__)
            level = model.classes[best]
            if step == self.content.amounts.step:
                ruled = self._amount_level(clause, step == on_screen, words)
                if ruled is not None and (ruled[1].value >= 1000 or step == on_screen):
                    out.append(SlotReading(step, ruled[0], 0.9, clause, amount=ruled[1], source="amount"))
                    continue
                if ruled is None and foreign_amount(clause):
                    continue        # "capital around £20k": some amount, of a size not known here
            if step == self.content.years.step:
                ruled_y = self._years_level(clause, words, step == on_screen)
                if ruled_y is not None:
                    out.append(SlotReading(step, ruled_y[0], 0.9, clause, years=ruled_y[1], source=ruled_y[2]))
                    continue
            if maker is not None and step == maker[0] and "oem" in words and "maker" in words:
                out.append(SlotReading(step, maker[1], 0.9, clause, source="maker"))     # "给大牌做OEM"
                continue
            if step == self.content.years.step and level not in (NONE, UNSURE, lowest_experience) \
                    and self.making_not_selling(words):
                continue            # years of making goods are not selling experience, whatever the model reads
            if step == self.content.years.step and level not in (NONE, UNSURE, lowest_experience) \
                    and (found := durations(clause)):
                # "uk for 2 years", "2 years on back market": selling, the model says, for a number of years it
                # cannot see (every number is one feature to it): the years rule's band says how much
                level = _bands(max(d.years for d in found), self.content.years.bands)
            slot = self._slot.get(step)
            if level != NONE and p[best] >= DESCRIPTION_MIN:
                out.append(SlotReading(step, level, p[best], clause))
            elif level == NONE and len(p) > 2:
                # A clause stating two facts ("义乌有个小工厂做饰品"): the other fact's words pull
                # towards "nothing about me", yet one level can still clearly stand out.
                second = max(range(len(p) - 1), key=p.__getitem__)
                share = p[second] / max(1e-9, 1.0 - p[best])
                floor = SECOND_FACT_MIN if (slot is None or slot.core) else SECOND_FACT_OPTIONAL_MIN
                if p[second] >= floor and share >= SECOND_FACT_SHARE and model.classes[second] != UNSURE:
                    second_facts.append(SlotReading(step, model.classes[second], p[second], clause, second=True))
        ruled = any(r.source in RULED for r in out)
        if len(out) > 1:
            # One clause read by several steps from the same words ("直播刚起步" vs "刚起步", "years of
            # experience doing livestreams"): only the strongest reading stands, unless the others are
            # strong in their own right; beside an amount read by a rule, the words read by a model need more.
            top = max(r.confidence for r in out)
            floor = SHARED_RULED_MIN if any(r.source == "amount" for r in out) else SHARED_CLAUSE_MIN
            out = [r for r in out if r.source in RULED or r.confidence >= floor or r.confidence == top]
        if ruled or (out and max(r.confidence for r in out) < SECOND_BESIDE_MIN):
            # "~$4k to start": the number explains the clause's words; beside a faint first fact,
            # a fainter second one is noise.
            second_facts = []
        if out and not any(r.source == "amount" for r in out):
            second_facts += self._in_passing(out + second_facts, steps, probs, clause)
        return out + second_facts

    def _in_passing(self, read: list[SlotReading], steps: tuple[str, ...], probs: dict[str, list[float]],
                    clause: str) -> list[SlotReading]:
        """The goods named in a clause about something else ("我们家是做服装的工厂", "our yoga wear is made by a
        partner factory"): the level of an `in_passing` step that clearly leads its others, though "nothing
        about this step" leads it (the clause's other fact pulls that way)."""
        out = []
        for step in self.content.lexicon.in_passing:
            model = self.models.get(step)
            if model is None or step not in steps or any(r.step == step for r in read):
                continue
            p = probs[step]
            levels = [i for i, c in enumerate(model.classes) if c not in (NONE, UNSURE)]
            best = max(levels, key=p.__getitem__)
            if p[best] >= IN_PASSING_MIN and p[best] / max(1e-9, 1.0 - p[model.classes.index(NONE)]) >= IN_PASSING_SHARE:
                out.append(SlotReading(step, model.classes[best], p[best], clause, second=True))
        return out

    def _unsettled(self, words: dict, hedge: float) -> tuple[str, str] | None:
        """(step, level) when a clause's only hedge words are ones that state a fact about that step."""
        target = self.content.lexicon.unsettled
        said = words.get("hedge", ())
        if target is None or not said or "unsettled" not in words:
            return None
        plain = set(words["unsettled"])
        return target if all(w in plain or any(w in u for u in plain) for w in said) else None

    def _lowest(self, step: str) -> str | None:
        slot = self._slot.get(step)
        return slot.levels[0].id if slot and slot.levels else None

    def typed_probabilities(self, step: str, norm: str) -> tuple[tuple[str, ...], list[float]] | None:
        """The classes and probabilities of the message read as an answer to `step` (the question on screen):
        by the step's typed-answer model where it has one, else by its clause model; None for no such step."""
        typed = self.typed_models
        if typed is not None and step in typed.models:
            model = typed.models[step]
            return tuple(model.classes), list(model.proba(self.typed_vector(norm)))
        if step in self.models:
            model = self.models[step]
            return tuple(model.classes), list(model.proba(self.vector(norm)))
        return None

    def typed(self, step: str, norm: str) -> SlotReading | None:
        """The message read as an answer to the step on screen, or None."""
        read = self.typed_probabilities(step, norm)
        if read is None:
            return None
        classes, p = read
        none_p = p[classes.index(NONE)]
        rest = [(c, x) for c, x in zip(classes, p) if c != NONE]
        level, best = max(rest, key=lambda cx: cx[1])
        share = best / max(1e-9, 1.0 - none_p)
        if share >= TYPED_MIN and none_p <= TYPED_NONE_MAX:
            return SlotReading(step, level, round(share * (1 - none_p / 2), 4), norm)
        return None

    def describe(self, norm: str, on_screen: str | None = None) -> dict[str, SlotReading]:
        """Every step a message states, merged across its clauses (see the module docstring)."""
        return self.describe_all(norm, on_screen).readings

    def _key_value(self, step: str, value: str, clause: str, on_screen: str | None) -> list[SlotReading]:
        """"experience: none", "预算：20万": the value read as an answer to the step named."""
        level = self.exact(step, value)
        if level is not None:
            return [SlotReading(step, level, 0.95, clause, source="key")]
        return [r for r in self.read_clause(value, (step,), step) if r.step == step]

    def describe_all(self, norm: str, on_screen: str | None = None) -> Described:
        """The steps read, the steps read in conflicting ways, and the text that was weighed."""
        steps = tuple(s.step for s in self.content.slots)
        experience = self.content.years.step
        per_clause: list[tuple[Clause, list[SlotReading]]] = []
        kept: list[str] = []
        prev: list[SlotReading] = []            # the definite readings of the clause before
        prev_topics: tuple[str, ...] = ()       # ...and the steps it named
        dismissed: set[str] = set()
        others = 0                              # clauses about someone else, left out of `kept`
        split = clauses(norm)
        scans = [self.words(c) for c in split]
        # "也没做过海外营销": a clause saying no names no team abroad.
        operations = tuple(w for c, found in zip(split, scans) if not negated(c) for w in found.get("operations", ()))
        export = tuple(w for found in scans for w in found.get("export", ())) if operations else ()
        # Where the message names where or how it sold, its years are read with those words, never bare.
        selling = any(k in found for found in scans for k in _SELLING_LISTS)
        # ...and where it names making goods for others and no selling at all, bare years are of that making
        # ("We are ODM/OEM factory for yoga mats, 15 years, we never sell to consumers").
        making = tuple(w for found in scans for w in found.get("oem", ())) \
            if not any(k in found for found in scans for k in ("cb_platforms", "dom_platforms", "cb_words", "export")) else ()
        for clause in split:
            words = self.words(clause)
            if operations:              # the message says who runs the overseas side (see _years_level)
                words = {**words, "operations": operations}
            elif "operations" in words:
                words = {k: v for k, v in words.items() if k != "operations"}
            if export and "export" not in words and durations(clause):
                words = {**words, "export": export}     # ...and that it exports: its years are of that export
            if making and "oem" not in words and durations(clause):
                words = {**words, "oem": making}
            if selling:
                words = {**words, "selling_named": ("",)}
            cue = self.cues.read(clause, words)
            if cue.other_person:                # "my cousin runs a big amazon store": not the seller
                prev, prev_topics = [], ()
                others += 1
                continue
            opening = not per_clause and on_screen is not None and self.exact(on_screen, clause) is not None
            if clause in self._dismissals and not opening:    # "brand? nah": says no to what the clause before named
                # (opening a message, "no, but we have our own brand" answers the question on screen)
                if prev and per_clause:
                    last_clause, last = per_clause[-1]
                    per_clause[-1] = (last_clause, [r for r in last if r not in prev])
                    dismissed.update(r.step for r in prev)
                prev, prev_topics = [], ()
                continue
            probs = self.all_probabilities(self.vector(clause))
            hedge = 1.0 if clause in self._unsure_words else probs[HEDGE][0]
            short = self.exact(on_screen, clause) if on_screen and not clause.isdigit() else None
            if short is not None:               # "a little, no dedicated person": a short answer leads
                readings = [SlotReading(on_screen, short, 0.95, clause, source="short")]
            elif cue.key is not None and cue.key in self.models:
                readings = self._key_value(cue.key, cue.value, clause, on_screen)
            else:
                readings = self.read_clause(clause, steps, on_screen, probs, words)
            if cue.past:                        # "used to have a factory": only years of selling still count
                readings = [r for r in readings if r.step == experience]
            else:
                kept.append(clause)
            topical = tuple(t for t in cue.topics if t in self.models)
            definite = [r for r in readings if r.level != UNSURE]
            says_unsure = hedge == 1.0 or "hedge" in words
            targets = None
            if says_unsure and not any(r.source in RULED for r in definite):
                if topical and cue.key is None:
                    targets = topical   # "经验的话不好说", "budget not decided": not sure about that step only
                elif hedge >= HEDGE_SURE or (hedge >= BARE_HEDGE_MIN and not definite):
                    # A bare hedge ("不知道算不算", "idk tbh"): about what the clause before said, else the question on screen.
                    targets = tuple(r.step for r in prev) or ((on_screen,) if on_screen else ())
                    if prev:
                        last_clause, last = per_clause[-1]
                        per_clause[-1] = (last_clause, [r for r in last if r.step not in targets])
            if targets is not None:
                # "供应商还没定下来", "在谈一家代工厂，还没定": a fact about supply (none yet), not a doubt
                unsettled = self._unsettled(words, hedge) if hedge < 1.0 and (topical or prev or prev_topics) else None
                readings = [SlotReading(t, unsettled[1], 0.8, clause, source="unsettled")
                            if unsettled is not None and t == unsettled[0]
                            else SlotReading(t, UNSURE, round(hedge, 4), clause, source="hedge") for t in targets]
            per_clause.append((clause, readings))
            prev = [r for r in readings if r.level != UNSURE and not r.second]
            prev_topics = cue.topics
        per_step: dict[str, list[tuple[Clause, SlotReading]]] = {}
        for clause, readings in per_clause:
            for r in readings:
                per_step.setdefault(r.step, []).append((clause, r))
        out, ambiguous = {}, set()
        lowest = self._lowest(experience)
        for step, found in per_step.items():
            merged = _merge(found, lowest if step == experience else None, self._both.get(step), self._partial.get(step))
            if merged is not None:
                out[step] = merged
            else:
                ambiguous.add(step)
        return Described(out, ambiguous, " , ".join(kept) if others or len(kept) < len(per_clause) or not per_clause else norm,
                         frozenset(dismissed))


def _one(readings: list[SlotReading]) -> SlotReading | None:
    """The strongest of readings that all read one level, else None."""
    return max(readings, key=lambda r: r.confidence) if len({r.level for r in readings}) == 1 else None


def _merge(found: list[tuple[Clause, SlotReading]], lowest_experience: str | None = None,
           both: tuple[str, str, str] | None = None, partial: tuple[str, str, str] | None = None) -> SlotReading | None:
    everything = found
    primary = [(c, r) for c, r in found if not r.second]
    found = primary or found            # a clause about this step outweighs a second fact elsewhere
    firm = [(c, r) for c, r in found if not c.concession] or found   # "虽然我家是开厂的，但...": the concession yields
    agreed = _one([r for _, r in found]) or _one([r for _, r in firm])
    if agreed is not None:
        return agreed
    found = firm
    if lowest_experience is not None:
        # "淘宝做了四年，跨境一天都没做过": domestic or export selling is `some` whatever cross-border says.
        stated = [r for _, r in found if r.source in ("domestic", "export")]
        if stated and all(r.level in (lowest_experience, stated[0].level) for _, r in found):
            return stated[-1]
    if partial is not None:
        # "short videos yes, but no lives": no about one part, yes about another is the partial level
        levels = {r.level for _, r in found if r.level != UNSURE}
        if partial[0] in levels and len(levels) > 1 and levels <= set(partial):
            parts = [r for _, r in found if r.level != UNSURE]
            return SlotReading(parts[0].step, partial[2], min(r.confidence for r in parts), parts[-1].clause,
                               source="partial")
    contrasted = [r for c, r in found if c.contrast and r.confidence >= CONTRAST_MIN]
    if contrasted and len({r.level for r in contrasted}) == 1:
        return contrasted[-1]
    if both is not None and not any(r.source == "hedge" for _, r in found):
        # "need the cash flow, also want a brand": both ends of the question, said (not denied); beside
        # "haven't decided" the two ends are what is undecided
        said_levels = {r.level: r for c, r in found if r.level != UNSURE and not negated(c)}
        said = set(said_levels)
        if len(said) >= 2 and {r.level for _, r in found if r.level != UNSURE} <= set(both) and (both[2] in said or {both[0], both[1]} <= said):
            # ...or one end beside "both" ("orders now, a brand over time"): "both" includes that end
            parts = [said_levels[lvl] for lvl in both if lvl in said]
            return SlotReading(parts[0].step, both[2], min(r.confidence for r in parts), parts[-1].clause,
                               source="both")
    definite = [r for _, r in found if r.level != UNSURE]
    ruled = [r for r in definite if r.source in RULED]
    stated = ruled[-1] if len({r.level for r in ruled}) == 1 else None    # a stated amount or number of years
    hedged = [r for _, r in found if r.source == "hedge"]
    if hedged:      # a hedge said in so many words beats a level read from the words elsewhere, not a stated amount
        return stated or hedged[-1]
    agreed = _one(definite) or stated                # "not sure... but probably X"; a stated amount beats words
    if agreed is not None:
        return agreed
    said = [r for c, r in found if r.level != UNSURE and not negated(c)]
    if said and len(said) < len(definite) and len({r.level for c, r in everything if not negated(c)}) == 1 \
            and max(r.confidence for r in said) >= SAID_MIN:
        # "没厂，我们是贸易公司": what a clause says is beats what another says is not
        return max(said, key=lambda r: r.confidence)
    return None
