"""The one entry point of understanding: `Understanding.read(text, step, lang)`.

Models are trained from the content when it loads, or read from a cache keyed by a hash of
everything they learn from (`.cache/nlu/<hash>.json` and `.npz`), so a restart with unchanged content
costs a file read, not a training run. They come in three groups by what they learn from (`group_digests`):
content that changed only where some groups never read (a review decision: a learnt question or typed
answer) takes the other groups from a cached model and trains only those.

Building an `Understanding` is also offered in steps (`Understanding.in_steps`), each a millisecond or
two of work, for a caller that must not hold its thread long: the bot builds a retrained one on its
event loop between replies (bot.content.live) from models trained in another process.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Generator, NamedTuple, TypeVar

import numpy as np

from bot import ROOT
from bot.atomic import write_atomically
from bot.kb.lang import detect_lang
from bot.nlu.content import Content
from bot.nlu.facts import Facts, WordLists, amounts, durations, foreign_amount
from bot.nlu.faq import (ADVICE, CLASSIFIER_MAX_ENTRIES, KNN_OOS_MARGIN, KNN_THRESHOLD, OUT_OF_SCOPE, THRESHOLD,
                         FaqClassifier, FaqIndex, Hit)
from bot.nlu.features import Featurizer
from bot.nlu.linear import LinearModel, Vectorizer
from bot.nlu.scope import Scope, ScopeReader
from bot.nlu.slots import CLAUSE_ALONE_MIN, HEDGE_MIN, TYPED_DISAGREE_MARGIN, TYPED_OVER_AMBIGUOUS, TYPED_OVER_CLAUSE, UNSURE, SlotReader, SlotReading, TypedModels
from bot.nlu.text import has_cjk, normalize

log = logging.getLogger(__name__)
# The cache key covers the content and the code that learns from it: editing either retrains.
_MODEL_CODE = ("features.py", "linear.py", "slots.py", "faq.py", "text.py", "facts.py", "content.py")


def model_version() -> str:
    here = Path(__file__).resolve().parent
    return "nlu:" + "".join(hashlib.sha256((here / name).read_bytes()).hexdigest()[:12] for name in _MODEL_CODE)

ADVICE_MIN, ADVICE_SHARE = 0.1, 0.5   # Reading.asks_which_mode (tuned on eval/dev's edge sets, two folds)
FACT_SURE, ADVICE_NONE = 0.5, 0.02     # an entry this sure (or none), advice this unlikely: advice words do not make it advice
OOS_SURE = 0.5                         # out of scope this sure: choosing words need the advice class (oos_disowns_advice)
CACHE_DIR = Path(os.environ.get("NLU_CACHE_DIR", ROOT / ".cache" / "nlu"))
KEEP_CACHED = 4
WORDS_A_PIECE = 8192    # vocabulary words a piece of the cache (one step of loading it)
ARRAY_A_STEP = 1 << 20  # bytes of a weight array read in one step of loading it
STALE_TMP_SECONDS = 600.0
# The groups of models, by what they learn from: the clause and hedge models (their vocabulary), the typed-answer
# models (theirs), the FAQ model (its).
SLOT_GROUP, TYPED_GROUP, FAQ_GROUP = "slots", "typed", "faq"


def group_digests(content: Content, version: str) -> dict[str, str]:
    """Each group's cache key: a hash of the content with what that group never reads emptied. No model learns
    which examples were decided (read by rule); the clause and hedge models read no learnt example
    (bot.nlu.slots.SlotReader.training_sets without `learned`); the typed-answer models no learnt question
    (FaqDoc.learned, learned_out_of_scope, learned_advice); the FAQ model no learnt typed answer (Level.learned,
    Slot.learned_unsure: bot.nlu.faq.FaqClassifier.fit and Content.situations). So a decided question retrains
    the FAQ model alone, a decided typed answer the typed-answer models alone."""
    content = replace(content, decided_questions=(), decided_answers=())
    no_questions = replace(content, faq=tuple(replace(d, learned={}) for d in content.faq),
                           learned_out_of_scope={}, learned_advice={})

    def no_answers(c: Content) -> Content:
        return replace(c, slots=tuple(replace(s, learned_unsure={}, levels=tuple(replace(lv, learned={}) for lv in s.levels))
                                      for s in c.slots))
    return {SLOT_GROUP: no_answers(no_questions).digest(f"{version}:{SLOT_GROUP}"),
            TYPED_GROUP: no_questions.digest(f"{version}:{TYPED_GROUP}"),
            FAQ_GROUP: no_answers(content).digest(f"{version}:{FAQ_GROUP}")}


@dataclass(frozen=True)
class FaqHit:
    id: str
    score: float


def oos_disowns_advice(advice: float, oos: float) -> bool:
    """The out-of-scope class is sure of a question the advice class reads less than ADVICE_SHARE of it:
    choosing words in it ask to choose something the knowledge base does not cover ("which tiktok ad
    objective should i pick", "what camera do you recommend for live streaming")."""
    return oos >= OOS_SURE and advice < ADVICE_SHARE * oos


def asks_which_mode(advice: float, best: float, oos: float) -> bool:
    """Reading.asks_which_mode from the advice class's probability, the first entry's and out of scope's."""
    return advice >= ADVICE_MIN and advice >= ADVICE_SHARE * max(best, oos)


class FaqRanking(NamedTuple):
    hits: list[Hit]             # entries, best first
    best: float                 # the first one's probability
    ok: bool                    # ...enough to answer
    advice: float               # the advice class's probability
    oos: float = 0.0            # the out-of-scope class's (0 for the nearest-neighbour ranker)


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
    advice_probability: float = 0.0             # the FAQ models' advice class: asks which mode fits
    oos_probability: float = 0.0                # ...and its out-of-scope class

    @property
    def asks_which_mode(self) -> bool:
        """Whether it asks which mode fits: the advice class reads it at least ADVICE_MIN, and at least
        ADVICE_SHARE of the first entry ("is semi-managed worth it for a 2-person team" reads the entry about
        teams a little, and advice more) and of the out-of-scope class ("purple elephants" is no question about
        modes). Learnt choosing questions and questions about an entry rarely overlap here (docs/scope.md)."""
        return asks_which_mode(self.advice_probability, self.faq_probability, self.oos_probability)

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


T = TypeVar("T")


def finish(steps: Generator[None, None, T]) -> T:
    """Run a generator of steps (`Understanding.in_steps`) to its end, at once; its result."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


@dataclass
class _Models:
    vectorizer: Vectorizer                 # the slot models' features
    slots: dict[str, LinearModel]
    hedge: LinearModel
    faq_vectorizer: Vectorizer | None      # None when the knowledge base is ranked by neighbours
    faq: LinearModel | None
    typed: TypedModels | None              # typed-answer models of the steps with learnt answers
    groups: dict[str, str] = field(default_factory=dict)    # each group's digest (`group_digests`)

    # The cache: <stem>.json (the classes, the groups' digests) and <stem>.npz (weights, biases, idf; the vocabularies as JSON
    # lists of words in index order, WORDS_A_PIECE words a list). Every piece loads with a call or two into
    # C: no step of `load_steps` takes more than a millisecond or two, and nothing is parsed number by number.
    def parts(self) -> tuple[bytes, bytes]:
        """The two cache files' bytes: (json, npz)."""
        models = {"hedge": self.hedge, **{f"slot:{k}": m for k, m in self.slots.items()},
                  **{f"typed:{k}": m for k, m in (self.typed.models if self.typed else {}).items()}}
        if self.faq is not None:
            models["faq"] = self.faq
        arrays: dict[str, np.ndarray] = {}
        for name, vec in (("vocab", self.vectorizer), ("faq_vocab", self.faq_vectorizer),
                          ("typed_vocab", self.typed.vectorizer if self.typed else None)):
            if vec is not None:
                words = sorted(vec.vocab, key=vec.vocab.__getitem__)
                for i, start in enumerate(range(0, len(words), WORDS_A_PIECE)):
                    piece = json.dumps(words[start:start + WORDS_A_PIECE], ensure_ascii=False).encode("utf-8")
                    arrays[f"{name}|words|{i}"] = np.frombuffer(piece, dtype=np.uint8)
                arrays[f"{name}|idf"] = np.asarray(vec.idf, dtype=np.float64)
        for k, m in models.items():
            arrays[f"{k}|w"] = m.weights
            arrays[f"{k}|b"] = m.bias
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        meta = json.dumps({"classes": {k: m.classes for k, m in models.items()}, "groups": self.groups},
                          ensure_ascii=False, separators=(",", ":"))
        return meta.encode("utf-8"), buffer.getvalue()

    def save(self, stem: Path) -> tuple[bytes, bytes]:
        """Writes <stem>.npz, then <stem>.json (its presence says the pair is whole), each atomically;
        returns their bytes (`parts`)."""
        meta, arrays = self.parts()
        for suffix, data in ((".npz", arrays), (".json", meta)):
            write_atomically(stem.with_suffix(suffix), data)
        return meta, arrays

    @classmethod
    def read(cls, stem: Path) -> tuple[bytes, bytes]:
        """The cache files' bytes (json, npz); OSError when they are not there."""
        return stem.with_suffix(".json").read_bytes(), stem.with_suffix(".npz").read_bytes()

    @classmethod
    def load_steps(cls, meta: bytes, arrays: bytes) -> Generator[None, None, "_Models"]:
        """The models from the cache files' bytes, in steps of a millisecond or two (see `finish`).
        Raises ValueError, KeyError, TypeError or OSError on bytes that are not such models."""
        info = json.loads(meta)
        classes, groups = info["classes"], info.get("groups", {})
        with np.load(io.BytesIO(arrays), allow_pickle=False) as npz:
            vectorizers: dict[str, Vectorizer | None] = {}
            for name in ("vocab", "faq_vocab", "typed_vocab"):
                if f"{name}|idf" not in npz.files:
                    vectorizers[name] = None
                    continue
                vocab: dict[str, int] = {}
                pieces = itertools.takewhile(npz.files.__contains__, (f"{name}|words|{i}" for i in itertools.count()))
                for piece in pieces:
                    yield
                    words = json.loads(npz[piece].tobytes())
                    yield
                    vocab.update(zip(words, range(len(vocab), len(vocab) + len(words))))
                yield
                idf = npz[f"{name}|idf"].tolist()
                if len(idf) != len(vocab):
                    raise ValueError(f"{name}: {len(vocab)} words, {len(idf)} weights")
                vectorizers[name] = Vectorizer(vocab, idf)
            models: dict[str, LinearModel] = {}
            for key, names in classes.items():
                yield
                weights = yield from _array_steps(npz, f"{key}|w")
                models[key] = LinearModel(names, weights, npz[f"{key}|b"])
        if vectorizers["vocab"] is None:
            raise KeyError("vocab")
        slots = {k.split(":", 1)[1]: m for k, m in models.items() if k.startswith("slot:")}
        typed = {k.split(":", 1)[1]: m for k, m in models.items() if k.startswith("typed:")}
        typed_vec = vectorizers["typed_vocab"]
        return cls(vectorizers["vocab"], slots, models["hedge"], vectorizers["faq_vocab"], models.get("faq"),
                   TypedModels(typed_vec, typed) if typed_vec is not None and typed else None, groups)

    @classmethod
    def fit(cls, content: Content, groups: dict[str, str], reuse: dict[str, "_Models"] | None = None) -> "_Models":
        """Train the models on the content (seconds of CPU), but for each group in `reuse`: taken from those
        models, whose group learnt from the very same content (the same digest in `groups`), so they are what
        training would give, to the bit."""
        reuse = reuse or {}
        slot_featurize = Featurizer()          # answers: n-grams only
        if SLOT_GROUP in reuse:
            old = reuse[SLOT_GROUP]
            vectorizer, slot_models, hedge = old.vectorizer, old.slots, old.hedge
        else:
            vectorizer, slot_models, hedge = SlotReader.fit(content, slot_featurize)
        typed = reuse[TYPED_GROUP].typed if TYPED_GROUP in reuse else SlotReader.fit_typed(content, slot_featurize)
        if FAQ_GROUP in reuse:
            faq_vec, faq_model = reuse[FAQ_GROUP].faq_vectorizer, reuse[FAQ_GROUP].faq
        elif len(content.faq) <= CLASSIFIER_MAX_ENTRIES:
            faq_vec, faq_model = FaqClassifier.fit(content.faq, content.out_of_scope, Featurizer(content.concepts),
                                                   content.situations(), content.learned_out_of_scope, content.advice,
                                                   content.learned_advice)
        else:
            faq_vec, faq_model = None, None
        return cls(vectorizer, slot_models, hedge, faq_vec, faq_model, typed, dict(groups))


def _array_steps(npz, key: str) -> Generator[None, None, np.ndarray]:
    """One array of an open .npz, read ARRAY_A_STEP bytes a step (np.load reads a member and checks its
    checksum in one go: ~3 ms for the FAQ weights)."""
    with npz.zip.open(f"{key}.npy") as fh:
        version = np.lib.format.read_magic(fh)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(fh)
        if dtype.hasobject:
            raise ValueError(f"{key}: objects in a model")
        out = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
        target = memoryview(out.reshape(-1, order="A")).cast("B")
        for start in range(0, len(target), ARRAY_A_STEP):
            if start:
                yield
            want = min(ARRAY_A_STEP, len(target) - start)
            if fh.readinto(target[start:start + want]) != want:
                raise ValueError(f"{key}: cut short")
    return out


def cached_models(content: Content, cache_dir: Path | None) -> tuple[str, bytes, bytes]:
    """The content's digest and its models' cache files' bytes (json, npz), trained and cached here when the
    cache does not have them. What the training process runs (bot.content.training)."""
    digest, models, files = _cached(content, cache_dir)
    return (digest, *(files or models.parts()))


def _cached(content: Content, cache_dir: Path | None) -> tuple[str, _Models, tuple[bytes, bytes] | None]:
    """The content's digest, its models and their cache files' bytes (None when not written). The models come
    from the cache; else each group (`group_digests`) the cache has under the same digest is taken from there
    and the others are trained, and the whole is cached."""
    version = model_version()
    digest = content.digest(version)
    if cache_dir is None:
        groups = group_digests(content, version)
        return digest, _Models.fit(content, groups, {}), None
    found = _read_cached(cache_dir, digest)
    if found is not None:
        return digest, *found
    with _training_lock(cache_dir, digest):     # replicas on one host retraining the same content: one trains
        found = _read_cached(cache_dir, digest)     # ...and the others, waiting here, read what it cached
        if found is not None:
            return digest, *found
        groups = group_digests(content, version)
        models = _Models.fit(content, groups, _cached_groups(cache_dir, groups))
        return digest, models, _save(cache_dir, digest, models)


def _read_cached(cache_dir: Path, digest: str) -> tuple[_Models, tuple[bytes, bytes]] | None:
    """The cached models of a digest and their files' bytes, when whole and readable."""
    try:
        files = _Models.read(cache_dir / digest)
        return finish(_Models.load_steps(*files)), files
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextlib.contextmanager
def _training_lock(cache_dir: Path, digest: str):
    """Held while one process trains a content's models into the cache: another process on the host (a
    replica that polled the same decision) waits for it, then reads the cache instead of training the same
    models again. An advisory lock (flock), released when its holder ends, however it ends; where it cannot
    be taken, training goes on unlocked."""
    try:
        import fcntl

        cache_dir.mkdir(parents=True, exist_ok=True)
        handle = open(cache_dir / f"{digest}.lock", "a+b")
    except (ImportError, OSError):
        yield
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError:
            pass
        yield


def _cached_groups(cache_dir: Path, groups: dict[str, str]) -> dict[str, _Models]:
    """Group -> cached models whose group has the digest given (newest first; none for a cache written before
    the groups were recorded)."""
    found: dict[str, _Models] = {}
    try:
        metas = sorted(cache_dir.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return found
    for meta in metas:
        try:
            recorded = json.loads(meta.read_bytes()).get("groups", {})
            wanted = [g for g, d in groups.items() if g not in found and recorded.get(g) == d]
            if wanted:
                models = finish(_Models.load_steps(*_Models.read(meta.with_suffix(""))))
                found.update({g: models for g in wanted if models.groups.get(g) == groups[g]})
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue        # gone meanwhile (another process keeps KEEP_CACHED too), or not such models
        if len(found) == len(groups):
            break
    return found


def _save(cache_dir: Path | None, digest: str, models: _Models) -> tuple[bytes, bytes] | None:
    """Into the cache, keeping the KEEP_CACHED newest; the files' bytes, or None when nothing was written."""
    if cache_dir is None:
        return None
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        saved = models.save(cache_dir / digest)
        old = sorted(cache_dir.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)[KEEP_CACHED:]
        for p in old:
            p.unlink(missing_ok=True)
            p.with_suffix(".npz").unlink(missing_ok=True)
        for p in (*cache_dir.glob("*.tmp"), *cache_dir.glob("*.lock")):     # a killed writer's, or old locks
            with contextlib.suppress(OSError):
                if time.time() - p.stat().st_mtime > STALE_TMP_SECONDS:
                    p.unlink()
        return saved
    except OSError as exc:   # a read-only checkout still works, it just trains every start
        log.warning("could not cache the understanding models in %s: %s", cache_dir, exc)
        return None


class Understanding:
    """Reads messages; see the package docstring. Never raises on any text."""

    def __init__(self, content: Content, cache_dir: Path | None = CACHE_DIR, threshold: float = THRESHOLD,
                 scope: ScopeReader | None = None):
        """The models come from `cache_dir`, or are trained (and cached there) when it lacks them."""
        finish(self._build(content, threshold, scope, cache_dir=cache_dir))

    @classmethod
    def in_steps(cls, content: Content, digest: str, meta: bytes, arrays: bytes, threshold: float = THRESHOLD,
                 scope: ScopeReader | None = None) -> Generator[None, None, "Understanding"]:
        """The understanding of `content` from its models' cache files' bytes (`cached_models`), built in
        steps of a millisecond or two: between two `next()`s the caller may do other work. Never trains;
        raises ValueError, KeyError, TypeError or OSError when the bytes are not such models."""
        self = cls.__new__(cls)
        yield from self._build(content, threshold, scope, digest=digest, given=(meta, arrays))
        return self

    def _build(self, content: Content, threshold: float, scope: ScopeReader | None, cache_dir: Path | None = None,
               digest: str | None = None, given: tuple[bytes, bytes] | None = None) -> Generator[None, None, None]:
        self.content, self.threshold = content, threshold
        self.scope = scope or ScopeReader.default()
        self.featurize = Featurizer(content.concepts)        # questions: with synonym concepts
        self.slot_featurize = Featurizer()                   # answers: n-grams only
        if given is not None:
            self.digest = digest
            models = yield from _Models.load_steps(*given)
        else:
            self.digest, models, _ = _cached(content, cache_dir)
        self.models = models
        self.faq_classifier = (FaqClassifier(content.faq, self.featurize, models.faq_vectorizer, models.faq)
                               if models.faq is not None else None)
        self.faq_index = (FaqIndex(content.faq, content.faq_out_of_scope(), self.featurize)
                          if self.faq_classifier is None else None)
        yield
        self.slots = SlotReader(content, self.slot_featurize, models.vectorizer, models.slots, models.hedge,
                                models.typed)
        yield
        self.commands = {normalize(w).strip(" .!。！"): key for key, words in content.commands.items() for w in words}
        lex = content.lexicon
        words = sorted({normalize(w) for w in lex.question_words}, key=len, reverse=True)
        zh = [re.escape(w) for w in words if has_cjk(w)]
        en = [re.escape(w) for w in words if not has_cjk(w)]
        self._question_zh = re.compile("|".join(zh)) if zh else None
        self._question_en = re.compile(r"^(?:" + "|".join(en) + r")\b") if en else None
        self._advice = tuple(sorted({normalize(w) for w in lex.advice_words}, key=len, reverse=True))
        self._advice_entries = set(lex.advice_entries)
        self._position = {d.id: i for i, d in enumerate(content.faq)}     # entry id -> its index in the FAQ models
        self._decided = {normalize(text): target for text, target in content.decided_questions
                         if target in self._position or target in (OUT_OF_SCOPE, ADVICE)}
        self._platforms = WordLists({"platforms": tuple(normalize(p) for p in
                                                        lex.cross_border_platforms + lex.domestic_platforms)})

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

    def rank_faq(self, norm: str) -> FaqRanking:
        """Entries best first, the confidence in the first, whether that is enough to answer, and the
        probability that the text asks which mode fits (the advice class, bot.nlu.faq). A question decided in
        review reads as decided (`_as_decided`)."""
        if self.faq_classifier is not None:
            hits, oos, advice = self.faq_classifier.rank(norm)
            best = hits[0].score if hits else 0.0
            ranking = FaqRanking(hits, best, bool(hits) and best >= self.threshold and best > oos, advice, oos)
        else:
            hits, oos, advice = self.faq_index.rank(norm)
            best = hits[0].score if hits else 0.0
            ranking = FaqRanking(hits, best, bool(hits) and best >= KNN_THRESHOLD and best > KNN_OOS_MARGIN * oos,
                                 advice)
        decided = self._decided.get(norm)
        return ranking if decided is None else self._as_decided(ranking, decided)

    def _as_decided(self, ranking: FaqRanking, target: str) -> FaqRanking:
        """The ranking of a question decided in review (Content.decided_questions): its class (an entry, out of
        scope or advice) has the whole probability; the other entries stay, in the model's order, as the
        nearest ones."""
        entry = self._position.get(target)
        hits = [Hit(h.entry, 0.0) for h in ranking.hits if h.entry != entry]
        if entry is not None:
            return FaqRanking([Hit(entry, 1.0)] + hits, 1.0, True, 0.0, 0.0)
        return FaqRanking(hits, 0.0, False, float(target == ADVICE), float(target == OUT_OF_SCOPE))

    def _rank_question(self, norm: str, scope: Scope) -> FaqRanking:
        """rank_faq of the message, or of the message without the asker's history on another platform when
        that reads surer ("速卖通做了两年，现在tk全托管怎么入驻": the history clouds the question); its first
        entry the named mode's own (`_for_named_mode`)."""
        ranking = self.rank_faq(norm)
        if norm in self._decided:
            return ranking              # decided: as it is, whatever mode or history it names
        if scope.background:
            alone = self.rank_faq(self.scope.without_background(norm, scope))
            if alone.ok and (not ranking.ok or alone.best > ranking.best):
                ranking = alone
        return self._for_named_mode(ranking, scope)

    def _for_named_mode(self, ranking: FaqRanking, scope: Scope) -> FaqRanking:
        """When the message names exactly one of the two covered modes and the first entry is the other mode's
        twin (semi_promotions for "全託可以自己設優惠券嗎"), the named mode's twin comes first, as sure as the
        surer of the two: the topic is read from the words, the mode from its name."""
        if not ranking.hits:
            return ranking
        twin = self._position.get(self.scope.book.twin(self.content.faq[ranking.hits[0].entry].id, scope.modes))
        if twin is None:
            return ranking
        # the twin takes the first entry's probability (at least its own): `best` and `ok` stand as they are
        return ranking._replace(hits=[Hit(twin, ranking.best)] + [h for h in ranking.hits if h.entry != twin])

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
        elif slot is not None and slot.step in found.ambiguous and (
                (sure := self.slots.typed(slot.step, found.kept)) is not None and sure.confidence >= TYPED_OVER_AMBIGUOUS):
            details[slot.step] = sure       # "没有自己的厂，合作的工厂有三四家": its clauses disagree, the whole is clear
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
        scope = self.scope.find(norm)
        ranked, p, answerable, asks_advice, oos = self._rank_question(norm, scope)
        hits = tuple(FaqHit(self.content.faq[h.entry].id, round(h.score, 4)) for h in ranked)
        stated = {s for s, r in details.items() if r.level != UNSURE}
        # advice words do not make advice of a question the advice class disowns: about a sure factual entry
        # ("...we go with full-managed, who writes the titles, us or TikTok?") or about nothing the knowledge
        # base covers ("we have hosts, how much should I pay a creator per video")
        disowned = (asks_advice < ADVICE_NONE and (
            not answerable or (hits[0].id not in self._advice_entries and p >= FACT_SURE))) or (
            not scope.modes and oos_disowns_advice(asks_advice, oos))
        advice = question and bool(stated) and (
            (any(w in norm for w in self._advice) and not disowned)
            or (answerable and hits[0].id in self._advice_entries) or asks_which_mode(asks_advice, p, oos))
        answers = {s: r.level for s, r in details.items()}
        confidence = {s: round(r.confidence, 4) for s, r in details.items()}
        return Reading(raw, out_lang, answers, confidence, details, on_screen, question, advice, hits, p,
                       answerable, self.facts(norm), command, scope, round(asks_advice, 4), round(oos, 4))

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
        if step == self.content.amounts.step and mine is None and foreign_amount(kept):
            return None             # "around 40 million VND": an amount whose size is not known here: asked again
        typed = self.slots.typed(step, kept)
        if typed is not None and step == self.content.years.step and mine is None \
                and typed.level != self.content.slot(step).levels[0].id and self.slots.making_not_selling(self.slots.words(kept)):
            typed = None            # "做了8年代工": years of making goods, read as selling by the whole-message model
        if typed is not None and mine is not None and mine.level != typed.level and mine.source == "model" \
                and typed.confidence >= TYPED_OVER_CLAUSE:
            return typed            # the typed-answer model, taught by answers to this question, reads it surely
        if typed is not None and mine is not None and mine.level != typed.level \
                and abs(typed.confidence - mine.confidence) < TYPED_DISAGREE_MARGIN:
            return None             # "equal parts orders and brand": the clauses say brand, the whole says both
        if typed is not None and (mine is None or mine.level == typed.level or typed.confidence >= mine.confidence):
            return typed
        hedge = self.slots.hedge_probability(kept) if mine is None else 0.0
        if hedge >= HEDGE_MIN:      # "hard to tell how much risk we could take": not sure, never a guessed level
            return SlotReading(step, UNSURE, round(hedge, 4), norm)
        if typed is None and mine is not None and mine.source == "model" and mine.confidence < CLAUSE_ALONE_MIN \
                and self.slots.typed_models is not None and step in self.slots.typed_models.models:
            return None             # a clause model's faint reading that the typed-answer model does not back: asked again
        return mine
