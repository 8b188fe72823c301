"""Drawing cards with Pillow: a small canvas with text fitting, and the two card layouts.

Everything is laid out on a 1280x720 canvas (16:9, Telegram shows it whole in a chat). Text that
does not fit is wrapped, shrunk a little, then cut with an ellipsis: long labels never overflow.
"""
from __future__ import annotations

import io
import re

from PIL import Image, ImageDraw

from bot.cards.content import CompareCard, Footer, ModePanel, ResultCard
from bot.cards.fonts import FontSet

W, H = 1280, 720
M = 56                                   # outer margin
Color = tuple[int, int, int]
BG: Color = (248, 250, 252)
INK: Color = (15, 23, 42)
MUTED: Color = (71, 85, 105)
LINE: Color = (226, 232, 240)
WHITE: Color = (255, 255, 255)
SLATE: Color = (51, 65, 85)
SIDE: dict[str, Color] = {"full": (37, 99, 235), "semi": (234, 88, 12), "neutral": (148, 163, 184)}
TINT: dict[str, Color] = {"full": (219, 234, 254), "semi": (255, 237, 213), "neutral": (241, 245, 249)}
ON_BAND: dict[str, Color] = {"full": (191, 219, 254), "semi": (254, 215, 170), "neutral": (203, 213, 225)}
ELLIPSIS = "…"
# A line may not start with these (Chinese and English closing punctuation): they stay on the line before.
_NO_LINE_START = set("，。、；：！？）」』”’》〉,.;:!?)%")
_TOKEN = re.compile(r"[^\s\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]+\s*|\s+|.")
# Text and shapes are anti-aliased between a known foreground and background; the PNG palette holds
# every card colour plus the blends of the pairs that meet. Mapping to a fixed palette takes ~1 ms where
# an adaptive quantiser takes ~8 ms, and keeps the brand colours exact.
_PAIRS: tuple[tuple[Color, Color], ...] = (
    *((fg, BG) for fg in (INK, MUTED, SIDE["full"], SIDE["semi"], SIDE["neutral"], LINE, TINT["full"], TINT["semi"])),
    *((fg, LINE) for fg in (INK, MUTED, SIDE["full"], SIDE["semi"], SIDE["neutral"])),
    *((fg, SIDE[mode]) for mode in ("full", "semi") for fg in (WHITE, ON_BAND[mode])),
    *((fg, SLATE) for fg in (WHITE, ON_BAND["neutral"], ON_BAND["full"], ON_BAND["semi"])),
    *((fg, TINT[mode]) for mode in ("full", "semi") for fg in (INK, SIDE[mode])),
    *((WHITE, ON_BAND[mode]) for mode in ("full", "semi", "neutral")),
)
_BLEND_STEPS = 7


def _palette() -> Image.Image:
    colours: list[Color] = []
    for fg, bg in _PAIRS:
        for step in range(_BLEND_STEPS + 2):            # both ends and the blends between them
            t = step / (_BLEND_STEPS + 1)
            colour = tuple(round(f * t + b * (1 - t)) for f, b in zip(fg, bg))
            if colour not in colours:
                colours.append(colour)                  # type: ignore[arg-type]
    assert len(colours) <= 256, len(colours)
    image = Image.new("P", (1, 1))
    image.putpalette([v for c in colours for v in c] + [0, 0, 0] * (256 - len(colours)))
    return image


PALETTE = _palette()


_WIDTHS: dict[tuple, float] = {}
_WIDTHS_MAX = 50_000
# Rendered text as coverage masks, keyed by font, stroke, anchor and text: labels, headings, the footer
# and each option's reason recur on many cards, and rasterising text is half of a card's drawing time.
_STAMPS: dict[tuple, tuple[Image.Image, int, int]] = {}
_STAMPS_BYTES = [0]
_STAMPS_MAX_BYTES = 24 * 1024 * 1024


class Canvas:
    """An RGB image with the fonts of one language."""

    def __init__(self, fonts: FontSet, lang: str, background: Color = BG):
        self.fonts, self.lang = fonts, lang
        self.image = Image.new("RGB", (W, H), background)
        self.draw = ImageDraw.Draw(self.image)

    # -- measuring and fitting -------------------------------------------------------------
    def width(self, text: str, size: int, bold: bool = False) -> float:
        """Text width in pixels; measured once per font and text (labels and reasons recur on many cards)."""
        key = (id(self.fonts), self.lang, size, bold, text)
        known = _WIDTHS.get(key)
        if known is None:
            if len(_WIDTHS) >= _WIDTHS_MAX:
                _WIDTHS.clear()
            known = _WIDTHS[key] = self.fonts.font(self.lang, size, bold)[0].getlength(text)
        return known

    def ellipsize(self, text: str, size: int, width: float, bold: bool = False) -> str:
        """`text`, cut with an ellipsis so that it fits `width`."""
        if self.width(text, size, bold) <= width:
            return text
        lo, hi = 0, len(text)
        while lo < hi:                                   # the longest prefix that fits with "…"
            mid = (lo + hi + 1) // 2
            if self.width(text[:mid].rstrip() + ELLIPSIS, size, bold) <= width:
                lo = mid
            else:
                hi = mid - 1
        return text[:lo].rstrip(" ,;:，；：、-") + ELLIPSIS

    def wrap(self, text: str, size: int, width: float, max_lines: int | None = None,
             bold: bool = False) -> list[str]:
        """Greedy line breaking: between words in English, between characters in Chinese."""
        lines: list[str] = []
        line = ""
        for token in _TOKEN.findall(text.strip()):
            candidate = line + token
            hangs = bool(token.strip()) and set(token.strip()) <= _NO_LINE_START
            if not line.strip() or hangs or self.width(candidate.rstrip(), size, bold) <= width:
                line = candidate
                continue
            lines.append(line.rstrip())
            line = token.lstrip()
        if line.strip():
            lines.append(line.rstrip())
        # closing punctuation may hang past the edge; anything else too wide (one over-long word) is cut
        lines = [x if self.width(x.rstrip("".join(_NO_LINE_START)), size, bold) <= width
                 else self.ellipsize(x, size, width, bold) for x in lines]
        if max_lines is not None and len(lines) > max_lines:
            lines = lines[:max_lines]
            lines[-1] = self.ellipsize(lines[-1] + ELLIPSIS * 2, size, width, bold)
        return lines

    def fit_size(self, text: str, sizes: tuple[int, ...], width: float, bold: bool = False) -> int:
        """The first (largest) size at which `text` fits on one line; else the smallest."""
        for size in sizes:
            if self.width(text, size, bold) <= width:
                return size
        return sizes[-1]

    # -- drawing ---------------------------------------------------------------------------
    def text(self, xy: tuple[float, float], text: str, size: int, fill: Color, bold: bool = False,
             anchor: str = "la") -> None:
        mask, dx, dy = self._stamp(text, size, bold, anchor)
        if mask is not None:
            self.image.paste(fill, (round(xy[0]) + dx, round(xy[1]) + dy), mask)

    def _stamp(self, text: str, size: int, bold: bool, anchor: str) -> tuple[Image.Image | None, int, int]:
        """`text` rasterised once as a coverage mask, with its offset from the anchor point."""
        font, stroke = self.fonts.font(self.lang, size, bold)
        key = (id(font), stroke, anchor, text)
        known = _STAMPS.get(key)
        if known is None:
            left, top, right, bottom = font.getbbox(text, anchor=anchor, stroke_width=stroke)
            if right <= left or bottom <= top:
                return None, 0, 0
            mask = Image.new("L", (right - left, bottom - top), 0)
            ImageDraw.Draw(mask).text((-left, -top), text, font=font, fill=255, anchor=anchor,
                                      stroke_width=stroke, stroke_fill=255)
            if _STAMPS_BYTES[0] + mask.width * mask.height > _STAMPS_MAX_BYTES:
                _STAMPS.clear()
                _STAMPS_BYTES[0] = 0
            known = _STAMPS[key] = (mask, left, top)
            _STAMPS_BYTES[0] += mask.width * mask.height
        return known

    def lines(self, x: float, y: float, lines: list[str], size: int, fill: Color, leading: float = 1.3,
              bold: bool = False) -> float:
        """Draw lines top-down from y; returns the y below the last one."""
        step = round(size * leading)
        for i, line in enumerate(lines):
            self.text((x, y + i * step), line, size, fill, bold)
        return y + len(lines) * step

    def pill(self, box: tuple[float, float, float, float], fill: Color) -> None:
        radius = (box[3] - box[1]) / 2
        self.draw.rounded_rectangle(box, radius=radius, fill=fill)

    def png(self) -> bytes:
        """The image as a palette PNG (see PALETTE): a third of the bytes of an RGB one, as sharp."""
        out = io.BytesIO()
        small = self.image.quantize(palette=PALETTE, dither=Image.Dither.NONE)
        small.save(out, format="PNG", compress_level=3)   # 6+ is slower for ~10% fewer bytes
        return out.getvalue()


FOOTER = 68


def _footer(c: Canvas, app: str, footer: Footer) -> None:
    """The bottom band: the bot's name and @username on the left, the call to action and quiz link on the right.

    At the largest size that fits: the bot's name gives way first, then the text size (down to 18 px),
    then the call to action; the @username and the link always stay.
    """
    top = H - FOOTER
    c.draw.rectangle((0, top, W, H), fill=LINE)
    mid, room, gap = top + FOOTER / 2, W - 2 * M, 28
    plans = ([(True, True, size) for size in (24, 22)] + [(False, True, size) for size in (24, 22, 20, 18)]
             + [(False, False, size) for size in (24, 22, 20, 18, 16)])
    for show_app, show_cta, size in plans:
        widths = {"app": c.width(app + "  ", size, True) if show_app else 0.0,
                  "handle": c.width(footer.handle, size, True),
                  "cta": c.width(footer.cta + " ", size) if show_cta else 0.0,
                  "link": c.width(footer.link, size, True)}
        if sum(widths.values()) + gap <= room:
            break
    # the link is never cut (it is what people type); the @username gets what is left
    link = c.ellipsize(footer.link, size, room, True)
    link_w = min(widths["link"], room)
    x = M
    if show_app:
        c.text((x, mid), app, size, MUTED, bold=True, anchor="lm")
        x += widths["app"]
    handle_room = max(0.0, room - gap - link_w - widths["cta"] - widths["app"])
    c.text((x, mid), c.ellipsize(footer.handle, size, handle_room, True), size, INK, bold=True, anchor="lm")
    c.text((W - M, mid), link, size, SIDE["full"], bold=True, anchor="rm")
    if show_cta:
        c.text((W - M - link_w, mid), footer.cta + " ", size, MUTED, anchor="rm")


def _arrow(c: Canvas, x: float, y: float, direction: int, color: Color, size: float = 7) -> None:
    """A small filled triangle pointing left (-1) or right (+1), centred on (x, y)."""
    c.draw.polygon([(x + direction * size, y), (x - direction * size, y - size), (x - direction * size, y + size)],
                   fill=color)


# -- the result card ---------------------------------------------------------------------------
HEADER = 188
BODY_TOP = HEADER + 24
BODY_BOTTOM = H - FOOTER - 26
TRACK = (500, 756)                        # the diverging track of the factor bars
DIVIDER = 796
REASONS = (824, W - M)


def _result_header(c: Canvas, card: ResultCard) -> None:
    band = SLATE if card.kind == "borderline" else SIDE[card.mode]
    soft = ON_BAND["neutral" if card.kind == "borderline" else card.mode]
    c.draw.rectangle((0, 0, W, HEADER), fill=band)
    c.text((M, 26), c.ellipsize(card.kicker, 26, 800), 26, soft)
    if card.kind == "borderline":                   # both sides, the one it leans to first
        sides = ("full", "semi") if card.mode == "full" else ("semi", "full")
        names = [card.names[0 if side == "full" else 1] for side in sides]
        size = c.fit_size(f"{names[0]}  |  {names[1]}", (60, 54, 48, 42, 36), 800, bold=True)
        x = M
        for i, (name, side) in enumerate(zip(names, sides)):
            if i:
                c.draw.rectangle((x + 14, 70, x + 18, 70 + size), fill=ON_BAND["neutral"])
                x += 32
            c.text((x, 62), c.ellipsize(name, size, 390, True), size, ON_BAND[side], bold=True)
            x += min(390.0, c.width(name, size, True))
    else:
        name = card.names[0 if card.mode == "full" else 1]
        size = c.fit_size(name, (64, 56, 48, 40), 800, bold=True)
        c.text((M, 62), c.ellipsize(name, size, 800, True), size, WHITE, bold=True)
    if card.subline:
        c.text((M, 70 + size * 1.15), c.ellipsize(card.subline, 24, 800), 24, soft)
    left, right = 900, W - M                        # confidence: the words and a gauge, on the right
    size = c.fit_size(card.confidence_text, (30, 26, 22), right - left, bold=True)
    c.text((right, 60), card.confidence_text, size, WHITE, bold=True, anchor="ra")
    c.pill((left, 108, right, 128), soft)
    c.pill((left, 108, left + max(20.0, (right - left) * card.confidence), 128), WHITE)


def _bars(c: Canvas, card: ResultCard) -> None:
    """One row per answered factor: its name and answer, and a bar from the centre towards the side it favours."""
    c.text((M, BODY_TOP), c.ellipsize(card.factors_title, 26, DIVIDER - M - 24, True), 26, INK, bold=True)
    left, right = TRACK
    centre, half = (left + right) / 2, (right - left) / 2 - 6
    axis_y = BODY_TOP + 54
    room = (centre - 16 - M, DIVIDER - 8 - (centre + 16) - 16)      # for the two axis labels
    size = min(c.fit_size(card.names[0], (18, 17, 16, 15), room[0], True),
               c.fit_size(card.names[1], (18, 17, 16, 15), room[1], True))
    full_w = c.width(card.names[0], size, True)
    _arrow(c, centre - 22 - full_w, axis_y, -1, SIDE["full"])
    c.text((centre - 12, axis_y), card.names[0], size, SIDE["full"], bold=True, anchor="rm")
    semi = c.ellipsize(card.names[1], size, room[1], True)
    _arrow(c, centre + 22 + c.width(semi, size, True), axis_y, 1, SIDE["semi"])
    c.text((centre + 12, axis_y), semi, size, SIDE["semi"], bold=True, anchor="lm")
    if not card.bars:
        return
    top = axis_y + 18
    row = min(58.0, (BODY_BOTTOM - top) / len(card.bars))
    c.draw.line((centre, top, centre, top + row * len(card.bars)), fill=SIDE["neutral"], width=2)
    title_size = 18 if card.lang == "zh" else 17
    title_w = max(c.width(b.title, title_size, True) for b in card.bars)
    answer_x = M + min(title_w, 180) + 14
    answer_room = left - 16 - answer_x
    # one size for every answer of the card: the largest at which they all fit (the longest is cut below 18 px)
    answer_size = min(c.fit_size(b.answer, (24, 23, 22, 21, 20, 19, 18), answer_room) for b in card.bars)
    for i, bar in enumerate(card.bars):
        mid = top + i * row + row / 2
        c.text((M, mid), c.ellipsize(bar.title, title_size, 180, True), title_size, MUTED, bold=True, anchor="lm")
        c.text((answer_x, mid), c.ellipsize(bar.answer, answer_size, answer_room), answer_size, INK, anchor="lm")
        c.pill((left, mid - 9, right, mid + 9), LINE)
        if bar.side == "neutral":
            c.draw.ellipse((centre - 8, mid - 8, centre + 8, mid + 8), fill=SIDE["neutral"])
            continue
        end = centre + max(-1.0, min(1.0, bar.value)) * half
        c.draw.rounded_rectangle((min(centre, end), mid - 9, max(centre, end), mid + 9), radius=9,
                                 fill=SIDE[bar.side])


def _reasons(c: Canvas, card: ResultCard) -> None:
    """The main reasons, each marked with the colour of the side it favours: three if they fit, else two."""
    left, right = REASONS
    c.text((left, BODY_TOP), c.ellipsize(card.reasons_title, 26, right - left, True), 26, INK, bold=True)
    top, indent, gap = BODY_TOP + 50, 24, 14
    width, room = right - left - indent, BODY_BOTTOM - top
    plans = [(n, size) for n in (3, 2, 1) for size in (24, 22)]
    for count, size in plans:
        chosen = card.reasons[:count]
        if len(chosen) < count:
            continue
        step = round(size * 1.3)
        wrapped = [(side, c.wrap(text, size, width)) for side, text in chosen]
        if sum(len(lines) * step + gap for _, lines in wrapped) - gap <= room:
            break
    else:                                        # even one reason is too long: cut it to the room
        count, size = 1, 22
        step = round(size * 1.3)
        wrapped = [(side, c.wrap(text, size, width, int(room // step))) for side, text in card.reasons[:1]]
    y = top
    for side, lines in wrapped:
        c.draw.ellipse((left, y + size * 0.35, left + 12, y + size * 0.35 + 12), fill=SIDE[side])
        y = c.lines(left + indent, y, lines, size, INK) + gap


def draw_result(fonts: FontSet, card: ResultCard) -> bytes:
    c = Canvas(fonts, card.lang)
    _result_header(c, card)
    _bars(c, card)
    c.draw.line((DIVIDER, BODY_TOP + 4, DIVIDER, BODY_BOTTOM), fill=LINE, width=2)
    _reasons(c, card)
    _footer(c, card.app, card.footer)
    return c.png()


# -- the comparison card -----------------------------------------------------------------------
COMPARE_HEADER = 132


def _panel_lines(c: Canvas, panel: ModePanel, lead_size: int, size: int,
                 width: float) -> tuple[list[str], list[list[str]]]:
    """The panel's lead and its points, wrapped to the panel (each point indented past its bullet)."""
    return (c.wrap(panel.lead, lead_size, width, bold=True),
            [c.wrap(point, size, width - 24) for point in panel.points])


def draw_compare(fonts: FontSet, card: CompareCard) -> bytes:
    c = Canvas(fonts, card.lang)
    c.draw.rectangle((0, 0, W, COMPARE_HEADER), fill=SLATE)
    size = c.fit_size(card.title, (56, 50, 44, 38, 32), W - 2 * M, True)
    c.text((M, COMPARE_HEADER / 2), c.ellipsize(card.title, size, W - 2 * M, True), size, WHITE, bold=True,
           anchor="lm")
    gap, top, bottom = 28, COMPARE_HEADER + 28, H - FOOTER - 24
    width = (W - 2 * M - gap) / 2
    inner_w = width - 56
    text_top = top + 32 + 40 + 24                   # below the mode's name (at most 40 px)
    # one text size for both panels: the largest at which both fit
    for lead_size, size in ((38, 34), (36, 32), (34, 30), (32, 28), (30, 26), (28, 25), (26, 24), (24, 22), (22, 20)):
        lead_step, step = round(lead_size * 1.3), round(size * 1.32)
        heights = []
        for panel in card.panels:
            lead, points = _panel_lines(c, panel, lead_size, size, inner_w)
            heights.append(len(lead) * lead_step + 12 + sum(len(p) * step + 12 for p in points))
        if max(heights) <= bottom - 20 - text_top:
            break
    for i, panel in enumerate(card.panels):
        left = M + i * (width + gap)
        c.draw.rounded_rectangle((left, top, left + width, bottom), radius=18, fill=TINT[panel.mode])
        c.draw.rounded_rectangle((left, top, left + width, top + 12), radius=6, fill=SIDE[panel.mode])
        x = left + 28
        name_size = c.fit_size(panel.name, (40, 34, 28), inner_w, True)
        c.text((x, top + 32), c.ellipsize(panel.name, name_size, inner_w, True), name_size, SIDE[panel.mode],
               bold=True)
        y = top + 32 + name_size + 24
        lead, points = _panel_lines(c, panel, lead_size, size, inner_w)
        y = c.lines(x, y, lead[:3], lead_size, INK, bold=True) + 12
        for lines in points:
            room = int((bottom - 20 - y) // step)
            if room <= 0:
                break
            if len(lines) > room:
                lines = lines[:room - 1] + [c.ellipsize(lines[room - 1] + ELLIPSIS * 2, size, inner_w - 24)]
            c.draw.ellipse((x, y + size * 0.38, x + 10, y + size * 0.38 + 10), fill=SIDE[panel.mode])
            y = c.lines(x + 24, y, lines, size, INK, leading=1.32) + 12
    _footer(c, card.app, card.footer)
    return c.png()
