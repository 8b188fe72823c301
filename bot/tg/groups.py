"""Group-aware behaviour: a short introduction when added, and answers to mentions and replies.

With privacy mode on the bot only sees commands, mentions of it and replies to its messages, so
that is all it answers; the group is never spammed with unrequested messages.
"""
from __future__ import annotations

import re

from telegram import MessageEntity, Update
from telegram.constants import ChatMemberStatus

from bot.engine.spec import RESULT
from bot.tg.handlers import Ctx, Handlers

ADDED = {ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR}
GONE = {ChatMemberStatus.LEFT, ChatMemberStatus.BANNED}


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


class GroupHandlers:
    def __init__(self, h: Handlers):
        self.h = h

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
            await self.h.send(ctx, change.chat.id, self.h.r.t("group.intro", lang, bot=ctx.bot.username or ""))
        elif new in GONE:
            await self.h.store.set_group(chat_id, change.chat.title or "", False)

    async def message(self, update: Update, ctx: Ctx) -> None:
        """A mention or a reply to the bot: an answer in the member's own questionnaire, else the FAQ."""
        text = addressed_text(update, ctx.bot.username, ctx.bot.id)
        if text is None:
            return
        h = self.h
        lang = await h.lang(update)
        if not text.strip():
            await h.send(ctx, update.effective_chat.id, h.r.t("group.intro", lang, bot=ctx.bot.username or ""))
            return
        saved = await h.store.load_session(h.key(update))
        if saved is not None and h.dialogue.restore(saved).state != RESULT:
            await h.text(update, ctx, text)      # the member's questionnaire in this group goes on
            return
        answer = h.services.answerer.ask(text, lang)
        await h.conv.record_answer(answer, str(update.effective_user.id))
        markup = h.suggestions(answer) if answer.fallback else h.kb.take_the_test(answer.lang, h.link(ctx, "src_group"))
        await h.send(ctx, update.effective_chat.id, h.r.faq_answer(answer), markup)

    async def addressed_command(self, update: Update, ctx: Ctx) -> None:
        """`/unknown@thisbot` in a group: say it is unknown; commands for other bots are left alone."""
        text = update.effective_message.text or ""
        target = text.split()[0].split("@", 1)[1] if "@" in text.split()[0] else ""
        if ctx.bot.username and target.lower() == ctx.bot.username.lower():
            await self.h.unknown_command(update, ctx)
