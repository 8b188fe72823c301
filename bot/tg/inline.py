"""Inline mode (@bot query in any chat): FAQ answers, mode cards and the user's own result card.

Every shared message carries a button that opens the bot on its questionnaire. A user's result is
only ever offered to that user (is_personal, short cache), so nobody can share another's data.
The result and the comparison are offered as their picture cards (cached photos: sharing uploads
nothing) once the bot has sent that picture somewhere and so knows its file_id; until then, and in a
language without a font for pictures, as text.
"""
from __future__ import annotations

import html
import re

from telegram import (InlineQueryResult, InlineQueryResultArticle, InlineQueryResultCachedPhoto,
                      InputTextMessageContent, Update)
from telegram.constants import ParseMode

from bot.engine.dialogue import ResultView
from bot.engine.recommend import recommend
from bot.kb.lang import detect_lang
from bot.nlu.text import normalize
from bot.tg.handlers import Ctx, Handlers, telegram_lang
from bot.tg.render import MESSAGE_LIMIT

MAX_RESULTS = 50
PERSONAL_CACHE = 5       # seconds: a result can change as soon as the user changes an answer
SHARED_CACHE = 300


def _plain_first_line(html_text: str, skip_title: bool = False) -> str:
    """A rendered answer's first (or second) line without tags, for an article's title or description."""
    lines = [re.sub(r"<[^>]*>", "", ln) for ln in html_text.split("\n") if ln.strip()]
    if not lines:
        return ""
    return html.unescape(lines[1] if skip_title and len(lines) > 1 else lines[0])


class InlineHandlers:
    def __init__(self, h: Handlers):
        self.h = h

    def _article(self, result_id: str, title: str, description: str, text: str, lang: str, ctx: Ctx,
                 source: str) -> InlineQueryResultArticle:
        text = text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"
        return InlineQueryResultArticle(
            id=result_id, title=title[:100], description=description[:200],
            input_message_content=InputTextMessageContent(text, parse_mode=ParseMode.HTML,
                                                          link_preview_options=None),
            reply_markup=self.h.kb.take_the_test(lang, self.h.link(ctx, f"src_{source}")))

    def _photo(self, result_id: str, file_id: str, title: str, description: str, caption: str, lang: str, ctx: Ctx,
               source: str) -> InlineQueryResultCachedPhoto:
        return InlineQueryResultCachedPhoto(
            id=result_id, photo_file_id=file_id, title=title[:100], description=description[:200], caption=caption,
            parse_mode=ParseMode.HTML, reply_markup=self.h.kb.take_the_test(lang, self.h.link(ctx, f"src_{source}")))

    async def result_card(self, user_id: str, lang: str, ctx: Ctx) -> InlineQueryResult | None:
        answers = await self.h.store.last_result(user_id)
        if not answers:
            return None
        rec = recommend(self.h.services.flow, self.h.services.rules, answers)
        view = ResultView(rec, answers)
        text = self.h.r.result_card(view, lang)
        title = self.h.r.raw("inline.result_title", lang)
        description = text.split("\n", 1)[0].replace("<b>", "").replace("</b>", "")
        file_id = await self.h.photos.file_id(self.h.photos.result(rec, lang, ctx.bot.username))
        if file_id is not None:
            return self._photo("res", file_id, title, description, self.h.r.result_caption(view, lang, shared=True),
                               lang, ctx, "share")
        return self._article("res", title, description, text, lang, ctx, "share")

    async def mode_cards(self, lang: str, ctx: Ctx) -> list[InlineQueryResult]:
        r = self.h.r
        title, description = r.raw("inline.compare_title", lang), r.raw("inline.compare_desc", lang)
        file_id = await self.h.photos.file_id(self.h.photos.compare(lang, ctx.bot.username))
        if file_id is not None:
            comparison = self._photo("cmp", file_id, title, description, r.compare_caption(lang, shared=True), lang,
                                     ctx, "inline")
        else:
            comparison = self._article("cmp", title, description, r.compare_card(lang), lang, ctx, "inline")
        cards: list[InlineQueryResult] = [comparison]
        for mode in ("full", "semi"):
            m = self.h.services.kb.modes[mode]
            cards.append(self._article(mode, m.name(lang), m.summary(lang), r.mode_card(mode, lang), lang, ctx, "inline"))
        return cards

    async def query(self, update: Update, ctx: Ctx) -> None:
        """Answer an inline query with at most 50 results with unique short ids."""
        query = update.inline_query
        user_id = str(query.from_user.id)
        known = await self.h.store.user(user_id)
        base_lang = known.lang if known and known.lang_fixed and known.lang else telegram_lang(query.from_user.language_code)
        text = (query.query or "").strip()[:256]
        lang = detect_lang(text, base_lang)
        await self.h.store.record("inline_query", user_id)
        results: list[InlineQueryResult] = []
        personal = None
        keywords = {normalize(self.h.r.raw("inline.result_keyword", lg)) for lg in ("zh", "en")}
        if not text or normalize(text) in keywords:
            personal = await self.result_card(user_id, lang, ctx)
        if personal:
            results.append(personal)
        if text and normalize(text) not in keywords:
            answer = self.h.services.answerer.ask(text, lang)
            # Beside another platform or mode, TikTok's entries are not listed on their own: unlabelled,
            # they would read as that platform's.
            entries = [] if answer.handling in ("other_platform", "other_mode") else list(answer.suggestions)
            if answer.handling == "answer" and len(answer.entries) == 1:
                entries.insert(0, answer.entry)         # one entry: its own article, as before
            elif not answer.fallback:                   # scope-aware, two-part or advice: the one rendered answer
                rendered = self.h.r.faq_answer(answer)
                title = answer.entry.title(lang) if answer.handling in ("answer", "advice") and answer.entry \
                    else _plain_first_line(rendered)
                results.append(self._article(f"a:{answer.handling}", title, _plain_first_line(rendered, skip_title=True),
                                             rendered, lang, ctx, "inline"))
            for entry in entries:
                results.append(self._article(f"f:{entry.id}", entry.title(lang), entry.answer(lang)[:200],
                                             self.h.r.entry(entry, lang), lang, ctx, "inline"))
        results += await self.mode_cards(lang, ctx)
        seen, unique = set(), []
        for item in results:
            if item.id not in seen:
                seen.add(item.id)
                unique.append(item)
        await query.answer(unique[:MAX_RESULTS], cache_time=PERSONAL_CACHE if personal or text == "" else SHARED_CACHE,
                           is_personal=True)

    async def chosen(self, update: Update, ctx: Ctx) -> None:
        """Inline feedback: count which results were shared (needs /setinlinefeedback in @BotFather)."""
        chosen = update.chosen_inline_result
        user_id = str(chosen.from_user.id)
        await self.h.store.record("inline_chosen", user_id, chosen.result_id[:64])
        if chosen.result_id == "res":
            await self.h.store.record("share", user_id)
