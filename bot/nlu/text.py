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

_converter = None


def _t2s(text: str) -> str:
    global _converter
    if _converter is None:
        from opencc import OpenCC  # imported lazily: only needed once Chinese text shows up
        _converter = OpenCC("t2s")
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
    if limit is not None:
        text = text[: limit + limit // 2]
    if has_cjk(text):
        text = _t2s(text)
    text = _WS_RE.sub(" ", text).strip()
    if limit is not None and len(text) > limit:
        text = text[:limit].rstrip()
    return text


# Clause boundaries: punctuation, then connectives. A connective of contrast marks the clause
# that follows it as overriding what came before about the same thing ("不是工厂，但有供应商").
_PUNCT_SPLIT = re.compile(r"[，。；;！!？?\n、…]+|,(?!\d{3})|\.(?!\d)|\s+-\s+|\s*/\s+")
_CONTRAST_ZH = ("但是", "但", "不过", "可是", "然而", "只是", "却", "而是", "倒是")
_CONTRAST_EN = ("but", "however", "though", "although", "whereas", "actually", "instead")
_JOIN_EN = ("and", "also", "plus", "while", "with", "so")
_EN_SPLIT = re.compile(r"\b(" + "|".join(_CONTRAST_EN + _JOIN_EN) + r")\b")
_ZH_SPLIT = re.compile("(" + "|".join(sorted(_CONTRAST_ZH + ("而且", "并且", "另外", "同时"), key=len, reverse=True)) + ")")


class Clause(str):
    """A piece of a message; `contrast` when a connective of contrast introduced it."""

    contrast: bool = False


def _clause(text: str, contrast: bool) -> Clause:
    c = Clause(text.strip(" ,.'\"“”‘’()（）[]【】"))
    c.contrast = contrast
    return c


def clauses(norm: str) -> list[Clause]:
    """Split a normalised message into clauses, at most MAX_CLAUSES, empty ones dropped."""
    out: list[Clause] = []
    for chunk in _PUNCT_SPLIT.split(norm):
        if not chunk or not chunk.strip():
            continue
        pieces = [(chunk, False)]
        # English connectives: "we are a factory but never sold abroad" -> two clauses.
        split: list[tuple[str, bool]] = []
        for piece, contrast in pieces:
            parts = _EN_SPLIT.split(piece)
            cur, cur_contrast = parts[0], contrast
            for i in range(1, len(parts), 2):
                word, rest = parts[i], parts[i + 1]
                if cur.strip():
                    split.append((cur, cur_contrast))
                    cur, cur_contrast = rest, word in _CONTRAST_EN
                else:
                    cur, cur_contrast = rest, cur_contrast or word in _CONTRAST_EN
            split.append((cur, cur_contrast))
        for piece, contrast in split:
            parts = _ZH_SPLIT.split(piece) if has_cjk(piece) else [piece]
            cur, cur_contrast = parts[0], contrast
            for i in range(1, len(parts), 2):
                word, rest = parts[i], parts[i + 1]
                if len(cur.strip()) >= 2:
                    out.append(_clause(cur, cur_contrast))
                    cur, cur_contrast = rest, word in _CONTRAST_ZH
                else:
                    cur, cur_contrast = cur + word + rest, cur_contrast or (not cur.strip() and word in _CONTRAST_ZH)
            if cur.strip():
                # "不是工厂，是贸易商": a clause opening with 是 after a negated one corrects it.
                corrects = (cur.lstrip().startswith("是") and bool(out) and any(n in out[-1] for n in ("不是", "没有", "没"))
                            and not any(n in cur for n in ("不", "没")))
                out.append(_clause(cur, cur_contrast or corrects))
        if len(out) >= MAX_CLAUSES:
            break
    return [c for c in out if c][:MAX_CLAUSES]
