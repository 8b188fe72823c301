"""Reading answers to questionnaire steps: one learned classifier per step, read clause by clause.

Each step has a softmax classifier over its levels, `unsure` and NONE ("this clause says nothing
about this step"). It learns from the step's examples; every other step's examples, the
messages that answer nothing and the knowledge-base questions are its NONE examples, which is
what keeps a fact about one thing from being read as an answer to another. A description is
split into clauses and each clause goes through every step's classifier, so one clause can
state two facts ("we are a factory new to cross-border") and two clauses can state the same
one. Money amounts and years of experience are read by rules of thumb (ours, in
dialogs/reading.yaml) that override the classifier for their step.

When clauses disagree about a step, a clause introduced by a contrast ("但", "but") wins; else a
clearly stronger reading wins; else the step is left unread rather than guessed, and the
dialogue asks.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bot.nlu.content import AmountRule, Content, YearsRule
from bot.nlu.facts import Amount, Terms, amounts, durations
from bot.nlu.features import Featurizer
from bot.nlu.linear import LinearModel, SparseVec, Vectorizer, train
from bot.nlu.text import Clause, clauses, normalize

NONE = "_none"
UNSURE = "unsure"
HEDGE = "hedge"
# Thresholds, tuned on the development sets (eval/dev/).
DESCRIPTION_MIN = 0.45    # a clause's reading of a step needs at least this probability
TYPED_MIN = 0.6           # a typed answer: probability among the step's levels (NONE set aside)
TYPED_NONE_MAX = 0.75     # ...unless the message is mostly about something else
HEDGE_MIN = 0.6           # a typed answer nothing else reads, this hedge-like, is "not sure"
HEDGE_SURE = 0.7          # this hedge-like, it is "not sure" whatever else it mentions
OPTIONAL_MIN = 0.6        # optional questions are seldom the point of a description: a higher bar
SECOND_FACT_MIN = 0.2     # ...a level behind "nothing about me" in a two-fact clause, with
SECOND_FACT_SHARE = 0.8   # ...at least this share of the probability the levels have
SHARED_CLAUSE_MIN = 0.5   # a second step read from the same clause needs at least this
MAX_FAQ_NEGATIVES = 1500  # knowledge-base questions the step models see as "says nothing about me"
CONTRAST_MIN = 0.6        # a clause after "but" overrides the others only when read this clearly
CLEAR_MARGIN = 0.4        # two clauses disagreeing: the stronger wins only by this much


@dataclass(frozen=True)
class SlotReading:
    step: str
    level: str
    confidence: float
    clause: str
    amount: Amount | None = None   # the amount a capital level was read from
    years: float | None = None     # the years an experience level was read from
    second: bool = False           # read as the second fact of a clause about something else


def _bands(value: float, bands: tuple[tuple[str, float | None], ...]) -> str:
    for level, below in bands:
        if below is None or value < below:
            return level
    return bands[-1][0]


class SlotReader:
    """The per-step classifiers plus the amount and years rules."""

    def __init__(self, content: Content, featurize: Featurizer, vectorizer: Vectorizer,
                 models: dict[str, LinearModel], hedge: LinearModel):
        self.content, self.featurize, self.vec = content, featurize, vectorizer
        self.models, self.hedge = models, hedge
        # Every step's weights side by side: one gather per clause scores all the steps at once.
        self.steps = tuple(s.step for s in content.slots if s.step in models)
        self._w = np.hstack([models[s].weights for s in self.steps]) if self.steps else np.zeros((0, 0), np.float32)
        self._b = np.concatenate([models[s].bias for s in self.steps]) if self.steps else np.zeros(0, np.float32)
        bounds, start = {}, 0
        for st in self.steps:
            k = len(models[st].classes)
            bounds[st] = (start, start + k)
            start += k
        self._bounds = bounds
        self._starts = np.array([a for a, _ in bounds.values()], dtype=np.intp)
        self._owner = np.repeat(np.arange(len(bounds)), [b - a for a, b in bounds.values()])
        lex = content.lexicon
        self._cb_platforms = Terms(tuple(normalize(t) for t in lex.cross_border_platforms))
        self._dom_platforms = Terms(tuple(normalize(t) for t in lex.domestic_platforms))
        self._cb_words = Terms(tuple(normalize(t) for t in lex.cross_border_words))
        self._export_words = Terms(tuple(normalize(t) for t in lex.export_words))
        self._oem_words = Terms(tuple(normalize(t) for t in lex.oem_words))
        self._revenue = Terms(tuple(normalize(t) for t in lex.revenue_words))
        self.vector = lru_cache(maxsize=512)(self._vector)     # the same clause is often read twice
        self.short: dict[str, dict[str, str]] = {}
        for slot in content.slots:
            table: dict[str, str] = {}
            for i, level in enumerate(slot.levels, 1):
                for name in level.labels + tuple(w for ws in level.short.values() for w in ws):
                    table.setdefault(normalize(name).strip(" .!。！、"), level.id)
            for ws in content.unsure_short.values():
                for w in ws:
                    table.setdefault(normalize(w).strip(" .!。！、"), UNSURE)
            self.short[slot.step] = table

    # -- training -----------------------------------------------------------------------
    @staticmethod
    def training_sets(content: Content) -> dict[str, list[tuple[str, str, float]]]:
        """Per step: (text, label, weight). See the module docstring for what is NONE."""
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
            pos = own[slot.step]
            mine = {normalize(t) for t, _ in pos}
            neg = [t for step, rows in own.items() if step != slot.step for t, _ in rows if normalize(t) not in mine]
            neg += common
            neg_w = 1.5 * len(pos) / max(1, len(neg))
            sets[slot.step] = [(t, lab, 1.0) for t, lab in pos] + [(t, NONE, neg_w) for t in neg]
        return sets

    @classmethod
    def fit(cls, content: Content, featurize: Featurizer) -> tuple[Vectorizer, dict[str, LinearModel], LinearModel]:
        sets = cls.training_sets(content)
        texts = sorted({normalize(t) for rows in sets.values() for t, _, _ in rows})
        feats = {t: featurize(t) for t in texts}
        vectorizer = Vectorizer.fit(list(feats.values()))
        vecs = {t: vectorizer(f)[0] for t, f in feats.items()}
        for slot in content.slots:          # the short answers, for the hedge model below
            for lvl in slot.levels:
                for t in (t for ts in lvl.short.values() for t in ts):
                    vecs.setdefault(normalize(t), vectorizer(featurize(normalize(t)))[0])
        models = {}
        for slot in content.slots:
            rows = sets[slot.step]
            classes = [lvl.id for lvl in slot.levels] + [UNSURE, NONE]
            models[slot.step] = train([vecs[normalize(t)] for t, _, _ in rows], [lab for _, lab, _ in rows], classes,
                                      sample_weight=[w for _, _, w in rows], n_features=len(vectorizer.idf))
        hedges = [t for ts in content.unsure.values() for t in ts]
        hedges += [t for slot in content.slots for ts in slot.unsure.values() for t in ts]
        others = [t for rows in sets.values() for t, lab, _ in rows if lab not in (UNSURE,)]
        # Short answers ("no", "none", "没有") are answers, not hedges: they teach the hedge model that.
        others += [t for slot in content.slots for lvl in slot.levels for ts in lvl.short.values() for t in ts]
        others = sorted(set(others) - set(hedges))
        w_other = len(hedges) / max(1, len(others))
        hedge = train([vecs[normalize(t)] for t in hedges + others], [HEDGE] * len(hedges) + [NONE] * len(others),
                      [HEDGE, NONE], sample_weight=[1.0] * len(hedges) + [w_other] * len(others),
                      n_features=len(vectorizer.idf))
        return vectorizer, models, hedge

    # -- reading ------------------------------------------------------------------------
    def _vector(self, norm: str) -> SparseVec:
        return self.vec(self.featurize(norm))[0]

    def exact(self, step: str, norm: str) -> str | None:
        """A whole message that is an option's number, label or short answer at this step."""
        slot = self.content.slot(step)
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

    def _amount_level(self, clause: str, bare_ok: bool) -> tuple[str, Amount] | None:
        rule: AmountRule = self.content.amounts
        if clause in self._revenue:
            return None
        found = amounts(clause, rule.usd_rate, bare_ok=bare_ok)
        if not found:
            return None
        amount = max(found, key=lambda a: a.value)
        return _bands(amount.value, rule.bands), amount

    def _years_level(self, clause: str, on_screen: bool) -> tuple[str, float | None] | None:
        rule: YearsRule = self.content.years
        if clause in self._oem_words:
            return None             # years of making goods for others are not selling cross-border
        cross_border = clause in self._cb_platforms or clause in self._cb_words
        export = clause in self._export_words
        domestic = clause in self._dom_platforms
        found = durations(clause)
        if not found:
            if domestic and not cross_border and not export:
                return rule.domestic_level, None
            return None
        years = max(d.years for d in found)
        if cross_border:
            return _bands(years, rule.bands), years
        if export:
            return rule.export_level, years
        if domestic:
            return rule.domestic_level, years
        if on_screen:       # "3 yrs" typed at the experience question
            return _bands(years, rule.bands), years
        return None

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

    def read_clause(self, clause: str, steps: tuple[str, ...], on_screen: str | None) -> list[SlotReading]:
        out, second_facts = [], []
        probs = self.all_probabilities(self.vector(clause))
        lowest_experience = self._lowest(self.content.years.step)
        for step in steps:
            model = self.models.get(step)
            if model is None:
                continue
            p = probs[step]
            best = max(range(len(p)), key=p.__getitem__)
            level = model.classes[best]
            if step == self.content.amounts.step:
                ruled = self._amount_level(clause, bare_ok=step == on_screen)
                if ruled is not None and (ruled[1].value >= 1000 or step == on_screen):
                    out.append(SlotReading(step, ruled[0], 0.9, clause, amount=ruled[1]))
                    continue
            if step == self.content.years.step and not (level == lowest_experience and p[best] >= 0.5):
                ruled_y = self._years_level(clause, step == on_screen)
                if ruled_y is not None:
                    out.append(SlotReading(step, ruled_y[0], 0.9, clause, years=ruled_y[1]))
                    continue
            slot = self.content.slot(step)
            needed = DESCRIPTION_MIN if (slot is None or slot.core or step == on_screen) else OPTIONAL_MIN
            if level != NONE and p[best] >= needed:
                out.append(SlotReading(step, level, p[best], clause))
            elif level == NONE and len(p) > 2:
                # A clause stating two facts ("义乌有个小工厂做饰品"): the other fact's words pull
                # towards "nothing about me", yet one level can still clearly stand out.
                second = max(range(len(p) - 1), key=p.__getitem__)
                share = p[second] / max(1e-9, 1.0 - p[best])
                if p[second] >= SECOND_FACT_MIN and share >= SECOND_FACT_SHARE and model.classes[second] != UNSURE:
                    second_facts.append(SlotReading(step, model.classes[second], p[second], clause, second=True))
        if len(out) > 1:
            # One clause read by several steps from the same words ("直播刚起步" vs "刚起步"): only
            # the strongest reading stands, unless the others are strong in their own right.
            top = max(r.confidence for r in out)
            out = [r for r in out if r.confidence >= SHARED_CLAUSE_MIN or r.confidence == top]
        return out + second_facts

    def _lowest(self, step: str) -> str | None:
        slot = self.content.slot(step)
        return slot.levels[0].id if slot and slot.levels else None

    def typed(self, step: str, norm: str) -> SlotReading | None:
        """The message read as an answer to the step on screen, or None."""
        model = self.models.get(step)
        if model is None:
            return None
        vec = self.vector(norm)
        p = model.proba(vec)
        none_p = p[model.classes.index(NONE)]
        rest = [(c, x) for c, x in zip(model.classes, p) if c != NONE]
        level, best = max(rest, key=lambda cx: cx[1])
        share = best / max(1e-9, 1.0 - none_p)
        if share >= TYPED_MIN and none_p <= TYPED_NONE_MAX:
            return SlotReading(step, level, round(share * (1 - none_p / 2), 4), norm)
        return None

    def describe(self, norm: str, on_screen: str | None = None) -> dict[str, SlotReading]:
        """Every step a message states, merged across its clauses (see the module docstring)."""
        return self.describe_all(norm, on_screen)[0]

    def describe_all(self, norm: str, on_screen: str | None = None) -> tuple[dict[str, SlotReading], set[str]]:
        """(the steps read, the steps its clauses read in conflicting ways and so left unread)."""
        steps = tuple(s.step for s in self.content.slots)
        per_step: dict[str, list[tuple[Clause, SlotReading]]] = {}
        for clause in clauses(norm):
            for r in self.read_clause(clause, steps, on_screen):
                per_step.setdefault(r.step, []).append((clause, r))
        out, ambiguous = {}, set()
        for step, found in per_step.items():
            merged = _merge(found)
            if merged is not None:
                out[step] = merged
            else:
                ambiguous.add(step)
        return out, ambiguous


def _merge(found: list[tuple[Clause, SlotReading]]) -> SlotReading | None:
    primary = [(c, r) for c, r in found if not r.second]
    if primary and len(primary) < len(found):
        found = primary                 # a clause about this step outweighs a second fact elsewhere
    levels = {r.level for _, r in found}
    if len(levels) == 1:
        return max((r for _, r in found), key=lambda r: r.confidence)
    contrasted = [r for c, r in found if c.contrast and r.confidence >= CONTRAST_MIN]
    if contrasted:
        last = contrasted[-1]
        if len({r.level for r in contrasted}) == 1:
            return last
    definite = [r for _, r in found if r.level != UNSURE]
    if len({r.level for r in definite}) == 1:
        return max(definite, key=lambda r: r.confidence)     # "not sure... but probably X"
    ruled = [r for r in definite if r.amount is not None or r.years is not None]
    if len({r.level for r in ruled}) == 1 and all(r.confidence < 0.8 for r in definite if r not in ruled):
        return ruled[-1]        # a stated amount or number of years beats a vague word elsewhere
    ranked = sorted(definite, key=lambda r: -r.confidence)
    if len(ranked) >= 2 and ranked[0].confidence - ranked[1].confidence >= CLEAR_MARGIN and len(levels) == 2:
        return ranked[0]
    return None
