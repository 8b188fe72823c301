"""Inline keyboards: the only place callback data is built (through bot.tg.callbacks)."""
from __future__ import annotations

from telegram import InlineKeyboardButton as Button
from telegram import InlineKeyboardMarkup as Markup

from bot.engine.dialogue import AdviceView, ConfirmView, ConflictView, QuestionView, View
from bot.engine.spec import SKIP, Flow
from bot.kb.models import KnowledgeBase
from bot.render import Renderer
from bot.tg import callbacks as cb

MAX_BUTTON_TEXT = 60


def _label(text: str) -> str:
    return text if len(text) <= MAX_BUTTON_TEXT else text[: MAX_BUTTON_TEXT - 1] + "…"


class Keyboards:
    def __init__(self, render: Renderer, flow: Flow, kb: KnowledgeBase):
        self.r, self.flow, self.kb = render, flow, kb

    def for_view(self, view: View, rev: int, lang: str, owner: int | None = None) -> Markup:
        """The keyboard of a dialogue view; `owner` marks whose buttons they are (a member of a group)."""
        if isinstance(view, QuestionView):
            markup = self.question(view, rev, lang, owner)
        elif isinstance(view, ConfirmView):
            markup = Markup([[Button(self.r.raw("button.yes", lang), callback_data=cb.nav(rev, "yes", owner))],
                             [Button(self.r.raw("button.no", lang), callback_data=cb.nav(rev, "no", owner))]])
        elif isinstance(view, AdviceView):
            markup = Markup([[Button(self.r.raw("button.finish_with_these", lang), callback_data=cb.nav(rev, "yes", owner))],
                             [Button(self.r.raw("button.not_now", lang), callback_data=cb.nav(rev, "no", owner))]])
        elif isinstance(view, ConflictView):
            keep = self.r.raw("button.keep", lang, answer=self.r.option_label(view.step, view.earlier, lang))
            take = self.r.raw("button.take", lang, answer=self.r.option_label(view.step, view.new, lang))
            markup = Markup([[Button(_label(keep), callback_data=cb.nav(rev, "keep", owner))],
                             [Button(_label(take), callback_data=cb.nav(rev, "take", owner))]])
        else:
            skipped = owner is None and any(view.answers.get(s.id) == SKIP for s in self.flow.optional_steps)
            markup = self.result(rev, lang, owner, optional=skipped)
        return markup

    def question(self, view: QuestionView, rev: int, lang: str, owner: int | None = None) -> Markup:
        rows = []
        for option in self.flow.choices(view.step):
            mark = "✓ " if option.id == view.selected else ""
            rows.append([Button(_label(mark + option.label(lang)),
                                callback_data=cb.answer(rev, view.step.id, option.id, owner))])
        if not view.core:
            rows.append([Button(self.r.raw("button.skip", lang), callback_data=cb.nav(rev, "skip", owner)),
                         Button(self.r.raw("button.finish", lang), callback_data=cb.nav(rev, "finish", owner))])
        nav = []
        if view.can_back:
            nav.append(Button(self.r.raw("button.back", lang), callback_data=cb.nav(rev, "back", owner)))
        nav.append(Button(self.r.raw("button.restart", lang), callback_data=cb.nav(rev, "restart", owner)))
        rows.append(nav)
        return Markup(rows)

    def result(self, rev: int, lang: str, owner: int | None = None, optional: bool = False) -> Markup:
        """The result's buttons; `optional` offers the optional questions that were skipped."""
        rows = [[Button(self.r.raw("group.button_optional", lang), callback_data=cb.nav(rev, "optional", owner))]] \
            if optional else []
        rows += [[Button(self.r.raw("button.change", lang), callback_data=cb.nav(rev, "change", owner)),
                 Button(self.r.raw("button.compare", lang), callback_data=cb.view("compare"))],
                [Button(self.r.raw("button.ask", lang), callback_data=cb.view("ask")),
                 Button(self.r.raw("button.faq", lang), callback_data=cb.view("faq"))],
                [Button(self.r.raw("button.share", lang), switch_inline_query=self.r.raw("inline.result_keyword", lang))],
                [Button(self.r.raw("button.restart", lang), callback_data=cb.nav(rev, "restart", owner))]]
        return Markup(rows)

    def group_card(self, number: int, answers: dict[str, str], lang: str, owner: int,
                   private_url: str | None) -> Markup:
        """A member's card in a group: each core question's title (a press shows the question), then its
        options two to a row, the chosen one ticked; last, the way to go on in private chat."""
        rows = []
        for i, step in enumerate(self.flow.core_steps, 1):
            title = self.r.raw("group.header", lang, n=i, title=step.title(lang))
            rows.append([Button(_label(title), callback_data=cb.card(number, step.id, owner=owner))])
            options = [Button(_label(("✓ " if answers.get(step.id) == o.id else "") + o.label(lang)),
                              callback_data=cb.card(number, step.id, o.id, owner)) for o in self.flow.choices(step)]
            rows += [options[j:j + 2] for j in range(0, len(options), 2)]
        if private_url:
            rows.append([Button(self.r.raw("button.private", lang), url=private_url)])
        return Markup(rows)

    def group_result(self, rev: int, lang: str, owner: int, private_url: str | None) -> Markup:
        """A member's result in a group: the full result in private, sharing, and starting over."""
        rows = [[Button(self.r.raw("group.button_result", lang), url=private_url)]] if private_url else []
        rows += [[Button(self.r.raw("button.share", lang), switch_inline_query=self.r.raw("inline.result_keyword", lang))],
                 [Button(self.r.raw("button.restart", lang), callback_data=cb.nav(rev, "restart", owner))]]
        return Markup(rows)

    def change_menu(self, answers: dict[str, str], rev: int, lang: str, owner: int | None = None) -> Markup:
        rows = []
        for step in self.flow.steps:
            answer = self.r.option_label(step.id, answers[step.id], lang) if step.id in answers else "—"
            text = self.r.raw("button.change_step", lang, factor=step.title(lang), answer=answer)
            rows.append([Button(_label(text), callback_data=cb.change(rev, step.id, owner))])
        rows.append([Button(self.r.raw("button.result", lang), callback_data=cb.view("result"))])
        return Markup(rows)

    def topics(self, lang: str) -> Markup:
        return Markup([[Button(_label(t.title(lang)), callback_data=cb.view("topic", t.id))] for t in self.kb.topics])

    def entries(self, entry_ids: list[str], lang: str, back_to_topics: bool = True) -> Markup:
        rows = [[Button(_label(self.kb.by_id[e].title(lang)), callback_data=cb.view("entry", e))]
                for e in entry_ids if e in self.kb.by_id]
        if back_to_topics:
            rows.append([Button(self.r.raw("button.topics", lang), callback_data=cb.view("faq"))])
        return Markup(rows)

    def languages(self) -> Markup:
        return Markup([[Button("中文", callback_data=cb.view("lang", "zh")),
                        Button("English", callback_data=cb.view("lang", "en"))]])

    def back_to_quiz(self, lang: str) -> Markup:
        return Markup([[Button(self.r.raw("button.quiz", lang), callback_data=cb.view("quiz"))]])

    def compare_card(self, lang: str) -> Markup:
        """Under the comparison card: the detailed comparison (text), and the questionnaire."""
        full = Button(self.r.raw("photo.button_compare_text", lang), callback_data=cb.view("compare", "text"))
        return Markup([[full], [Button(self.r.raw("button.quiz", lang), callback_data=cb.view("quiz"))]])

    def take_the_test(self, lang: str, link: str | None) -> Markup | None:
        """The button on shared cards and channel posts: opens the bot on its questionnaire."""
        return Markup([[Button(self.r.raw("button.take_test", lang), url=link)]]) if link else None
