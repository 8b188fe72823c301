"""Telegram rendering: HTML text (escaped by bot.render) and splitting at Telegram's message limit."""
from __future__ import annotations

MESSAGE_LIMIT = 4096
CALLBACK_TEXT_LIMIT = 200


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split on paragraph boundaries, then lines, then hard cuts, so each part fits the limit.

    Telegram counts UTF-16 code units after entity parsing; counting characters of the HTML source is
    stricter (tags and escapes only add), except for astral characters, which count double.
    """
    def size(s: str) -> int:
        return len(s.encode("utf-16-le")) // 2

    if size(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for para in text.split("\n\n"):
        pieces = [para] if size(para) <= limit else _hard_split(para, limit, size)
        for piece in pieces:
            candidate = f"{current}\n\n{piece}" if current else piece
            if size(candidate) <= limit:
                current = candidate
            else:
                if current:
                    parts.append(current)
                current = piece
    if current:
        parts.append(current)
    return parts


def _hard_split(para: str, limit: int, size) -> list[str]:
    out, current = [], ""
    for line in para.split("\n"):
        while size(line) > limit:                       # a single enormous line: cut it
            cut = limit
            while size(line[:cut]) > limit:
                cut -= 1
            amp = line.rfind("&", 0, cut)               # never cut inside an HTML escape
            if amp != -1 and ";" not in line[amp:cut]:
                cut = amp or cut
            if current:
                out.append(current)
                current = ""
            out.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if size(candidate) <= limit:
            current = candidate
        else:
            out.append(current)
            current = line
    if current:
        out.append(current)
    return out


def short(text: str, limit: int = CALLBACK_TEXT_LIMIT) -> str:
    """Text for answerCallbackQuery (plain, at most 200 characters)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
