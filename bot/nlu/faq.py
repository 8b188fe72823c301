"""Follow-up questions -> knowledge-base entries, with an honest fallback.

The entries' example questions and titles (knowledge/faq.yaml, both languages) are the training
data, beside out-of-scope examples (knowledge/out_of_scope.yaml) that form a class of their own, and
choosing questions that no single entry answers ("is semi-managed overkill for a 2-person team selling
socks?": knowledge/advice_questions.yaml and learnt ones), which form the advice class: its probability tells a question asking which mode fits
from a factual one that happens to share its words (a team, capital), so that such a question is routed
to advice (bot.nlu.answer) instead of being answered with the entry about teams.
A softmax classifier over idf-weighted n-gram features (bot.nlu.features) learns which words tell
an entry from its neighbours (保证金 -> deposit, 半托 vs 全托 -> the twin entries); its probability
for the best entry, against the out-of-scope class and every other entry, is the confidence, and
below a threshold tuned on eval/dev the answer is an honest "I don't know" with the closest
entries.

For a knowledge base too large to train a softmax over every entry (the benchmark scales it to
5,000), `FaqIndex` ranks by nearest neighbours instead: the best cosine to one of an entry's
examples blended with the cosine to its centroid, both sparse products over the question's features.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from bot.nlu.content import FaqDoc
from bot.nlu.features import Featurizer
from bot.nlu.linear import LinearModel, SparseVec, Vectorizer, softmax, train
from bot.nlu.text import normalize

# How much each kind of feature counts in similarity (see bot.nlu.features for the kinds). Char
# n-grams of English words are many per word and only there for typos; concepts (全托 = fully
# managed) occur in most entries, so their idf is small, yet they decide between an entry and
# its other-mode twin: they get an idf floor.
KIND_WEIGHT = {"§": 2.0, "w": 1.0, "b": 0.8, "g": 0.6, "~": 0.5, "uni": 0.5, "bi": 1.0, "tri": 0.7}
CONCEPT_IDF_FLOOR = 2.5
PHRASE_WEIGHT = 0.5          # entry score = this x best example cosine + the rest x centroid cosine
THRESHOLD = 0.15              # answer when the classifier's probability is at least this (tuned on dev)
KNN_THRESHOLD = 0.25          # the nearest-neighbour ranker of large knowledge bases answers at this score
KNN_OOS_MARGIN = 1.5          # ...when this many times the nearest out-of-scope example's cosine
CLASSIFIER_MAX_ENTRIES = 200  # above this, rank by nearest neighbours (training cost grows with entries)
FAQ_ITERATIONS = 80           # Adam steps of the FAQ model: 100 and 140 read no better across two folds of the edge sets, and a retrain waits on it
OUT_OF_SCOPE = "_out_of_scope"
ADVICE = "_advice"
OOS = -1
ADVISE = -2


@dataclass(frozen=True)
class Hit:
    entry: int
    score: float


def feature_weight(feature: str, idf: float) -> float:
    head = feature[0]
    if head == "§":
        return KIND_WEIGHT["§"] * max(idf, CONCEPT_IDF_FLOOR)
    if head == "~":
        return KIND_WEIGHT["~"] * idf
    if feature[1:2] == ":" and head in "wbg":
        return KIND_WEIGHT[head] * idf
    kind = "uni" if len(feature) == 1 else "bi" if len(feature) == 2 else "tri"
    return KIND_WEIGHT[kind] * idf


class FaqIndex:
    """Nearest neighbours, for a knowledge base too large to train the softmax over: an entry scores
    PHRASE_WEIGHT x the cosine to its closest example plus the rest x the cosine to its centroid."""

    def __init__(self, docs: tuple[FaqDoc, ...], out_of_scope: dict[str, tuple[str, ...]], featurize: Featurizer):
        import scipy.sparse as sparse     # only for a large knowledge base, like training

        texts = [(i, t) for i, d in enumerate(docs) for t in d.titles + tuple(q for qs in d.examples().values() for q in qs)]
        texts += [(OOS, q) for qs in out_of_scope.values() for q in qs]
        feats = [featurize(normalize(t)) for _, t in texts]
        self.featurize, self.vec, self.n_docs = featurize, Vectorizer.fit(feats, weigh=feature_weight), len(docs)
        vecs = [self.vec(f) for f in feats]
        rows = np.repeat(np.arange(len(vecs)), [len(v) for v in vecs])
        cols = np.fromiter((j for v in vecs for j, _ in v), dtype=np.int64, count=len(rows))
        vals = np.fromiter((x for v in vecs for _, x in v), dtype=np.float32, count=len(rows))
        x = sparse.csr_matrix((vals, (rows, cols)), shape=(len(vecs), len(self.vec.idf)))
        self.owner = np.array([i for i, _ in texts])
        self.postings = x.T.tocsr()                     # feature -> the examples that have it
        entry = self.owner >= 0
        onehot = sparse.csr_matrix((np.ones(entry.sum(), dtype=np.float32), (self.owner[entry], np.flatnonzero(entry))),
                                   shape=(len(docs), len(vecs)))
        centroids = onehot @ x
        norms = np.sqrt(np.asarray(centroids.multiply(centroids).sum(axis=1)).ravel())
        self.centroids_t = (sparse.diags(1 / np.maximum(norms, 1e-9)) @ centroids).T.tocsr()

    def rank(self, norm: str, limit: int = 8) -> tuple[list[Hit], float, float]:
        """Entries best first, the cosine to the nearest out-of-scope example, and 0.0 for advice (the
        nearest-neighbour ranker has no advice class)."""
        vec = self.vec(self.featurize(norm))
        if not vec:
            return [], 0.0, 0.0
        idx = [j for j, _ in vec]
        vals = np.array([v for _, v in vec], dtype=np.float32)
        sims = self.postings[idx].T @ vals                  # cosine to every example
        best = np.zeros(self.n_docs, dtype=np.float32)
        entry = self.owner >= 0
        np.maximum.at(best, self.owner[entry], sims[entry])
        score = PHRASE_WEIGHT * best + (1 - PHRASE_WEIGHT) * (self.centroids_t[idx].T @ vals)
        oos = float(sims[~entry].max()) if (~entry).any() else 0.0
        top = np.argsort(-score, kind="stable")[:limit]
        return [Hit(int(e), float(score[e])) for e in top if score[e] > 0], oos, 0.0


def _stable_hashes(texts) -> np.ndarray:
    return np.array([int.from_bytes(hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest(), "little")
                     for t in texts], dtype=np.uint64)


def _pairing(questions: list[str], situations: tuple[str, ...]) -> np.ndarray:
    """For each question, the index of the situation it is learned after: the one whose mixed hash with
    the question is highest (rendezvous hashing), so adding or removing one questionnaire example
    moves only the few questions paired with it, not every pairing (and every FAQ reading) at once."""
    said, picks = _stable_hashes(situations)[None, :], []
    for start in range(0, len(questions), 512):          # 512 rows at a time: a bounded matrix for any base
        mixed = _stable_hashes(questions[start:start + 512])[:, None] ^ said
        picks.append(np.argmax((mixed * np.uint64(0x9E3779B97F4A7C15)) ^ (mixed >> np.uint64(29)), axis=1))
    return np.concatenate(picks) if picks else np.zeros(0, dtype=np.intp)


class FaqClassifier:
    """The softmax over entries plus an out-of-scope class and, when learnt, an advice class (see the
    module docstring)."""

    def __init__(self, docs: tuple[FaqDoc, ...], featurize: Featurizer, vectorizer: Vectorizer, model: LinearModel):
        self.docs, self.featurize, self.vec, self.model = docs, featurize, vectorizer, model
        position = {d.id: i for i, d in enumerate(docs)} | {OUT_OF_SCOPE: OOS, ADVICE: ADVISE}
        self.entry_of = [position.get(c, OOS) for c in model.classes]
        self._oos = self.entry_of.index(OOS) if OOS in self.entry_of else None
        self._advice = self.entry_of.index(ADVISE) if ADVISE in self.entry_of else None

    @staticmethod
    def training_set(docs: tuple[FaqDoc, ...], out_of_scope: dict[str, tuple[str, ...]],
                     situations: dict[str, tuple[str, ...]] | None = None,
                     learned_out_of_scope: dict[str, tuple[str, ...]] | None = None,
                     advice: dict[str, tuple[str, ...]] | None = None,
                     learned_advice: dict[str, tuple[str, ...]] | None = None) -> list[tuple[str, str]]:
        """Every example question, and each of the entries' own (and the files' out-of-scope and advice
        ones) again after a seller's situation ("我们是小工厂，" + the question; `situations`: the
        questionnaire's examples, by language): so that who is asking ("we're a small factory... so who
        handles customs?") is evidence for no entry, and "we're a small factory, which mode?" is advice.
        Learnt questions (FaqDoc.learned, `learned_out_of_scope`, `learned_advice`) come from sellers
        and bring their own situations: they are not paired again (a fifth fewer rows; as good or better on
        every set, docs/understanding.md)."""
        rows = [(normalize(t), d.id) for d in docs for t in d.titles]
        own = [(lang, q, d.id) for d in docs for lang, qs in d.questions.items() for q in qs]
        own += [(lang, q, OUT_OF_SCOPE) for lang, qs in out_of_scope.items() for q in qs]
        own += [(lang, q, ADVICE) for lang, qs in (advice or {}).items() for q in qs]
        learnt = [(lang, q, d.id) for d in docs for lang, qs in d.learned.items() for q in qs]
        learnt += [(lang, q, OUT_OF_SCOPE) for lang, qs in (learned_out_of_scope or {}).items() for q in qs]
        learnt += [(lang, q, ADVICE) for lang, qs in (learned_advice or {}).items() for q in qs]
        rows += [(normalize(q), label) for _, q, label in own + learnt]
        for lang, said in (situations or {}).items():
            asked = [(q, label) for lang_, q, label in own if lang_ == lang]
            if said and asked:
                pick = _pairing([q for q, _ in asked], said)
                rows += [(normalize(said[j] + ("，" if lang == "zh" else ", ") + q), label)
                         for (q, label), j in zip(asked, pick)]
        return rows

    @classmethod
    def fit(cls, docs: tuple[FaqDoc, ...], out_of_scope: dict[str, tuple[str, ...]],
            featurize: Featurizer, situations: dict[str, tuple[str, ...]] | None = None,
            learned_out_of_scope: dict[str, tuple[str, ...]] | None = None,
            advice: dict[str, tuple[str, ...]] | None = None,
            learned_advice: dict[str, tuple[str, ...]] | None = None) -> tuple[Vectorizer, LinearModel]:
        rows = cls.training_set(docs, out_of_scope, situations, learned_out_of_scope, advice, learned_advice)
        feats = [featurize(t) for t, _ in rows]
        vectorizer = Vectorizer.fit(feats, weigh=feature_weight)
        classes = [d.id for d in docs] + [OUT_OF_SCOPE] + ([ADVICE] if any(label == ADVICE for _, label in rows) else [])
        model = train([vectorizer(f) for f in feats], [lab for _, lab in rows], classes,
                      iterations=FAQ_ITERATIONS, rate=0.15, n_features=len(vectorizer.idf))
        return vectorizer, model

    def rank(self, norm: str, limit: int = 8) -> tuple[list[Hit], float, float]:
        """Entries best first (score = probability), the probability of "out of scope" and that of advice."""
        vec = self.vec(self.featurize(norm))
        if not vec:
            return [], 1.0, 0.0
        p = softmax(self.model.scores(vec))
        oos = float(p[self._oos]) if self._oos is not None else 0.0
        advice = float(p[self._advice]) if self._advice is not None else 0.0
        for pseudo in (self._oos, self._advice):
            if pseudo is not None:
                p[pseudo] = -1.0
        top = np.argsort(-p, kind="stable")[:limit]        # ties keep the knowledge base's order
        return [Hit(self.entry_of[c], float(p[c])) for c in top.tolist() if p[c] >= 0], oos, advice
