"""The dialogue: one call per user action, returning what to show next as data (no text, no Telegram)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Protocol

from bot.engine.flow import FlowMachine
from bot.engine.parse import AnswerReader
from bot.engine.recommend import Recommendation, recommend
from bot.engine.session import Session
from bot.engine.spec import RESULT, SKIP, UNSURE, Flow, Rules, Step


class FaqAnswer(Protocol):
    """What the dialogue needs from the FAQ answerer (bot.kb.search.Answer)."""

    fallback: bool


AskFn = Callable[[str, str], FaqAnswer]

# A message that reads as a question is tried against the FAQ before being read as answers.
_QUESTION = re.compile(
    r"[?？]|吗|呢|么|谁|什么|怎么|怎样|如何|哪|是否|能不能|可不可以|要不要|多少|为什么|区别"
    r"|^(who|what|how|why|when|where|which|can|could|should|is|are|do|does|will|would)\b",
    re.IGNORECASE)


@dataclass(frozen=True)
class QuestionView:
    step: Step
    number: int            # 1-based position among the core (or optional) steps
    total: int
    core: bool
    selected: str | None   # the option chosen before, if any
    can_back: bool


@dataclass(frozen=True)
class ConfirmView:
    found: dict[str, str]  # step id -> option id, read from free text


@dataclass(frozen=True)
class ResultView:
    recommendation: Recommendation
    answers: dict[str, str]


View = QuestionView | ConfirmView | ResultView


@dataclass(frozen=True)
class Notice:
    """Something to say before the view: a UI string key, or an FAQ answer."""

    key: str
    answer: FaqAnswer | None = None
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    view: View
    notices: tuple[Notice, ...] = ()
    changed: bool = True   # False when nothing moved (the same view again)


class Dialogue:
    """Drives sessions through the questionnaire. Synchronous and pure apart from mutating the session."""

    def __init__(self, flow: Flow, rules: Rules, ask: AskFn | None = None):
        self.flow, self.rules, self.ask = flow, rules, ask
        self.machine = FlowMachine(flow)
        self.reader = AnswerReader(flow)

    # -- sessions -------------------------------------------------------------------------
    def new_session(self) -> Session:
        return Session(state=self.flow.machine["initial"], flow_version=self.flow.version)

    def restore(self, data: object) -> Session:
        return Session.from_dict(data, self.flow)

    def view(self, session: Session) -> View:
        if session.pending:
            return ConfirmView(dict(session.pending))
        if session.state == RESULT:
            return ResultView(recommend(self.flow, self.rules, session.answers), dict(session.answers))
        step = self.flow.step(session.state)
        group = self.flow.core_steps if step.core else self.flow.optional_steps
        number = next(i for i, s in enumerate(group, 1) if s.id == step.id)
        return QuestionView(step, number, len(group), step.core, session.answers.get(step.id),
                            can_back=bool(session.history))

    def _moved(self, session: Session, *notices: Notice) -> Reply:
        session.rev += 1
        return Reply(self.view(session), notices)

    def _same(self, session: Session, *notices: Notice) -> Reply:
        return Reply(self.view(session), notices, changed=False)

    # -- actions ----------------------------------------------------------------------------
    def choose(self, session: Session, step_id: str, option_id: str) -> Reply:
        """Answer the current question (a button press or a recognised typed answer)."""
        if session.pending or session.state != step_id or not self._valid(step_id, option_id):
            return self._same(session, Notice("notice.stale"))
        self._record(session, step_id, option_id)
        self.machine.advance(session)
        return self._moved(session)

    def fill(self, session: Session, answers: dict[str, str]) -> Reply:
        """Answer any questions, in any order, without being asked them one at a time (a form showing every
        core question at once). Each answer replaces an earlier one. Until every core question is answered
        the cursor moves to the first one still open; then the result comes, the optional questions not
        answered counting as skipped (`reopen_optional` asks them later). At the result, answers are changed
        in place and the result follows them."""
        if not answers or not all(self._valid(step_id, option_id) for step_id, option_id in answers.items()):
            return self._same(session, Notice("notice.stale"))
        session.pending = None
        for step in self.flow.steps:                 # in the flow's order, so `back` undoes them in that order
            if step.id in answers:
                self._record(session, step.id, answers[step.id])
        if session.state != RESULT:
            self.machine.advance(session)
            step = self.flow.step(session.state)
            if step is not None and not step.core:   # every core question is answered
                for s in self.flow.optional_steps:
                    session.answers.setdefault(s.id, SKIP)
                self.machine.goto(session, RESULT)
        return self._moved(session)

    def reopen_optional(self, session: Session) -> Reply:
        """From the result, ask the optional questions that were skipped, one at a time; the result comes
        back after the last of them."""
        skipped = [s.id for s in self.flow.optional_steps if session.answers.get(s.id) == SKIP]
        if session.state != RESULT or session.pending or not skipped:
            return self._same(session, Notice("notice.stale"))
        for step_id in skipped:
            session.answers.pop(step_id)
            if step_id in session.history:
                session.history.remove(step_id)
        self.machine.goto(session, skipped[0])
        return self._moved(session)

    def _valid(self, step_id: str, option_id: str) -> bool:
        step = self.flow.step(step_id)
        return step is not None and (option_id == UNSURE or step.option(option_id) is not None)

    def _record(self, session: Session, step_id: str, option_id: str) -> None:
        session.answers[step_id] = option_id
        if step_id in session.history:
            session.history.remove(step_id)
        session.history.append(step_id)

    def back(self, session: Session) -> Reply:
        session.pending = None
        if not session.history:
            return self._same(session, Notice("notice.no_back"))
        step_id = session.history.pop()
        session.answers.pop(step_id, None)
        self.machine.goto(session, step_id)
        self.machine.settle(session)
        return self._moved(session)

    def restart(self, session: Session) -> Reply:
        session.answers.clear()
        session.history.clear()
        session.pending = None
        self.machine.fire(session, "restart")
        return self._moved(session, Notice("notice.restarted"))

    def change(self, session: Session, step_id: str) -> Reply:
        """Go back to one question from the result; after it is answered the result comes straight back."""
        if session.state != RESULT or self.flow.step(step_id) is None:
            return self._same(session, Notice("notice.stale"))
        self.machine.goto(session, step_id)
        return self._moved(session)

    def skip(self, session: Session) -> Reply:
        """Skip an optional question."""
        step = self.flow.step(session.state)
        if session.pending or step is None or step.core:
            return self._same(session, Notice("notice.cannot_skip"))
        self._record(session, step.id, SKIP)
        self.machine.advance(session)
        return self._moved(session)

    def finish(self, session: Session) -> Reply:
        """Show the result now, skipping the optional questions not answered yet."""
        step = self.flow.step(session.state)
        if session.pending or step is None or step.core or not self.machine.fire(session, "finish"):
            return self._same(session, Notice("notice.cannot_finish"))
        for s in self.flow.optional_steps:
            session.answers.setdefault(s.id, SKIP)
        return self._moved(session)

    def confirm(self, session: Session, accept: bool) -> Reply:
        """Accept or reject the answers read from a free-text description."""
        if not session.pending:
            return self._same(session, Notice("notice.stale"))
        found, session.pending = session.pending, None
        if not accept:
            return self._moved(session, Notice("notice.confirm_rejected"))
        for step in self.flow.steps:
            if step.id in found:
                self._record(session, step.id, found[step.id])
        self.machine.advance(session)  # on to the first question still open, or the result
        return self._moved(session, Notice("notice.confirm_accepted"))

    def text(self, session: Session, text: str, lang: str) -> Reply:
        """A typed message: a command word, an answer, several answers, or a question for the FAQ."""
        command = self.reader.command(text)
        if session.pending and command in ("yes", "no"):
            return self.confirm(session, command == "yes")
        if command in ("back", "restart", "skip", "finish"):
            return getattr(self, command)(session)
        session.pending = None
        step = self.flow.step(session.state)
        if step is not None:
            option = self.reader.option(step, text)
            if option is not None:
                return self.choose(session, step.id, option.id)
        asked = self._faq(text, lang) if _QUESTION.search(text) else None
        if asked is not None and not asked.fallback:
            return self._same(session, Notice("notice.faq", asked))
        found = self.reader.extract(text)
        if step is not None and set(found) == {step.id}:
            return self.choose(session, step.id, found[step.id])
        if found:
            session.pending = found
            return self._moved(session)
        if asked is None:
            asked = self._faq(text, lang)
        if asked is not None and not asked.fallback:
            return self._same(session, Notice("notice.faq", asked))
        return self._same(session, Notice("notice.not_understood", asked))

    def _faq(self, text: str, lang: str) -> FaqAnswer | None:
        return self.ask(text, lang) if self.ask else None
