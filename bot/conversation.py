"""One user action end to end, for any channel: load the session, run the engine, commit, record events;
and the user's interface language, which follows the language they write in (docs/language.md)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from bot.content.review import for_review
from bot.engine.dialogue import Notice, Reply, ResultView
from bot.engine.session import Session
from bot.services import Services
from bot.store import Event, Store, Turn

Action = Callable[[Session], Reply]

# The interface follows the language a seller writes in (docs/language.md). Per user, beside their
# sessions in the store, under LANG_KEY: {"by": FOLLOWED or CHOSEN, "hint": 1 once told how to switch
# back}. The language itself is the user's `lang` in the store, marked fixed (so that the Telegram
# client's language no longer replaces it); with no record, a fixed language was chosen with /lang.
LANG_KEY = "lang:{}"
FOLLOWED, CHOSEN = "message", "choice"
LANG_HINT = "lang.followed"          # the UI string saying how to switch back


@dataclass(frozen=True)
class LangSwitch:
    """The interface language changed to follow a message."""

    lang: str
    hint: bool          # the user's first switch: say (once) how to switch back


def with_hint(reply: Reply, switch: LangSwitch | None) -> Reply:
    """The reply with the one-time "how to switch back" notice first, when the switch calls for it."""
    if switch is None or not switch.hint:
        return reply
    return replace(reply, notices=(Notice(LANG_HINT),) + reply.notices)


class Conversations:
    def __init__(self, services: Services, store: Store):
        self.services, self.store = services, store

    # -- the interface language ----------------------------------------------------------------
    async def follow_lang(self, user_id: str, current: str, written: str | None) -> LangSwitch | None:
        """Switch the user's interface to `written`, the language their message evidently is in
        (bot.kb.lang.written_lang), when that is the other one and they have not chosen a language with
        /lang; None when nothing changes. A message that shows no language (None: no letters, "ok", a
        number, an amount, a platform name) changes nothing, and costs no store access."""
        if written is None or written == current:
            return None
        key = LANG_KEY.format(user_id)
        user = await self.store.user(user_id)
        record = await self.store.load_session(key) or {}
        if record.get("by") == CHOSEN or (user is not None and user.lang_fixed and record.get("by") != FOLLOWED):
            return None                 # chosen with /lang: only /lang changes it
        # The record first: a crash between the two writes must not leave a fixed language without it,
        # which would read as a /lang choice and stop the following.
        await self.store.save_session(key, {"by": FOLLOWED, "hint": 1})
        await self.store.set_lang(user_id, written)
        return LangSwitch(written, hint=not record.get("hint"))

    async def choose_lang(self, user_id: str, lang: str) -> None:
        """An explicit choice (/lang): it sticks until the next choice; messages no longer switch it."""
        await self.store.save_session(LANG_KEY.format(user_id), {"by": CHOSEN, "hint": 1})
        await self.store.set_lang(user_id, lang)

    async def run(self, key: str, user_id: str, action: Action, update_id: int | None = None
                  ) -> tuple[Session, Reply]:
        """Apply one action and commit everything it changed, in one transaction, before the caller replies.

        `update_id` (the Telegram update behind the action) is marked handled in the same transaction.
        """
        data = await self.store.load_session(key)
        turn = Turn(key, {}, update_id=update_id)
        if data is None:
            turn.events.append(Event("quiz_started", user_id))
            session = self.services.dialogue.new_session()
        else:
            session = self.services.dialogue.restore(data)
        before = dict(session.answers)
        on_screen = session.state if self.services.flow.step(session.state) is not None else None
        reply = action(session)
        if any(n.key == "notice.restarted" for n in reply.notices):
            turn.events.append(Event("quiz_started", user_id))
        for notice in reply.notices:
            if notice.answer is not None:
                typed_at = on_screen if notice.key == "notice.not_understood" else None
                self._count_answer(turn, notice.answer, user_id, typed_at)
        if reply.changed and isinstance(reply.view, ResultView) and before != session.answers:
            rec = reply.view.recommendation
            turn.result = (user_id, rec.mode, rec.borderline, dict(session.answers))
            turn.events.append(Event("quiz_completed", user_id, rec.mode))
        turn.session = session.to_dict()
        await self.store.commit_turn(turn)
        return session, reply

    def _count_answer(self, turn: Turn, answer, user_id: str | None, typed_at: str | None = None) -> None:
        """An answered FAQ entry counts as an event; a question it could not answer (or answered below
        the confidence line) and a typed answer not understood are kept for review (bot.content.review)."""
        if not (answer.fallback or answer.entry is None):
            turn.events.append(Event("faq", user_id, answer.entry.id))
        item = for_review(answer, user_id, typed_at, self.services.dialogue.nlu)
        if item is not None:
            turn.unanswered.append(item)

    async def record_answer(self, answer, user_id: str | None) -> None:
        """The same counting for an FAQ answer given outside a dialogue turn (group mentions)."""
        if not (answer.fallback or answer.entry is None):
            await self.store.record("faq", user_id, answer.entry.id)
        item = for_review(answer, user_id)
        if item is not None:
            await self.store.record_unanswered(item.text, item.lang, item.nearest, item.user_id, item)
