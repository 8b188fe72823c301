"""Follow-up questions -> knowledge-base entries, with an honest fallback.

The entries' example questions and titles (knowledge/faq.yaml, both languages) are the training
data, beside out-of-scope examples (knowledge/out_of_scope.yaml) that form a class of their own.
A softmax classifier over idf-weighted n-gram features (bot.nlu.features) learns which words tell
an entry from its neighbours (保证金 -> deposit, 半托 vs 全托 -> the twin entries); its probability
for the best entry, against the out-of-scope class and every other entry, is the confidence, and
below a threshold tuned on eval/dev the answer is an honest "I don't know" with the closest
entries.

For a knowledge base too large to train a softmax over every entry (the benchmark scales it to
5,000), `FaqIndex` ranks by nearest neighbours instead: the best cosine to one of an entry's
examples blended with the cosine to its centroid, candidates drawn from an inverted index, rarest
features first within a budget of postings.
"""
from __future__ import annotations

import heapq
import math
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
# An entry's signature: the concepts in at least SIGNATURE_SHARE of its example questions. Each
# one the question lacks multiplies the score by (1 - SIGNATURE_PENALTY x share); each concept of
# the question the entry never mentions, by QUERY_CONCEPT_PENALTY.
SIGNATURE_SHARE = 0.6
SIGNATURE_PENALTY = 0.5
QUERY_CONCEPT_PENALTY = 0.6
PHRASE_WEIGHT = 0.5          # entry score = this x best example cosine + the rest x centroid cosine
POSTINGS_BUDGET = 4000
CANDIDATE_DOCS = 32
THRESHOLD = 0.15              # answer when the classifier's probability is at least this (tuned on dev)
KNN_THRESHOLD = 0.3           # the same for the nearest-neighbour ranker of very large knowledge bases
CLASSIFIER_MAX_ENTRIES = 200  # above this, rank by nearest neighbours (training cost grows with entries)
OUT_OF_SCOPE = "_out_of_scope"
OOS = -1


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
    def __init__(self, docs: tuple[FaqDoc, ...], out_of_scope: dict[str, tuple[str, ...]], featurize: Featurizer):
        self.docs_meta = docs
        self.featurize = featurize
        texts: list[tuple[int, str]] = []
        for i, doc in enumerate(docs):
            for t in doc.titles + tuple(q for qs in doc.questions.values() for q in qs):
                texts.append((i, normalize(t)))
        for qs in out_of_scope.values():
            texts += [(OOS, normalize(q)) for q in qs]
        feats = [featurize(t) for _, t in texts]
        self.vec = Vectorizer.fit(feats, weigh=feature_weight)
        self.owner: list[int] = [i for i, _ in texts]
        self.texts = [t for _, t in texts]
        self.vectors: list[dict[int, float]] = [dict(self.vec(f)) for f in feats]
        self.postings: dict[int, list[tuple[int, float]]] = {}
        for d, v in enumerate(self.vectors):
            for j, w in v.items():
                self.postings.setdefault(j, []).append((d, w))
        self.sums: list[dict[int, float]] = [{} for _ in docs]
        for d, v in enumerate(self.vectors):
            e = self.owner[d]
            if e == OOS:
                continue
            acc = self.sums[e]
            for j, w in v.items():
                acc[j] = acc.get(j, 0.0) + w
        self.sum_sq = [sum(w * w for w in s.values()) for s in self.sums]
        concept_ids = {j for f, j in self.vec.vocab.items() if f.startswith("§")}
        self.concepts: list[set[int]] = [set() for _ in docs]
        counts: list[dict[int, int]] = [{} for _ in docs]
        n_docs = [0] * len(docs)
        for d, v in enumerate(self.vectors):
            e = self.owner[d]
            if e == OOS:
                continue
            n_docs[e] += 1
            for j in v:
                if j in concept_ids:
                    self.concepts[e].add(j)
                    counts[e][j] = counts[e].get(j, 0) + 1
        self.signatures: list[dict[int, float]] = [
            {j: c / n_docs[e] for j, c in counts[e].items() if c / n_docs[e] >= SIGNATURE_SHARE} for e in range(len(docs))]
        self.concept_ids = concept_ids

    def query(self, norm: str) -> SparseVec:
        return self.vec(self.featurize(norm))

    def rank(self, qvec: SparseVec, limit: int = 8) -> tuple[list[Hit], float]:
        """Entries best first, and the cosine to the nearest out-of-scope example."""
        if not qvec:
            return [], 0.0
        post = self.postings
        feats = sorted(qvec, key=lambda jv: len(post.get(jv[0], ())))
        acc: dict[int, float] = {}
        rest: list[tuple[int, float]] = []
        budget = POSTINGS_BUDGET
        for j, v in feats:
            plist = post.get(j)
            if not plist:
                continue
            if acc and len(plist) > budget:
                rest.append((j, v))
                continue
            budget -= len(plist)
            for d, w in plist:
                acc[d] = acc.get(d, 0.0) + v * w
        if not acc:
            return [], 0.0
        top = heapq.nlargest(CANDIDATE_DOCS, acc.items(), key=lambda kv: kv[1])
        if rest:
            vecs = self.vectors
            top = [(d, s + sum(v * vecs[d].get(j, 0.0) for j, v in rest)) for d, s in top]
        best_phrase: dict[int, float] = {}
        oos = 0.0
        for d, s in top:
            e = self.owner[d]
            if e == OOS:
                oos = max(oos, s)
            elif s > best_phrase.get(e, -1.0):
                best_phrase[e] = s
        qconcepts = {j for j, _ in qvec if j in self.concept_ids}
        hits = []
        # The centroid (and the concept penalties) only for the entries whose best example is among
        # the best: the rest cannot win.
        for e, phrase in heapq.nlargest(limit + 4, best_phrase.items(), key=lambda kv: kv[1]):
            sums = self.sums[e]
            dot = sum(v * sums.get(j, 0.0) for j, v in qvec)
            sq = self.sum_sq[e]
            centroid = dot / math.sqrt(sq) if sq > 1e-12 else 0.0
            factor = 1.0
            for j, share in self.signatures[e].items():
                if j not in qconcepts:
                    factor *= 1.0 - SIGNATURE_PENALTY * share
            for j in qconcepts:
                if j not in self.concepts[e]:
                    factor *= QUERY_CONCEPT_PENALTY
            hits.append(Hit(e, (PHRASE_WEIGHT * phrase + (1 - PHRASE_WEIGHT) * centroid) * factor))
        hits.sort(key=lambda h: (-h.score, h.entry))
        return hits[:limit], oos



class FaqClassifier:
    """The softmax over entries plus an out-of-scope class (see the module docstring)."""

    def __init__(self, docs: tuple[FaqDoc, ...], featurize: Featurizer, vectorizer: Vectorizer, model: LinearModel):
        self.docs, self.featurize, self.vec, self.model = docs, featurize, vectorizer, model
        position = {d.id: i for i, d in enumerate(docs)}
        self.entry_of = [position.get(c, OOS) for c in model.classes]
        self._oos = self.entry_of.index(OOS) if OOS in self.entry_of else None

    @staticmethod
    def training_set(docs: tuple[FaqDoc, ...], out_of_scope: dict[str, tuple[str, ...]],
                     situations: dict[str, tuple[str, ...]] | None = None) -> list[tuple[str, str]]:
        """Every example question, and each one again after a seller's situation ("我们是小工厂，" +
        the question; `situations`: the questionnaire's examples, by language): so that who is asking
        ("we're a small factory... so who handles customs?") is evidence for no entry."""
        rows = [(normalize(t), d.id) for d in docs for t in d.titles]
        labelled = [(lang, q, d.id) for d in docs for lang, qs in d.questions.items() for q in qs]
        labelled += [(lang, q, OUT_OF_SCOPE) for lang, qs in out_of_scope.items() for q in qs]
        rows += [(normalize(q), label) for _, q, label in labelled]
        for i, (lang, q, label) in enumerate(labelled):
            said = (situations or {}).get(lang)
            if said:
                rows.append((normalize(said[i * 7 % len(said)] + ("，" if lang == "zh" else ", ") + q), label))
        return rows

    @classmethod
    def fit(cls, docs: tuple[FaqDoc, ...], out_of_scope: dict[str, tuple[str, ...]],
            featurize: Featurizer, situations: dict[str, tuple[str, ...]] | None = None) -> tuple[Vectorizer, LinearModel]:
        rows = cls.training_set(docs, out_of_scope, situations)
        feats = [featurize(t) for t, _ in rows]
        vectorizer = Vectorizer.fit(feats, weigh=feature_weight)
        classes = [d.id for d in docs] + [OUT_OF_SCOPE]
        model = train([vectorizer(f) for f in feats], [lab for _, lab in rows], classes,
                      iterations=200, rate=0.15, n_features=len(vectorizer.idf))
        return vectorizer, model

    def rank(self, norm: str, limit: int = 8) -> tuple[list[Hit], float]:
        """Entries best first (score = probability), and the probability of "out of scope"."""
        vec = self.vec(self.featurize(norm))
        if not vec:
            return [], 1.0
        p = softmax(self.model.scores(vec))
        oos = float(p[self._oos]) if self._oos is not None else 0.0
        if self._oos is not None:
            p[self._oos] = -1.0
        top = np.argsort(-p, kind="stable")[:limit]        # ties keep the knowledge base's order
        return [Hit(self.entry_of[c], float(p[c])) for c in top.tolist() if p[c] >= 0], oos
