"""Telegram's HTML parse mode, re-implemented from its documented behaviour.

``parse_html`` walks the UTF-8 bytes like Telegram's server does, so error messages carry the
same byte offsets ("Unsupported start tag \"div\" at byte offset 5").  It returns the plain text
and Bot API entity dicts with UTF-16 offsets.
"""

from __future__ import annotations

import re
from typing import Any

SUPPORTED_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span",
        "tg-spoiler", "tg-emoji", "code", "pre", "blockquote",
    }
)
_SIMPLE = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "span": "spoiler",
}
_NAMED = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
_SPACE = frozenset(b" \t\n\r\f\v")


class HtmlError(ValueError):
    """The text is not valid Telegram HTML; ``str(err)`` is Telegram's message."""


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram offsets and limits."""
    return len(text.encode("utf-16-le")) // 2


def _decode_entity(data: bytes, pos: int) -> tuple[str, int] | None:
    """Decode ``&...;`` at ``pos`` like Telegram; None when it is not a recognised entity."""
    end = pos + 1
    if data[end : end + 1] == b"#":
        end += 1
        hexa = data[end : end + 1] == b"x"
        if hexa:
            end += 1
        start = end
        digits = b"0123456789abcdefABCDEF" if hexa else b"0123456789"
        while end < len(data) and data[end] in digits:
            end += 1
        if start == end or end - pos >= 10:
            return None
        code = int(data[start:end], 16 if hexa else 10)
        if code == 0 or code >= 0x10FFFF:
            return None
        if 0xD800 <= code <= 0xDFFF:
            raise HtmlError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            )
        char = chr(code)
    else:
        while end < len(data) and chr(data[end]).isascii() and chr(data[end]).isalpha():
            end += 1
        name = data[pos + 1 : end]
        if name not in _NAMED:
            if name and data[end : end + 1] == b";":
                # Telegram would show "&name;" literally; the fake treats it as a bug.
                raise HtmlError(f'Unsupported HTML entity "&{name.decode()};" at byte offset {pos}')
            return None
        char = _NAMED[name]
    if data[end : end + 1] == b";":
        end += 1
    return char, end


def _parse_attributes(data: bytes, i: int, tag: str, begin: int) -> tuple[dict[str, str], int]:
    """Parse attributes after the tag name; returns them and the index of the closing ``>``."""
    attrs: dict[str, str] = {}
    n = len(data)
    while True:
        while i < n and data[i] in _SPACE:
            i += 1
        if i >= n:
            raise HtmlError(f"Unclosed start tag at byte offset {begin}")
        if data[i] == ord(">"):
            return attrs, i
        start = i
        while i < n and data[i] not in _SPACE and data[i] not in b"=>":
            i += 1
        name = data[start:i].decode("utf-8", "replace").lower()
        if not name:
            raise HtmlError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
        while i < n and data[i] in _SPACE:
            i += 1
        if i >= n or data[i] != ord("="):
            if tag == "blockquote" and name == "expandable":
                attrs[name] = ""
                continue
            raise HtmlError(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                f"at byte offset {begin}"
            )
        i += 1
        while i < n and data[i] in _SPACE:
            i += 1
        if i >= n:
            raise HtmlError(f'Unclosed start tag "{tag}" at byte offset {begin}')
        if data[i] in b"'\"":
            quote = data[i]
            i += 1
            value = bytearray()
            while i < n and data[i] != quote:
                if data[i] == ord("&"):
                    decoded = _decode_entity(data, i)
                    if decoded:
                        value += decoded[0].encode("utf-8")
                        i = decoded[1]
                        continue
                value.append(data[i])
                i += 1
            if i >= n:
                raise HtmlError(f"Unclosed start tag at byte offset {begin}")
            i += 1
            attrs[name] = value.decode("utf-8", "replace")
        else:
            start = i
            while i < n and (chr(data[i]).isascii() and chr(data[i]).isalnum() or data[i] in b".-"):
                i += 1
            if i < n and data[i] not in _SPACE and data[i] != ord(">"):
                raise HtmlError(f"Unexpected end of name token at byte offset {start}")
            attrs[name] = data[start:i].decode().lower()


def _entity_for(tag: str, attrs: dict[str, str], offset: int, length: int, inner: str) -> dict | None:
    """The entity created when ``tag`` closes, or None when Telegram drops it."""
    base: dict[str, Any] = {"offset": offset, "length": length}
    if tag in _SIMPLE:
        return {"type": _SIMPLE[tag], **base}
    if tag == "blockquote":
        kind = "expandable_blockquote" if "expandable" in attrs else "blockquote"
        return {"type": kind, **base}
    if tag == "tg-emoji":
        emoji_id = attrs.get("emoji-id", "")
        if not emoji_id.isdigit() or int(emoji_id) == 0 or int(emoji_id) >= 2**63:
            raise HtmlError("Invalid custom emoji identifier specified")
        return {"type": "custom_emoji", "custom_emoji_id": emoji_id, **base}
    if tag == "a":
        url = attrs.get("href") or inner
        if re.fullmatch(r"tg://user\?id=\d+", url):
            return {"type": "text_mention", "user_id": int(url.split("=")[1]), **base}
        return {"type": "text_link", "url": url, **base}
    if tag == "code":
        lang = attrs.get("class", "")
        return {"type": "code", **base, **({"_lang": lang[9:]} if lang.startswith("language-") else {})}
    return {"type": "pre", **base}


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into ``(plain_text, entities)``; raises HtmlError like Telegram."""
    data = text.encode("utf-8", "surrogatepass")
    n = len(data)
    out = bytearray()
    utf16 = 0
    stack: list[tuple[str, dict[str, str], int, int]] = []  # tag, attrs, utf16 start, out start
    entities: list[dict[str, Any]] = []
    i = 0
    while i < n:
        c = data[i]
        if c == ord("&"):
            decoded = _decode_entity(data, i)
            if decoded:
                out += decoded[0].encode("utf-8")
                utf16 += utf16_len(decoded[0])
                i = decoded[1]
                continue
        if c != ord("<"):
            if c & 0xC0 != 0x80:
                utf16 += 2 if c >= 0xF0 else 1
            out.append(c)
            i += 1
            continue
        begin = i
        i += 1
        if i < n and data[i] == ord("/"):
            if not stack:
                raise HtmlError(f"Unexpected end tag at byte offset {begin}")
            while i < n and data[i] not in _SPACE and data[i] != ord(">"):
                i += 1
            end_name = data[begin + 2 : i].decode("utf-8", "replace").lower()
            while i < n and data[i] in _SPACE:
                i += 1
            if i >= n or data[i] != ord(">"):
                raise HtmlError(f"Unclosed end tag at byte offset {begin}")
            tag, attrs, start16, start_out = stack.pop()
            if end_name and end_name != tag:
                raise HtmlError(
                    f'Unmatched end tag at byte offset {begin}, expected "</{tag}>", '
                    f'found "</{end_name}>"'
                )
            if utf16 > start16:
                inner = out[start_out:].decode("utf-8", "replace")
                entity = _entity_for(tag, attrs, start16, utf16 - start16, inner)
                if entity:
                    _merge_pre_code(entities, entity)
            i += 1
            continue
        while i < n and data[i] not in _SPACE and data[i] != ord(">"):
            i += 1
        if i >= n:
            raise HtmlError(f"Unclosed start tag at byte offset {begin}")
        tag = data[begin + 1 : i].decode("utf-8", "replace").lower()
        if tag not in SUPPORTED_TAGS:
            raise HtmlError(f'Unsupported start tag "{tag}" at byte offset {begin}')
        attrs, i = _parse_attributes(data, i, tag, begin)
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise HtmlError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
        stack.append((tag, attrs, utf16, len(out)))
        i += 1
    if stack:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    for entity in entities:
        entity.pop("_lang", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return out.decode("utf-8", "surrogatepass"), entities


def _merge_pre_code(entities: list[dict[str, Any]], entity: dict[str, Any]) -> None:
    """Fold ``<pre><code class="language-x">`` into one ``pre`` entity with a language."""
    if entity["type"] == "pre":
        for index, other in enumerate(entities):
            same = other["offset"] == entity["offset"] and other["length"] == entity["length"]
            if same and other["type"] == "code":
                language = other.get("_lang")
                entities[index] = {**entity, **({"language": language} if language else {})}
                return
    entities.append(entity)


_COMMAND = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>])")
_MENTION = re.compile(r"(?<!\w)@[A-Za-z0-9_]{2,32}(?!\w)")
_URL = re.compile(r"(?<!\w)https?://[^\s]+")
_HASHTAG = re.compile(r"(?<!\w)#\w*[^\W\d]\w*")


def detect_entities(text: str) -> list[dict[str, Any]]:
    """Entities Telegram's clients/servers attach to a user's plain text message."""
    found: list[dict[str, Any]] = []
    for kind, pattern in (
        ("bot_command", _COMMAND), ("mention", _MENTION), ("url", _URL), ("hashtag", _HASHTAG)
    ):
        for match in pattern.finditer(text):
            offset = utf16_len(text[: match.start()])
            found.append({"type": kind, "offset": offset, "length": utf16_len(match.group())})
    found.sort(key=lambda e: e["offset"])
    return found
