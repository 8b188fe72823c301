"""One user action end to end, for any channel: load the session, run the engine, commit, record events."""
from __future__ import annotations

from typing import Callable

from bot.content.review import for_review
from bot.engine.dialogue import Reply, ResultView
from bot.engine.session import Session
from bot.services import Services
from bot.store import Event, Store, Turn

Action = Callable[[Session], Reply]


class Conversations:
    def __init__(self, services: Services, store: Store):
        self.services, self.store = services, store

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
