"""Small typed readers for YAML mappings that record problems instead of raising.

Both the knowledge loader and the dialogue spec loader use these, so the two report
problems the same way: file, entry, field, message.
"""
from __future__ import annotations

import re
from typing import Any

from bot import LANGS
from bot.kb.models import Text
from bot.problems import Problem

ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class Reader:
    """Reads fields of one entry of one file, collecting problems."""

    def __init__(self, file: str, problems: list[Problem], entry: str = ""):
        self.file, self.problems, self.entry = file, problems, entry

    def at(self, entry: str) -> "Reader":
        return Reader(self.file, self.problems, entry)

    def fail(self, field: str, message: str) -> None:
        self.problems.append(Problem(self.file, self.entry, field, message))

    def mapping(self, data: Any, field: str) -> dict:
        if not isinstance(data, dict):
            self.fail(field, f"expected a mapping, got {type(data).__name__}")
            return {}
        return data

    def items(self, data: dict, field: str, required: bool = True) -> list:
        value = data.get(field)
        if value is None:
            if required:
                self.fail(field, "is missing")
            return []
        if not isinstance(value, list):
            self.fail(field, "expected a list")
            return []
        return value

    def string(self, data: dict, field: str, required: bool = True, max_len: int | None = None) -> str:
        value = data.get(field)
        if value is None or value == "":
            if required:
                self.fail(field, "is missing")
            return ""
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            self.fail(field, "expected text")
            return ""
        text = str(value)
        if max_len is not None and len(text) > max_len:
            self.fail(field, f"longer than {max_len} characters")
        return text

    def ident(self, data: dict, field: str = "id", max_len: int = 24) -> str:
        value = self.string(data, field)
        if value and (not ID_RE.match(value) or len(value) > max_len):
            self.fail(field, f"{value!r} must be lowercase ascii snake_case, at most {max_len} characters")
        return value

    def text(self, data: dict, field: str, required: bool = True, max_len: int | None = None) -> Text:
        value = data.get(field)
        if value is None:
            if required:
                self.fail(field, "is missing")
            return Text("", "")
        if not isinstance(value, dict):
            self.fail(field, "expected a mapping with zh and en")
            return Text("", "")
        out = {}
        for lang in LANGS:
            item = value.get(lang)
            if not isinstance(item, str) or not item.strip():
                self.fail(f"{field}.{lang}", "missing translation")
                out[lang] = ""
            else:
                # Only line breaks are trimmed: YAML keeps spaces only in quoted strings, where they
                # are meant (the English label separator is ": ").
                out[lang] = item.strip("\r\n")
                if max_len is not None and len(out[lang]) > max_len:
                    self.fail(f"{field}.{lang}", f"longer than {max_len} characters")
        return Text(out["zh"], out["en"])

    def strings(self, data: dict, field: str, required: bool = True) -> tuple[str, ...]:
        values = self.items(data, field, required)
        out = []
        for i, v in enumerate(values):
            if not isinstance(v, (str, int)) or isinstance(v, bool) or str(v).strip() == "":
                self.fail(f"{field}[{i}]", "expected non-empty text")
            else:
                out.append(str(v).strip())
        return tuple(out)

    def per_lang(self, data: dict, field: str, required: bool = True) -> dict[str, tuple[str, ...]]:
        """A `{zh: [...], en: [...]}` pair of lists."""
        value = data.get(field)
        if value is None:
            if required:
                self.fail(field, "is missing")
            return {lang: () for lang in LANGS}
        value = self.mapping(value, field)
        out = {}
        for lang in LANGS:
            out[lang] = self.strings(value, lang, required)
            if required and not out[lang] and value.get(lang) is not None:
                self.fail(f"{field}.{lang}", "missing translation")
        return out

    def refs(self, ids: tuple[str, ...], known: set[str] | dict, field: str) -> None:
        for ref in ids:
            if ref not in known:
                self.fail(field, f"unknown reference {ref!r}")
