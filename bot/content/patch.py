"""The overlay as a YAML patch for the content files, and applying such a patch to them.

`python -m bot content export` writes the patch; `python -m bot content apply FILE` appends its examples
to the files (in place, keeping every comment), to be committed. A decided question or typed answer is a
seller's own words, learnt like the labelled sets knowledge/learned.yaml lists (bot.kb.learned), so it goes
into the two sets kept for review decisions, listed there as the last question set and the last typed set:
the files then give the very training content the overlay gave (bot.content.overlay.merge appends in the
same order). The patch is keyed by the file each part goes into:

    knowledge/reviewed/questions.yaml:   # more `questions` (the eval/ question format)
      - {q: ..., lang: en, expect: full_pricing}     # a phrasing of an entry
      - {q: ..., lang: en, expect: fallback}         # out of scope
      - {q: ..., lang: zh, kind: choosing}           # asks which mode fits (the FAQ models' advice class)
    knowledge/reviewed/typed.yaml:       # more `items` (the eval/ typed-answer format)
      - {step: factory, lang: en, text: ..., expect: sourcing}
    dialogs/reading.yaml: {zh: [...]}    # more `other` (messages that answer no question)
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable, TypeVar

import yaml

from bot import LANGS
from bot.content.overlay import ADVICE, FAQ, LEVEL, OTHER
from bot.kb.learned import FALLBACK
from bot.store.base import OverlayExample

QUESTIONS_FILE, TYPED_FILE = "knowledge/reviewed/questions.yaml", "knowledge/reviewed/typed.yaml"
READING_FILE = "dialogs/reading.yaml"
FAQ_FILE, FLOW_FILE = "knowledge/faq.yaml", "dialogs/seller_questionnaire.yaml"     # where the ids are
CHOOSING = "choosing"        # an eval/ edge question's kind: with no `expect`, the advice class (bot.kb.learned)
HEADER = ("# Examples decided in review (python -m bot content export). Apply to the files with\n"
          "# `python -m bot content apply <this file>`, check with `python -m bot check`, commit.\n")
_ID = re.compile(r"^[A-Za-z0-9_]+$")
T = TypeVar("T")
Check = Callable[[object, str], tuple[str, str]]    # (item, file) -> (its text, with language and step; its target)


class PatchError(ValueError):
    """A patch that does not fit the files (an entry or level they do not have, an unknown layout)."""


def _item(ex: OverlayExample) -> dict:
    """An overlay example as an item of a reviewed set."""
    if ex.kind == LEVEL:
        step, _, level = ex.target.partition(".")
        return {"step": step, "lang": ex.lang, "text": ex.text, "expect": level}
    if ex.kind == ADVICE:
        return {"q": ex.text, "lang": ex.lang, "kind": CHOOSING}
    return {"q": ex.text, "lang": ex.lang, "expect": ex.target if ex.kind == FAQ else FALLBACK}


def to_patch(overlay: list[OverlayExample]) -> dict:
    out: dict = {}
    for ex in overlay:
        if ex.kind == OTHER:
            texts = out.setdefault(READING_FILE, {}).setdefault(ex.lang, [])
            if ex.text not in texts:
                texts.append(ex.text)
            continue
        items = out.setdefault(TYPED_FILE if ex.kind == LEVEL else QUESTIONS_FILE, [])
        if (item := _item(ex)) not in items:
            items.append(item)
    return out


def dump(overlay: list[OverlayExample]) -> str:
    patch = to_patch(overlay)
    if not patch:
        return HEADER + "{}\n"
    return HEADER + yaml.safe_dump(patch, allow_unicode=True, sort_keys=False, default_flow_style=None, width=100)


# -- applying -------------------------------------------------------------------------------------------
def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)     # a JSON string is a YAML double-quoted scalar


def _block_end(lines: list[str], start: int) -> int:
    """The index after the block that begins at line `start` (lines indented deeper, or blank)."""
    base = _indent(lines[start])
    i = start + 1
    while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#") or _indent(lines[i]) > base):
        i += 1
    return i


def _find(lines: list[str], pattern: str, start: int, end: int, what: str, file: str) -> int:
    rx = re.compile(pattern)
    for i in range(start, end):
        if rx.match(lines[i]):
            return i
    raise PatchError(f"{file}: cannot find {what}")


def _before_trailing(lines: list[str], start: int, end: int) -> int:
    """`end` moved back over the blank and comment lines that close the block after line `start`."""
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return end


def _append_flow(lines: list[str], i: int, texts: list[str], file: str, what: str) -> None:
    """Append to the one-line list `key: [a, b]` on line i (texts already there are left out)."""
    line = lines[i].rstrip()
    if not line.endswith("]"):
        raise PatchError(f"{file}: {what} is not a one-line [list]")
    have = yaml.safe_load(line.split(":", 1)[1]) or []
    new = [t for t in texts if t not in have]
    if new:
        inner = line[line.index("[") + 1:-1].strip()
        joined = ", ".join(_quoted(t) for t in new)
        lines[i] = line[:line.index("[") + 1] + (f"{inner}, {joined}" if inner else joined) + "]\n"


def _apply_other(lines: list[str], part: dict, file: str) -> None:
    """reading.yaml's top-level `other:`, one list per language (one-line or block)."""
    if not isinstance(part, dict):
        raise PatchError(f"{file}: expected texts by language")
    at = _find(lines, r"^other:\s*$", 0, len(lines), "other:", file)
    for lang, texts in part.items():
        i = _find(lines, rf"^\s+{lang}:", at + 1, _block_end(lines, at), f"other.{lang}", file)
        if "[" in lines[i]:
            _append_flow(lines, i, texts, file, f"other.{lang}")
            continue
        item_end = _block_end(lines, i)
        have = {yaml.safe_load(line.strip()[2:]) for line in lines[i + 1:item_end] if line.strip().startswith("- ")}
        items = [line for line in lines[i + 1:item_end] if line.strip().startswith("- ")]
        pad = " " * (_indent(items[-1]) if items else _indent(lines[i]) + 2)
        item_end = _before_trailing(lines, i, item_end)
        lines[item_end:item_end] = [f"{pad}- {_quoted(t)}\n" for t in texts if t not in have]


def _read_ids(root: Path, file: str, ids: Callable[[dict], T]) -> T:
    """`ids(data)` of the YAML file under `root`; PatchError when it cannot be read so."""
    try:
        return ids(yaml.safe_load((root / file).read_text(encoding="utf-8")) or {})
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise PatchError(f"{file}: cannot read its ids ({exc!r})") from exc


def _entries(root: Path) -> set[str]:
    """The FAQ entry ids a reviewed question may name."""
    return _read_ids(root, FAQ_FILE, lambda data: {str(e["id"]) for e in data["entries"]})


def _levels(root: Path) -> dict[str, set[str]]:
    """Step id -> the level ids a reviewed typed answer may name."""
    return _read_ids(root, FLOW_FILE, lambda data: {str(s["id"]): {str(o["id"]) for o in s.get("options") or ()}
                                                    for s in data["steps"]})


def _question(item: object, entries: set[str], file: str) -> tuple[str, str]:
    """A reviewed question checked: (its text and language, what it teaches); PatchError when it does not fit."""
    if not isinstance(item, dict) or not isinstance(item.get("q"), str) or not item["q"].strip() \
            or item.get("lang") not in LANGS or set(item) - {"q", "lang", "expect", "kind"}:
        raise PatchError(f"{file}: {item!r} is not a question {{q, lang, expect | kind: {CHOOSING}}}")
    if item.get("kind") is not None:
        if item["kind"] != CHOOSING or "expect" in item:
            raise PatchError(f"{file}: {item!r}: a question that asks which mode fits is kind {CHOOSING}, no expect")
        return f"{item['lang']}:{item['q']}", ADVICE
    expect = item.get("expect")
    if not isinstance(expect, str) or expect != FALLBACK and expect not in entries:
        raise PatchError(f"{file}: {item!r}: no FAQ entry {expect!r} in {FAQ_FILE}")
    return f"{item['lang']}:{item['q']}", str(expect)


def _typed(item: object, levels: dict[str, set[str]], file: str) -> tuple[str, str]:
    """A reviewed typed answer checked: (its step, language and text; its level)."""
    if not isinstance(item, dict) or set(item) != {"step", "lang", "text", "expect"} \
            or not all(isinstance(item[k], str) for k in item) or not item["text"].strip() or item["lang"] not in LANGS:
        raise PatchError(f"{file}: {item!r} is not a typed answer {{step, lang, text, expect}}")
    if item["expect"] not in levels.get(item["step"], ()):
        raise PatchError(f"{file}: {item!r}: no level {item['step']}.{item['expect']} in {FLOW_FILE}")
    return f"{item['step']}:{item['lang']}:{item['text']}", str(item["expect"])


def _scalar(value: str) -> str:
    """An id as the eval/ sets write it (plain), quoted where YAML would read it as something else."""
    return value if _ID.match(value) and yaml.safe_load(value) == value else _quoted(value)


def _apply_items(lines: list[str], key: str, items: object, file: str, check: Check) -> None:
    """Append `items` to the file's top-level list `key:` as one-line mappings (the eval/ sets' style).
    `check(item, file)` -> (its text, with its language and step; what it teaches), or PatchError. An item
    the file has is left out; one text with another target than the file gives it is a PatchError (one
    example, one place: bot.content.overlay.conflict)."""
    if not isinstance(items, list):
        raise PatchError(f"{file}: expected a list of items")
    at = _find(lines, rf"^{key}:", 0, len(lines), f"{key}:", file)
    if lines[at].split(":", 1)[1].split("#", 1)[0].strip() not in ("", "[]"):
        raise PatchError(f"{file}: {key} is neither a block list nor []")
    have: dict[str, str] = {}
    for old in (yaml.safe_load("".join(lines)) or {}).get(key) or ():
        where, target = check(old, file)
        have.setdefault(where, target)
    new = []
    for item in items:
        where, target = check(item, file)
        if where in have:
            if have[where] != target:
                raise PatchError(f"{file}: {item!r}: that text is there already, as {have[where]!r}")
            continue
        have[where] = target
        new.append(item)
    if not new:
        return
    lines[at] = f"{key}:\n"
    end = _before_trailing(lines, at, _block_end(lines, at))
    lines[end:end] = ["  - {" + ", ".join(f"{k}: {_quoted(v) if k in ('q', 'text') else _scalar(v)}"
                                         for k, v in item.items()) + "}\n" for item in new]


def apply(patch: dict, root: Path) -> list[str]:
    """Append a patch's examples to the files under `root` (a checkout: knowledge/ and dialogs/);
    returns the files changed. Raises PatchError, changing nothing, when a part does not fit."""
    if not isinstance(patch, dict):
        raise PatchError("a patch is a mapping of file -> examples")
    known = (QUESTIONS_FILE, TYPED_FILE, READING_FILE)
    unknown = [file for file in patch if file not in known]
    if unknown:
        raise PatchError(f"unknown file in patch: {unknown[0]!r} (expected one of {', '.join(known)})")
    changed: dict[Path, list[str]] = {}
    for file, part in patch.items():
        path = root / file
        try:
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        except OSError as exc:
            raise PatchError(f"{file}: cannot read it ({exc})") from exc
        before = list(lines)
        if file == QUESTIONS_FILE:
            entries = _entries(root)
            _apply_items(lines, "questions", part or [], file, lambda item, f: _question(item, entries, f))
        elif file == TYPED_FILE:
            levels = _levels(root)
            _apply_items(lines, "items", part or [], file, lambda item, f: _typed(item, levels, f))
        else:
            _apply_other(lines, part or {}, file)
        if lines != before:
            changed[path] = lines
    for path, lines in changed.items():
        path.write_text("".join(lines), encoding="utf-8")
    return [str(p.relative_to(root)) for p in changed]


def load(text: str) -> dict:
    return yaml.safe_load(text) or {}
