"""One user action end to end, for any channel: load the session, run the engine, save, record events."""
from __future__ import annotations

from typing import Callable

from bot.engine.dialogue import Reply, ResultView
from bot.engine.session import Session
from bot.services import Services
from bot.store import Store

Action = Callable[[Session], Reply]


class Conversations:
    def __init__(self, services: Services, store: Store):
        self.services, self.store = services, store

    def session(self, key: str, user_id: str) -> Session:
        """The saved session, or a new one (counted as a started quiz)."""
        data = self.store.load_session(key)
        if data is None:
            self.store.record("quiz_started", user_id)
            return self.services.dialogue.new_session()
        return self.services.dialogue.restore(data)

    def run(self, key: str, user_id: str, action: Action) -> tuple[Session, Reply]:
        """Apply one action and persist everything it changed before the caller replies."""
        session = self.session(key, user_id)
        before = dict(session.answers)
        reply = action(session)
        if any(n.key == "notice.restarted" for n in reply.notices):
            self.store.record("quiz_started", user_id)
        for notice in reply.notices:
            if notice.answer is not None:
                self.record_answer(notice.answer, user_id)
        if reply.changed and isinstance(reply.view, ResultView) and before != session.answers:
            rec = reply.view.recommendation
            self.store.save_result(user_id, rec.mode, rec.borderline, session.answers)
            self.store.record("quiz_completed", user_id, rec.mode)
        self.store.save_session(key, session.to_dict())
        return session, reply

    def record_answer(self, answer, user_id: str | None) -> None:
        """Count answered FAQ entries; keep unanswered questions so the content can be improved."""
        if answer.fallback or answer.entry is None:
            if answer.query.strip():
                nearest = answer.suggestions[0].id if answer.suggestions else None
                self.store.record_unanswered(answer.query, answer.lang, nearest, user_id)
        else:
            self.store.record("faq", user_id, answer.entry.id)
