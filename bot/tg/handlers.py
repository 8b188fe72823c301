"""Telegram handlers: each reads the update, calls the engine through Conversations, renders, sends.

Every state change is committed by Conversations.run before anything is sent, so a crash loses at
most the update in flight.
"""
from __future__ import annotations

import csv
import io
import logging

from telegram import InputFile, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.config import Settings
from bot.conversation import Conversations
from bot.engine.dialogue import Reply, ResultView
from bot.kb.lang import detect_lang
from bot.render import HTML
from bot.services import Services
from bot.store import Store
from bot.tg import callbacks as cb
from bot.tg.keyboards import Keyboards, share_url
from bot.tg.render import short, split_message

log = logging.getLogger(__name__)
Ctx = ContextTypes.DEFAULT_TYPE


def telegram_lang(code: str | None) -> str:
    return "zh" if (code or "").lower().startswith("zh") else "en"


class Handlers:
    def __init__(self, services: Services, store: Store, settings: Settings):
        self.services, self.store, self.settings = services, store, settings
        self.conv = Conversations(services, store)
        self.r = services.renderer(HTML)
        self.kb = Keyboards(self.r, services.flow, services.kb)

    # -- who and where ------------------------------------------------------------------------
    def lang(self, update: Update) -> str:
        tg_user = update.effective_user
        if tg_user is None:
            return self.settings.default_lang
        user = self.store.touch_user(str(tg_user.id), telegram_lang(tg_user.language_code))
        return user.lang or self.settings.default_lang

    @staticmethod
    def key(update: Update) -> str:
        return f"{update.effective_user.id}:{update.effective_chat.id}"

    def run(self, update: Update, action) -> tuple:
        return self.conv.run(self.key(update), str(update.effective_user.id), action)

    # -- sending ------------------------------------------------------------------------------
    async def send(self, ctx: Ctx, chat_id: int, text: str, markup=None) -> None:
        parts = split_message(text)
        for i, part in enumerate(parts):
            await ctx.bot.send_message(chat_id, part, parse_mode=ParseMode.HTML,
                                       reply_markup=markup if i == len(parts) - 1 else None,
                                       disable_web_page_preview=True)

    async def edit(self, update: Update, ctx: Ctx, text: str, markup=None) -> None:
        """Replace the pressed message; what does not fit goes in new messages after it."""
        parts = split_message(text)
        query = update.callback_query
        try:
            await query.edit_message_text(parts[0], parse_mode=ParseMode.HTML,
                                          reply_markup=markup if len(parts) == 1 else None,
                                          disable_web_page_preview=True)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise
        for i, part in enumerate(parts[1:], 1):
            await ctx.bot.send_message(update.effective_chat.id, part, parse_mode=ParseMode.HTML,
                                       reply_markup=markup if i == len(parts) - 1 else None)

    def view_markup(self, reply: Reply, rev: int, lang: str, ctx: Ctx):
        share = None
        if isinstance(reply.view, ResultView):
            share = share_url(ctx.bot.username if ctx.bot else None, self.r.raw("notice.share_text", lang))
        return self.kb.for_view(reply.view, rev, lang, share)

    async def show(self, update: Update, ctx: Ctx, session, reply: Reply, lang: str, edit: bool = False) -> None:
        """Notices first (FAQ answers in their own language), then the view with its keyboard."""
        chat_id = update.effective_chat.id
        for notice in reply.notices:
            if edit and notice.answer is None:
                continue      # a button press: short notices went to the callback answer instead
            text = self.r.notice(notice, lang)
            await self.send(ctx, chat_id, text)
        text = self.r.view(reply.view, lang)
        markup = self.view_markup(reply, session.rev, lang, ctx)
        if edit:
            await self.edit(update, ctx, text, markup)
        else:
            await self.send(ctx, chat_id, text, markup)

    async def dedupe(self, update: Update, ctx: Ctx) -> None:
        """Runs before every handler: an update seen before (redelivered after a crash) is dropped."""
        if not self.store.first_sight(update.update_id):
            log.info("update %s was already handled; skipped", update.update_id)
            raise ApplicationHandlerStop

    # -- commands -----------------------------------------------------------------------------
    async def start(self, update: Update, ctx: Ctx) -> None:
        """Greet, explain in two lines, start or resume the questionnaire."""
        lang = self.lang(update)
        resumed = self.store.load_session(self.key(update)) is not None
        session, reply = self.run(update, lambda s: Reply(self.services.dialogue.view(s), changed=False))
        name = update.effective_user.first_name or ""
        intro = self.r.t("start.greeting", lang, name=name) + "\n" + (
            self.r.t("start.resume", lang) if resumed else self.r.t("start.intro", lang) + "\n\n" + self.r.t("start.describe_tip", lang))
        await self.send(ctx, update.effective_chat.id, intro)
        await self.show(update, ctx, session, reply, lang)

    async def help(self, update: Update, ctx: Ctx) -> None:
        """What the bot does and its commands."""
        await self.send(ctx, update.effective_chat.id, self.r.t("help.text", self.lang(update)))

    async def quiz(self, update: Update, ctx: Ctx) -> None:
        """Start the questionnaire over."""
        lang = self.lang(update)
        session, reply = self.run(update, self.services.dialogue.restart)
        await self.show(update, ctx, session, reply, lang)

    async def back(self, update: Update, ctx: Ctx) -> None:
        """Go back one question."""
        lang = self.lang(update)
        session, reply = self.run(update, self.services.dialogue.back)
        await self.show(update, ctx, session, reply, lang)

    async def result(self, update: Update, ctx: Ctx) -> None:
        """Show the last result again (or continue the questionnaire when there is none)."""
        lang = self.lang(update)
        answers = self.store.last_result(str(update.effective_user.id))
        session, reply = self.run(update, lambda s: Reply(self.services.dialogue.view(s), changed=False))
        if not isinstance(reply.view, ResultView) and answers:
            from bot.engine.recommend import recommend
            rec = recommend(self.services.flow, self.services.rules, answers)
            await self.send(ctx, update.effective_chat.id, self.r.result(ResultView(rec, answers), lang),
                            self.kb.back_to_quiz(lang))
            return
        if not isinstance(reply.view, ResultView):
            await self.send(ctx, update.effective_chat.id, self.r.t("result.none", lang))
        await self.show(update, ctx, session, reply, lang)

    async def compare(self, update: Update, ctx: Ctx) -> None:
        """The two modes side by side."""
        lang = self.lang(update)
        await self.send(ctx, update.effective_chat.id, self.r.compare(lang), self.kb.back_to_quiz(lang))

    async def faq(self, update: Update, ctx: Ctx) -> None:
        """FAQ topics as buttons."""
        lang = self.lang(update)
        await self.send(ctx, update.effective_chat.id, self.r.t("faq.topics", lang), self.kb.topics(lang))

    async def choose_lang(self, update: Update, ctx: Ctx) -> None:
        """Offer the two languages."""
        lang = self.lang(update)
        await self.send(ctx, update.effective_chat.id, self.r.t("lang.choose", lang), self.kb.languages())

    async def unknown_command(self, update: Update, ctx: Ctx) -> None:
        """Any command the bot does not know (and admin commands for non-admins)."""
        lang = self.lang(update)
        await self.send(ctx, update.effective_chat.id, self.r.t("notice.unknown_command", lang))

    # -- messages -----------------------------------------------------------------------------
    async def text(self, update: Update, ctx: Ctx) -> None:
        """Typed text: an answer, a one-message description, a navigation word or a question."""
        lang = self.lang(update)
        text = update.effective_message.text or ""
        ask_lang = detect_lang(text, lang)
        session, reply = self.run(update, lambda s: self.services.dialogue.text(s, text, ask_lang))
        await self.show(update, ctx, session, reply, lang)

    async def other_message(self, update: Update, ctx: Ctx) -> None:
        """Stickers, photos, voice, locations...: say what the bot reads and show where we are."""
        lang = self.lang(update)
        await self.send(ctx, update.effective_chat.id, self.r.t("notice.text_only", lang))
        session, reply = self.run(update, lambda s: Reply(self.services.dialogue.view(s), changed=False))
        await self.show(update, ctx, session, reply, lang)

    async def edited(self, update: Update, ctx: Ctx) -> None:
        """Edited messages do not rewrite recorded answers; say so once."""
        if update.effective_user is None:
            return
        lang = self.lang(update)
        await self.send(ctx, update.effective_chat.id, self.r.t("notice.edited", lang))

    # -- buttons ------------------------------------------------------------------------------
    async def button(self, update: Update, ctx: Ctx) -> None:
        """Every callback query is answered, stale or forged ones with a short explanation."""
        query = update.callback_query
        lang = self.lang(update)
        data = cb.parse(query.data)
        dialogue = self.services.dialogue
        if data is None:
            await query.answer(short(self.r.raw("notice.stale", lang)))
            session, reply = self.run(update, lambda s: Reply(dialogue.view(s), changed=False))
            await self.show(update, ctx, session, reply, lang, edit=False)
            return
        if data.kind == "v":
            await self.view_button(update, ctx, data, lang)
            return
        stale = {"value": False}

        def act(session):
            if data.rev != session.rev:
                stale["value"] = True
                return Reply(dialogue.view(session), changed=False)
            if data.kind == "a":
                return dialogue.choose(session, data.arg, data.arg2)
            if data.kind == "c":
                return dialogue.change(session, data.arg)
            if data.arg in ("yes", "no"):
                return dialogue.confirm(session, data.arg == "yes")
            if data.arg == "change":
                return Reply(dialogue.view(session), changed=False)
            return getattr(dialogue, data.arg)(session)

        session, reply = self.run(update, act)
        notice = next((n for n in reply.notices if n.answer is None), None)
        if stale["value"] or (notice and notice.key == "notice.stale"):
            await query.answer(short(self.r.raw("notice.stale", lang)))
            await self.show(update, ctx, session, Reply(reply.view), lang, edit=False)
            return
        await query.answer(short(self.r.raw(notice.key, lang)) if notice else None)
        if data.kind == "n" and data.arg == "change" and isinstance(reply.view, ResultView):
            await self.send(ctx, update.effective_chat.id, self.r.t("result.change_prompt", lang),
                            self.kb.change_menu(session.answers, session.rev, lang))
            return
        await self.show(update, ctx, session, reply, lang, edit=True)

    async def view_button(self, update: Update, ctx: Ctx, data: cb.Callback, lang: str) -> None:
        query = update.callback_query
        chat_id = update.effective_chat.id
        if data.arg == "lang" and data.arg2 in ("zh", "en"):
            self.store.set_lang(str(update.effective_user.id), data.arg2)
            lang = data.arg2
            await query.answer(short(self.r.raw("lang.set", lang)))
            await self.send(ctx, chat_id, self.r.t("lang.set", lang))
            session, reply = self.run(update, lambda s: Reply(self.services.dialogue.view(s), changed=False))
            await self.show(update, ctx, session, reply, lang)
            return
        await query.answer()
        if data.arg == "compare":
            await self.send(ctx, chat_id, self.r.compare(lang), self.kb.back_to_quiz(lang))
        elif data.arg == "faq":
            await self.send(ctx, chat_id, self.r.t("faq.topics", lang), self.kb.topics(lang))
        elif data.arg == "topic" and self.services.kb.topic(data.arg2):
            ids = [e.id for e in self.services.kb.entries_in(data.arg2)]
            await self.send(ctx, chat_id, self.r.t("faq.pick_question", lang), self.kb.entries(ids, lang))
        elif data.arg == "entry" and self.services.kb.entry(data.arg2):
            entry = self.services.kb.entry(data.arg2)
            self.store.record("faq", str(update.effective_user.id), entry.id)
            await self.send(ctx, chat_id, self.r.entry(entry, lang), self.kb.entries(list(entry.related), lang))
        elif data.arg == "ask":
            await self.send(ctx, chat_id, self.r.t("faq.ask_prompt", lang))
        else:  # quiz, result, or an unknown view: show where the user is
            session, reply = self.run(update, lambda s: Reply(self.services.dialogue.view(s), changed=False))
            await self.show(update, ctx, session, reply, lang)

    # -- admin --------------------------------------------------------------------------------
    def is_admin(self, update: Update) -> bool:
        user = update.effective_user
        return user is not None and user.id in self.settings.admin_user_ids

    async def stats(self, update: Update, ctx: Ctx) -> None:
        """Admin only: usage figures and the latest unanswered questions."""
        if not self.is_admin(update):
            await self.unknown_command(update, ctx)
            return
        lang = self.lang(update)
        s = self.store.stats()
        lines = [f"<b>{self.r.t('stats.title', lang)}</b>",
                 self.r.t("stats.body", lang, users=s["users"], active=s["active_users"],
                          started=s["quizzes_started"], completed=s["quizzes_completed"],
                          full=s["results_by_mode"].get("full", 0), semi=s["results_by_mode"].get("semi", 0),
                          borderline=s["results_borderline"]),
                 "", self.r.t("stats.top_faq", lang)]
        lines += [f"• {self.r.m.esc(str(e))}: {n}" for e, n in s["top_faq"]] or [self.r.t("stats.none", lang)]
        lines += ["", self.r.t("stats.unanswered", lang)]
        lines += [f"• [{self.r.m.esc(str(lg))}] {self.r.m.esc(t[:200])}" for _, lg, t, _ in s["unanswered"]] or [
            self.r.t("stats.none", lang)]
        await self.send(ctx, update.effective_chat.id, "\n".join(lines))

    async def export(self, update: Update, ctx: Ctx) -> None:
        """Admin only: the same data as CSV files."""
        if not self.is_admin(update):
            await self.unknown_command(update, ctx)
            return
        lang = self.lang(update)
        for table in ("users", "results", "events", "unanswered"):
            columns, rows = self.store.export_rows(table)
            buf = io.StringIO()
            writer = csv.writer(buf)
            writer.writerow(columns)
            writer.writerows(rows)
            await ctx.bot.send_document(update.effective_chat.id,
                                        InputFile(io.BytesIO(buf.getvalue().encode("utf-8")), filename=f"{table}.csv"),
                                        caption=self.r.raw("export.caption", lang, table=table))

    async def member_status(self, update: Update, ctx: Ctx) -> None:
        """A user blocking (or unblocking) the bot in private: remember, so nobody is messaged in vain."""
        change = update.my_chat_member
        if change and change.chat.type == "private":
            active = change.new_chat_member.status not in ("kicked", "left")
            self.store.touch_user(str(change.from_user.id))
            self.store.set_active(str(change.from_user.id), active)

    # -- errors -------------------------------------------------------------------------------
    async def error(self, update: object, ctx: Ctx) -> None:
        """Log with context, mark blocked users inactive, tell the user something went wrong."""
        exc = ctx.error
        user = getattr(update, "effective_user", None) if isinstance(update, Update) else None
        if isinstance(exc, Forbidden):
            if user is not None:
                self.store.set_active(str(user.id), False)
            log.info("user %s blocked the bot; marked inactive", getattr(user, "id", "?"))
            return
        log.error("error handling update %s (user %s): %s", getattr(update, "update_id", "?"),
                  getattr(user, "id", "?"), exc, exc_info=exc)
        chat = getattr(update, "effective_chat", None) if isinstance(update, Update) else None
        if chat is None:
            return
        try:
            lang = self.store.user(str(user.id)).lang if user and self.store.user(str(user.id)) else "en"
            await ctx.bot.send_message(chat.id, self.r.t("error.generic", lang or "en"), parse_mode=ParseMode.HTML)
        except Exception:  # noqa: BLE001 - the error handler must never raise
            log.warning("could not tell chat %s about the error", chat.id)
