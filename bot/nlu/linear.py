"""A multinomial logistic-regression classifier over sparse features.

Trained full-batch with Adam and L2 on numpy arrays, sparse products with scipy (training only);
predicting gathers the rows of the message's ~100 features and takes one dot product (numpy
costs ~60 ms of import at start-up and makes a prediction a few microseconds).
Features are idf-weighted and L2-normalised (`Vectorizer`), so long and short messages score
alike.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

SparseVec = list[tuple[int, float]]
# Called before every piece of a training step (no argument, no result): the training process sets it to
# wait while the bot is answering (bot.content.training.Pacer). Waiting is all it may do: what is learnt
# is the same, paced or not, and so is it whatever ROWS_A_PIECE is (every piece is whole rows).
pace: Callable[[], None] | None = None
ROWS_A_PIECE = 2048     # rows worked on between two calls of `pace`: ~1 ms of the FAQ model's step; the
                        # Adam update's five arrays, 2048 rows of 67 float32 each (~2.7 MB), stay in cache


class Vectorizer:
    """Feature strings -> idf-weighted, L2-normalised sparse vectors over a fixed vocabulary."""

    def __init__(self, vocab: dict[str, int], idf: list[float]):
        self.vocab, self.idf = vocab, idf

    @classmethod
    def fit(cls, docs: Sequence[list[str]], weigh=None) -> "Vectorizer":
        """`weigh(feature, idf) -> weight`, when given, replaces the plain idf (e.g. per kind of feature)."""
        df: dict[str, int] = {}
        for feats in docs:
            for f in set(feats):
                df[f] = df.get(f, 0) + 1
        n = len(docs)
        vocab: dict[str, int] = {}
        idf: list[float] = []
        for f, c in sorted(df.items()):
            vocab[f] = len(idf)
            value = math.log((n + 1) / (c + 1)) + 1.0
            idf.append(weigh(f, value) if weigh else value)
        return cls(vocab, idf)

    def __call__(self, feats: list[str]) -> SparseVec:
        counts: dict[int, int] = {}
        get = self.vocab.get
        for f in feats:
            j = get(f)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        if not counts:
            return []
        idf = self.idf
        vec = [(j, (1.0 + math.log(c)) * idf[j]) for j, c in counts.items()]
        norm = math.sqrt(sum(v * v for _, v in vec))
        return [(j, v / norm) for j, v in vec]


@dataclass
class LinearModel:
    """Weights (features x classes, float32) and biases; predicting is one gather and one dot."""

    classes: list[str]
    weights: "np.ndarray"
    bias: "np.ndarray"

    def scores(self, vec: SparseVec) -> "np.ndarray":
        if not vec:
            return self.bias.copy()
        idx = [j for j, _ in vec if j < self.weights.shape[0]]
        vals = np.fromiter((v for j, v in vec if j < self.weights.shape[0]), dtype=np.float32, count=len(idx))
        return vals @ self.weights[idx] + self.bias

    def proba(self, vec: SparseVec) -> list[float]:
        return softmax(self.scores(vec)).tolist()


def softmax(z: "np.ndarray") -> "np.ndarray":
    e = np.exp(z - z.max())
    return e / e.sum()


def train(vectors: Sequence[SparseVec], labels: Sequence[str], classes: list[str], *, l2: float = 1e-5,
          iterations: int = 120, rate: float = 0.15, sample_weight: Sequence[float] | None = None,
          n_features: int | None = None) -> LinearModel:
    """Fit softmax regression, full batch with Adam (deterministic: no shuffling, zero init).
    `n_features`: the vocabulary size (rows of the weight matrix); by default the largest index + 1.

    The two sparse products per step are scipy's CSR products, and Adam updates its arrays in place:
    training every model takes a few seconds instead of ~30. Each step goes in pieces of ROWS_A_PIECE rows
    with a call of `pace` before each (the same result: see `pace`). scipy is imported here only, so it costs
    nothing at start-up when the models come from the cache."""
    import scipy.sparse as sparse

    paced = pace or _unpaced
    index = {c: i for i, c in enumerate(classes)}
    n, k = len(vectors), len(classes)
    rows, cols, vals = [], [], []
    for i, vec in enumerate(vectors):
        if i % ROWS_A_PIECE == 0:
            paced()
        for j, v in vec:
            rows.append(i)
            cols.append(j)
            vals.append(v)
    paced()
    used, local = np.unique(np.asarray(cols, dtype=np.int64), return_inverse=True)   # only features that occur
    v = len(used)
    x = sparse.csr_matrix((np.asarray(vals, dtype=np.float32), (np.asarray(rows, dtype=np.int64), local)),
                          shape=(n, v))
    x_t = x.T.tocsr()
    # Row pieces: a CSR product computes each row of its result from that row alone, in the same order
    # whether the matrix is whole or cut, and Adam's update is element by element.
    x_pieces = [(slice(lo, lo + ROWS_A_PIECE), x[lo:lo + ROWS_A_PIECE]) for lo in range(0, n, ROWS_A_PIECE)]
    xt_pieces = [(slice(lo, lo + ROWS_A_PIECE), x_t[lo:lo + ROWS_A_PIECE]) for lo in range(0, v, ROWS_A_PIECE)]
    y = np.zeros((n, k), dtype=np.float32)
    y[np.arange(n), [index[lab] for lab in labels]] = 1.0
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    sw = (sw / sw.sum()).astype(np.float32)
    w = np.zeros((v, k), dtype=np.float32)
    b = np.zeros(k, dtype=np.float32)
    m_w, s_w, step, gw = np.zeros_like(w), np.zeros_like(w), np.empty_like(w), np.empty_like(w)
    z = np.empty((n, k), dtype=np.float32)
    m_b, s_b = np.zeros(k), np.zeros(k)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for t in range(1, iterations + 1):
        for rows_, piece in x_pieces:                          # z = x @ w + b
            paced()
            z[rows_] = piece @ w
        paced()
        z += b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        r = (p - y) * sw[:, None]                              # n x k
        for rows_, piece in xt_pieces:                         # gw = x.T @ r
            paced()
            gw[rows_] = piece @ r
        gb = r.sum(axis=0)
        corr1, corr2 = 1 - beta1 ** t, 1 - beta2 ** t
        for rows_, _ in xt_pieces:                             # Adam, a piece of the weights at a time
            paced()
            g_, w_, m_, s_, st = gw[rows_], w[rows_], m_w[rows_], s_w[rows_], step[rows_]
            g_ += l2 * w_
            m_ *= beta1
            m_ += (1 - beta1) * g_
            np.multiply(g_, g_, out=st)
            st *= 1 - beta2
            s_ *= beta2
            s_ += st
            np.divide(s_, corr2, out=st)                       # step = rate * m^ / (sqrt(s^) + eps)
            np.sqrt(st, out=st)
            st += eps
            np.divide(m_, st, out=st)
            st *= rate / corr1
            w_ -= st
        m_b = beta1 * m_b + (1 - beta1) * gb
        s_b = beta2 * s_b + (1 - beta2) * gb * gb
        b -= (rate * (m_b / corr1) / (np.sqrt(s_b / corr2) + eps)).astype(np.float32)
    size = n_features if n_features is not None else (int(used.max()) + 1 if v else 0)
    full = np.zeros((size, k), dtype=np.float32)
    if v:
        full[used] = w
    return LinearModel(list(classes), full, b.astype(np.float32))


def _unpaced() -> None:
    pass
