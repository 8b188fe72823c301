"""Groups: each member's questionnaire on one card, within Telegram's budget; introductions, mentions, replies.

Telegram lets a bot send or edit about 20 times a minute in one group, and edits count like new
messages. So in a group a member's questionnaire is one message, their *card*: every core question
with its options as buttons, built from the flow in dialogs/. A press is confirmed in the callback
answer, which is free ("✓ Supply: Own factory (2/4)"); the card is not edited on each press; when the
last core question is answered the card becomes the result. The card is a photo (bot/tg/photos.py):
the comparison of the two modes as its picture, the questions in its caption, the buttons below; one
editMessageMedia turns it into the member's result card with the short result as caption. Where the
member's language has no font for pictures, the card is a text message, edited the same way. From
/quiz@bot to the result that costs the group 2 messages or edits, and at most BUDGET: the third is
spent at most once, on editing the card to show typed answers, or on a result refined in private chat.
The optional questions, the full explanation and changes happen in private chat (the card's deep link,
`mv<chat>`); a result reached there is shared back onto the card.

Everything meant for a group goes through the outbox (bot/tg/outbox.py), so no update waits for the
group's budget. When a press's next step (the result, a new card) cannot be shown within BUSY_AFTER
seconds, its callback answer says so and opens the private chat (answerCallbackQuery's `url` with a
t.me/<bot>?start= link: the client opens the bot's chat, where the member taps Start to go on).

The card's bookkeeping is the session's `meta`, committed with the turn that changes it:
    card   the card's number (the revision it was made at): buttons of older cards are stale
    m      the card's message id, once a press or reply has shown it
    n      group messages or edits this questionnaire has cost so far
    moved  the questionnaire went on in private chat
and in a private session, `back` = {c: group chat id, k: card number}: where to share the result.
"""
from __future__ import annotations

import re

from telegram import MessageEntity, Update
from telegram.constants import ChatMemberStatus

from bot.conversation import LANG_HINT
from bot.engine.dialogue import Reply, ResultView
from bot.engine.session import Session
from bot.engine.spec import RESULT
from bot.kb.lang import written_lang
from bot.tg import callbacks as cb
from bot.tg.handlers import Ctx, Handlers
from bot.tg.outbox import Job
from bot.tg.photos import fits_caption
from bot.tg.render import short

ADDED = {ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR}
GONE = {ChatMemberStatus.LEFT, ChatMemberStatus.BANNED}
BUDGET = 3            # group messages or edits per member questionnaire, /quiz@bot to the result
BUSY_AFTER = 2.0      # seconds: a next step slower than this is announced in the callback answer


def addressed_text(update: Update, bot_username: str | None, bot_id: int) -> str | None:
    """The text of a group message meant for the bot (mention removed), or None when it is not."""
    message = update.effective_message
    if message is None or not message.text:
        return None
    reply = message.reply_to_message
    if reply is not None and reply.from_user is not None and reply.from_user.id == bot_id:
        return message.text
    if not bot_username:
        return None
    mention = f"@{bot_username}".lower()
    for entity, value in message.parse_entities([MessageEntity.MENTION]).items():
        if value.lower() == mention:
            return re.sub(re.escape(value), " ", message.text, count=1, flags=re.IGNORECASE).strip()
    return None


def new_card(session: Session, spent: int) -> None:
    """Start a new card for the session's questionnaire: older cards' buttons become stale."""
    session.meta = {"card": session.rev, "n": spent}


def is_open(session: Session) -> bool:
    """A questionnaire in progress on a card in this group (not finished, not moved to private)."""
    return session.state != RESULT and not session.meta.get("moved")


class GroupHandlers:
    def __init__(self, h: Handlers):
        self.h = h
        h.groups = self

    # -- showing a card -----------------------------------------------------------------------
    def render(self, update: Update, ctx: Ctx, session: Session, lang: str, note: str | None = None) -> tuple:
        """The member's card as the session stands: the questions, or the result once it is there; with its
        picture (the comparison card while the questions are open, the result card after), or None."""
        h, user, chat_id = self.h, update.effective_user, update.effective_chat.id
        name = user.first_name or ""
        number = session.meta.get("card", session.rev)
        if session.state == RESULT:
            return self.result_content(ctx, user.id, name, chat_id, session, lang)
        text = h.r.group_card(name, session.answers, lang, note)
        picture = h.photos.compare(lang, ctx.bot.username) if fits_caption(text) else None
        return text, h.kb.group_card(number, session.answers, lang, user.id, h.link(ctx, f"mv{chat_id}")), picture

    def result_content(self, ctx: Ctx, user_id: int, name: str, chat_id: int, session: Session, lang: str) -> tuple:
        """A member's result on their card: text (the caption under the result card), buttons, picture."""
        h = self.h
        view = h.dialogue.view(session)
        text = h.r.group_result_caption(name, view, lang)
        picture = h.photos.result(view.recommendation, lang, ctx.bot.username) if fits_caption(text) else None
        return text, h.kb.group_result(session.rev, lang, user_id, h.link(ctx, f"mv{chat_id}")), picture

    def post_card(self, update: Update, ctx: Ctx, session: Session, lang: str, note: str | None = None,
                  message_id: int | None = None, new: bool = False, on_photo: bool | None = None) -> None:
        """Queue the member's card for the group: edits the card's message, or sends it when new or unknown.
        `on_photo`: whether that message is a photo, when known (from the pressed or replied-to message)."""
        text, markup, picture = self.render(update, ctx, session, lang, note)
        user = update.effective_user
        slot = ("card", user.id, session.meta.get("card"))
        message_id = None if new else message_id or session.meta.get("m")
        self.h.outbox.post(ctx.application, update.effective_chat.id,
                           Job(user.id, text, markup, slot, message_id, new, picture, on_photo))

    def eta(self, update: Update, ctx: Ctx) -> float:
        return self.h.outbox.eta(ctx.bot, update.effective_chat.id, update.effective_user.id)

    async def quiz(self, update: Update, ctx: Ctx, restart: bool) -> None:
        """/quiz@bot: a new card with a new questionnaire; /start@bot (and the like): the card again."""
        h = self.h
        lang = await h.lang(update)
        restart = restart and await h.store.load_session(h.key(update)) is not None

        def act(session: Session) -> Reply:
            reply = h.dialogue.restart(session) if restart else Reply(h.dialogue.view(session), changed=False)
            if restart or "card" not in session.meta or session.meta.get("moved"):
                new_card(session, spent=1)
            session.meta.pop("m", None)                 # the card moves to the message sent now
            return reply

        session, _ = await h.run(update, act)
        self.post_card(update, ctx, session, lang, new=True)

    async def back(self, update: Update, ctx: Ctx) -> None:
        """/back@bot: on a card every question is always there; say how to change an answer."""
        await self.h.reply(update, ctx, self.h.r.t("group.back_hint", await self.h.lang(update)))

    async def result(self, update: Update, ctx: Ctx) -> None:
        """/result@bot: the member's result here (or their card, while it is not finished)."""
        await self.quiz(update, ctx, restart=False)

    # -- presses ------------------------------------------------------------------------------
    async def press(self, update: Update, ctx: Ctx, data: cb.Callback, lang: str) -> None:
        """A button of a card: answer one question. Confirmed in the callback answer; the card is edited
        only when the result is there."""
        h, query = self.h, update.callback_query
        if await h.store.load_session(h.key(update)) is None:
            await query.answer(short(h.r.raw("group.stale_card", lang)))
            return
        seen: dict[str, object] = {}

        def act(session: Session) -> Reply:
            same = Reply(h.dialogue.view(session), changed=False)
            if session.meta.get("card") != data.rev:
                seen["outcome"] = "stale"
                return same
            session.meta["m"] = query.message.message_id
            if session.meta.get("moved"):
                seen["outcome"] = "moved"
            elif not data.arg2:
                seen["outcome"] = "question"
            elif session.state == RESULT:
                seen["outcome"] = "shown"           # the card is behind its session (a crash lost the edit)
            else:
                reply = h.dialogue.fill(session, {data.arg: data.arg2})
                if reply.changed and isinstance(reply.view, ResultView):
                    session.meta["n"] = session.meta.get("n", 0) + 1
                seen["outcome"] = "answered" if reply.changed else "stale"
                return reply
            return same

        session, reply = await h.run(update, act)
        outcome, message_id = seen.get("outcome"), query.message.message_id
        on_photo = bool(getattr(query.message, "photo", None))
        if outcome == "stale":
            await query.answer(short(h.r.raw("group.stale_card", lang)))
        elif outcome == "moved":
            await query.answer(short(h.r.raw("group.moved_away", lang)), url=h.link(ctx, "quiz"))
        elif outcome == "question":
            await query.answer(short(self.question_tip(data.arg, session, lang)), show_alert=True)
        elif outcome == "shown":
            self.post_card(update, ctx, session, lang, message_id=message_id, on_photo=on_photo)
            await query.answer(short(h.r.raw("group.ack_result", lang)))
        elif isinstance(reply.view, ResultView):
            self.post_card(update, ctx, session, lang, message_id=message_id, on_photo=on_photo)
            await self.answer_result(update, ctx, data, lang)
        else:
            core = h.services.flow.core_steps
            done = sum(1 for s in core if s.id in session.answers)
            await query.answer(short(h.r.raw("group.ack", lang, **self.picked(data, lang), n=done, total=len(core))))

    def picked(self, data: cb.Callback, lang: str) -> dict[str, str]:
        step = self.h.services.flow.step(data.arg)
        return {"factor": step.title(lang), "answer": self.h.r.option_label(data.arg, data.arg2, lang)}

    def question_tip(self, step_id: str, session: Session, lang: str) -> str:
        """A card's question title pressed: the whole question, and the member's answer to it."""
        step = self.h.services.flow.step(step_id)
        if step is None:
            return self.h.r.raw("group.stale_card", lang)
        tip = step.prompt(lang)
        if step.id in session.answers:
            tip += "\n" + self.h.r.raw("question.previous", lang,
                                       answer=self.h.r.option_label(step.id, session.answers[step.id], lang))
        return tip

    async def answer_result(self, update: Update, ctx: Ctx, data: cb.Callback, lang: str) -> None:
        """The last answer: the result is queued; say when it shows, and offer private chat if that is late."""
        h, query = self.h, update.callback_query
        total = len(h.services.flow.core_steps)
        wait = self.eta(update, ctx)
        if wait > BUSY_AFTER:
            await query.answer(short(h.r.raw("group.ack_busy", lang, **self.picked(data, lang), seconds=round(wait))),
                               url=h.link(ctx, f"mv{update.effective_chat.id}"))
        else:
            await query.answer(short(h.r.raw("group.ack_done", lang, **self.picked(data, lang), total=total)))

    async def nav(self, update: Update, ctx: Ctx, data: cb.Callback, lang: str) -> None:
        """A dialogue button in a group outside a card: "restart" on a result starts a new card; buttons
        of the one-question-at-a-time messages of before are stale."""
        h, query = self.h, update.callback_query
        if data.kind != "n" or data.arg != "restart":
            await query.answer(short(h.r.raw("notice.stale", lang)))
            await self.quiz(update, ctx, restart=False)
            return
        seen: dict[str, bool] = {}

        def act(session: Session) -> Reply:
            if data.rev != session.rev:
                return Reply(h.dialogue.view(session), changed=False)
            seen["restarted"] = True
            reply = h.dialogue.restart(session)
            new_card(session, spent=1)
            return reply

        session, _ = await h.run(update, act)
        if not seen:
            await query.answer(short(h.r.raw("group.stale_card", lang)))
            return
        self.post_card(update, ctx, session, lang, new=True)
        wait = self.eta(update, ctx)
        if wait > BUSY_AFTER:
            await query.answer(short(h.r.raw("group.restart_busy", lang, seconds=round(wait))),
                               url=h.link(ctx, f"mv{update.effective_chat.id}"))
        else:
            await query.answer(short(h.r.raw("notice.restarted", lang)))

    # -- typed answers (mentions and replies) ----------------------------------------------------
    async def typed(self, update: Update, ctx: Ctx, text: str, lang: str, hint: str | None = None) -> None:
        """A mention or reply with text, while the member's card is open: read it like in private; answers
        found are taken at once (the card shows them, no confirmation round). The card is edited to show
        them at most once; the result always comes. `hint` (how to switch the language back, said once)
        goes with whatever this message is answered with: no group message is spent on it alone."""
        h = self.h
        seen: dict[str, object] = {}

        def act(session: Session) -> Reply:
            fresh = "card" not in session.meta          # a questionnaire from before cards: give it one
            if fresh:
                new_card(session, spent=0)
            before = dict(session.answers)
            reply = h.dialogue.text(session, text, written_lang(text, h.services.kb.neutral_words) or lang)
            if any(n.key == "notice.restarted" for n in reply.notices):
                new_card(session, spent=0)
                fresh = True
            else:
                taken = dict(session.pending or {}, **(session.conflicts or {}))
                if taken:                               # answers read (or changed): the card shows them, no confirming
                    reply = Reply(h.dialogue.fill(session, taken).view, reply.notices)
                step = h.services.flow.step(session.state)
                if step is not None and not step.core:  # every core question answered: on a card, the result
                    reply = h.dialogue.finish(session)
            read = before != session.answers
            faq = any(n.answer is not None and not n.answer.fallback for n in reply.notices)
            spent = session.meta.get("n", 0)
            if fresh or (read and session.state == RESULT) or (spent < BUDGET - 1 and not faq):
                seen.update(show=True, new=fresh, read=read)
                session.meta["n"] = spent + 1
            return reply

        session, reply = await h.run(update, act)
        faq = next((n.answer for n in reply.notices if n.answer is not None and not n.answer.fallback), None)
        if faq is not None:
            await h.reply(update, ctx, "\n\n".join(filter(None, (h.r.faq_answer(faq), hint))))
            hint = None
        if seen.get("show"):
            note = None
            if session.state != RESULT and not seen["new"]:
                note = h.r.t("group.card_read", lang) if seen["read"] else \
                    h.r.t("group.card_unread", lang, text=short(text, 60))
            note = "\n".join(filter(None, (note, hint))) or None
            self.post_card(update, ctx, session, lang, note=note, new=seen["new"])

    # -- the private chat ------------------------------------------------------------------------
    async def move_to_private(self, update: Update, ctx: Ctx, group_id: int, lang: str) -> bool:
        """`/start mv<group>` in private: the member's questionnaire from that group goes on here. Unfinished,
        it goes on one question at a time and its result is shared back onto the card; finished, the full
        result shows, with the optional questions offered."""
        h, user = self.h, update.effective_user
        group_key = h.key(update, group_id)
        if await h.store.load_session(group_key) is None:
            return False
        taken: dict[str, dict] = {}

        def leave(session: Session) -> Reply:
            taken["data"] = session.to_dict()
            if is_open(session):
                session.meta["moved"] = 1
            return Reply(h.dialogue.view(session), changed=False)

        await h.conv.run(group_key, str(user.id), leave)
        group = h.dialogue.restore(taken["data"])

        def adopt(session: Session) -> Reply:
            session.state, session.answers, session.history = group.state, dict(group.answers), list(group.history)
            session.pending, session.rev = group.pending, max(session.rev, group.rev) + 1
            session.meta = {"back": {"c": group_id, "k": group.meta.get("card")}}
            return Reply(h.dialogue.view(session), changed=False)   # a copy: nothing newly answered

        session, reply = await h.run(update, adopt)
        intro = h.r.t("group.from_group" if session.state == RESULT else "group.moved", lang)
        await h.show(update, ctx, session, reply, lang, intro=intro)
        return True

    async def share_back(self, ctx: Ctx, update: Update, back: dict, session: Session) -> bool:
        """A result reached in private for a questionnaire begun in a group: onto the member's card there
        (the first result always; a later, refined one while the budget lasts). True when it goes."""
        h, user = self.h, update.effective_user
        chat_id = back.get("c")
        if not isinstance(chat_id, int):
            return False
        shared: dict[str, Session] = {}

        def act(group: Session) -> Reply:
            spent = group.meta.get("n", 0)
            if group.meta.get("card") != back.get("k") or (group.state == RESULT and spent >= BUDGET):
                return Reply(h.dialogue.view(group), changed=False)
            group.state, group.answers, group.history = RESULT, dict(session.answers), list(session.history)
            group.pending, group.rev = None, group.rev + 1
            group.meta["n"] = spent + 1
            shared["group"] = group
            return Reply(h.dialogue.view(group), changed=False)   # the private turn recorded the result

        await h.conv.run(f"{user.id}:{chat_id}", str(user.id), act)
        group = shared.get("group")
        if group is None:
            return False
        lang = await h.lang(update)
        text, markup, picture = self.result_content(ctx, user.id, user.first_name or "", chat_id, group, lang)
        h.outbox.post(ctx.application, chat_id, Job(user.id, text, markup, ("card", user.id, group.meta.get("card")),
                                                    group.meta.get("m"), photo=picture))
        return True

    async def resume(self, update: Update, ctx: Ctx) -> None:
        """An update applied before a restart, its rendering maybe lost: render the member's card again."""
        h = self.h
        data = await h.store.load_session(h.key(update))
        if data is None:
            return
        session = h.dialogue.restore(data)
        query = update.callback_query
        if query is not None:
            if session.state == RESULT and query.message is not None:
                self.post_card(update, ctx, session, await h.lang(update), message_id=query.message.message_id,
                               on_photo=bool(getattr(query.message, "photo", None)))
            return
        self.post_card(update, ctx, session, await h.lang(update))

    # -- the group itself ------------------------------------------------------------------------
    async def member_change(self, update: Update, ctx: Ctx) -> None:
        """The bot added to a group: introduce itself once, briefly. Removed: remember it."""
        change = update.my_chat_member
        if change is None:
            return
        if change.chat.type == "private":
            await self.h.member_status(update, ctx)
            return
        if change.chat.type == "channel":
            return
        old, new = change.old_chat_member.status, change.new_chat_member.status
        chat_id = str(change.chat.id)
        if new in ADDED and old in GONE:
            await self.h.store.set_group(chat_id, change.chat.title or "", True)
            lang = await self.h.lang(update)
            await self.h.reply(update, ctx, self.h.r.t("group.intro", lang, bot=ctx.bot.username or ""))
        elif new in GONE:
            await self.h.store.set_group(chat_id, change.chat.title or "", False)

    async def message(self, update: Update, ctx: Ctx) -> None:
        """A mention or a reply to the bot: an answer on the member's open card, else an FAQ answer."""
        text = addressed_text(update, ctx.bot.username, ctx.bot.id)
        if text is None:
            return
        h = self.h
        lang = await h.lang(update)
        if not text.strip():
            await h.reply(update, ctx, h.r.t("group.intro", lang, bot=ctx.bot.username or ""))
            return
        switch = await h.conv.follow_lang(str(update.effective_user.id), lang,
                                          written_lang(text, h.services.kb.neutral_words))
        if switch is not None:
            lang = switch.lang          # the member's card follows the member
        hint = h.r.t(LANG_HINT, lang) if switch is not None and switch.hint else None
        saved = await h.store.load_session(h.key(update))
        if saved is not None and is_open(h.dialogue.restore(saved)):
            await self.typed(update, ctx, text, lang, hint)
            return
        answer = h.services.answerer.ask(text, lang)
        await h.conv.record_answer(answer, str(update.effective_user.id))
        markup = h.suggestions(answer) if answer.fallback else h.kb.take_the_test(answer.lang, h.link(ctx, "src_group"))
        await h.reply(update, ctx, "\n\n".join(filter(None, (h.r.faq_answer(answer), hint))), markup)

    async def addressed_command(self, update: Update, ctx: Ctx) -> None:
        """`/unknown@thisbot` in a group: say it is unknown; commands for other bots are left alone."""
        text = update.effective_message.text or ""
        target = text.split()[0].split("@", 1)[1] if "@" in text.split()[0] else ""
        if ctx.bot.username and target.lower() == ctx.bot.username.lower():
            await self.h.unknown_command(update, ctx)
