"""The content overlay: examples decided in review, kept in the store, merged over the files' content.

An example is a message and where it belongs: a phrasing of an FAQ entry (`faq`, target the entry id),
a question the knowledge base does not answer (`oos`), a question asking which mode fits that no
single entry answers (`advice`, the FAQ models' advice class), a level of a questionnaire step (`level`,
target "step.level") or a message that answers no question (`other`, target the step it was typed at).
`merge` adds them to understanding's training content; `conflict` refuses an example that would belong
to two entries or levels (the files and the overlay together), as `bot check` does for the files.
"""
from __future__ import annotations

from dataclasses import replace

from bot import LANGS
from bot.nlu.content import Content
from bot.nlu.text import normalize
from bot.store.base import OverlayExample

FAQ, OOS, ADVICE, LEVEL, OTHER = "faq", "oos", "advice", "level", "other"
KINDS = (FAQ, OOS, ADVICE, LEVEL, OTHER)
QUESTION_KINDS = (FAQ, OOS, ADVICE)         # what a question can be (one text, one of them)


def example(kind: str, target: str, lang: str, text: str) -> OverlayExample:
    if kind not in KINDS or lang not in LANGS:
        raise ValueError(f"bad overlay example: kind {kind!r}, lang {lang!r}")
    return OverlayExample(kind, target, lang, text.strip(), normalize(text))


def _add(examples: dict[str, tuple[str, ...]], lang: str, text: str) -> dict[str, tuple[str, ...]]:
    out = dict(examples)
    out[lang] = tuple(out.get(lang, ())) + (text,)
    return out


def merge(content: Content, overlay: list[OverlayExample]) -> Content:
    """The content with the overlay's examples added (examples whose entry or level no longer exists
    are left out: `bot check` names them)."""
    if not overlay:
        return content
    faq = {d.id: d for d in content.faq}
    slots = {s.step: s for s in content.slots}
    out_of_scope, advice, other = content.out_of_scope, content.advice, content.other
    for ex in overlay:
        if ex.kind == FAQ and ex.target in faq:
            doc = faq[ex.target]
            faq[ex.target] = replace(doc, questions=_add(doc.questions, ex.lang, ex.text))
        elif ex.kind == OOS:
            out_of_scope = _add(out_of_scope, ex.lang, ex.text)
        elif ex.kind == ADVICE:
            advice = _add(advice, ex.lang, ex.text)
        elif ex.kind == OTHER:
            other = _add(other, ex.lang, ex.text)
        elif ex.kind == LEVEL:
            step, _, level_id = ex.target.partition(".")
            slot = slots.get(step)
            if slot is None or not any(lv.id == level_id for lv in slot.levels):
                continue
            levels = tuple(replace(lv, examples=_add(lv.examples, ex.lang, ex.text)) if lv.id == level_id else lv
                           for lv in slot.levels)
            slots[step] = replace(slot, levels=levels)
    return replace(content, faq=tuple(faq[d.id] for d in content.faq),
                   slots=tuple(slots[s.step] for s in content.slots), out_of_scope=out_of_scope,
                   advice=advice, other=other)


# -- who owns an example ---------------------------------------------------------------------------------
def _faq_owners(content: Content) -> dict[str, str]:
    owners: dict[str, str] = {}
    for d in content.faq:
        for texts in d.questions.values():
            for t in texts:
                owners.setdefault(normalize(t), f"{FAQ}:{d.id}")
    for kind, examples in ((OOS, content.out_of_scope), (ADVICE, content.advice)):
        for texts in examples.values():
            for t in texts:
                owners.setdefault(normalize(t), f"{kind}:")
    return owners


def _step_owners(content: Content, step: str) -> dict[str, str]:
    """Within one question: its levels' examples and short answers, its and the general "not sure",
    and the messages that answer nothing."""
    owners: dict[str, str] = {}
    slot = content.slot(step)
    if slot is not None:
        for lv in slot.levels:
            for texts in (*lv.examples.values(), *lv.short.values()):
                for t in texts:
                    owners.setdefault(normalize(t), f"{LEVEL}:{step}.{lv.id}")
        for texts in slot.unsure.values():
            for t in texts:
                owners.setdefault(normalize(t), "unsure:")
    for texts in (*content.unsure.values(), *content.unsure_short.values()):
        for t in texts:
            owners.setdefault(normalize(t), "unsure:")
    for texts in content.other.values():
        for t in texts:
            owners.setdefault(normalize(t), f"{OTHER}:{step}")
    return owners


def owner(content: Content, ex: OverlayExample) -> str | None:
    """Where `content` (files plus overlay, merged) already has this example, as "kind:target", or None."""
    if ex.kind in QUESTION_KINDS:
        return _faq_owners(content).get(ex.norm)
    step = ex.target.partition(".")[0]
    found = _step_owners(content, step).get(ex.norm)
    if found is not None and found.startswith(f"{OTHER}:"):
        return f"{OTHER}:{step}"
    return found


def conflict(content: Content, ex: OverlayExample) -> str | None:
    """The "kind:target" that already owns this example's text when it is not the example's own target:
    adding it would make one example belong to two entries or levels. None: it may be added."""
    found = owner(content, ex)
    if found is None or found == f"{ex.kind}:{ex.target}":
        return None
    return found


def known(content: Content, ex: OverlayExample) -> bool:
    """The example is already where it would go (nothing to add)."""
    return owner(content, ex) == f"{ex.kind}:{ex.target}"


def check_overlay(base: Content, overlay: list[OverlayExample]) -> list[str]:
    """Problems of an overlay over the files: targets that do not exist, examples claimed twice."""
    problems = []
    entries = {d.id for d in base.faq}
    merged = base
    for ex in overlay:
        where = f"overlay {ex.kind} {ex.target or '-'} [{ex.lang}] {ex.text!r}"
        if ex.kind == FAQ and ex.target not in entries:
            problems.append(f"{where}: no FAQ entry {ex.target!r}")
            continue
        if ex.kind in (LEVEL, OTHER):
            step, _, level = ex.target.partition(".")
            slot = base.slot(step)
            if slot is None or (ex.kind == LEVEL and not any(lv.id == level for lv in slot.levels)):
                problems.append(f"{where}: no questionnaire {'level' if ex.kind == LEVEL else 'step'} {ex.target!r}")
                continue
        clash = conflict(merged, ex)
        if clash is not None:
            problems.append(f"{where}: already an example of {clash}")
            continue
        merged = merge(merged, [ex])
    return problems

