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
  fully managed...).

No jieba: its dictionary load (~1 s) would dominate start-up, and n-grams cope better with the
shorthand sellers type.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable

from bot.nlu.text import CJK_CLASS

_PIECE_RE = re.compile(f"[{CJK_CLASS}]+|[a-z0-9]+(?:'[a-z]+)?|[$¥%+>]|[,.;:!?，。；：！？、]")
_BREAKS = frozenset(",.;:!?，。；：！？、")
# Negation after its topic, Chinese style: "直播短视频都没搞过", "跨境一天都没做过", "啥店都没开过".
# 都/也 + a negator + a verb of doing or having negates what came before it in the run.
# A dismissive predicate does the same to its topic: "品牌无所谓", "单量少点没关系", "品牌以后再说".
_POSTPOSED_NEG = re.compile("(?:都|也|根本|从来|完全|压根|一点|一次|一天)(?:没有|没|不|从没|从来没)"
                            "(?:有|做|搞|弄|碰|开|试|卖|玩|接触|干|会|懂|敢|做过|搞过|弄过|碰过|开过|试过|卖过|玩过|接触过|干过)"
                            "|无所谓|不重要|不在乎|不关心|不是重点|次要|其次|放一放|靠后|不着急|不急|没关系|不考虑"
                            # ...and so does putting it off: "品牌以后再说", "牌子往后放" (not now: the other end)
                            "|以后再说|以后再讲|以后再谈|以后再考虑|以后考虑|之后再说|后面再说|将来再说|往后放|往后排|先放着|先放一边"
                            # ...and so does not being able to: "直播短视频都做不了", "视频拍不来"
                            "|(?:做|搞|弄|拍|播|剪|玩)不(?:了|来|动)")
# English dismissals, after their topic ("brand is not a priority", "brand can wait"): the clause says no (`negated`).
_DISMISS_EN = re.compile(r"\b(?:(?:is|are|'s)\s+)?(?:not|isn't|aren't|isnt|arent)\s+(?:that\s+|so\s+|very\s+|really\s+|a\s+)?"
                         r"(?:important|priority|our focus|the focus|the point|a big deal|a must|essential|crucial|needed)\b"
                         r"|\b(?:doesn't|doesnt|don't|dont|does not|do not)\s+(?:really\s+)?matter\b"
                         r"|\bcan wait\b|\b(?:is|are) secondary\b|\bwho cares\b|\bnot bothered\b")
NEG_ZH = ("没有", "没", "不是", "不", "无", "非", "未", "别", "从没", "从来没", "从未", "尚未", "还没")
_NEG_ZH_RE = re.compile("|".join(sorted(NEG_ZH, key=len, reverse=True)))
NEG_EN = frozenset({"not", "no", "never", "dont", "don't", "doesnt", "doesn't", "didnt", "didn't", "isnt", "isn't",
                    "arent", "aren't", "wasnt", "haven't", "havent", "hasn't", "hasnt", "without", "cannot", "can't",
                    "cant", "wont", "won't", "hardly", "neither", "nor", "nothing", "none", "zero", "lack", "lacking",
                    "fewer", "less", "forget"})     # "forget the brand, just orders": the brand is said no to
NEG_EN_SPAN = 10      # words after an English negator in its scope (punctuation ends it first)
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


def negated(text: str) -> bool:
    """Whether a (normalised) clause says no: a Chinese negator or an English one."""
    if _NEG_ZH_RE.search(text):
        return True
    if _POSTPOSED_NEG.search(text) or _DISMISS_EN.search(text):     # "订单其次", "brand is secondary"
        return True
    return any(w in NEG_EN or w.endswith("n't") for w in re.findall(r"[a-z']+", text))


class Featurizer:
    """Text -> list of feature strings (repeats kept). Built once per content."""

    def __init__(self, concepts: Iterable[tuple[str, Iterable[str]]] = ()):
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

    def concepts(self, text: str) -> list[str]:
        out = []
        for rx in (self._cjk_re, self._latin_re):
            if rx is not None:
                out += ["§" + self._concept_of[m] for m in rx.findall(text)]
        return out

    def __call__(self, text: str, extra: Iterable[str] = ()) -> list[str]:
        out: list[str] = list(extra)
        out += self.concepts(text)
        neg_words = 0
        prev_word = None
        for piece in _PIECE_RE.findall(text):
            first = piece[0]
            if first in _BREAKS:             # punctuation ends a negation's scope and a word pair
                neg_words = 0
                prev_word = None
                continue
            if first == ">":                 # "orders > brand"
                piece = "over"
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
                if prev_word is not None:       # a pair inside a negation's scope is negated too
                    out.append(f"{'~' if neg_words else ''}b:{prev_word}_{w}")
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
        m = _POSTPOSED_NEG.search(run) if n > 4 else None
        if m is not None:              # what came before "都没做过" is what is negated
            for k in range(0, m.start()):
                scope[k] = True
        for hit in _NEG_ZH_RE.finditer(run):
            end = hit.end()
            for k in range(end, min(n, end + NEG_ZH_SPAN)):
                scope[k] = True
        # Negated: its own features, never the plain ones. An n-gram reaching into a negator's
        # scope is negated too ("有工厂" inside "没有工厂" must not look like "有工厂").
        for j in range(n):
            out.append(("~" if scope[j] else "") + run[j])
            if j + 1 < n:
                out.append(("~" if scope[j] or scope[j + 1] else "") + run[j:j + 2])
            if j + 2 < n:
                out.append(("~" if scope[j] or scope[j + 1] or scope[j + 2] else "") + run[j:j + 3])
