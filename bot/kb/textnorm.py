"""Text normalisation and tokenisation for the FAQ answerer.

Normalisation (`normalize`): NFKC (which also folds full-width ASCII to half-width),
control and zero-width characters removed, lowercase, Traditional -> Simplified Chinese
(OpenCC 't2s', converter built once, on first use), whitespace collapsed, capped at
500 characters.

Tokenisation (`Analyzer.tokens`) produces these kinds of token:

* Concepts: every term of a synonym group (knowledge/synonyms.yaml), in either script,
  becomes one concept token ``§<group id>``, longest term first, so "全托", "全託管" and
  "fully managed" all become ``§full`` and meet. Terms are matched on units (a Chinese
  character, an English word after stemming) through a trie, so the cost does not grow
  with the number of terms. A Chinese term straddling the end of the chosen one counts
  too (海外仓库存: 海外仓库 and 库存), and in questions a 3+ character term typed with
  one wrong inner character still counts (全拖管, 保正金; see `Analyzer.__init__`).
* Chinese: character unigrams (prefix ``u:``) and bigrams of what is left. We do not
  use a word segmenter such as jieba on purpose: loading its dictionary costs about a
  second, which alone would break the index-build budget, and n-grams cope better with
  what sellers type: shorthand (全托 for 全托管) still shares a bigram, and a slip keeps
  most of its characters. Particles (吗, 呢, 的...), pronouns and common function
  bigrams (什么, 到底, 一下...) are dropped, as English stop words are.
* English: lowercase words minus stop words, through a tiny suffix stripper (plural,
  -ing, -ed, final -e) so "price", "prices", "pricing" and "priced" meet. Possessives
  are dropped ("temu's" -> temu). Stop words are kept until synonym terms have been
  matched, so that "which mode" or "in charge of" can be terms.
* Intent: question words (who, how, can...) are stop words for topics but become weak
  ``~who`` / ``~how`` tokens, since "who pays" and "how does it work" ask different things.

Typo tolerance for English is a vocabulary-level spelling corrector, not character
trigrams or rapidfuzz: an unknown word of 5+ letters becomes the most frequent indexed
word with the same first letter within Damerau-Levenshtein distance 1 (2 from 8
letters), found through a deletion-neighbourhood index built with the index; an unknown
word of 4+ letters with no such neighbour is read as an abbreviation of the most
frequent indexed word it begins ("diff" -> "difference"). Correcting the *word* means a
corrected word can still complete a multi-word synonym ("fully manged" -> §full), keeps
the vectors small (trigrams would multiply the postings several times over, which costs
latency at 5,000 entries) and keeps long words from partly matching unrelated ones.
rapidfuzz would compute distances faster, but it is not a declared dependency of the
project and the candidate sets here are tiny, so pure Python is fast enough.
"""
from __future__ import annotations

import bisect
import re
import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Iterable

MAX_CHARS = 500          # normalised text beyond this is ignored: caps the work per question
CONCEPT_PREFIX = "§"
FUZZY_MIN_LEN = 3
UNIGRAM_PREFIX = "u:"
INTENT_PREFIX = "~"
# Question words are stop words for topic matching but still say what is asked: who does
# it, how it works, whether one can. They become weak cross-language "intent" tokens.
INTENT_EN = {"who": "who", "whom": "who", "what": "what", "whats": "what", "how": "how", "hows": "how",
             "which": "which", "when": "when", "where": "where", "why": "why",
             "can": "can", "could": "can", "do": "do", "does": "do", "did": "do",
             "need": "need", "must": "need", "should": "need"}

_CJK_RANGES = (
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F),
)
_CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_CJK_RE = re.compile(f"[{_CJK_CLASS}]")
_WS_RE = re.compile(r"\s+")
_TAG_RE = re.compile(r"</?[a-zA-Z][^<>]{0,80}>|&[a-zA-Z]{2,8};|&#\d{1,6};")
_URL_RE = re.compile(r"(?:https?://|www\.)\S+")
# A "piece" is a run of CJK ideographs or a Latin/digit word.
_PIECE_RE = re.compile(f"[{_CJK_CLASS}]+|[a-z0-9]+(?:'[a-z]+)?")

_converter = None


def _t2s(text: str) -> str:
    global _converter
    if _converter is None:
        from opencc import OpenCC  # imported lazily: only needed once Chinese text shows up
        _converter = OpenCC("t2s")
    return _converter.convert(text)


def is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def has_cjk(text: str) -> bool:
    return _CJK_RE.search(text) is not None


def _clean_char(ch: str) -> str:
    cat = unicodedata.category(ch)
    if cat == "Cc":          # control characters, incl. newlines and tabs: become spaces
        return " "
    if cat in ("Cf", "Cs", "Co", "Cn"):  # zero-width, bidi marks, surrogates, private use, unassigned
        return ""
    return ch


def normalize(text: object, limit: int | None = MAX_CHARS) -> str:
    """NFKC, drop control/zero-width characters, lowercase, t2s, collapse whitespace.

    Never raises; anything that is not a string is treated as its str() (None as "").
    `limit` caps the raw input considered (a little above the final cap, so that
    normalisation never sees megabytes) and the normalised output.
    """
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    if limit is not None:
        text = text[: limit * 4]
    text = unicodedata.normalize("NFKC", text)
    if not text.isprintable():
        text = "".join(_clean_char(c) for c in text)
    text = text.lower()
    if limit is not None:
        text = text[: limit + limit // 2]     # before t2s, the costly step
    if has_cjk(text):
        text = _t2s(text)
    text = _WS_RE.sub(" ", text).strip()
    if limit is not None and len(text) > limit:
        text = text[:limit].rstrip()
    return text


def strip_markup(text: str) -> str:
    """Remove HTML-looking tags, entities and URLs (replaced by spaces)."""
    if "<" in text or "&" in text:
        text = _TAG_RE.sub(" ", text)
    if "http" in text or "www." in text:
        text = _URL_RE.sub(" ", text)
    return text


# --- English -------------------------------------------------------------------------

STOP_EN = frozenset("""
a an the and or but if then than so of to in on at by for with from into onto about as
is are was were be been being am do does did doing done have has had having
i me my mine we us our you your yours he him his she her it its they them their
this that these those there here what which who whom whose when where why how
can could would should will shall may might must need
not no yes just also too very really quite much many more most some any all each
please hi hello hey thanks thank thx pls plz ok okay q question quick
up down out over again still only own same such other
tell know want wanna like get got go going let lets im i'm it's that's what's
one s t d ll m re ve
whats hows whos wheres thats its im ive id dont doesnt didnt cant wont isnt arent
actually basically honestly exactly literally really kinda sorta gonna gotta maybe probably
thing things stuff something anything lot lots bit guy guys sir bro dear hmm um uh yeah yep
sure right now yet ever already etc eg ie btw fyi asap
after before under through during between since until while either neither every another
often always never sometimes usually possible possibly become becomes became
able via per within without across around against among upon onto off
""".split())

# Chinese characters that carry no topical meaning on their own (pronouns, copulas...).
# Their unigrams are dropped; bigrams made only of them are dropped too.
STOP_ZH = frozenset("的了吗呢吧啊呀嘛哦么是在我你他她它们这那就都也还和与及或请问个嗯哈呃喔诶哎啦哇")
# Sentence particles and 的: (almost) never part of a domain word, so bigrams touching them
# are dropped too.
PARTICLES_ZH = frozenset("的吗呢吧啊呀嘛哦嗯哈呃喔诶哎啦哇")
# General-language function words (question words, connectives, hedges): the Chinese
# counterpart of an English stop-word list. Their bigram is dropped; with only ~60 entries
# the knowledge base alone cannot tell that 到底 or 还能 carry no topic.
STOP_BIGRAMS_ZH = frozenset("""
什么 怎么 怎样 为何 到底 究竟 一下 一个 一次 一点 一些 有点 有些 还能 还是 还有 要不 不要 是不 不是
就是 这个 那个 这些 那些 这样 那样 这边 那边 如果 的话 然后 因为 所以 但是 而且 或者 现在 已经 一直 其实
请问 问下 问一 咨询 知道 觉得 感觉 应该 关于 我们 你们 他们 大家 您好 你好 老板 在吗 谢谢 麻烦 一般 大概
可能 是否 能否 有没 是个 个啥 是啥 干啥 做啥 为啥 咋办 咋样 咋整 啥样 以后 之前 之后 时候
""".split())


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A deliberately tiny suffix stripper: plurals, -ing, -ed, final -e."""
    w = word
    if len(w) <= 3 or not w.isalpha():
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if w.endswith("ing") and len(w) >= 6:
        w = w[:-3]
        if len(w) >= 3 and w[-1] == w[-2] and w[-1] not in "lsz":
            w = w[:-1]
    elif w.endswith("ed") and len(w) >= 5:
        w = w[:-2]
        if len(w) >= 3 and w[-1] == w[-2] and w[-1] not in "lsz":
            w = w[:-1]
    if w.endswith("e") and len(w) >= 5:
        w = w[:-1]
    return w


def _damerau(a: str, b: str, cap: int) -> int:
    """Optimal-string-alignment distance, returning cap+1 as soon as it must exceed cap."""
    if abs(len(a) - len(b)) > cap:
        return cap + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        best = cur[0]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
            best = min(best, v)
        if best > cap:
            return cap + 1
        prev2, prev = prev, cur
    return prev[-1]


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class SpellFixer:
    """Maps unknown English words to the nearest known word (see module docstring)."""

    MIN_LEN = 5    # shorter words are too often real words one edit from another (rent/sent)
    PREFIX_MIN = 4

    def __init__(self, counts: Counter[str]):
        self.counts = counts
        self.neigh: dict[str, list[str]] = {}
        for word in counts:
            if len(word) < self.MIN_LEN - 1 or not word.isalpha():
                continue
            for key in _deletions(word) | {word}:
                self.neigh.setdefault(key, []).append(word)
        self.sorted_words = sorted(w for w in counts if w.isalpha())
        self._cache: dict[str, str] = {}

    def fix(self, word: str) -> str:
        if word in self.counts or len(word) < self.PREFIX_MIN or not word.isalpha() or word in STOP_EN:
            return word
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        best = self._nearest(word) if len(word) >= self.MIN_LEN else None
        if best is None:
            best = self._expand(word)
        if len(self._cache) < 50000:
            self._cache[word] = best or word
        return best or word

    def _nearest(self, word: str) -> str | None:
        cap = 1 if len(word) < 8 else 2
        best, best_key = None, None
        seen: set[str] = set()
        for key in _deletions(word) | {word}:
            for cand in self.neigh.get(key, ()):
                if cand in seen:
                    continue
                seen.add(cand)
                if cand[0] != word[0] or len(cand) < self.MIN_LEN:   # typos rarely hit the first letter
                    continue
                d = _damerau(word, cand, cap)
                if d > cap:
                    continue
                k = (d, -self.counts[cand], cand)
                if best_key is None or k < best_key:
                    best, best_key = cand, k
        return best

    def _expand(self, word: str) -> str | None:
        """Abbreviations: "diff" -> "difference", "info" -> "information" (most frequent)."""
        i = bisect.bisect_left(self.sorted_words, word)
        best = None
        while i < len(self.sorted_words) and self.sorted_words[i].startswith(word):
            cand = self.sorted_words[i]
            if len(cand) >= len(word) + 2 and (best is None or self.counts[cand] > self.counts[best]):
                best = cand
            i += 1
        return best


# --- analyzer --------------------------------------------------------------------------

def _units(text: str, fix=None) -> list[tuple[str, int]]:
    """The text as (unit, piece number) pairs: one unit per Chinese character, one per
    English word (stemmed; stop words kept as typed so that multi-word synonym terms such
    as "which mode" still match as phrases). Punctuation and spaces only separate pieces.
    `fix` optionally corrects the spelling of each English word first."""
    out: list[tuple[str, int]] = []
    for n, piece in enumerate(_PIECE_RE.findall(text)):
        if piece[0].isascii():
            if piece.endswith("'s"):          # possessive: "temu's" is about temu
                piece = piece[:-2]
            piece = piece.replace("'", "")
            if piece not in STOP_EN:
                if fix is not None:
                    piece = fix(piece)
                piece = stem(piece)
            out.append((piece, n))
        else:
            out.extend((ch, n) for ch in piece)
    return out


_END = ""   # trie key of "a term ends here" (never a unit)


class Analyzer:
    """Turns text into weighted-vector tokens, with synonym groups folded into concepts.

    Synonym terms are matched on units (characters / words) through a trie, longest match
    first, which costs a few dictionary look-ups per unit whatever the number of terms.
    """

    def __init__(self, synonyms: Iterable[object] = ()):
        self.concepts: dict[tuple[str, ...], str] = {}   # term units -> concept token
        for group in synonyms:
            gid = getattr(group, "id", None)
            terms = getattr(group, "terms", ())
            if not gid:
                continue
            token = CONCEPT_PREFIX + re.sub(r"[^a-z0-9_]", "_", str(gid).lower())
            for term in terms:
                units = tuple(u for u, _ in _units(normalize(str(term), limit=None)))
                if units and units not in self.concepts:
                    self.concepts[units] = token
        self._trie: dict = {}
        for units, token in self.concepts.items():
            node = self._trie
            for u in units:
                node = node.setdefault(u, {})
            node[_END] = token
        self.spell: SpellFixer | None = None
        # Homophone slips (全拖管, 保正金): a Chinese term of 3+ characters typed with one
        # inner character wrong still names its concept, provided that every term it could
        # be is in the same group and the wrong character makes bigrams the knowledge base
        # never uses. The end characters must be right (else 全部商品 would be 小商品), and
        # two-character terms are left alone: 全部 or 半年 are one character off 全托 and 半托.
        self._fuzzy: dict[str, set[str]] = {}
        for units, token in self.concepts.items():
            term = "".join(units)
            if len(units) >= FUZZY_MIN_LEN and len(term) == len(units) and all(is_cjk(c) for c in term):
                for i in range(1, len(term) - 1):
                    self._fuzzy.setdefault(term[:i] + "\0" + term[i + 1:], set()).add(token)
        self._fuzzy_lens = sorted({len(k) for k in self._fuzzy}, reverse=True)
        self.known_bigrams: frozenset[str] = frozenset()

    def set_vocabulary(self, word_counts: Counter[str]) -> None:
        """Enable spelling correction of unknown English words against these (raw) words."""
        extra = Counter()
        for units in self.concepts:
            for w in units:
                if w.isascii():
                    extra[w] += 1
        counts = word_counts + extra
        # Inflected forms the knowledge base happens not to use are still words: "pricng"
        # should find "pricing" even when only "price" and "prices" are indexed.
        derived: Counter[str] = Counter()
        for word, c in counts.items():
            if len(word) < 4 or not word.isalpha():
                continue
            base = stem(word)
            # Only -ing forms: -ed/-s forms of short stems make pseudo-words that real
            # names are one edit away from ("shop" -> "shoped" <- "shopee").
            for form in (base + "ing", base + base[-1] + "ing"):
                if form not in counts and stem(form) == base:
                    derived[form] += c
        self.spell = SpellFixer(counts + derived)

    @staticmethod
    def english_words(text: str) -> list[str]:
        """Raw (unstemmed) English words of an already-normalised text."""
        return [p for p in _PIECE_RE.findall(text) if p[0].isascii() and p[0].isalpha()]

    def _longest(self, units: list[tuple[str, int]], i: int) -> tuple[int, str] | None:
        node, best, j = self._trie, None, i
        while j < len(units):
            node = node.get(units[j][0])
            if node is None:
                break
            j += 1
            token = node.get(_END)
            if token is not None:
                best = (j, token)
        return best

    def segments(self, text: str, query: bool = False) -> list[tuple[str, int]]:
        """(item, piece number) pairs of a normalised text, where an item is a concept
        token, an English word or a Chinese character.

        `query` also lets misspelt Chinese terms through (see the comment in __init__);
        the knowledge base itself is taken as spelt right.
        """
        units = _units(strip_markup(text), self.spell.fix if self.spell is not None else None)
        out: list[tuple[str, int]] = []
        extra: list[tuple[str, int]] = []
        i = 0
        while i < len(units):
            hit = self._longest(units, i) if self._trie else None
            if hit is None:
                out.append(units[i])
                i += 1
                continue
            end, token = hit
            out.append((token, -1))
            # A Chinese term straddling the end of the chosen one still counts: in
            # 海外仓库存 ("stock in the overseas warehouse") 海外仓库 wins, but 库存 is meant.
            for k in range(i + 1, end):
                if not units[k][0].isascii():
                    other = self._longest(units, k)
                    if other is not None and other[0] > end:
                        extra.append((other[1], -1))
            i = end
        if query and self._fuzzy:
            out = self._fuzzy_concepts(out)
        return out + extra

    def _fuzzy_concepts(self, items: list[tuple[str, int]]) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        i = 0
        while i < len(items):
            hit = None
            for n in self._fuzzy_lens:
                window = items[i:i + n]
                if len(window) < n or any(len(u) != 1 or not is_cjk(u) or p != window[0][1] for u, p in window):
                    continue
                text = "".join(u for u, _ in window)
                for j in range(1, n - 1):       # both end characters must be right
                    tokens = self._fuzzy.get(text[:j] + "\0" + text[j + 1:])
                    if not tokens or len(tokens) != 1:
                        continue
                    if text[j - 1:j + 1] in self.known_bigrams or text[j:j + 2] in self.known_bigrams:
                        continue
                    hit = (n, next(iter(tokens)))
                    break
                if hit:
                    break
            if hit:
                out.append((hit[1], -1))
                i += hit[0]
            else:
                out.append(items[i])
                i += 1
        return out

    def canonical(self, text: str, query: bool = False) -> str:
        """Readable form of `segments` (for debugging): items joined by spaces."""
        return " ".join(u for u, _ in self.segments(text, query))

    def tokens(self, text: str, normalized: bool = False, query: bool = True) -> list[str]:
        """Tokens of `text` (normalised first unless `normalized`), in order, repeats kept."""
        if not normalized:
            text = normalize(text)
        return self.tokens_of_segments(self.segments(text, query=query))

    @staticmethod
    def tokens_of_segments(items: list[tuple[str, int]]) -> list[str]:
        out: list[str] = []
        prev, prev_piece = None, None       # previous Chinese character, for bigrams
        for item, piece in items:
            first = item[0]
            if first == CONCEPT_PREFIX:
                out.append(item)
                prev = None
            elif first.isascii():
                if item not in STOP_EN:
                    out.append(item)
                elif item in INTENT_EN:
                    out.append(INTENT_PREFIX + INTENT_EN[item])
                prev = None
            else:
                ch = item
                if ch not in STOP_ZH:
                    out.append(UNIGRAM_PREFIX + ch)
                if prev is not None and prev_piece == piece:
                    bigram = prev + ch
                    if not (prev in STOP_ZH and ch in STOP_ZH) and prev not in PARTICLES_ZH \
                            and ch not in PARTICLES_ZH and bigram not in STOP_BIGRAMS_ZH and prev != "么":
                        out.append(bigram)
                prev, prev_piece = ch, piece
        return out


def token_kind(token: str) -> str:
    """'concept', 'uni' (CJK unigram), 'bi' (CJK bigram), 'intent' or 'word' (English)."""
    if token.startswith(CONCEPT_PREFIX):
        return "concept"
    if token.startswith(INTENT_PREFIX):
        return "intent"
    if token.startswith(UNIGRAM_PREFIX):
        return "uni"
    if token[0].isascii():
        return "word"
    return "bi"
