"""The content overlay: examples decided in review, kept in the store, merged over the files' content.

An example is a message and where it belongs: a phrasing of an FAQ entry (`faq`, target the entry id),
a question the knowledge base does not answer (`oos`), a question asking which mode fits that no
single entry answers (`advice`, the FAQ models' advice class), a level of a questionnaire step (`level`,
target "step.level") or a message that answers no question (`other`, target the step it was typed at).
`merge` adds them to understanding's training content as learnt examples, the way the labelled sets
knowledge/learned.yaml lists are learnt (bot.kb.learned): they are real sellers' words too. So a question
teaches the FAQ model only and a typed answer its step's typed-answer model only, and a decision retrains
just that group of models (bot.nlu.understand.group_digests); a message that answers nothing (`other`)
teaches every model, as reading.yaml's `other` does. A decided question or typed answer is also read as
decided, word for word (Content.decided_questions, decided_answers). `conflict` refuses an example that
would belong to two entries or levels (the files, their learnt examples and the overlay together), as
`bot check` does.
"""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from bot import LANGS
from bot.nlu.content import Content, Examples
from bot.nlu.faq import ADVICE as ADVICE_CLASS
from bot.nlu.faq import OUT_OF_SCOPE
from bot.nlu.slots import UNSURE
from bot.nlu.text import normalize
from bot.store.base import OverlayExample

FAQ, OOS, ADVICE, LEVEL, OTHER = "faq", "oos", "advice", "level", "other"
KINDS = (FAQ, OOS, ADVICE, LEVEL, OTHER)
QUESTION_KINDS = (FAQ, OOS, ADVICE)         # what a question can be (one text, one of them)
# The owners of ~10k texts (the learnt ones too) are looked up at every decision, on the bot's event loop:
# normalising them all took ~70 ms, each a dictionary look-up once they are cached.
_normalized = lru_cache(maxsize=1 << 15)(normalize)


def example(kind: str, target: str, lang: str, text: str) -> OverlayExample:
    if kind not in KINDS or lang not in LANGS:
        raise ValueError(f"bad overlay example: kind {kind!r}, lang {lang!r}")
    return OverlayExample(kind, target, lang, text.strip(), normalize(text))


def _add(examples: dict[str, tuple[str, ...]], lang: str, text: str) -> dict[str, tuple[str, ...]]:
    out = dict(examples)
    out[lang] = tuple(out.get(lang, ())) + (text,)
    return out


def merge(content: Content, overlay: list[OverlayExample]) -> Content:
    """The content with the overlay's examples added after the learnt ones, in the overlay's order (as
    `content export` writes them into the last learnt sets: bot.content.patch). Examples whose entry or
    level no longer exists are left out: `bot check` names them."""
    if not overlay:
        return content
    faq = {d.id: d for d in content.faq}
    slots = {s.step: s for s in content.slots}
    out_of_scope, advice, other = content.learned_out_of_scope, content.learned_advice, content.other
    questions, answers = set(content.decided_questions), set(content.decided_answers)
    for ex in overlay:
        if ex.kind == FAQ and ex.target in faq:
            doc = faq[ex.target]
            faq[ex.target] = replace(doc, learned=_add(doc.learned, ex.lang, ex.text))
            questions.add((ex.text, ex.target))
        elif ex.kind == OOS:
            out_of_scope = _add(out_of_scope, ex.lang, ex.text)
            questions.add((ex.text, OUT_OF_SCOPE))
        elif ex.kind == ADVICE:
            advice = _add(advice, ex.lang, ex.text)
            questions.add((ex.text, ADVICE_CLASS))
        elif ex.kind == OTHER:
            other = _add(other, ex.lang, ex.text)
        elif ex.kind == LEVEL:
            step, _, level_id = ex.target.partition(".")
            slot = slots.get(step)
            if slot is None or not any(lv.id == level_id for lv in slot.levels):
                continue
            levels = tuple(replace(lv, learned=_add(lv.learned, ex.lang, ex.text)) if lv.id == level_id else lv
                           for lv in slot.levels)
            slots[step] = replace(slot, levels=levels)
            answers.add((step, level_id, ex.text))
    return replace(content, faq=tuple(faq[d.id] for d in content.faq),
                   slots=tuple(slots[s.step] for s in content.slots), learned_out_of_scope=out_of_scope,
                   learned_advice=advice, other=other, decided_questions=tuple(sorted(questions)),
                   decided_answers=tuple(sorted(answers)))


# -- who owns an example ---------------------------------------------------------------------------------
Claims = list[tuple[str, Examples]]         # (owner "kind:target", its examples), the first owner first


def _first_owners(claims: Claims) -> dict[str, str]:
    """Normalised text -> the first of `claims` that has it."""
    owners: dict[str, str] = {}
    for owner_, examples in claims:
        for texts in examples.values():
            for t in texts:
                owners.setdefault(_normalized(t), owner_)
    return owners


def _faq_claims(content: Content) -> Claims:
    """Every question's owners: the files' own questions first, then the learnt ones (a few of which blind
    writers labelled unlike the files or each other: there the first owner stands)."""
    claims = [(f"{FAQ}:{d.id}", d.questions) for d in content.faq]
    claims += [(f"{OOS}:", content.out_of_scope), (f"{ADVICE}:", content.advice)]
    claims += [(f"{FAQ}:{d.id}", d.learned) for d in content.faq]
    claims += [(f"{OOS}:", content.learned_out_of_scope), (f"{ADVICE}:", content.learned_advice)]
    return claims


def _step_claims(content: Content, step: str) -> Claims:
    """Within one question: its levels' examples and short answers, its and the general "not sure", the
    messages that answer nothing, then its learnt typed answers."""
    slot = content.slot(step)
    levels = slot.levels if slot is not None else ()
    claims: Claims = [(f"{LEVEL}:{step}.{lv.id}", per) for lv in levels for per in (lv.examples, lv.short)]
    claims += [("unsure:", slot.unsure)] if slot is not None else []
    claims += [("unsure:", content.unsure), ("unsure:", content.unsure_short), (f"{OTHER}:{step}", content.other)]
    claims += [(f"{LEVEL}:{step}.{lv.id}", lv.learned) for lv in levels]
    claims += [("unsure:", slot.learned_unsure)] if slot is not None else []
    return claims


def owner(content: Content, ex: OverlayExample) -> str | None:
    """Where `content` (files plus overlay, merged) already has this example, as "kind:target", or None."""
    if ex.kind in QUESTION_KINDS:
        return _first_owners(_faq_claims(content)).get(ex.norm)
    step = ex.target.partition(".")[0]
    found = _first_owners(_step_claims(content, step)).get(ex.norm)
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



def check_decided(content: Content) -> list[str]:
    """Problems of the decided examples the files have (knowledge/reviewed/): one that another place
    claims too, among the files' own examples and the learnt ones."""
    def owners(claims: Claims) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for owner_, examples in claims:
            for texts in examples.values():
                for t in texts:
                    out.setdefault(_normalized(t), set()).add(owner_)
        return out
    problems = []
    questions = owners(_faq_claims(content))
    kind_of = {OUT_OF_SCOPE: f"{OOS}:", ADVICE_CLASS: f"{ADVICE}:"}
    for text, target in content.decided_questions:
        clash = sorted(questions.get(_normalized(text), set()) - {kind_of.get(target, f"{FAQ}:{target}")})
        if clash:
            problems.append(f"reviewed question {text!r}: already an example of {', '.join(clash)}")
    answers: dict[str, dict[str, set[str]]] = {}
    for step, level, text in content.decided_answers:
        mine = "unsure:" if level == UNSURE else f"{LEVEL}:{step}.{level}"
        if step not in answers:
            answers[step] = owners(_step_claims(content, step))
        clash = sorted(answers[step].get(_normalized(text), set()) - {mine})
        if clash:
            problems.append(f"reviewed answer {text!r} at {step}: already an example of {', '.join(clash)}")
    return problems
