"""The dialogue: one call per user action, returning what to show next as data (no text, no Telegram)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

from bot.engine.flow import FlowMachine
from bot.engine.recommend import Recommendation, recommend
from bot.engine.session import ADVICE, CONFIRM, Session
from bot.engine.spec import RESULT, SKIP, UNSURE, Flow, Rules, Step
from bot.nlu.understand import Reading, Understanding

# A statement (no question asked) that answers nothing while a question is on screen is taken as an FAQ
# question only when the FAQ reading is this sure; below it, it was an answer the bot did not understand
# ("we mostly just resell stuff from 1688 wholesalers" at the supply question is not "can a middleman do
# full-managed?"): asked again, and kept for review. A statement is never answered with a choosing entry
# ("which mode suits a factory" for "我们有自己的工厂"): it asked nothing, and its facts are what the step reads.
STATEMENT_FAQ_MIN = 0.5


class FaqAnswer(Protocol):
    """What the dialogue needs from an FAQ answer (bot.nlu.answer.Answer)."""

    fallback: bool


class Answerer(Protocol):
    def answer(self, reading: Reading) -> FaqAnswer: ...


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
    found: dict[str, str]                              # step id -> option id, read from free text
    amounts: dict[str, int] = field(default_factory=dict)   # step id -> the amount (CNY) it was read from
    earlier: dict[str, str] = field(default_factory=dict)   # step id -> the answer it replaces, if any


@dataclass(frozen=True)
class ConflictView:
    """A message contradicts an earlier answer: which one holds?"""

    step: str
    earlier: str
    new: str
    amount: int | None = None


@dataclass(frozen=True)
class AdviceView:
    """A provisional recommendation from what an advice question stated, with what is still unknown."""

    recommendation: Recommendation
    stated: dict[str, str]         # what the question said (step -> option)
    basis: dict[str, str]          # everything the recommendation used (earlier answers + stated)
    unknown: tuple[str, ...]       # core steps nobody has answered yet
    amounts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ResultView:
    recommendation: Recommendation
    answers: dict[str, str]


View = QuestionView | ConfirmView | ConflictView | AdviceView | ResultView


@dataclass(frozen=True)
class Notice:
    """Something to say before the view: a UI string key, or an FAQ answer."""

    key: str
    answer: FaqAnswer | None = None
    values: dict[str, str] = field(default_factory=dict)
    amount: int | None = None      # notice.amount_read: the amount read
    step: str | None = None        # ...and the step and level it was read as
    level: str | None = None


@dataclass(frozen=True)
class Reply:
    view: View
    notices: tuple[Notice, ...] = ()
    changed: bool = True   # False when nothing moved (the same view again)
    lang: str | None = None   # a read-back is shown in the language of the message (`text`'s `lang`)


class Dialogue:
    """Drives sessions through the questionnaire. Synchronous and pure apart from mutating the session."""

    def __init__(self, flow: Flow, rules: Rules, nlu: Understanding | None = None, answerer: Answerer | None = None):
        self.flow, self.rules, self.nlu, self.answerer = flow, rules, nlu, answerer
        self.machine = FlowMachine(flow)

    # -- sessions -------------------------------------------------------------------------
    def new_session(self) -> Session:
        return Session(state=self.flow.machine["initial"], flow_version=self.flow.version)

    def restore(self, data: object) -> Session:
        return Session.from_dict(data, self.flow)

    def view(self, session: Session) -> View:
        if session.conflicts:
            step_id = next(s.id for s in self.flow.steps if s.id in session.conflicts)
            return ConflictView(step_id, session.answers.get(step_id, UNSURE), session.conflicts[step_id],
                                session.amounts.get(step_id))
        if session.pending is not None and session.kind == ADVICE:
            return self._advice_view(session)
        if session.pending:
            earlier = {s: session.answers[s] for s in session.pending if s in session.answers}
            return ConfirmView(dict(session.pending), dict(session.amounts), earlier)
        if session.state == RESULT:
            return ResultView(recommend(self.flow, self.rules, session.answers), dict(session.answers))
        step = self.flow.step(session.state)
        group = self.flow.core_steps if step.core else self.flow.optional_steps
        number = next(i for i, s in enumerate(group, 1) if s.id == step.id)
        return QuestionView(step, number, len(group), step.core, session.answers.get(step.id),
                            can_back=bool(session.history))

    def _advice_view(self, session: Session) -> AdviceView:
        stated = dict(session.pending or {})
        basis = {s: o for s, o in session.answers.items() if o != SKIP}
        basis.update(stated)
        unknown = tuple(s.id for s in self.flow.core_steps if s.id not in basis)
        return AdviceView(recommend(self.flow, self.rules, basis), stated, basis, unknown, dict(session.amounts))

    def _moved(self, session: Session, *notices: Notice) -> Reply:
        session.rev += 1
        return Reply(self.view(session), notices)

    def _same(self, session: Session, *notices: Notice) -> Reply:
        return Reply(self.view(session), notices, changed=False)

    # -- actions ----------------------------------------------------------------------------
    def choose(self, session: Session, step_id: str, option_id: str) -> Reply:
        """Answer the current question (a button press or a recognised typed answer)."""
        if session.pending is not None or session.conflicts or session.state != step_id or not self._valid(step_id, option_id):
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
        session.clear_pending()
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
        if session.state != RESULT or session.pending is not None or session.conflicts or not skipped:
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
        session.clear_pending()
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
        session.clear_pending()
        self.machine.fire(session, "restart")
        return self._moved(session, Notice("notice.restarted"))

    def change(self, session: Session, step_id: str) -> Reply:
        """Go back to one question from the result; after it is answered the result comes straight back."""
        if session.state != RESULT or self.flow.step(step_id) is None or session.pending is not None or session.conflicts:
            return self._same(session, Notice("notice.stale"))
        self.machine.goto(session, step_id)
        return self._moved(session)

    def skip(self, session: Session) -> Reply:
        """Skip an optional question."""
        step = self.flow.step(session.state)
        if session.pending is not None or session.conflicts or step is None or step.core:
            return self._same(session, Notice("notice.cannot_skip"))
        self._record(session, step.id, SKIP)
        self.machine.advance(session)
        return self._moved(session)

    def finish(self, session: Session) -> Reply:
        """Show the result now, skipping the optional questions not answered yet."""
        step = self.flow.step(session.state)
        if session.pending is not None or session.conflicts or step is None or step.core \
                or not self.machine.fire(session, "finish"):
            return self._same(session, Notice("notice.cannot_finish"))
        for s in self.flow.optional_steps:
            session.answers.setdefault(s.id, SKIP)
        return self._moved(session)

    def confirm(self, session: Session, accept: bool) -> Reply:
        """Accept or reject the answers read from a description (or stated in an advice question)."""
        if session.pending is None or session.conflicts:
            return self._same(session, Notice("notice.stale"))
        found, kind = session.pending, session.kind
        session.clear_pending()
        if not accept:
            return self._moved(session, Notice("notice.advice_declined" if kind == ADVICE else "notice.confirm_rejected"))
        for step in self.flow.steps:
            if step.id in found:
                self._record(session, step.id, found[step.id])
        self.machine.advance(session)  # on to the first question still open, or the result
        return self._moved(session, Notice("notice.confirm_accepted"))

    def resolve(self, session: Session, take_new: bool) -> Reply:
        """Answer "which one holds?" for the first conflicting answer."""
        if not session.conflicts:
            return self._same(session, Notice("notice.stale"))
        step_id = next(s.id for s in self.flow.steps if s.id in session.conflicts)
        new = session.conflicts.pop(step_id)
        if take_new:
            self._record(session, step_id, new)
        if not session.conflicts:
            session.conflicts = None
            if session.pending is None:
                session.amounts = {}
                self.machine.advance(session)
        return self._moved(session, Notice("notice.conflict_new" if take_new else "notice.conflict_kept"))

    # -- typed text -------------------------------------------------------------------------
    def text(self, session: Session, text: str, lang: str) -> Reply:
        """A typed message: a command word, an answer, a description, an advice question or a question.

        `lang` is the language the channel reads the message in (the one it is written in, else the
        interface's); a read-back of what it said comes in that language."""
        nlu = self.nlu
        if nlu is None:
            return self._same(session, Notice("notice.not_understood"))
        command = nlu.command(text)
        if session.conflicts and command in ("keep", "take"):
            return self.resolve(session, command == "take")
        if session.pending is not None and not session.conflicts and command in ("yes", "no"):
            return self.confirm(session, command == "yes")
        if command in ("back", "restart", "skip", "finish"):
            return getattr(self, command)(session)
        step = self.flow.step(session.state)
        reading = nlu.read(text, step.id if step is not None else None, lang)
        had_pending = session.pending is not None or bool(session.conflicts)
        session.clear_pending()             # a new message replaces a read-back nobody answered
        if reading.question and self.answerer is not None and getattr(self.answerer, "scoped", None) \
                and self.answerer.scoped(reading):       # about another platform or TikTok mode: answered so
            return self._faq(session, reading, had_pending)
        if reading.advice:
            return self._advise(session, reading, lang)
        typed = step is not None and reading.on_screen == step.id and set(reading.answers) == {step.id}
        if reading.question and reading.answerable and not (typed and reading.confidence[step.id] >= 0.95):
            return self._faq(session, reading, had_pending)
        if typed:
            detail = reading.details[step.id]
            reply = self.choose(session, step.id, reading.answers[step.id])
            if detail.amount is not None:
                notice = Notice("notice.amount_read", amount=int(detail.amount.value), step=step.id,
                                level=reading.answers[step.id])
                return Reply(reply.view, (notice,) + reply.notices, reply.changed)
            return reply
        if reading.answers:
            return self._describe(session, reading, lang)
        if reading.question or (reading.answerable and (step is None or (
                reading.faq_probability >= STATEMENT_FAQ_MIN and not self.nlu.advises(reading.faq[0].id)))):
            return self._faq(session, reading, had_pending)   # a question: answered, or an honest "I don't know"
        notice = Notice("notice.not_understood", self.answerer.answer(reading) if self.answerer else None)
        # A read-back left unanswered is gone: its buttons must read as stale, so the revision moves.
        return self._moved(session, notice) if had_pending else self._same(session, notice)

    def _faq(self, session: Session, reading: Reading, changed: bool) -> Reply:
        notice = Notice("notice.faq", self.answerer.answer(reading)) if self.answerer else Notice("notice.not_understood")
        return self._moved(session, notice) if changed else self._same(session, notice)

    def _describe(self, session: Session, reading: Reading, lang: str) -> Reply:
        """Answers read from a description: conflicts with earlier answers first, then a read-back."""
        amounts = {s: int(r.amount.value) for s, r in reading.details.items() if r.amount is not None}
        conflicts, new = {}, {}
        for step in self.flow.steps:
            level = reading.answers.get(step.id)
            if level is None:
                continue
            earlier = session.answers.get(step.id)
            if earlier == level or (level == UNSURE and earlier is not None and earlier != SKIP):
                continue        # nothing new; a hedge never overrides an answer given
            if earlier not in (None, SKIP, UNSURE) and step.id != session.state:
                conflicts[step.id] = level
            else:
                new[step.id] = level
        if not conflicts and not new:
            return self._same(session, Notice("notice.nothing_new"))
        session.pending = new or None
        session.kind = CONFIRM
        session.conflicts = conflicts or None
        session.amounts = {s: a for s, a in amounts.items() if s in new or s in conflicts}
        return replace(self._moved(session), lang=lang)

    def _advise(self, session: Session, reading: Reading, lang: str) -> Reply:
        """A question that describes the asker and asks which mode fits: a provisional answer."""
        stated = {s: lvl for s, lvl in reading.answers.items() if self.flow.step(s) is not None}
        session.pending = stated
        session.kind = ADVICE
        session.amounts = {s: int(r.amount.value) for s, r in reading.details.items() if r.amount is not None}
        return replace(self._moved(session), lang=lang)
