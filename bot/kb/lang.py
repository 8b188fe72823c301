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


# -- which language a seller evidently writes in (the interface follows it) -----------------------------
# Words of one letter ("k" of "$30k", "w" of "3w"), ALL-CAPS acronyms ("FBA", "OEM", "USD") and words glued to
# digits show no language; nor do the neutral words of knowledge/ui.yaml (acknowledgements, platform and trade
# names, money units), which Chinese sellers type as often as English ones do.
_WORD_RE = re.compile(r"(?<![0-9A-Za-z])[A-Za-z]{2,}(?![0-9A-Za-z])")
_HANDLE_RE = re.compile(r"[@/][A-Za-z0-9_]+")
_ENGLISH_WORDS_NEEDED = 2


def written_lang(text: str, neutral_words: frozenset[str]) -> str | None:
    """The language a message shows its writer uses: 'zh' for Chinese (Simplified or Traditional), 'en' for
    English, None when it does not tell (no letters, "ok", "1", "$30k", emoji, a platform name alone,
    Japanese or Korean). `neutral_words` (lower case) are the knowledge base's (KnowledgeBase.neutral_words).

    Stricter than `detect_lang`, which picks the language to answer one message in: a Chinese character
    is typed with a Chinese input method, so any Chinese message counts ("好的", "我做过Amazon 3年");
    English counts from two ordinary English words ("not sure", "we have a factory"), never from one
    word or from names alone ("Amazon, Shopee")."""
    if not isinstance(text, str) or not text.strip():
        return None
    lang = detect_lang(text, default="")
    if lang == "zh":
        return "zh"
    if lang != "en":
        return None
    plain = _HANDLE_RE.sub(" ", _MARKUP_RE.sub(" ", unicodedata.normalize("NFKC", text[:2000])))
    words = [w for w in _WORD_RE.findall(plain) if not w.isupper() and w.lower() not in neutral_words]
    return "en" if len(words) >= _ENGLISH_WORDS_NEEDED else None
