"""The review loop, Telegram-free: what is kept for review, and what a decision does.

Kept: a question that fell back ("I don't know" with the nearest entries), a question answered from
the knowledge base with a calibrated confidence below `REVIEW_BELOW`, a question answered with the
questionnaire offer alone (advice, no entry) that the advice class read below `REVIEW_ADVICE_BELOW` (it
may be a question an entry answers: "a phrasing of" corrects it, "asks which mode fits" confirms it), and
a typed answer to the question on screen that was not understood. (Questions about another platform or
mode are answered as such, not kept.) A decision turns the message into an example of the content overlay
(bot.content.overlay): a phrasing of an entry, a question asking which mode fits that no single entry
answers (advice), out of scope, or a level of the step it was typed at (for a typed answer "out of
scope" means: it answers no question). A decision that would make one example belong to two entries
or levels is refused and changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

from bot.content.live import LiveContent
from bot.content.overlay import ADVICE, FAQ, LEVEL, OOS, OTHER, conflict, example, known
from bot.nlu.text import normalize
from bot.store.base import ADVISED, FALLBACK, LOW, TYPED, ReviewItem, Store, Unanswered

# Answered below this calibrated probability: kept for review. On the development set 0.4 keeps every
# wrong top answer (4 of 296) and 14 of 292 right ones (tuned there).
REVIEW_BELOW = 0.4
REVIEW_ADVICE_BELOW = 0.5       # the advice class this unsure of an advice answer with no entry: kept


def nearest_levels(nlu, step: str, text: str, keep: int = 3) -> tuple[str, ...]:
    """The levels of `step` its typed-answer model finds closest to `text`, best first (empty when it has none)."""
    slots = getattr(nlu, "slots", None)
    read = slots.typed_probabilities(step, normalize(text)) if slots is not None else None
    if read is None:
        return ()
    ranked = sorted(zip(read[1], read[0]), reverse=True)
    levels = {lv.id for slot in nlu.content.slots if slot.step == step for lv in slot.levels}
    return tuple(c for _, c in ranked if c in levels)[:keep]


def for_review(answer, user_id: str | None, typed_at: str | None = None, nlu=None) -> Unanswered | None:
    """The review item an FAQ answer makes, or None. `typed_at`: the question on screen when the message
    was a typed answer that was not understood (its candidates are then that step's nearest levels, read
    with `nlu`)."""
    if not answer.query.strip():
        return None
    ids = tuple(e.id for e in answer.suggestions)
    if typed_at is not None:
        levels = nearest_levels(nlu, typed_at, answer.query) if nlu is not None else ()
        return Unanswered(answer.query, answer.lang, levels[0] if levels else None, user_id, TYPED, typed_at,
                          levels, round(answer.score, 4))
    if answer.fallback:
        return Unanswered(answer.query, answer.lang, ids[0] if ids else None, user_id, FALLBACK, None, ids,
                          round(answer.score, 4))
    if answer.handling == "advice" and not answer.entries and answer.advice < REVIEW_ADVICE_BELOW:
        return Unanswered(answer.query, answer.lang, ids[0] if ids else None, user_id, ADVISED, None, ids,
                          round(answer.advice, 4))
    if answer.handling != "answer" or answer.entry is None:
        return None             # another platform or mode, or advice: answered as such (bot.nlu.answer)
    if answer.score < REVIEW_BELOW:
        ids = (answer.entry.id,) + tuple(i for i in ids if i != answer.entry.id)
        return Unanswered(answer.query, answer.lang, answer.entry.id, user_id, LOW, None, ids[:3],
                          round(answer.score, 4))
    return None


@dataclass(frozen=True)
class Outcome:
    """What a decision did: `status` done | known (already there: closed, nothing added) | refused
    (`clash`: where the text already belongs) | gone (decided by someone else, deleted or expired) |
    invalid (a target the item cannot take)."""

    status: str
    clash: str | None = None


class Reviewer:
    def __init__(self, live: LiveContent, store: Store):
        self.live, self.store = live, store

    def choices(self, item: ReviewItem) -> list[tuple[str, str]]:
        """The decisions an item can take: (kind, target), best candidates first."""
        if item.kind == TYPED and item.step:
            slot = self.live.base.slot(item.step)
            ids = [lv.id for lv in slot.levels] if slot else []
            ids = [c for c in item.candidates if c in ids] + [i for i in ids if i not in item.candidates]
            return [(LEVEL, f"{item.step}.{i}") for i in ids] + [(OTHER, item.step)]
        entries = {d.id for d in self.live.base.faq}
        return [(FAQ, c) for c in item.candidates[:3] if c in entries] + [(ADVICE, ""), (OOS, "")]

    async def decide(self, item_id: int, kind: str, target: str) -> Outcome:
        item = await self.store.review_item(item_id)
        if item is None:
            return Outcome("gone")
        if (kind, target) not in self.choices(item):
            return Outcome("invalid")
        ex = example(kind, target, item.lang, item.text)
        content = self.live.content(await self.store.overlay_examples())   # the overlay as it is now
        clash = conflict(content, ex)
        if clash is not None:
            return Outcome("refused", clash)
        if known(content, ex):
            return Outcome("known" if await self.store.review_close(item_id) else "gone")
        if not await self.store.overlay_add(ex, item_id):
            return Outcome("gone")
        return Outcome("done")

    async def delete(self, item_id: int) -> bool:
        return await self.store.review_close(item_id, delete=True)
