"""/review for admins (ADMIN_USER_IDS), in private chat: the items kept for review one at a time, with
a button per decision (bot.content.review). Everyone else gets the reply to an unknown command, and a
review button pressed by anyone else is answered as stale. The message is edited in place: the outcome
of the last press, then the next item."""
from __future__ import annotations

import asyncio
import logging
import time

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType

from bot.content.live import LiveContent
from bot.content.overlay import ADVICE, FAQ, LEVEL, OOS, OTHER
from bot.content.review import Outcome, Reviewer
from bot.store.base import ADVISED, LOW, TYPED, ReviewItem
from bot.tg import callbacks as cb
from bot.tg.handlers import Ctx, Handlers
from bot.tg.render import short

log = logging.getLogger(__name__)
LABEL_LIMIT = 40       # characters of an entry's title on a button


class ReviewHandlers:
    def __init__(self, h: Handlers, live: LiveContent):
        self.h, self.live = h, live
        self.reviewer = Reviewer(live, h.store)
        self._refresh: asyncio.Task | None = None

    def allowed(self, update: Update) -> bool:
        user, chat = update.effective_user, update.effective_chat
        return user is not None and user.id in self.h.settings.admin_user_ids and \
            chat is not None and chat.type == ChatType.PRIVATE

    async def command(self, update: Update, ctx: Ctx) -> None:
        if not self.allowed(update):
            await self.h.unknown_command(update, ctx)
            return
        lang = await self.h.lang(update)
        text, markup = await self._next(lang, after=0)
        await self.h.send(ctx, update.effective_chat.id, text, markup)

    async def button(self, update: Update, ctx: Ctx) -> None:
        query = update.callback_query
        if not (query.data or "").startswith("r:"):      # PTB passes data-less queries to every pattern
            await self.h.button(update, ctx)
            return
        lang = await self.h.lang(update)
        data = cb.parse(query.data)
        if data is None or data.kind != "r" or not self.allowed(update):
            await query.answer(short(self.h.r.raw("notice.stale", lang)))
            return
        item_id, decision, arg = data.rev, data.arg, data.arg2
        item = await self.h.store.review_item(item_id)
        outcome = await self._apply(item, item_id, decision, arg)
        note = self._outcome_text(outcome, item, decision, arg, lang)
        if outcome is not None and outcome.status == "refused":
            await query.answer(short(self.h.r.raw("review.refused", lang, text=item.text[:60],
                                                  clash=self._target(outcome.clash, lang))), show_alert=True)
            text, markup = await self._show(item, lang)      # still open: choose again, skip or delete
        else:
            await query.answer()
            text, markup = await self._next(lang, after=item_id)
        await self.h.edit(update, ctx, f"{note}\n\n{text}" if note else text, markup)

    # -- decisions ------------------------------------------------------------------------------------
    async def _apply(self, item: ReviewItem | None, item_id: int, decision: str, arg: str) -> Outcome | None:
        """What a press did; None for skip."""
        if decision == "s":
            return None
        if decision == "d":
            return Outcome("deleted" if await self.reviewer.delete(item_id) else "gone")
        if item is None:
            return Outcome("gone")
        outcome = await self.reviewer.decide(item_id, *self._decision(item, decision, arg))
        if outcome.status == "done":
            self._retrain()
        return outcome

    @staticmethod
    def _decision(item: ReviewItem, decision: str, arg: str) -> tuple[str, str]:
        """The (kind, target) of an overlay example a button's decision code stands for."""
        if decision == "o":
            return (OTHER, item.step) if item.kind == TYPED else (OOS, "")
        return {"f": (FAQ, arg), "a": (ADVICE, ""), "l": (LEVEL, f"{item.step}.{arg}")}[decision]

    def _retrain(self) -> None:
        """This replica retrains now (the others at their next poll); the reply does not wait for it."""
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.get_running_loop().create_task(self._refresh_now())

    async def _refresh_now(self) -> None:
        try:
            await self.live.refresh()
        except Exception:       # noqa: BLE001 - the poll catches up
            log.exception("retraining after a review decision failed")

    def _outcome_text(self, outcome: Outcome | None, item: ReviewItem | None, decision: str, arg: str,
                      lang: str) -> str:
        if outcome is None:
            return ""
        t = self.h.r.t
        if outcome.status == "deleted":
            return t("review.deleted", lang)
        if item is None or outcome.status not in ("done", "known", "refused"):
            return t("review.gone", lang)
        text = item.text[:200]
        if outcome.status == "refused":
            return t("review.refused", lang, text=text, clash=self._target(outcome.clash, lang))
        owner = ":".join(self._decision(item, decision, arg))
        return t("review.done" if outcome.status == "done" else "review.known", lang, text=text,
                 target=self._target(owner, lang))

    def _target(self, owner: str | None, lang: str) -> str:
        """A "kind:target" owner of an example, named for people."""
        kind, _, target = (owner or "").partition(":")
        if kind == FAQ:
            entry = self.h.services.kb.by_id.get(target)
            return f"{entry.title(lang)} ({target})" if entry else target
        if kind == LEVEL:
            step_id, _, level = target.partition(".")
            step = self.h.services.flow.step(step_id)
            option = step.option(level) if step else None
            return f"{step.title(lang)}: {option.label(lang)}" if option else target
        if kind == OTHER:
            return self.h.r.raw("review.answers_nothing", lang)
        if kind == "unsure":
            return self.h.r.raw("review.not_sure", lang)
        if kind == ADVICE:
            return self.h.r.raw("review.advice_owner", lang)
        return self.h.r.raw("review.out_of_scope", lang)

    # -- showing an item ------------------------------------------------------------------------------
    async def _next(self, lang: str, after: int) -> tuple[str, InlineKeyboardMarkup | None]:
        store = self.h.store
        item = await store.review_next(after) or (await store.review_next(0) if after else None)
        if item is None:
            return self.h.r.t("review.empty", lang), None
        return await self._show(item, lang)

    async def _show(self, item: ReviewItem, lang: str) -> tuple[str, InlineKeyboardMarkup]:
        r, esc = self.h.r, self.h.r.m.esc
        kb, flow = self.h.services.kb, self.h.services.flow
        waiting = await self.h.store.review_waiting()
        lines = [f"<b>{r.t('review.title', lang, waiting=waiting)}</b>"]
        step = flow.step(item.step) if item.step else None
        if item.kind == TYPED and step is not None:
            lines.append(r.t("review.kind.typed", lang, step=step.title(lang)))
        elif item.kind == LOW:
            lines.append(r.t("review.kind.low", lang, score=f"{item.score or 0:.2f}"))
        elif item.kind == ADVISED:
            lines.append(r.t("review.kind.advised", lang, score=f"{item.score or 0:.2f}"))
        else:
            lines.append(r.t("review.kind.fallback", lang))
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(item.ts))
        lines.append(r.t("review.meta", lang, language=item.lang, when=when))
        lines.append(f"\n<blockquote>{esc(item.text[:1000])}</blockquote>")
        if item.kind == TYPED and step is not None:
            names = [step.option(c).label(lang) for c in item.candidates if step.option(c) is not None]
        else:
            names = [kb.by_id[c].title(lang) for c in item.candidates if c in kb.by_id]
        if names:
            lines.append(r.t("review.nearest", lang, entries="; ".join(names)))
        rows: list[list[InlineKeyboardButton]] = []
        for kind, target in self.reviewer.choices(item):
            if kind == FAQ:
                title = kb.by_id[target].title(lang)
                title = title if len(title) <= LABEL_LIMIT else title[:LABEL_LIMIT - 1] + "…"
                rows.append([InlineKeyboardButton(r.raw("review.phrasing", lang, entry=title),
                                                  callback_data=cb.review(item.id, "f", target))])
            elif kind == LEVEL:
                level = target.partition(".")[2]
                option = step.option(level) if step else None
                label = r.raw("review.level", lang, level=option.label(lang) if option else level)
                rows.append([InlineKeyboardButton(label, callback_data=cb.review(item.id, "l", level))])
            elif kind == ADVICE:
                rows.append([InlineKeyboardButton(r.raw("review.advice", lang), callback_data=cb.review(item.id, "a"))])
            else:
                key = "review.answers_nothing" if kind == OTHER else "review.out_of_scope"
                rows.append([InlineKeyboardButton(r.raw(key, lang), callback_data=cb.review(item.id, "o"))])
        rows.append([InlineKeyboardButton(r.raw("review.skip", lang), callback_data=cb.review(item.id, "s")),
                     InlineKeyboardButton(r.raw("review.delete", lang), callback_data=cb.review(item.id, "d"))])
        return "\n".join(lines), InlineKeyboardMarkup(rows)
