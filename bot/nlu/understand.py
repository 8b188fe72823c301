"""The one entry point of understanding: `Understanding.read(text, step, lang)`.

Models are trained from the content when it loads, or read from a cache keyed by a hash of
everything they learn from (`.cache/nlu/<hash>.json`), so a restart with unchanged content
costs a file read, not a training run.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot import ROOT
from bot.kb.lang import detect_lang
from bot.nlu.content import Content
from bot.nlu.facts import Facts, WordLists, amounts, durations
from bot.nlu.faq import (CLASSIFIER_MAX_ENTRIES, KNN_OOS_MARGIN, KNN_THRESHOLD, THRESHOLD, FaqClassifier, FaqIndex,
                         Hit)
from bot.nlu.features import Featurizer
from bot.nlu.linear import LinearModel, Vectorizer
from bot.nlu.scope import Scope, ScopeReader
from bot.nlu.slots import HEDGE_MIN, TYPED_DISAGREE_MARGIN, UNSURE, SlotReader, SlotReading
from bot.nlu.text import has_cjk, normalize

log = logging.getLogger(__name__)
# The cache key covers the content and the code that learns from it: editing either retrains.
_MODEL_CODE = ("features.py", "linear.py", "slots.py", "faq.py", "text.py", "facts.py", "content.py")


def model_version() -> str:
    here = Path(__file__).resolve().parent
    return "nlu:" + "".join(hashlib.sha256((here / name).read_bytes()).hexdigest()[:12] for name in _MODEL_CODE)

CACHE_DIR = Path(os.environ.get("NLU_CACHE_DIR", ROOT / ".cache" / "nlu"))
KEEP_CACHED = 4


@dataclass(frozen=True)
class FaqHit:
    id: str
    score: float


@dataclass(frozen=True)
class Reading:
    """What a message says, as data (see `Understanding.read`)."""

    text: str
    lang: str
    answers: dict[str, str]                     # step -> level or "unsure"
    confidence: dict[str, float]
    details: dict[str, SlotReading]
    on_screen: str | None                       # the step the message was read as answering, if any
    question: bool
    advice: bool                                # a question asking which mode fits, stating facts
    faq: tuple[FaqHit, ...]                     # best entries first
    faq_probability: float                      # calibrated chance the first is right
    answerable: bool                            # faq_probability reaches the threshold
    facts: Facts
    command: str | None = None
    scope: Scope = Scope()                      # the platforms and modes it names (bot.nlu.scope)

    def to_dict(self) -> dict:
        best = self.faq[0] if self.faq else None
        return {
            "text": self.text, "lang": self.lang, "answers": dict(self.answers),
            "confidence": {k: round(v, 3) for k, v in self.confidence.items()},
            "on_screen": self.on_screen, "question": self.question, "advice": self.advice,
            "faq": {"id": best.id, "score": round(self.faq_probability, 4)} if best and self.answerable else None,
            "faq_nearest": [{"id": h.id, "score": round(h.score, 4)} for h in self.faq[:3]],
            "facts": self.facts.to_dict(), "command": self.command,
            "amounts": {s: round(r.amount.value) for s, r in self.details.items() if r.amount is not None},
            "scope": self.scope.to_dict(),
        }


@dataclass
class _Models:
    vectorizer: Vectorizer                 # the slot models' features
    slots: dict[str, LinearModel]
    hedge: LinearModel
    faq_vectorizer: Vectorizer | None      # None when the knowledge base is ranked by neighbours
    faq: LinearModel | None

    def save(self, stem: Path) -> None:
        """<stem>.json (vocabularies, classes) and <stem>.npz (weights), each written atomically."""
        models = {"hedge": self.hedge, **{f"slot:{k}": m for k, m in self.slots.items()}}
        if self.faq is not None:
            models["faq"] = self.faq
        meta = {"vocab": self.vectorizer.vocab, "idf": self.vectorizer.idf,
                "faq_vocab": self.faq_vectorizer.vocab if self.faq_vectorizer else None,
                "faq_idf": self.faq_vectorizer.idf if self.faq_vectorizer else None,
                "classes": {k: m.classes for k, m in models.items()}}
        arrays = {}
        for k, m in models.items():
            arrays[f"{k}|w"] = m.weights
            arrays[f"{k}|b"] = m.bias
        fd, tmp = tempfile.mkstemp(dir=stem.parent, suffix=".npz")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, stem.with_suffix(".npz"))
        fd, tmp = tempfile.mkstemp(dir=stem.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(meta, fh, ensure_ascii=False, separators=(",", ":"))
        os.replace(tmp, stem.with_suffix(".json"))

    @classmethod
    def load(cls, stem: Path) -> "_Models":
        with stem.with_suffix(".json").open(encoding="utf-8") as fh:
            meta = json.load(fh)
        with np.load(stem.with_suffix(".npz")) as arrays:
            def model(key: str) -> LinearModel:
                return LinearModel(meta["classes"][key], arrays[f"{key}|w"], arrays[f"{key}|b"])
            slots = {k.split(":", 1)[1]: model(k) for k in meta["classes"] if k.startswith("slot:")}
            faq = model("faq") if "faq" in meta["classes"] else None
            hedge = model("hedge")
        faq_vec = Vectorizer(meta["faq_vocab"], meta["faq_idf"]) if meta.get("faq_vocab") is not None else None
        return cls(Vectorizer(meta["vocab"], meta["idf"]), slots, hedge, faq_vec, faq)


class Understanding:
    """Reads messages; see the package docstring. Never raises on any text."""

    def __init__(self, content: Content, cache_dir: Path | None = CACHE_DIR, threshold: float = THRESHOLD,
                 scope: ScopeReader | None = None):
        self.content, self.threshold = content, threshold
        self.scope = scope or ScopeReader.default()
        self.featurize = Featurizer(content.concepts)        # questions: with synonym concepts
        self.slot_featurize = Featurizer()                   # answers: n-grams only
        self.digest = content.digest(model_version())
        use_classifier = len(content.faq) <= CLASSIFIER_MAX_ENTRIES
        models = self._load(cache_dir)
        if models is None:
            vectorizer, slot_models, hedge = SlotReader.fit(content, self.slot_featurize)
            faq_vec, faq_model = (FaqClassifier.fit(content.faq, content.faq_out_of_scope(), self.featurize, content.situations())
                                  if use_classifier else (None, None))
            models = _Models(vectorizer, slot_models, hedge, faq_vec, faq_model)
            self._save(cache_dir, models)
        self.models = models
        self.faq_classifier = (FaqClassifier(content.faq, self.featurize, models.faq_vectorizer, models.faq)
                               if models.faq is not None else None)
        self.faq_index = (FaqIndex(content.faq, content.faq_out_of_scope(), self.featurize)
                          if self.faq_classifier is None else None)
        self.slots = SlotReader(content, self.slot_featurize, models.vectorizer, models.slots, models.hedge)
        self.commands = {normalize(w).strip(" .!。！"): key for key, words in content.commands.items() for w in words}
        lex = content.lexicon
        words = sorted({normalize(w) for w in lex.question_words}, key=len, reverse=True)
        zh = [re.escape(w) for w in words if has_cjk(w)]
        en = [re.escape(w) for w in words if not has_cjk(w)]
        self._question_zh = re.compile("|".join(zh)) if zh else None
        self._question_en = re.compile(r"^(?:" + "|".join(en) + r")\b") if en else None
        self._advice = tuple(sorted({normalize(w) for w in lex.advice_words}, key=len, reverse=True))
        self._advice_entries = set(lex.advice_entries)
        self._platforms = WordLists({"platforms": tuple(normalize(p) for p in
                                                        lex.cross_border_platforms + lex.domestic_platforms)})

    # -- cache ------------------------------------------------------------------------------
    def _stem(self, cache_dir: Path) -> Path:
        return cache_dir / self.digest

    def _load(self, cache_dir: Path | None) -> _Models | None:
        if cache_dir is None:
            return None
        try:
            return _Models.load(self._stem(cache_dir))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _save(self, cache_dir: Path | None, models: _Models) -> None:
        if cache_dir is None:
            return
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            models.save(self._stem(cache_dir))
            old = sorted(cache_dir.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)[KEEP_CACHED:]
            for p in old:
                p.unlink(missing_ok=True)
                p.with_suffix(".npz").unlink(missing_ok=True)
        except OSError as exc:   # a read-only checkout still works, it just trains every start
            log.warning("could not cache the understanding models in %s: %s", cache_dir, exc)

    # -- reading ----------------------------------------------------------------------------
    def command(self, text: str) -> str | None:
        """'back', 'restart', 'skip', 'finish', 'yes' or 'no' when the whole message is such a word."""
        return self._command(normalize(text))

    def _command(self, norm: str) -> str | None:
        return self.commands.get(norm.strip(" .!。！"))

    def is_question(self, norm: str) -> bool:
        if "?" in norm:
            return True
        if self._question_zh is not None and self._question_zh.search(norm):
            return True
        return self._question_en is not None and self._question_en.search(norm) is not None

    def facts(self, norm: str) -> Facts:
        return Facts(amounts(norm, self.content.amounts.usd_rate), durations(norm),
                     list(self._platforms.scan(norm).get("platforms", ())))

    def advises(self, entry_id: str) -> bool:
        """Whether an entry answers "which mode fits me" (reading.yaml `advice_entries`)."""
        return entry_id in self._advice_entries

    def rank_faq(self, norm: str) -> tuple[list[Hit], float, bool]:
        """Entries best first, the confidence in the first, and whether that is enough to answer."""
        if self.faq_classifier is not None:
            hits, oos = self.faq_classifier.rank(norm)
            best = hits[0].score if hits else 0.0
            return hits, best, bool(hits) and best >= self.threshold and best > oos
        hits, oos = self.faq_index.rank(norm)
        best = hits[0].score if hits else 0.0
        return hits, best, bool(hits) and best >= KNN_THRESHOLD and best > KNN_OOS_MARGIN * oos

    def read(self, text: object, step: str | None = None, lang: str | None = None) -> Reading:
        """Everything a message says. With `step`, it is first read as an answer to that question
        (as the dialogue does while that question is on screen)."""
        try:
            raw = text if isinstance(text, str) else ("" if text is None else str(text))
        except Exception:       # noqa: BLE001 - a str() that raises is still just bad input
            raw = ""
        norm = normalize(raw)
        out_lang = detect_lang(raw, lang if lang in ("zh", "en") else "en")
        command = self._command(norm)
        if not norm or not any(ch.isalnum() for ch in norm) or command is not None:
            # Nothing to read, or a command word alone ("yes", "ok", "back"), which states nothing about the
            # business: only the question on screen's own short answers take it ("?" = not sure, "no" at
            # experience = none; "yes" at experience is asked again, never content read from "yes").
            exact = self.slots.exact(step, norm) if step and self.content.slot(step) else None
            if exact is not None:
                reading = SlotReading(step, exact, 1.0, norm)
                return Reading(raw, out_lang, {step: exact}, {step: 1.0}, {step: reading}, step, False, False, (),
                               0.0, False, Facts(), command)
            return Reading(raw, out_lang, {}, {}, {}, None, False, False, (), 0.0, False, Facts(), command)
        question = self.is_question(norm)
        details: dict[str, SlotReading | None] = {}
        on_screen = None
        slot = self.content.slot(step) if step else None
        found = self.slots.describe_all(norm, on_screen=slot.step if slot else None)
        described = found.readings
        if slot is not None and slot.step in found.dismissed:        # "品牌嘛，暂时不想": said no to, not read
            if slot.step in described:
                details[slot.step] = described[slot.step]
                on_screen = slot.step
        elif slot is not None and slot.step not in found.ambiguous:     # clauses disagreeing: ask, never guess
            typed = self._typed(slot.step, norm, described, found.kept)
            details[slot.step] = typed        # None: left unread (asked again), whatever a clause read
            if typed is not None:
                on_screen = slot.step
        for s, r in described.items():
            if s not in details:
                details[s] = r
        details = {s: r for s, r in details.items() if r is not None}
        if on_screen is None and slot is not None and slot.step in details:
            on_screen = slot.step
        ranked, p, answerable = self.rank_faq(norm)
        hits = tuple(FaqHit(self.content.faq[h.entry].id, round(h.score, 4)) for h in ranked)
        stated = {s for s, r in details.items() if r.level != UNSURE}
        advice = question and bool(stated) and (
            any(w in norm for w in self._advice) or (answerable and hits[0].id in self._advice_entries))
        answers = {s: r.level for s, r in details.items()}
        confidence = {s: round(r.confidence, 4) for s, r in details.items()}
        return Reading(raw, out_lang, answers, confidence, details, on_screen, question, advice, hits, p,
                       answerable, self.facts(norm), command, self.scope.find(norm))

    def _typed(self, step: str, norm: str, described: dict[str, SlotReading], kept: str) -> SlotReading | None:
        """The message as an answer to the question on screen, or None (asked again). `kept`: the message
        without its clauses about someone else or a past state, which the whole-message model reads."""
        exact = self.slots.exact(step, norm)
        if exact is not None:
            return SlotReading(step, exact, 1.0, norm)
        if not kept:
            return None             # every clause was about someone else or the past
        mine = described.get(step)
        if mine is not None and (mine.amount is not None or mine.years is not None
                                 or mine.source in ("hedge", "both", "partial", "unsettled")):
            return mine             # a stated number, a hedge, both ends, "供应商还没定下来": read by a rule
        typed = self.slots.typed(step, kept)
        if typed is not None and step == self.content.years.step and mine is None \
                and typed.level != self.content.slot(step).levels[0].id and self.slots.making_not_selling(self.slots.words(kept)):
            typed = None            # "做了8年代工": years of making goods, read as selling by the whole-message model
        if typed is not None and mine is not None and mine.level != typed.level \
                and abs(typed.confidence - mine.confidence) < TYPED_DISAGREE_MARGIN:
            return None             # "equal parts orders and brand": the clauses say brand, the whole says both
        if typed is not None and (mine is None or mine.level == typed.level or typed.confidence >= mine.confidence):
            return typed
        hedge = self.slots.hedge_probability(kept) if mine is None else 0.0
        if hedge >= HEDGE_MIN:      # "hard to tell how much risk we could take": not sure, never a guessed level
            return SlotReading(step, UNSURE, round(hedge, 4), norm)
        return mine
