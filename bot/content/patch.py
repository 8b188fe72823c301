"""The overlay as a YAML patch for the content files, and applying such a patch to them.

`python -m bot content export` writes the patch; `python -m bot content apply FILE` appends its examples
to the files (in place, keeping every comment and the files' one-line lists), to be committed. The patch
is keyed by the file each part goes into:

    knowledge/faq.yaml:                  # entry id -> new `questions`, by language
      full_pricing: {zh: [...], en: [...]}
    knowledge/out_of_scope.yaml: {zh: [...], en: [...]}        # new `questions`
    knowledge/advice_questions.yaml: {zh: [...], en: [...]}    # new `questions`
    dialogs/seller_questionnaire.yaml:   # step.level -> new `examples`, by language
      factory.own_factory: {en: [...]}
    dialogs/reading.yaml: {zh: [...]}    # new `other` (messages that answer no question)
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from bot.content.overlay import ADVICE, FAQ, LEVEL, OOS
from bot.store.base import OverlayExample

FAQ_FILE, OOS_FILE, ADVICE_FILE = "knowledge/faq.yaml", "knowledge/out_of_scope.yaml", \
    "knowledge/advice_questions.yaml"
FLOW_FILE, READING_FILE = "dialogs/seller_questionnaire.yaml", "dialogs/reading.yaml"
HEADER = ("# Examples decided in review (python -m bot content export). Apply to the files with\n"
          "# `python -m bot content apply <this file>`, check with `python -m bot check`, commit.\n")


class PatchError(ValueError):
    """A patch that does not fit the files (an entry or level they do not have, an unknown layout)."""


def to_patch(overlay: list[OverlayExample]) -> dict:
    out: dict = {}
    for ex in overlay:
        if ex.kind == FAQ:
            where = out.setdefault(FAQ_FILE, {}).setdefault(ex.target, {})
        elif ex.kind == LEVEL:
            where = out.setdefault(FLOW_FILE, {}).setdefault(ex.target, {})
        elif ex.kind == OOS:
            where = out.setdefault(OOS_FILE, {})
        elif ex.kind == ADVICE:
            where = out.setdefault(ADVICE_FILE, {})
        else:
            where = out.setdefault(READING_FILE, {})
        texts = where.setdefault(ex.lang, [])
        if ex.text not in texts:
            texts.append(ex.text)
    return out


def dump(overlay: list[OverlayExample]) -> str:
    patch = to_patch(overlay)
    if not patch:
        return HEADER + "{}\n"
    return HEADER + yaml.safe_dump(patch, allow_unicode=True, sort_keys=True, default_flow_style=None, width=100)


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


def _append_at(lines: list[str], path: list[tuple[str, str]], per_lang: dict, file: str) -> None:
    """Follow `path` (pattern, what it names), each found inside the block of the one before, to a block
    of one-line lists by language, and append each language's texts to its list."""
    at, end = -1, len(lines)
    for pattern, what in path:
        at = _find(lines, pattern, at + 1, end, what, file)      # below the line found before, never on it
        end = _block_end(lines, at)
    for lang, texts in per_lang.items():
        i = _find(lines, rf"^\s+{lang}: \[", at + 1, end, f"{path[-1][1]}.{lang}", file)
        _append_flow(lines, i, texts, file, f"{path[-1][1]}.{lang}")


def _apply_faq(lines: list[str], part: dict, file: str) -> None:
    for entry, per_lang in part.items():
        _append_at(lines, [(r"^entries:\s*$", "entries:"), (rf"^\s*- id: {re.escape(entry)}\s*$", f"entry {entry!r}"),
                           (r"^\s+questions:\s*$", f"questions of {entry!r}")], per_lang, file)


def _apply_levels(lines: list[str], part: dict, file: str) -> None:
    for target, per_lang in part.items():
        step, _, level = target.partition(".")
        _append_at(lines, [(rf"^  - id: {re.escape(step)}\s*$", f"step {step!r}"),
                           (rf"^\s+- id: {re.escape(level)}\s*$", f"level {target!r}"),
                           (r"^\s+examples:\s*$", f"examples of {target!r}")], per_lang, file)


def _apply_top(lines: list[str], key: str, part: dict, file: str) -> None:
    """`key:` at the top level with one list per language, one-line or block."""
    at = _find(lines, rf"^{key}:\s*$", 0, len(lines), f"{key}:", file)
    for lang, texts in part.items():
        i = _find(lines, rf"^\s+{lang}:", at + 1, _block_end(lines, at), f"{key}.{lang}", file)
        if "[" in lines[i]:
            _append_flow(lines, i, texts, file, f"{key}.{lang}")
            continue
        item_end = _block_end(lines, i)
        have = {yaml.safe_load(line.strip()[2:]) for line in lines[i + 1:item_end] if line.strip().startswith("- ")}
        items = [line for line in lines[i + 1:item_end] if line.strip().startswith("- ")]
        pad = " " * (_indent(items[-1]) if items else _indent(lines[i]) + 2)
        while item_end > i + 1 and not lines[item_end - 1].strip():
            item_end -= 1                      # after the last item, before the blank lines
        lines[item_end:item_end] = [f"{pad}- {_quoted(t)}\n" for t in texts if t not in have]


def _apply_questions(lines: list[str], part: dict, file: str) -> None:
    """A file that is one `questions:` per language (out_of_scope.yaml, advice_questions.yaml)."""
    _apply_top(lines, "questions", part, file)


def apply(patch: dict, root: Path) -> list[str]:
    """Append a patch's examples to the files under `root` (a checkout: knowledge/ and dialogs/);
    returns the files changed. Raises PatchError, changing nothing, when a part does not fit."""
    if not isinstance(patch, dict):
        raise PatchError("a patch is a mapping of file -> examples")
    appliers = {FAQ_FILE: _apply_faq, FLOW_FILE: _apply_levels, OOS_FILE: _apply_questions,
                ADVICE_FILE: _apply_questions, READING_FILE: lambda lines, part, f: _apply_top(lines, "other", part, f)}
    changed: dict[Path, list[str]] = {}
    for file, part in patch.items():
        if file not in appliers:
            raise PatchError(f"unknown file in patch: {file!r} (expected one of {', '.join(appliers)})")
        path = root / file
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        before = list(lines)
        appliers[file](lines, part or {}, file)
        if lines != before:
            changed[path] = lines
    for path, lines in changed.items():
        path.write_text("".join(lines), encoding="utf-8")
    return [str(p.relative_to(root)) for p in changed]


def load(text: str) -> dict:
    return yaml.safe_load(text) or {}
