"""Features of a normalised text: what every model of understanding sees.

Like Rasa's CountVectorsFeaturizer with a `char_wb` analyzer beside a word analyzer, but for
mixed Chinese and English without a word segmenter:

* Chinese runs: character 1-, 2- and 3-grams (shorthand such as 全托 for 全托管 still shares
  n-grams, and a wrong character keeps most of them);
* English words (lightly stemmed) and word bigrams, plus character 3- and 4-grams of each word
  with its boundaries, so that typos ("expereince") still share most features;
* negation scope: after a negator (不, 没, 没有, 无, 非, 未, not, no, never, don't, n't...) the next
  few items emit "~" features *instead of* their plain ones, so "没有工厂" shares nothing with
  "有工厂" but the negator's own n-grams, and a model learns what a negated word means;
* concept tokens "§<group>" for the synonym groups of knowledge/synonyms.yaml (全托 = 全託管 =
  fully managed...);
* English spelling: an unknown word of 5+ letters becomes the most frequent word of the examples
  with the same first letter within one edit (two from 8 letters), so "comission", "manged" and
  "inventroy" meet their words before anything else is computed.

No jieba: its dictionary load (~1 s) would dominate start-up, and n-grams cope better with the
shorthand sellers type.
"""
from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Iterable

from bot.nlu.text import CJK_CLASS

_PIECE_RE = re.compile(f"[{CJK_CLASS}]+|[a-z0-9]+(?:'[a-z]+)?|[$¥%+]")
NEG_ZH = ("没有", "没", "不是", "不", "无", "非", "未", "别", "从没", "从来没", "从未", "尚未", "还没")
NEG_EN = frozenset({"not", "no", "never", "dont", "don't", "doesnt", "doesn't", "didnt", "didn't", "isnt", "isn't",
                    "arent", "aren't", "wasnt", "haven't", "havent", "hasn't", "hasnt", "without", "cannot", "can't",
                    "cant", "wont", "won't", "hardly", "neither", "nor", "nothing", "none", "zero", "lack", "lacking"})
NEG_EN_SPAN = 4       # words after an English negator that are in its scope
NEG_ZH_SPAN = 4       # characters after a Chinese negator
STOP_EN = frozenset("a an the of to in on at is are am was were be been i we my our me us it its this that "
                    "for and or with as by from do does did".split())


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """A deliberately tiny suffix stripper: plurals, -ing, -ed."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("ing") and len(word) >= 6:
        return word[:-3]
    if word.endswith("ed") and len(word) >= 5:
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _osa(a: str, b: str, cap: int) -> int:
    """Optimal-string-alignment distance, cap + 1 as soon as it must exceed cap."""
    if abs(len(a) - len(b)) > cap:
        return cap + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
        if min(cur) > cap:
            return cap + 1
        prev2, prev = prev, cur
    return prev[-1]


class Speller:
    """Unknown English words -> the nearest word of the examples (see the module docstring)."""

    MIN_LEN = 5

    def __init__(self, words: Iterable[str]):
        self.counts = Counter(w for w in words if w.isalpha() and w.isascii())
        self.neighbours: dict[str, list[str]] = {}
        for w in self.counts:
            if len(w) >= self.MIN_LEN - 1:
                for key in {w[:i] + w[i + 1:] for i in range(len(w))} | {w}:
                    self.neighbours.setdefault(key, []).append(w)
        self._cache: dict[str, str] = {}

    def __call__(self, word: str) -> str:
        if len(word) < self.MIN_LEN or word in self.counts or not word.isalpha():
            return word
        hit = self._cache.get(word)
        if hit is None:
            cap = 1 if len(word) < 8 else 2
            best, best_key = word, None
            for key in {word[:i] + word[i + 1:] for i in range(len(word))} | {word}:
                for cand in self.neighbours.get(key, ()):
                    if cand[0] != word[0] or len(cand) < self.MIN_LEN:
                        continue
                    d = _osa(word, cand, cap)
                    if d <= cap and (best_key is None or (d, -self.counts[cand], cand) < best_key):
                        best, best_key = cand, (d, -self.counts[cand], cand)
            hit = best
            if len(self._cache) < 20000:
                self._cache[word] = hit
        return hit


_WORD_RE = re.compile(r"[a-z]{5,}")


class Featurizer:
    """Text -> list of feature strings (repeats kept). Built once per content."""

    def __init__(self, concepts: Iterable[tuple[str, Iterable[str]]] = (), vocabulary: Iterable[str] = ()):
        """`concepts`: synonym groups (id, terms); none for the questionnaire's models, whose
        examples say "工厂" in every sense (有工厂, 没有工厂, 找工厂代工)."""
        terms: dict[str, str] = {}
        for gid, group_terms in concepts:
            for t in group_terms:
                t = t.lower().strip()
                if t and t not in terms:
                    terms[t] = gid
        self._concept_of = terms
        # Two plain alternations (longest first), Latin terms as whole words: far faster than one
        # alternation with look-arounds on every term.
        latin = sorted((t for t in terms if t.isascii()), key=len, reverse=True)
        cjk = sorted((t for t in terms if not t.isascii()), key=len, reverse=True)
        self._latin_re = re.compile(r"(?<![a-z])(?:" + "|".join(map(re.escape, latin)) + r")(?![a-z])") if latin else None
        self._cjk_re = re.compile("|".join(map(re.escape, cjk))) if cjk else None
        words = list(vocabulary)
        self.speller = Speller(words) if words else None

    def spell(self, text: str) -> str:
        if self.speller is None:
            return text
        return _WORD_RE.sub(lambda m: self.speller(m.group(0)), text)

    def concepts(self, text: str) -> list[str]:
        out = []
        for rx in (self._cjk_re, self._latin_re):
            if rx is not None:
                out += ["§" + self._concept_of[m] for m in rx.findall(text)]
        return out

    def __call__(self, text: str, extra: Iterable[str] = ()) -> list[str]:
        text = self.spell(text)
        out: list[str] = list(extra)
        out += self.concepts(text)
        pieces = _PIECE_RE.findall(text)
        neg_words = 0
        prev_word = None
        for piece in pieces:
            first = piece[0]
            if first.isascii():
                word = piece.replace("'", "")
                if word in NEG_EN or piece.endswith("n't"):
                    neg_words = NEG_EN_SPAN
                    out.append("w:<neg>")
                    prev_word = "<neg>"
                    continue
                if word.isdigit():
                    word = "<num>"
                w = stem(word)
                if w not in STOP_EN:
                    if neg_words:           # negated: its own feature, never the plain word's
                        out.append("~w:" + w)
                    else:
                        out.append("w:" + w)
                        if len(w) >= 4 and w != "<num>":
                            padded = f"<{w}>"
                            out += ["g:" + padded[i:i + 3] for i in range(len(padded) - 2)]
                            out += ["g:" + padded[i:i + 4] for i in range(len(padded) - 3)]
                if prev_word is not None:
                    out.append(f"b:{prev_word}_{w}")
                prev_word = w
                if neg_words:
                    neg_words -= 1
            else:
                prev_word = None
                self._chinese(piece, out)
        return out

    @staticmethod
    def _chinese(run: str, out: list[str]) -> None:
        n = len(run)
        scope = [False] * n            # positions inside a negator's scope
        for j in range(n):
            for neg in NEG_ZH:
                if run.startswith(neg, j):
                    for k in range(j + len(neg), min(n, j + len(neg) + NEG_ZH_SPAN)):
                        scope[k] = True
                    break
        # Negated: its own features, never the plain ones. An n-gram reaching into a negator's
        # scope is negated too ("有工厂" inside "没有工厂" must not look like "有工厂").
        for j in range(n):
            out.append(("~" if scope[j] else "") + run[j])
            if j + 1 < n:
                out.append(("~" if scope[j] or scope[j + 1] else "") + run[j:j + 2])
            if j + 2 < n:
                out.append(("~" if scope[j] or scope[j + 1] or scope[j + 2] else "") + run[j:j + 3])
