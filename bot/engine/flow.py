"""The questionnaire's state machine: one shared transitions.Machine per flow, models added per event.

The standard one-machine-per-model setup costs too much with thousands of users (transitions
FAQ, issue #146), so a user is only a small Session; for each event a throwaway cursor is added
to the shared machine, triggered and removed.
"""
from __future__ import annotations


from transitions import Machine

from bot.engine.conditions import CONDITIONS
from bot.engine.session import Session
from bot.engine.spec import RESULT, Flow


def first_missing_core(flow: Flow, session: Session) -> str | None:
    return next((s.id for s in flow.core_steps if s.id not in session.answers), None)


class _Cursor:
    """The model the machine moves: a state plus the session and flow its conditions read."""

    def __init__(self, session: Session, flow: Flow):
        self.state = session.state
        self._session, self._flow = session, flow

    def __getattr__(self, name: str):
        if name in CONDITIONS:
            return lambda *args, **kwargs: CONDITIONS[name](self._session, self._flow)
        raise AttributeError(name)


class FlowMachine:
    """Moves sessions through one flow's states."""

    def __init__(self, flow: Flow):
        self.flow = flow
        self.order = {state: i for i, state in enumerate(flow.machine["states"])}
        self.machine = Machine(model=None, auto_transitions=True, ignore_invalid_triggers=True,
                               model_override=False, **flow.machine)

    def fire(self, session: Session, trigger: str) -> bool:
        """Run one trigger for a session; True when the state changed or the trigger was accepted."""
        cursor = _Cursor(session, self.flow)
        self.machine.add_model(cursor, initial=session.state)
        try:
            accepted = bool(cursor.trigger(trigger))
        finally:
            self.machine.remove_model(cursor)
        session.state = cursor.state
        return accepted

    def advance(self, session: Session) -> None:
        """`next` until the state is a question not yet answered, or the result.

        A core question still open earlier in the flow (answers can arrive out of order, from a
        one-message description or after `back`) is never left behind: the flow returns to it.
        """
        while session.state != RESULT and session.state in session.answers:
            if not self.fire(session, "next"):
                break
        missing = first_missing_core(self.flow, session)
        if missing is not None and (session.state == RESULT or self.order[session.state] > self.order[missing]):
            self.goto(session, missing)

    def settle(self, session: Session) -> None:
        """The result and the optional questions only come once every core question is answered."""
        missing = first_missing_core(self.flow, session)
        step = self.flow.step(session.state)
        if missing is not None and (step is None or not step.core):
            self.goto(session, missing)

    def goto(self, session: Session, state: str) -> None:
        self.fire(session, f"to_{state}")

    def triggers(self, state: str) -> list[str]:
        return [t for t in self.machine.get_triggers(state) if not t.startswith("to_")]
