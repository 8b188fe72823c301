"""Text normalisation and clause splitting shared by every part of understanding.

`normalize`: NFKC (full-width ASCII becomes half-width), control and zero-width characters
dropped, lowercase, Traditional -> Simplified Chinese (OpenCC t2s, built on first use),
HTML-looking tags and URLs removed, whitespace collapsed, capped in length. Never raises.
"""
from __future__ import annotations

import re
import unicodedata

MAX_CHARS = 600          # normalised text beyond this is ignored: caps the work per message
MAX_CLAUSES = 16

CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{CJK_CLASS}]")
_WS_RE = re.compile(r"\s+")
_TAG_RE = re.compile(r"</?[a-zA-Z][^<>]{0,80}>|&[a-zA-Z]{2,8};|&#\d{1,6};")
_URL_RE = re.compile(r"(?:https?://|www\.)\S+")
_FIFTY_RE = re.compile(r"(?<![\d.])50\s?(?:/|-|:)\s?50(?![\d.])")
_BRAND_NEW_RE = re.compile(r"\bbrand[- ]new\b")
_ZERO_RE = re.compile(r"(?<![\d.,])0\s*(?=[a-z\u4e00-\u9fff])")     # "0 experience", "0经验": none

_converter = None
_CHANGED: frozenset[str] | None = None     # characters t2s can change; None: unknown, always convert


def _changed_characters() -> frozenset[str] | None:
    """The characters at which a t2s dictionary entry differs from its conversion. A text with none
    of them converts to itself, so most Simplified text skips OpenCC's (slow, pure-Python) parse."""
    import os

    import opencc
    changed: set[str] = set()
    folder = os.path.join(os.path.dirname(opencc.__file__), "dictionary")
    try:
        for name in ("TSPhrases.txt", "TSCharacters.txt"):
            with open(os.path.join(folder, name), encoding="utf-8") as fh:
                for line in fh:
                    key, _, value = line.rstrip("\n").partition("\t")
                    value = value.split(" ")[0]
                    if key == value:
                        continue
                    if len(key) != len(value):
                        changed.update(key)
                    else:
                        changed.update(a for a, b in zip(key, value) if a != b)
    except OSError:
        return None
    return frozenset(changed)


def _t2s(text: str) -> str:
    global _converter, _CHANGED
    if _converter is None:
        from opencc import OpenCC  # imported lazily: only needed once Chinese text shows up
        _converter = OpenCC("t2s")
        _CHANGED = _changed_characters()
    if _CHANGED is not None and _CHANGED.isdisjoint(text):
        return text
    return _converter.convert(text)


def has_cjk(text: str) -> bool:
    return _CJK_RE.search(text) is not None


def _clean_char(ch: str) -> str:
    cat = unicodedata.category(ch)
    if cat == "Cc":
        return " "
    if cat in ("Cf", "Cs", "Co", "Cn"):
        return ""
    return ch


def normalize(text: object, limit: int | None = MAX_CHARS) -> str:
    """The canonical form every model sees (see the module docstring)."""
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    if limit is not None:
        text = text[: limit * 3]
    text = unicodedata.normalize("NFKC", text)
    if not text.isprintable():
        text = "".join(_clean_char(c) for c in text)
    if "<" in text or "&" in text:
        text = _TAG_RE.sub(" ", text)
    if "http" in text or "www." in text:
        text = _URL_RE.sub(" ", text)
    text = text.lower()
    if "brand" in text:                       # "brand new to this" says nothing about a brand
        text = _BRAND_NEW_RE.sub("brandnew", text)
    if "0" in text:                           # "0 experience" says none; digits alone are invisible to the models
        text = _ZERO_RE.sub("no ", text)
    if "50" in text:                          # "50/50" is "half and half", not two numbers
        text = _FIFTY_RE.sub(" fifty-fifty ", text)
    if limit is not None:
        text = text[: limit + limit // 2]
    if has_cjk(text):
        text = _t2s(text)
    text = _WS_RE.sub(" ", text).strip()
    if limit is not None and len(text) > limit:
        text = text[:limit].rstrip()
    return text


# Clause boundaries: punctuation, then connectives. A connective of contrast marks the clause
# that follows it as overriding what came before about the same thing ("不是工厂，但有供应商"); one
# of concession marks its clause as the weaker ("虽然我家是开厂的，但那是我爸的"). In Chinese typed
# without punctuation, a space between two Chinese words is a comma ("东莞自己有厂 做手机壳的 亚马逊做了五年").
_PUNCT_SPLIT = re.compile(r"[，。；;！!？?\n、…]+|,(?!\d{3})|\.(?!\d)|\s+-\s+|\s*/\s+")
_CONTRAST_ZH = ("但是", "但", "不过", "可是", "然而", "只是", "却", "而是", "倒是")
_CONCESSION_ZH = ("虽然", "虽说", "尽管", "即使", "就算", "哪怕")
_CONTRAST_EN = ("but", "however", "though", "tho", "actually", "instead", "whereas")
_CONCESSION_EN = ("although", "even though", "even if", "despite")
_JOIN_EN = ("and", "also", "plus", "while", "with", "so")
_EN_SPLIT = re.compile(r"\b(" + "|".join(sorted(_CONCESSION_EN + _CONTRAST_EN + _JOIN_EN, key=len, reverse=True))
                       + r")\b")
_ZH_SPLIT = re.compile("(" + "|".join(sorted(_CONTRAST_ZH + _CONCESSION_ZH + ("而且", "并且", "另外", "同时"),
                                             key=len, reverse=True)) + ")")
_NEGATED_HEAD = ("不是", "没有", "没", "不", "无")
_BETWEEN_RE = re.compile(r"\bbetween(?:\s+[\w'-]+){1,3}\s*$")


class Clause(str):
    """A piece of a message; `contrast` when a connective of contrast introduced it, `concession`
    when one of concession did (its reading yields to the others)."""

    contrast: bool = False
    concession: bool = False


def _clause(text: str, contrast: bool, concession: bool = False) -> Clause:
    c = Clause(text.strip(" ,.'\"“”‘’()（）[]【】:：-"))
    c.contrast = contrast and not concession
    c.concession = concession
    return c


def _space_split(chunk: str) -> list[str]:
    """A space between two Chinese words is a clause boundary, unless the word before it is a short
    topic without a negator ("直播 不会", "资金 20万" stay whole; "没厂 没经验 没钱" split)."""
    if " " not in chunk or not has_cjk(chunk):
        return [chunk]
    tokens = chunk.split(" ")
    out = [tokens[0]]
    for tok in tokens[1:]:
        left = out[-1].split(" ")[-1]
        short_topic = len(left) <= 2 and not any(n in left for n in _NEGATED_HEAD)
        if has_cjk(left) and has_cjk(tok) and not short_topic and len(tok) > 1:
            out.append(tok)
        else:
            out[-1] = out[-1] + " " + tok
    return out


def clauses(norm: str) -> list[Clause]:
    """Split a normalised message into clauses, at most MAX_CLAUSES, empty ones dropped."""
    out: list[Clause] = []
    chunks = [piece for chunk in _PUNCT_SPLIT.split(norm) if chunk and chunk.strip() for piece in _space_split(chunk)]
    for chunk in chunks:
        # English connectives: "we are a factory but never sold abroad" -> two clauses.
        split: list[tuple[str, bool, bool]] = []
        parts = _EN_SPLIT.split(chunk)
        cur, cur_contrast, cur_concession = parts[0], False, False
        for i in range(1, len(parts), 2):
            word, rest = parts[i], parts[i + 1]
            contrast = word in _CONTRAST_EN
            concession = word in _CONCESSION_EN
            if word == "and" and _BETWEEN_RE.search(cur):     # "torn between orders and a brand": one clause
                cur = cur + word + rest
            elif cur.strip():
                split.append((cur, cur_contrast, cur_concession))
                cur, cur_contrast, cur_concession = rest, contrast, concession
            else:           # "but also": the second connective adds
                cur_contrast = (cur_contrast or contrast) and word not in ("also", "plus")
                cur, cur_concession = rest, cur_concession or concession
        split.append((cur, cur_contrast, cur_concession))
        for piece, contrast, concession in split:
            parts = _ZH_SPLIT.split(piece) if has_cjk(piece) else [piece]
            cur, cur_contrast, cur_concession = parts[0], contrast, concession
            for i in range(1, len(parts), 2):
                word, rest = parts[i], parts[i + 1]
                is_contrast = word in _CONTRAST_ZH
                if len(cur.strip()) >= 2:
                    out.append(_clause(cur, cur_contrast, cur_concession))
                    cur, cur_contrast, cur_concession = rest, is_contrast, word in _CONCESSION_ZH
                else:
                    cur_contrast = cur_contrast or (not cur.strip() and is_contrast)
                    cur_concession = cur_concession or word in _CONCESSION_ZH
                    cur = cur + word + rest
            if cur.strip():
                out.append(_clause(cur, cur_contrast, cur_concession))
        if len(out) >= MAX_CLAUSES:
            break
    return [c for c in out if c][:MAX_CLAUSES]
