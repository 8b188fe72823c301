"""Telegram handlers for the dialogue: each reads the update, calls the engine, renders, sends.

Every state change is committed by Conversations.run before anything is sent, so a crash loses at
most the update in flight. Sessions are per user per chat, so members of a group each have their
own questionnaire there; their buttons carry the owner's id. In groups the questionnaire is a card
per member (bot/tg/groups.py) and every message goes through the outbox (bot/tg/outbox.py).
"""
from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden
from telegram.ext import ContextTypes

from bot.cards import CardMaker
from bot.config import Settings
from bot.conversation import Conversations, with_hint
from bot.engine.dialogue import Notice, Reply, ResultView
from bot.engine.recommend import recommend
from bot.kb.lang import written_lang
from bot.links import start_link
from bot.render import HTML
from bot.services import Services
from bot.store import BY_HANDLER, Store
from bot.tg import callbacks as cb
from bot.tg import deeplink
from bot.tg.keyboards import Keyboards
from bot.tg.outbox import Job, Outbox
from bot.tg.photos import CardPhotos, Picture
from bot.tg.render import short, split_message

log = logging.getLogger(__name__)
Ctx = ContextTypes.DEFAULT_TYPE


def telegram_lang(code: str | None) -> str:
    return "zh" if (code or "").lower().startswith("zh") else "en"


def in_group(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)


class Handlers:
    def __init__(self, services: Services, store: Store, settings: Settings):
        self.services, self.store, self.settings = services, store, settings
        self.conv = Conversations(services, store)
        self.r = services.renderer(HTML)
        self.kb = Keyboards(self.r, services.flow, services.kb)
        self.dialogue = services.dialogue
        self.photos = CardPhotos(CardMaker.for_services(services), store)   # fonts are looked for here, once
        self.outbox = Outbox(photos=self.photos)
        self.groups = None        # bot.tg.groups.GroupHandlers, which registers itself

    # -- who and where ------------------------------------------------------------------------
    async def lang(self, update: Update) -> str:
        tg_user = update.effective_user
        if tg_user is None:
            return self.settings.default_lang
        user = await self.store.touch_user(str(tg_user.id), telegram_lang(tg_user.language_code))
        return user.lang or self.settings.default_lang

    @staticmethod
    def key(update: Update, chat_id: int | None = None) -> str:
        return f"{update.effective_user.id}:{chat_id if chat_id is not None else update.effective_chat.id}"

    async def run(self, update: Update, action, ctx: Ctx | None = None) -> tuple:
        """Apply an engine action to the user's session in this chat; the update is marked handled with it.

        With `ctx`, a result reached for a questionnaire begun in a group is shared back onto its card there."""
        back: dict = {}

        def act(session):
            reply = action(session)
            if any(n.key == "notice.restarted" for n in reply.notices):
                session.meta.pop("back", None)        # a new questionnaire: not the group's any more
            elif ctx is not None and "back" in session.meta and reply.changed and isinstance(reply.view, ResultView):
                back.update(session.meta.pop("back"))
            return reply

        session, reply = await self.conv.run(self.key(update), str(update.effective_user.id), act, update.update_id)
        if back and self.groups is not None and await self.groups.share_back(ctx, update, back, session):
            reply = Reply(reply.view, reply.notices + (Notice("group.shared_back"),), reply.changed)
        return session, reply

    async def current(self, update: Update) -> tuple:
        """The user's session here and its view, without changing anything."""
        return await self.run(update, lambda s: Reply(self.dialogue.view(s), changed=False))

    def link(self, ctx: Ctx, payload: str) -> str | None:
        return start_link(ctx.bot.username if ctx.bot else None, payload)

    # -- sending ------------------------------------------------------------------------------
    async def send(self, ctx: Ctx, chat_id: int, text: str, markup=None, member: int = 0) -> None:
        """Send `text` (split at Telegram's limit, the keyboard on the last part). To a group it goes through
        the outbox, in `member`'s turn: nothing waits here for the group's budget."""
        parts = split_message(text)
        for i, part in enumerate(parts):
            last = markup if i == len(parts) - 1 else None
            if isinstance(chat_id, int) and chat_id < 0:
                self.outbox.post(ctx.application, chat_id, Job(member, part, last))
                continue
            await ctx.bot.send_message(chat_id, part, parse_mode=ParseMode.HTML, reply_markup=last,
                                       disable_web_page_preview=True)

    async def reply(self, update: Update, ctx: Ctx, text: str, markup=None) -> None:
        """Send `text` to the update's chat, in its user's turn."""
        user = update.effective_user
        await self.send(ctx, update.effective_chat.id, text, markup, user.id if user else 0)

    async def edit(self, update: Update, ctx: Ctx, text: str, markup=None) -> None:
        """Replace the pressed message; what does not fit goes in new messages after it. A picture card's
        caption cannot hold the next view: a press on one is answered with a new message."""
        if getattr(update.callback_query.message, "photo", None):
            await self.send(ctx, update.effective_chat.id, text, markup)
            return
        parts = split_message(text)
        try:
            await update.callback_query.edit_message_text(parts[0], parse_mode=ParseMode.HTML,
                                                          reply_markup=markup if len(parts) == 1 else None,
                                                          disable_web_page_preview=True)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise
        for i, part in enumerate(parts[1:], 1):
            await ctx.bot.send_message(update.effective_chat.id, part, parse_mode=ParseMode.HTML,
                                       reply_markup=markup if i == len(parts) - 1 else None,
                                       disable_web_page_preview=True)

    async def show(self, update: Update, ctx: Ctx, session, reply: Reply, lang: str, edit: bool = False,
                   intro: str | None = None, picture: bool | None = None) -> None:
        """One message: any intro and notices (FAQ answers in their own language), then the view with its
        keyboard. Telegram allows about 30 messages a second in all, so every extra message costs every
        user latency at busy moments. Only a fallback keeps its own message, for its topic buttons.
        A result just reached or asked for (`picture`; by default when it changed or comes with an intro)
        is followed by its picture card, which then carries the keyboard (see show_result).
        In a group the view is the member's card."""
        if in_group(update):
            await self.groups.quiz(update, ctx, restart=False)
            return
        chat_id = update.effective_chat.id
        head = [intro] if intro else []
        for notice in reply.notices:
            if edit and notice.answer is None:
                continue      # a button press: short notices went to the callback answer instead
            text = self.r.notice(notice, lang)
            if notice.answer is not None and notice.answer.fallback and notice.answer.suggestions:
                await self.send(ctx, chat_id, text, self.suggestions(notice.answer))
            else:
                head.append(text)
        lang = reply.lang or lang       # a read-back comes in the language the seller wrote in
        text = "\n\n".join(head + [self.r.view(reply.view, lang)])
        markup = self.kb.for_view(reply.view, session.rev, lang)
        if picture is None:
            picture = reply.changed or intro is not None
        if picture and isinstance(reply.view, ResultView) and \
                await self.show_result(update, ctx, reply.view, lang, text, markup, edit):
            return
        if edit:
            await self.edit(update, ctx, text, markup)
        else:
            await self.send(ctx, chat_id, text, markup)

    def suggestions(self, answer):
        """Buttons for an FAQ answer: the closest topics on a fallback, related entries otherwise."""
        if answer is None or not answer.suggestions:
            return None
        return self.kb.entries([e.id for e in answer.suggestions], answer.lang, back_to_topics=False)

    # -- picture cards (bot/tg/photos.py) ------------------------------------------------------
    async def show_result(self, update: Update, ctx: Ctx, view: ResultView, lang: str, text: str, markup,
                          edit: bool = False) -> bool:
        """A result in private: the detailed text (reasons, trade-offs, next steps, caveats; edited into the
        pressed message, or sent), then the picture card with a short caption and the keyboard, so that the
        last message carries the buttons and the picture is what is shared. False, with nothing sent, when
        there is no picture in `lang` (no font): the caller sends the text with the keyboard, as before."""
        picture = self.photos.result(view.recommendation, lang, ctx.bot.username)
        if picture is None:
            return False
        if edit:
            await self.edit(update, ctx, text)
        else:
            await self.send(ctx, update.effective_chat.id, text)
        await self.photos.send_follow_up(ctx.bot, update.effective_chat.id, picture, self.r.result_caption(view, lang),
                                         markup)
        return True

    async def send_picture(self, ctx: Ctx, chat_id: int, picture: Picture, caption: str, markup=None,
                           member: int = 0) -> None:
        """A picture card with its caption; to a group through the outbox, in `member`'s turn."""
        if isinstance(chat_id, int) and chat_id < 0:
            self.outbox.post(ctx.application, chat_id, Job(member, caption, markup, photo=picture))
            return
        await self.photos.send(ctx.bot, chat_id, picture, caption, markup)

    async def show_compare(self, update: Update, ctx: Ctx, lang: str) -> None:
        """The comparison card (the detailed comparison is one button away), or the text without a picture."""
        picture = self.photos.compare(lang, ctx.bot.username)
        if picture is None:
            await self.reply(update, ctx, self.r.compare(lang), self.kb.back_to_quiz(lang))
            return
        user = update.effective_user
        await self.send_picture(ctx, update.effective_chat.id, picture, self.r.compare_caption(lang),
                                self.kb.compare_card(lang), user.id if user else 0)

    async def show_current(self, update: Update, ctx: Ctx, lang: str) -> None:
        if in_group(update):
            await self.groups.quiz(update, ctx, restart=False)
            return
        session, reply = await self.current(update)
        await self.show(update, ctx, session, reply, lang)

    # -- commands -----------------------------------------------------------------------------
    async def start(self, update: Update, ctx: Ctx) -> None:
        """Greet, explain in two lines, start or resume the questionnaire; follow a deep link."""
        link = deeplink.parse_payload(ctx.args[0] if ctx.args else None)
        user_id = str(update.effective_user.id)
        if link.kind == "src":
            await self.store.touch_user(user_id, source=link.arg)
            await self.store.record("deeplink", user_id, link.arg)
        lang = await self.lang(update)
        if in_group(update):
            await self.groups.quiz(update, ctx, restart=False)
            return
        if link.kind == "move" and await self.groups.move_to_private(update, ctx, int(link.arg), lang):
            return
        if link.kind == "faq" and self.services.kb.entry(link.arg):
            entry = self.services.kb.entry(link.arg)
            await self.store.record("faq", user_id, entry.id)
            await self.send(ctx, update.effective_chat.id, self.r.entry(entry, lang), self.kb.back_to_quiz(lang))
            return
        resumed = await self.store.load_session(self.key(update)) is not None
        name = update.effective_user.first_name or ""
        intro = self.r.t("start.greeting", lang, name=name) + "\n" + (
            self.r.t("start.resume", lang) if resumed
            else self.r.t("start.intro", lang) + "\n\n" + self.r.t("start.describe_tip", lang))
        session, reply = await self.current(update)
        await self.show(update, ctx, session, reply, lang, intro=intro)

    async def help(self, update: Update, ctx: Ctx) -> None:
        """What the bot does and its commands."""
        await self.reply(update, ctx, self.r.t("help.text", await self.lang(update)))

    async def quiz(self, update: Update, ctx: Ctx) -> None:
        """Start the questionnaire over (or simply start it, for someone new here)."""
        if in_group(update):
            await self.groups.quiz(update, ctx, restart=True)
            return
        lang = await self.lang(update)
        if await self.store.load_session(self.key(update)) is None:
            await self.show_current(update, ctx, lang)
            return
        session, reply = await self.run(update, self.dialogue.restart)
        await self.show(update, ctx, session, reply, lang)

    async def back(self, update: Update, ctx: Ctx) -> None:
        """Go back one question."""
        if in_group(update):
            await self.groups.back(update, ctx)
            return
        lang = await self.lang(update)
        session, reply = await self.run(update, self.dialogue.back)
        await self.show(update, ctx, session, reply, lang)

    async def result(self, update: Update, ctx: Ctx) -> None:
        """Show the last result again (or continue the questionnaire when there is none)."""
        if in_group(update):
            await self.groups.result(update, ctx)
            return
        lang = await self.lang(update)
        answers = await self.store.last_result(str(update.effective_user.id))
        session, reply = await self.current(update)
        if not isinstance(reply.view, ResultView) and answers:
            view = ResultView(recommend(self.services.flow, self.services.rules, answers), answers)
            text, markup = self.r.result(view, lang), self.kb.back_to_quiz(lang)
            if not await self.show_result(update, ctx, view, lang, text, markup):
                await self.reply(update, ctx, text, markup)
            return
        if not isinstance(reply.view, ResultView):
            await self.reply(update, ctx, self.r.t("result.none", lang))
        await self.show(update, ctx, session, reply, lang, picture=True)

    async def compare(self, update: Update, ctx: Ctx) -> None:
        """The two modes side by side: the comparison card, the detailed comparison a button away."""
        await self.show_compare(update, ctx, await self.lang(update))

    async def faq(self, update: Update, ctx: Ctx) -> None:
        """FAQ topics as buttons."""
        lang = await self.lang(update)
        await self.reply(update, ctx, self.r.t("faq.topics", lang), self.kb.topics(lang))

    async def choose_lang(self, update: Update, ctx: Ctx) -> None:
        """Offer the two languages."""
        lang = await self.lang(update)
        await self.reply(update, ctx, self.r.t("lang.choose", lang), self.kb.languages())

    async def unknown_command(self, update: Update, ctx: Ctx) -> None:
        """Any command the bot does not know (and admin commands for non-admins)."""
        lang = await self.lang(update)
        await self.reply(update, ctx, self.r.t("notice.unknown_command", lang))

    # -- messages -----------------------------------------------------------------------------
    async def text(self, update: Update, ctx: Ctx, text: str | None = None) -> None:
        """Typed text: an answer, a one-message description, a navigation word or a question."""
        lang = await self.lang(update)
        text = update.effective_message.text or "" if text is None else text
        written = written_lang(text, self.services.kb.neutral_words)
        message = update.effective_message
        if message is not None and message.forward_origin is None:     # a forward: someone else wrote it
            switch = await self.conv.follow_lang(str(update.effective_user.id), lang, written)
        else:
            switch = None
        if switch is not None:
            lang = switch.lang      # from this reply on, the interface speaks the seller's language
        ask_lang = written or lang  # read in the language it is written in; unclear ("$30k"): the interface's
        session, reply = await self.run(update, lambda s: self.dialogue.text(s, text, ask_lang), ctx)
        await self.show(update, ctx, session, with_hint(reply, switch), lang)

    async def other_message(self, update: Update, ctx: Ctx) -> None:
        """Stickers, photos, voice, locations...: say what the bot reads and show where we are."""
        lang = await self.lang(update)
        await self.send(ctx, update.effective_chat.id, self.r.t("notice.text_only", lang))
        await self.show_current(update, ctx, lang)

    async def edited(self, update: Update, ctx: Ctx) -> None:
        """Edited messages do not rewrite recorded answers; say so once."""
        if update.effective_user is None or update.effective_chat.type != ChatType.PRIVATE:
            return
        lang = await self.lang(update)
        await self.send(ctx, update.effective_chat.id, self.r.t("notice.edited", lang))

    # -- buttons ------------------------------------------------------------------------------
    async def button(self, update: Update, ctx: Ctx) -> None:
        """Every callback query is answered, stale, foreign or forged ones with a short explanation."""
        query = update.callback_query
        lang = await self.lang(update)
        data = cb.parse(query.data)
        if data is not None and data.owner is not None and data.owner != update.effective_user.id:
            await query.answer(short(self.r.raw("group.not_yours", lang)), show_alert=True)
            return
        if data is None:
            await query.answer(short(self.r.raw("notice.stale", lang)))
            await self.show_current(update, ctx, lang)
            return
        if data.kind == "v":
            await self.view_button(update, ctx, data, lang)
            return
        if in_group(update):
            await (self.groups.press if data.kind == "g" else self.groups.nav)(update, ctx, data, lang)
            return
        if data.kind == "g":                         # a group card's button cannot be in a private chat
            await query.answer(short(self.r.raw("notice.stale", lang)))
            return
        stale = False

        def act(session):
            nonlocal stale
            if data.rev != session.rev:
                stale = True
                return Reply(self.dialogue.view(session), changed=False)
            if data.kind == "a":
                return self.dialogue.choose(session, data.arg, data.arg2)
            if data.kind == "c":
                return self.dialogue.change(session, data.arg)
            if data.arg in ("yes", "no"):
                return self.dialogue.confirm(session, data.arg == "yes")
            if data.arg in ("keep", "take"):
                return self.dialogue.resolve(session, data.arg == "take")
            if data.arg == "change":
                return Reply(self.dialogue.view(session), changed=False)
            if data.arg == "optional":
                return self.dialogue.reopen_optional(session)
            return getattr(self.dialogue, data.arg)(session)

        session, reply = await self.run(update, act, ctx)
        notice = next((n for n in reply.notices if n.answer is None), None)
        if stale or (notice and notice.key == "notice.stale"):
            await query.answer(short(self.r.raw("notice.stale", lang)))
            await self.show(update, ctx, session, Reply(reply.view), lang, picture=False)
            return
        await query.answer(short(self.r.raw(notice.key, lang)) if notice else None)
        if data.kind == "n" and data.arg == "change" and isinstance(reply.view, ResultView):
            await self.reply(update, ctx, self.r.t("result.change_prompt", lang),
                             self.kb.change_menu(session.answers, session.rev, lang))
            return
        await self.show(update, ctx, session, reply, lang, edit=True)

    async def resume(self, update: Update, ctx: Ctx, answered: str | None = None) -> None:
        """An update whose action was committed before a crash: never apply it twice, but show the user
        where they are, since the reply may not have gone out. A typed message gets the current view.

        A press: `answered` says who answered it before the crash (the store's record, bot/tg/extbot.py).
        Its handler answers after committing and before editing, so with no answer by the handler the edit
        was not made: the press is answered now (unless the early "busy" note went out: not again) and its
        message edited to the current view, as the press would have. Answered by its handler, its edit may
        have gone out or not, which is not known: nothing is sent again (Telegram would refuse the answer,
        and an edit to the same text), and a press on a stale keyboard shows the current view."""
        if update.effective_user is None or update.effective_chat is None:
            return
        if update.callback_query is not None and answered != BY_HANDLER:
            try:                     # the user's client waits on it, in a group as in a private chat
                await update.callback_query.answer()
            except BadRequest:       # taken by Telegram in the instant before the crash, unrecorded: no edit yet
                pass
        if in_group(update):
            await self.groups.resume(update, ctx)
        elif update.message is not None:
            await self.show_current(update, ctx, await self.lang(update))
        elif update.callback_query is not None:
            session, reply = await self.current(update)
            lang = await self.lang(update)
            if answered != BY_HANDLER:
                await self.show(update, ctx, session, reply, lang, edit=True, picture=True)
            elif isinstance(reply.view, ResultView):
                # A result is two messages (its text in the pressed message, then its picture with the
                # keyboard): the crash may have come before either, and which one is not known (editing the
                # pressed message again could be refused as "not modified"). Show both anew: at worst the
                # text twice.
                await self.show_result(update, ctx, reply.view, lang, self.r.view(reply.view, lang),
                                       self.kb.for_view(reply.view, session.rev, lang))

    async def answer_late(self, update: Update) -> None:
        """A press whose handler has not answered within a moment (its chat is busy): say so at once.

        Called by the dispatcher; the handler's own answer later is dropped as already given."""
        query = update.callback_query
        known = await self.store.user(str(query.from_user.id))
        lang = known.lang if known and known.lang else telegram_lang(query.from_user.language_code)
        await query.get_bot().answer_callback_query(query.id, short(self.r.raw("notice.busy", lang)), early=True)

    async def view_button(self, update: Update, ctx: Ctx, data: cb.Callback, lang: str) -> None:
        query = update.callback_query
        if data.arg == "lang" and data.arg2 in ("zh", "en"):
            await self.conv.choose_lang(str(update.effective_user.id), data.arg2)
            lang = data.arg2
            await query.answer(short(self.r.raw("lang.set", lang)))
            await self.reply(update, ctx, self.r.t("lang.set", lang))
            await self.show_current(update, ctx, lang)
            return
        await query.answer()
        if data.arg == "compare" and data.arg2 == "text":
            await self.reply(update, ctx, self.r.compare(lang), self.kb.back_to_quiz(lang))
        elif data.arg == "compare":
            await self.show_compare(update, ctx, lang)
        elif data.arg == "faq":
            await self.reply(update, ctx, self.r.t("faq.topics", lang), self.kb.topics(lang))
        elif data.arg == "topic" and self.services.kb.topic(data.arg2):
            ids = [e.id for e in self.services.kb.entries_in(data.arg2)]
            await self.reply(update, ctx, self.r.t("faq.pick_question", lang), self.kb.entries(ids, lang))
        elif data.arg == "entry" and self.services.kb.entry(data.arg2):
            entry = self.services.kb.entry(data.arg2)
            await self.store.record("faq", str(update.effective_user.id), entry.id)
            await self.reply(update, ctx, self.r.entry(entry, lang), self.kb.entries(list(entry.related), lang))
        elif data.arg == "ask":
            await self.reply(update, ctx, self.r.t("faq.ask_prompt", lang))
        else:  # quiz, result, or an unknown view: show where the user is
            await self.show_current(update, ctx, lang)

    # -- errors -------------------------------------------------------------------------------
    async def member_status(self, update: Update, ctx: Ctx) -> None:
        """A user blocking (or unblocking) the bot in private: remember, so nobody is messaged in vain."""
        change = update.my_chat_member
        if change and change.chat.type == ChatType.PRIVATE:
            active = change.new_chat_member.status not in ("kicked", "left")
            await self.store.touch_user(str(change.from_user.id))
            await self.store.set_active(str(change.from_user.id), active)

    async def error(self, update: object, ctx: Ctx) -> None:
        """Log with context, mark blocked users inactive, tell the user something went wrong."""
        exc = ctx.error
        user = update.effective_user if isinstance(update, Update) else None
        if isinstance(exc, Forbidden):
            if user is not None:
                await self.store.set_active(str(user.id), False)
            log.info("user %s blocked the bot; marked inactive", getattr(user, "id", "?"))
            return
        log.error("error handling update %s (user %s): %s", getattr(update, "update_id", "?"),
                  getattr(user, "id", "?"), exc, exc_info=exc)
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            return
        try:
            known = await self.store.user(str(user.id)) if user else None
            lang = known.lang if known and known.lang else self.settings.default_lang
            await self.send(ctx, chat.id, self.r.t("error.generic", lang), member=user.id if user else 0)
        except Exception:  # noqa: BLE001 - the error handler must never raise
            log.warning("could not tell chat %s about the error", chat.id)
