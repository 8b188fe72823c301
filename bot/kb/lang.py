"""Which language to answer in: Chinese, English, or the caller's default when unclear."""
from __future__ import annotations

import re
import unicodedata

_CJK_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_KANA_HANGUL_RE = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uac00-\ud7af\u1100-\u11ff]")
_LATIN_WORD_RE = re.compile(r"[a-z]+", re.IGNORECASE)
_MARKUP_RE = re.compile(r"</?[a-zA-Z][^<>]{0,80}>|&[a-zA-Z]{2,8};|(?:https?://|www\.)\S+")

# One Chinese word is about 1.5-2 characters, so a handful of ideographs already carry as
# much as several English words. The text is Chinese when its ideographs are at least this
# share of its Latin words: "全托模式 pricing 怎么算" is Chinese, "how does 全托 pricing work
# for US stores" is English with a Chinese term in it.
_CJK_PER_WORD = 0.75


def detect_lang(text: str, default: str = "en") -> str:
    """'zh' when CJK ideographs make up a meaningful share of the text, 'en' when it has
    Latin letters and no (or only incidental) CJK, else `default`."""
    if not isinstance(text, str) or not text:
        return default
    text = _MARKUP_RE.sub(" ", unicodedata.normalize("NFKC", text[:2000]))
    cjk = len(_CJK_RE.findall(text))
    words = [w for w in _LATIN_WORD_RE.findall(text) if w.isascii()]
    if cjk and _KANA_HANGUL_RE.search(text) and len(_KANA_HANGUL_RE.findall(text)) >= cjk:
        return default          # Japanese or Korean: neither of our languages
    if cjk and cjk >= max(1.0, _CJK_PER_WORD * len(words)):
        return "zh"
    if words:
        return "en"
    return default
