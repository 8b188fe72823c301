"""Inline keyboards: the only place callback data is built (through bot.tg.callbacks)."""
from __future__ import annotations

from telegram import InlineKeyboardButton as Button
from telegram import InlineKeyboardMarkup as Markup

from bot.engine.dialogue import AdviceView, ConfirmView, ConflictView, QuestionView, ResultView, View
from bot.engine.spec import Flow
from bot.kb.models import KnowledgeBase
from bot.render import Renderer
from bot.tg import callbacks as cb

MAX_BUTTON_TEXT = 60


def _label(text: str) -> str:
    return text if len(text) <= MAX_BUTTON_TEXT else text[: MAX_BUTTON_TEXT - 1] + "…"


class Keyboards:
    def __init__(self, render: Renderer, flow: Flow, kb: KnowledgeBase):
        self.r, self.flow, self.kb = render, flow, kb

    def for_view(self, view: View, rev: int, lang: str, owner: int | None = None,
                 private_url: str | None = None) -> Markup:
        """The keyboard of a dialogue view; in groups `owner` marks whose buttons they are."""
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
            markup = self.result(rev, lang, owner)
        if private_url and not isinstance(view, ResultView):
            markup = Markup(list(markup.inline_keyboard) + [[Button(self.r.raw("button.private", lang), url=private_url)]])
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

    def result(self, rev: int, lang: str, owner: int | None = None) -> Markup:
        rows = [[Button(self.r.raw("button.change", lang), callback_data=cb.nav(rev, "change", owner)),
                 Button(self.r.raw("button.compare", lang), callback_data=cb.view("compare"))],
                [Button(self.r.raw("button.ask", lang), callback_data=cb.view("ask")),
                 Button(self.r.raw("button.faq", lang), callback_data=cb.view("faq"))],
                [Button(self.r.raw("button.share", lang), switch_inline_query=self.r.raw("inline.result_keyword", lang))],
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

    def take_the_test(self, lang: str, link: str | None) -> Markup | None:
        """The button on shared cards and channel posts: opens the bot on its questionnaire."""
        return Markup([[Button(self.r.raw("button.take_test", lang), url=link)]]) if link else None
