"""Turns engine views and FAQ answers into message text for any channel.

Channels pass a Markup: plain text for the console, Telegram's HTML subset for Telegram. Every
piece of content goes through `markup.esc`, and only this module adds tags, so what reaches
Telegram is always escaped and well-formed.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Callable

from bot.engine.dialogue import AdviceView, ConfirmView, ConflictView, Notice, QuestionView, Reply, ResultView, View
from bot.engine.recommend import Recommendation
from bot.engine.spec import SKIP, UNSURE, Flow, ReadingRules
from bot.kb.models import FaqEntry, KnowledgeBase, Sourced
from bot.nlu.scope import ScopeBook, load_book


@dataclass(frozen=True)
class Markup:
    esc: Callable[[str], str]
    bold: Callable[[str], str]
    italic: Callable[[str], str]


CAPTION_LIMIT = 1024
ANSWER_LIMIT = 4000     # an FAQ answer's text, under Telegram's 4096 with room to spare
_TAG = re.compile(r"<[^>]*>")


def caption_size(text: str) -> int:
    """How long Telegram counts an HTML caption: tags removed, entities decoded, in UTF-16 code units."""
    return len(html.unescape(_TAG.sub("", text)).encode("utf-16-le")) // 2


PLAIN = Markup(esc=lambda s: s, bold=lambda s: s, italic=lambda s: s)
HTML = Markup(esc=lambda s: html.escape(s, quote=False), bold=lambda s: f"<b>{s}</b>", italic=lambda s: f"<i>{s}</i>")


OURS = "ours"   # the source id of Mode Advisor's own suggestions and rules of thumb


class Renderer:
    def __init__(self, kb: KnowledgeBase, flow: Flow, markup: Markup = PLAIN, reading: ReadingRules | None = None,
                 scope_book: ScopeBook | None = None):
        self.kb, self.flow, self.m, self.reading = kb, flow, markup, reading
        self.scope_book = scope_book or load_book()       # knowledge/scope.yaml: scope answers' strings

    # -- strings ------------------------------------------------------------------------------
    def raw(self, key: str, lang: str, **values: object) -> str:
        """A UI string in plain text (button labels, callback answers): no markup at all."""
        text = self.kb.ui.get(key)
        if text is None:
            raise KeyError(f"UI string {key!r} is missing from knowledge/ui.yaml")
        return text(lang).format(**{k: str(v) for k, v in values.items()}) if values else text(lang)

    def t(self, key: str, lang: str, **values: object) -> str:
        """A UI string escaped for the channel, with its values escaped too."""
        text = self.kb.ui.get(key)
        if text is None:
            raise KeyError(f"UI string {key!r} is missing from knowledge/ui.yaml")
        template = self.m.esc(text(lang))
        return template.format(**{k: self.m.esc(str(v)) for k, v in values.items()}) if values else template

    def option_label(self, step_id: str, option_id: str, lang: str) -> str:
        if option_id == UNSURE:
            return self.flow.unsure.label(lang)
        if option_id == SKIP:
            return self.raw("answer.skipped", lang)
        step = self.flow.step(step_id)
        option = step.option(option_id) if step else None
        return option.label(lang) if option else option_id

    def colon(self, lang: str) -> str:
        """The label separator: a full-width colon in Chinese."""
        return self.raw("punct.colon", lang)

    def mode_name(self, mode: str, lang: str) -> str:
        return self.kb.modes[mode].name(lang)

    # -- views --------------------------------------------------------------------------------
    def question(self, view: QuestionView, lang: str) -> str:
        key = "progress.core" if view.core else "progress.optional"
        lines = [self.t(key, lang, n=view.number, total=view.total),
                 self.m.bold(self.m.esc(view.step.prompt(lang)))]
        if view.step.hint:
            lines.append(self.m.italic(self.m.esc(view.step.hint(lang))))
        if view.selected:
            lines.append(self.t("question.previous", lang, answer=self.option_label(view.step.id, view.selected, lang)))
        return "\n".join(lines)

    def numbered_options(self, view: QuestionView, lang: str) -> str:
        return "\n".join(f"{i}. {self.m.esc(o.label(lang))}" for i, o in enumerate(self.flow.choices(view.step), 1))

    def factor(self, step_id: str, option_id: str, lang: str) -> str:
        """"Supply: Own factory", escaped, the title in bold."""
        step = self.flow.step(step_id)
        title = step.title(lang) if step else step_id
        return f"{self.m.bold(self.m.esc(title))}{self.colon(lang)}{self.m.esc(self.option_label(step_id, option_id, lang))}"

    def amount(self, value: int, step_id: str, level: str, lang: str) -> str:
        """"¥200,000: I read this as enough for a small test batch; change it if...", our rule of thumb."""
        assumption = self.reading.assumptions.get(level) if self.reading else None
        reading = assumption(lang) if assumption else self.option_label(step_id, level, lang)
        return self.t("amount.read", lang, amount=f"¥{value:,}", reading=reading)

    def confirm(self, view: ConfirmView, lang: str) -> str:
        lines = [self.m.bold(self.t("confirm.title", lang))]
        for step in self.flow.steps:
            if step.id in view.found:
                line = "• " + self.factor(step.id, view.found[step.id], lang)
                if step.id in view.amounts:
                    line += "\n  " + self.amount(view.amounts[step.id], step.id, view.found[step.id], lang)
                if step.id in view.earlier:
                    line += "\n  " + self.t("confirm.replaces", lang,
                                             answer=self.option_label(step.id, view.earlier[step.id], lang))
                lines.append(line)
        lines.append(self.t("confirm.ask", lang))
        return "\n".join(lines)

    def conflict(self, view: ConflictView, lang: str) -> str:
        step = self.flow.step(view.step)
        text = self.t("conflict.ask", lang, factor=step.title(lang) if step else view.step,
                      earlier=self.option_label(view.step, view.earlier, lang),
                      new=self.option_label(view.step, view.new, lang))
        if view.amount is not None:
            text += "\n" + self.amount(view.amount, view.step, view.new, lang)
        return text

    def advice(self, view: AdviceView, lang: str) -> str:
        """A provisional recommendation: named so, with what it rests on and what is still unknown."""
        rec, m = view.recommendation, self.m
        key = "advice.headline_borderline" if rec.borderline else "advice.headline"
        parts = [m.bold(self.t(key, lang, mode=self.mode_name(rec.mode, lang)))]
        stated = [f"• {self.factor(s.id, view.basis[s.id], lang)}" for s in self.flow.steps if s.id in view.basis]
        for s in self.flow.steps:
            if s.id in view.amounts and s.id in view.basis:
                idx = [x.id for x in self.flow.steps if x.id in view.basis].index(s.id)
                stated[idx] += "\n  " + self.amount(view.amounts[s.id], s.id, view.basis[s.id], lang)
        parts.append(m.bold(self.t("advice.based_on", lang)) + "\n" + "\n".join(stated))
        if view.unknown:
            names = self.raw("punct.list_sep", lang).join(self.flow.step(s).title(lang) for s in view.unknown)
            parts.append(self.t("advice.unknown", lang, steps=names))
        parts.append(self._reasons(rec, lang))
        parts.append(m.italic(self.t("advice.offer", lang)))
        return "\n\n".join(parts)

    def result(self, view: ResultView, lang: str) -> str:
        """The recommendation: the verdict in one line first, then why, trade-offs, next steps, caveats."""
        rec, m = view.recommendation, self.m
        head = self._headline(rec, lang)
        parts = [m.bold(head) + "\n" + self.t("result.confidence", lang, pct=round(rec.confidence * 100))]
        parts.append(self._reasons(rec, lang))
        if rec.borderline:
            parts.append(self._borderline(rec, lang))
        if rec.closed_gates and (rec.semi_later or rec.borderline or rec.blocked):
            parts.append(self._gaps(rec, lang))
        parts.append(self._tradeoffs(rec, lang))
        parts.append(self._notes("result.next_steps", rec.next_steps, lang, numbered=True))
        parts.append(self._notes("result.caveats", rec.caveats, lang))
        parts.append(m.italic(self.t("result.footer", lang)))
        return "\n\n".join(parts)

    def _headline(self, rec: Recommendation, lang: str) -> str:
        mode = self.mode_name(rec.mode, lang)
        if rec.borderline:
            return self.t("result.headline_borderline", lang, mode=mode)
        if rec.semi_later:
            return self.t("result.headline_later", lang, mode=mode, other=self.mode_name("semi", lang))
        return self.t("result.headline", lang, mode=mode)

    def _reasons(self, rec: Recommendation, lang: str) -> str:
        """One line per answer: which way it pushed, in words ("favours Full-managed"), then why."""
        lines = [self.m.bold(self.t("result.why", lang))]
        for r in rec.reasons:
            step = self.flow.step(r.step)
            mark = self.raw(f"result.mark_{r.favours}", lang)
            tag = self.t(f"result.favours_{r.favours}", lang, mode=self.mode_name(r.favours, lang)
                         if r.favours in ("full", "semi") else "")
            lines.append(f"{mark} {self.m.bold(self.m.esc(step.title(lang)))}{self.t('punct.paren', lang, text=tag)}"
                         f"{self.colon(lang)}{self.m.esc(r.text(lang))}")
        return "\n".join(lines)

    def _tradeoffs(self, rec: Recommendation, lang: str) -> str:
        """Gains and costs under each mode's name, so no bullet is left without its mode."""
        lines = [self.m.bold(self.t("result.tradeoffs", lang))]
        for mode, notes in rec.tradeoffs:
            lines.append(self.m.bold(self.m.esc(self.mode_name(mode, lang))))
            lines += [f"• {self.m.esc(n.text(lang))}{self._uncertain(n.sources, lang)}" for n in notes]
        return "\n".join(lines)

    def _borderline(self, rec: Recommendation, lang: str) -> str:
        lines = [self.m.bold(self.t("result.borderline_title", lang)), self.t("result.borderline_body", lang)]
        for tip in rec.tippers:
            step = self.flow.step(tip.step)
            lines.append("• " + self.t("result.tip", lang, factor=step.title(lang),
                                       option=self.option_label(tip.step, tip.option, lang),
                                       mode=self.mode_name(tip.mode, lang)))
        return "\n".join(lines)

    def _gaps(self, rec: Recommendation, lang: str) -> str:
        lines = [self.m.bold(self.t("result.gaps_title", lang, other=self.mode_name("semi", lang)))]
        for gate in rec.closed_gates:
            lines.append(f"• {self.m.esc(gate.missing(lang))}\n  → {self.m.esc(gate.path(lang))}"
                         f"{self._uncertain(gate.sources, lang)}")
        if rec.semi_later:
            lines.append(self.m.italic(self.t("result.switch_unknown", lang)))
        return "\n".join(lines)

    def _notes(self, key: str, notes: tuple[Sourced, ...], lang: str, numbered: bool = False) -> str:
        lines = [self.m.bold(self.t(key, lang))]
        for i, note in enumerate(notes, 1):
            mark = f"{i}." if numbered else "•"
            lines.append(f"{mark} {self.m.esc(note.text(lang))}{self._uncertain(note.sources, lang)}")
        return "\n".join(lines)

    def _uncertain(self, source_ids: tuple[str, ...], lang: str) -> str:
        """⚠️ for unconfirmed sources; "our suggestion" for advice that is ours, not the article's."""
        marks = []
        if any(self.kb.sources[s].uncertain for s in source_ids if s in self.kb.sources):
            marks.append(self.t("source.uncertain_mark", lang))
        if OURS in source_ids:
            marks.append(self.t("source.ours_mark", lang))
        return "".join(" " + mk for mk in marks)

    def view(self, view: View, lang: str) -> str:
        if isinstance(view, QuestionView):
            return self.question(view, lang)
        if isinstance(view, ConfirmView):
            return self.confirm(view, lang)
        if isinstance(view, ConflictView):
            return self.conflict(view, lang)
        if isinstance(view, AdviceView):
            return self.advice(view, lang)
        return self.result(view, lang)

    # -- notices and FAQ --------------------------------------------------------------------
    def notice(self, notice: Notice, lang: str) -> str:
        if notice.key == "notice.faq" and notice.answer is not None:
            return self.faq_answer(notice.answer)
        if notice.key == "notice.not_understood" and getattr(notice.answer, "handling", None) in (
                "other_platform", "other_mode"):
            return self.faq_answer(notice.answer)        # about another platform or mode: say what is known
        if notice.key == "notice.amount_read" and notice.amount is not None:
            return self.amount(notice.amount, notice.step or "", notice.level or "", lang)
        text = self.t(notice.key, lang, **notice.values)
        if notice.key == "notice.not_understood" and notice.answer is not None and notice.answer.suggestions:
            text += "\n" + self.t("faq.maybe", lang) + " " + "; ".join(
                self.m.esc(e.title(lang)) for e in notice.answer.suggestions)
        return text

    def faq_answer(self, answer) -> str:
        """An FAQ answer in its own language, shaped by how the question was handled (bot.nlu.answer):
        an entry (one per part of a two-part question), another platform's or TikTok mode's facts with
        TikTok's answer labelled as TikTok's, advice with the questionnaire offer, or an honest
        'not sure' with topics. Always within ANSWER_LIMIT: a later block that would not fit is left out."""
        lang = answer.lang
        handling = getattr(answer, "handling", "fallback" if answer.fallback or answer.entry is None else "answer")
        entries = tuple(getattr(answer, "entries", ()) or ((answer.entry,) if answer.entry is not None else ()))
        if handling == "fallback" or (handling == "answer" and not entries):
            topic = getattr(answer, "uncovered", None)
            lines = [self.scope_t(topic.says, lang, topic=topic.name(lang)) if topic is not None
                     else self.t("faq.unknown", lang)]
            if answer.suggestions:
                lines.append(self.t("faq.closest", lang))
                lines += [f"• {self.m.esc(e.title(lang))}" for e in answer.suggestions]
            return "\n".join(lines)
        if handling == "other_platform":
            blocks = self._other_platforms(answer, lang) + self._other_modes(answer, lang)
            compared = bool(entries) and entries[0].id in self.scope_book.comparison_entries
            if compared:                                                            # the answer itself
                head = self.m.bold(self.scope_t("scope.comparison", lang))
                blocks.insert(1, head + "\n" + self.entry(entries[0], lang))
            names = self.scope_t("scope.list_sep", lang).join(self.m.esc(p.name(lang)) for p in answer.platforms)
            label = self.m.italic(self.scope_t("scope.tiktok_answer", lang, platforms=names, raw=True))
            blocks += [label + "\n" + self.entry(e, lang) for e in entries[1 if compared else 0:]]   # TikTok's, labelled
        elif handling == "other_mode":
            blocks = self._other_modes(answer, lang)
            if entries:
                head = self.m.italic(self.scope_t("scope.covered_part", lang))
                blocks.append(head + "\n" + self.entry(entries[0], lang))
        elif handling == "advice":
            blocks = [self.entry(e, lang) for e in entries] + [self.m.italic(self.scope_t("scope.advice", lang))]
        else:
            blocks = [self.entry(entries[0], lang)]
            blocks += [self.m.bold(self.scope_t("scope.second_part", lang)) + "\n" + self.entry(e, lang)
                       for e in entries[1:]]
        return self._fit(blocks)

    def _fit(self, blocks: list[str]) -> str:
        """Blocks joined by blank lines, leaving out whole later blocks rather than passing ANSWER_LIMIT."""
        text = blocks[0] if blocks else ""
        for block in blocks[1:]:
            if caption_size(text + "\n\n" + block) > ANSWER_LIMIT:
                continue
            text += "\n\n" + block
        return text

    def scope_t(self, key: str, lang: str, raw: bool = False, **values: object) -> str:
        """A UI string of knowledge/scope.yaml, escaped (values too, unless `raw`: already escaped)."""
        text = self.scope_book.ui.get(key)
        if text is None:
            raise KeyError(f"UI string {key!r} is missing from knowledge/scope.yaml")
        template = self.m.esc(text(lang))
        if not values:
            return template
        return template.format(**{k: (str(v) if raw else self.m.esc(str(v))) for k, v in values.items()})

    def _facts(self, facts, lang: str) -> list[str]:
        return [f"• {self.m.esc(f.text(lang))}{self._uncertain(f.sources, lang)}" for f in facts]

    def _source_line(self, facts, lang: str) -> str:
        ids = list(dict.fromkeys(s for f in facts for s in f.sources if s in self.kb.sources))
        names = "; ".join(self.kb.sources[s].title(lang) for s in ids)
        return self.m.italic(self.t("source.line", lang, sources=names))

    def _other_platforms(self, answer, lang: str) -> list[str]:
        """'Mode Advisor covers TikTok Shop', then each platform: what the sources say, or that they say nothing."""
        sep = self.scope_t("scope.list_sep", lang)
        names = sep.join(self.m.esc(p.name(lang)) for p in answer.platforms)
        blocks = [self.m.bold(self.scope_t("scope.covers", lang, platforms=names, raw=True))]
        for p in answer.platforms:
            name = p.name(lang)
            if p.facts:
                lines = [self.m.bold(self.scope_t("scope.platform_says", lang, platform=name))]
                lines += self._facts(p.facts, lang)
                lines.append(self._source_line(p.facts, lang))
                blocks.append("\n".join(lines))
            else:
                blocks.append(self.scope_t("scope.platform_nothing", lang, platform=name))
        if any(p.facts for p in answer.platforms):
            blocks.append(self.scope_t("scope.platform_rest", lang))
        blocks.append(self.m.italic(self.scope_t("scope.not_tiktok", lang)))
        return blocks

    def _other_modes(self, answer, lang: str) -> list[str]:
        """Each of TikTok's other modes: what the sources say, how it relates to full/semi, what they don't cover."""
        blocks = []
        for mode in answer.modes:
            name = mode.name(lang)
            lines = [self.m.bold(self.scope_t("scope.mode_says", lang, mode=name))]
            lines += self._facts(mode.facts, lang)
            facts = list(mode.facts)
            if mode.relation is not None:
                lines.append(self.m.bold(self.scope_t("scope.mode_relation", lang)))
                lines += self._facts((mode.relation,), lang)
                facts.append(mode.relation)
            if facts:
                lines.append(self._source_line(facts, lang))
            lines.append(self.scope_t("scope.mode_rest", lang, mode=name))
            blocks.append("\n".join(lines))
        return blocks

    def entry(self, entry: FaqEntry, lang: str) -> str:
        sources = [self.kb.sources[s] for s in entry.sources if s in self.kb.sources]
        names = "; ".join(s.title(lang) for s in sources)
        text = f"{self.m.bold(self.m.esc(entry.title(lang)))}\n{self.m.esc(entry.answer(lang))}"
        text += "\n" + self.m.italic(self.t("source.line", lang, sources=names))
        if any(s.uncertain for s in sources):
            text += "\n" + self.m.italic(self.t("source.uncertain_note", lang))
        return text

    def compare(self, lang: str) -> str:
        """The two modes side by side, dimension by dimension."""
        full, semi = self.mode_name("full", lang), self.mode_name("semi", lang)
        parts = [self.m.bold(self.t("compare.title", lang, full=full, semi=semi))]
        for d in self.kb.dimensions:
            block = [self.m.bold(self.m.esc(d.title(lang))),
                     f"• {self.m.esc(full)}{self.colon(lang)}{self.m.esc(d.full(lang))}",
                     f"• {self.m.esc(semi)}{self.colon(lang)}{self.m.esc(d.semi(lang))}"]
            block += [f"  {self.t('source.uncertain_mark', lang)} {self.m.esc(c.text(lang))}" for c in d.caveats]
            parts.append("\n".join(block))
        parts.append(self.m.italic(self.t("compare.footer", lang)))
        return "\n\n".join(parts)

    # -- cards for sharing ---------------------------------------------------------------------
    def result_card(self, view: ResultView, lang: str) -> str:
        """A compact result to share: the recommended mode and the three strongest reasons, nothing else."""
        rec, m = view.recommendation, self.m
        lines = [m.bold(self._headline(rec, lang)),
                 m.bold(self.t("card.reasons", lang))]
        for r in [r for r in rec.reasons if r.favours != "neutral"][:3]:
            step = self.flow.step(r.step)
            lines.append(f"• {m.esc(step.title(lang))}{self.colon(lang)}{m.esc(r.text(lang))}")
        lines.append(m.italic(self.t("card.footer", lang)))
        return "\n".join(lines)

    def mode_card(self, mode: str, lang: str) -> str:
        """One mode in brief: its summary and where it stands on each dimension."""
        m, name = self.m, self.mode_name(mode, lang)
        lines = [m.bold(m.esc(name)), m.esc(self.kb.modes[mode].summary(lang)), ""]
        lines += [f"• {m.bold(m.esc(d.title(lang)))}{self.colon(lang)}{m.esc(getattr(d, mode)(lang))}" for d in self.kb.dimensions]
        lines.append(m.italic(self.t("card.footer", lang)))
        return "\n".join(lines)

    def compare_card(self, lang: str) -> str:
        """The two modes side by side in brief, for channels and inline sharing."""
        m = self.m
        full, semi = self.mode_name("full", lang), self.mode_name("semi", lang)
        lines = [m.bold(self.t("compare.title", lang, full=full, semi=semi)), ""]
        for mode in ("full", "semi"):
            lines.append(f"{m.bold(m.esc(self.mode_name(mode, lang)))}{self.colon(lang)}{m.esc(self.kb.modes[mode].summary(lang))}")
        lines += ["", m.italic(self.t("card.compare_hint", lang))]
        return "\n".join(lines)

    def reply(self, reply: Reply, lang: str) -> list[str]:
        """The notices, then the view: one text each."""
        return [self.notice(n, lang) for n in reply.notices] + [self.view(reply.view, lang)]

    # -- a member's card in a group (bot/tg/groups.py) -------------------------------------------
    def group_card(self, name: str, answers: dict[str, str], lang: str, note: str | None = None) -> str:
        """Every core question on one message, with the answers given so far; `note` is escaped text."""
        m, core = self.m, self.flow.core_steps
        head = m.bold(self.t("group.card_title", lang, name=name)) + "\n" + self.t("group.card_help", lang, total=len(core))
        lines = []
        for i, step in enumerate(core, 1):
            line = f"{i}. {m.bold(m.esc(step.title(lang)))} · {m.esc(step.prompt(lang))}"
            if step.id in answers:
                line += f"\n    ✓ {m.esc(self.option_label(step.id, answers[step.id], lang))}"
            lines.append(line)
        parts = [head, "\n".join(lines)]
        if note:
            parts.append(m.italic(note))
        return "\n\n".join(parts)

    def group_result(self, name: str, view: ResultView, lang: str, reasons: int = 3) -> str:
        """A member's result in a group, short enough for one message: verdict, confidence, main reasons."""
        rec, m = view.recommendation, self.m
        mode = self.mode_name(rec.mode, lang)
        key = ("result.headline_borderline" if rec.borderline else
               "result.headline_later" if rec.semi_later else "result.headline")
        lines = [m.bold(self.t("group.result_title", lang, name=name)),
                 m.bold(self.t(key, lang, mode=mode, other=self.mode_name("semi", lang))),
                 self.t("result.confidence", lang, pct=round(rec.confidence * 100)), "",
                 m.bold(self.t("card.reasons", lang))]
        for r in ([r for r in rec.reasons if r.favours != "neutral"] or list(rec.reasons[:1]))[:reasons]:
            marker = self.raw(f"result.favours_{r.favours}", lang)
            lines.append(f"{marker} {m.esc(self.flow.step(r.step).title(lang))}{self.colon(lang)}{m.esc(r.text(lang))}")
        lines += ["", m.italic(self.t("group.result_more", lang))]
        return "\n".join(lines)

    # -- captions of picture cards (bot/tg/photos.py): short; the picture shows the rest ------------
    def _verdict(self, rec: Recommendation, lang: str) -> str:
        key = ("result.headline_borderline" if rec.borderline else
               "result.headline_later" if rec.semi_later else "result.headline")
        return self.m.bold(self.t(key, lang, mode=self.mode_name(rec.mode, lang), other=self.mode_name("semi", lang)))

    def result_caption(self, view: ResultView, lang: str, shared: bool = False) -> str:
        """Under the result card: the verdict and confidence, where the explanation is (or, `shared`, an
        invitation to take the test), and the caveat of the text result."""
        rec, m = view.recommendation, self.m
        lines = [self._verdict(rec, lang), self.t("result.confidence", lang, pct=round(rec.confidence * 100)), "",
                 m.italic(self.t("card.footer" if shared else "photo.details_above", lang)),
                 m.italic(self.t("photo.caveat", lang))]
        return "\n".join(lines)

    def compare_caption(self, lang: str, shared: bool = False) -> str:
        """Under the comparison card: its title, where the detailed comparison is (or, `shared`, an
        invitation to take the test), and the caveat."""
        m = self.m
        title = self.t("compare.title", lang, full=self.mode_name("full", lang), semi=self.mode_name("semi", lang))
        hint = self.t("card.compare_hint" if shared else "photo.compare_details", lang)
        return "\n".join([m.bold(title), "", m.italic(hint), m.italic(self.t("photo.caveat", lang))])

    def group_result_caption(self, name: str, view: ResultView, lang: str) -> str:
        """A member's result in a group (under their result card, or alone without a picture), with the caveat."""
        caveat = "\n" + self.m.italic(self.t("photo.caveat", lang))
        for reasons in (3, 2, 1, 0):            # fewer reasons rather than more than a caption holds
            text = self.group_result(name, view, lang, reasons) + caveat
            if caption_size(text) <= CAPTION_LIMIT:
                return text
        return text
