"""Picture cards (bot/cards): format, size, cache, fonts and the no-CJK-font fallback. Not pixels."""
from __future__ import annotations

import ast
import io
import logging
import os
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from bot import LANGS
from bot.cards import CardMaker, find_fonts
from bot.cards import maker as maker_module
from bot.cards.__main__ import SAMPLES
from bot.cards.content import Bar, compare_card, max_weight, quiz_link, result_card
from bot.cards.draw import H, W, Canvas
from bot.cards.fonts import CJK_PROBE, Face, FontSet, _rank, card_font_setting, draws
from bot.engine.recommend import recommend
from bot.engine.spec import UNSURE
from bot.kb.models import Text
from bot.render import Renderer

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 300 * 1024
BOT = "ModeAdvisorBot"


def _no_cjk_fonts() -> FontSet:
    """Fonts as on a machine without any CJK font (and, here, without fontconfig or DejaVu either)."""
    return find_fonts("", cjk_files=(), latin_files=(), fontconfig=False)


@pytest.fixture(scope="module")
def cards(services):
    maker = CardMaker.for_services(services, font_setting="")
    if not maker.can_draw("zh"):
        if os.environ.get("CI"):
            pytest.fail("CI must have a CJK font (.ci/run installs fonts-wqy-microhei)")
        pytest.skip("no CJK font on this machine: apt-get install fonts-noto-cjk (the fallback is tested below)")
    return maker


@pytest.fixture
def fresh_log(monkeypatch):
    """Forget which missing fonts were already logged (the log says it once per process)."""
    monkeypatch.setattr(maker_module, "_told", set())


def _recs(services):
    return {name: recommend(services.flow, services.rules, answers) for name, (answers, _) in SAMPLES.items()}


def assert_card_png(png: bytes | None) -> Image.Image:
    assert png is not None and png[:8] == PNG_SIGNATURE
    assert len(png) < MAX_BYTES, f"{len(png)} bytes"
    width, height = struct.unpack(">II", png[16:24])      # the IHDR chunk
    assert (width, height) == (W, H) == (1280, 720)
    image = Image.open(io.BytesIO(png))
    image.load()                                           # the whole file decodes
    assert image.format == "PNG" and image.size == (W, H)
    return image


# --- the pictures ------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", list(SAMPLES))
def test_result_cards_are_small_pngs_of_the_right_size(cards, services, name, lang):
    answers, is_kind = SAMPLES[name]
    rec = recommend(services.flow, services.rules, answers)
    assert is_kind(rec), f"sample {name} no longer gives that kind of result"
    image = assert_card_png(cards.result_png(rec, lang, BOT))
    assert len(image.getcolors(maxcolors=4096) or ()) > 8     # not a blank canvas


@pytest.mark.parametrize("lang", LANGS)
def test_comparison_card(cards, lang):
    assert_card_png(cards.compare_png(lang, BOT))


def test_the_cache_draws_each_card_once_and_returns_the_same_bytes(services, cards):
    rec = _recs(services)["semi"]
    cards.clear_cache()
    first = cards.result_png(rec, "en", BOT)
    again = cards.result_png(rec, "en", BOT)
    assert again is first and cards.cache_stats().hits == 1 and cards.cache_stats().misses == 1
    cards.clear_cache()
    assert cards.result_png(rec, "en", BOT) == first            # drawing is deterministic
    assert cards.compare_png("zh", BOT) is cards.compare_png("zh", BOT)


def test_stamped_text_is_what_pillow_draws(cards, monkeypatch):
    """Text is rasterised once and pasted after: same pixels as drawing it, with the stamps cold or warm."""
    from bot.cards import draw as draw_module
    monkeypatch.setattr(draw_module, "_STAMPS", {})
    for lang, text, bold in (("en", "Semi-managed fits: 72%", True), ("zh", "半托管：自主定价，海外仓备货", False),
                             ("zh", "把握度 60%", True)):
        font, stroke = cards.fonts.font(lang, 40, bold)
        plain = Image.new("RGB", (W, H), (255, 255, 255))
        ImageDraw.Draw(plain).text((100, 200), text, font=font, fill=(15, 23, 42), anchor="ls",
                                   stroke_width=stroke, stroke_fill=(15, 23, 42))
        for _ in ("cold", "warm"):
            canvas = Canvas(cards.fonts, lang, background=(255, 255, 255))
            canvas.text((100, 200), text, 40, (15, 23, 42), bold, anchor="ls")
            assert canvas.image.tobytes() == plain.tobytes(), (lang, text)
    assert len(draw_module._STAMPS) == 3


def test_the_key_is_what_is_drawn(services, cards):
    recs = _recs(services)
    key = cards.result_key(recs["full"], "en", BOT)
    assert key == cards.result_key(recommend(services.flow, services.rules, dict(SAMPLES["full"][0])), "en", BOT)
    others = {cards.result_key(recs["semi"], "en", BOT), cards.result_key(recs["full"], "zh", BOT),
              cards.result_key(recs["full"], "en", "OtherBot"), cards.compare_key("en", BOT)}
    assert key not in others and len(others) == 4
    # answers that change nothing on the card (a skipped optional step) give the same card
    skipped = recommend(services.flow, services.rules, {**SAMPLES["full"][0], "category": "skip"})
    assert cards.result_key(skipped, "en", BOT) == key


def test_the_cache_is_bounded(services):
    maker = CardMaker.for_services(services, font_setting="", cache_size=2)
    recs = list(_recs(services).values())[:3]
    for rec in recs:
        maker.result_png(rec, "en", BOT)
    assert maker.cache_stats().size == 2 and maker.cache_stats().misses == 3
    maker.result_png(recs[0], "en", BOT)                      # the oldest was evicted
    assert maker.cache_stats().misses == 4
    maker.result_png(recs[2], "en", BOT)
    assert maker.cache_stats().hits == 1


def test_concurrent_requests_draw_a_card_once(services):
    maker = CardMaker.for_services(services, font_setting="")
    rec = _recs(services)["borderline"]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: maker.result_png(rec, "en", BOT), range(12)))
    assert all(r is results[0] for r in results) and maker.cache_stats().misses == 1


def _long(text: Text, times: int = 12) -> Text:
    return Text(text.zh * times, (text.en + " ") * times)


def test_long_labels_and_usernames_do_not_crash(services, cards, monkeypatch):
    flow, kb = services.flow, services.kb
    steps = tuple(replace(s, title=_long(s.title), options=tuple(
        replace(o, label=_long(o.label), reason=_long(o.reason, 4)) for o in s.options)) for s in flow.steps)
    long_flow = replace(flow, steps=steps, by_id={s.id: s for s in steps},
                        unsure=replace(flow.unsure, label=_long(flow.unsure.label)))
    modes = {k: replace(m, name=_long(m.name, 4), summary=_long(m.summary, 3)) for k, m in kb.modes.items()}
    ui = dict(kb.ui, **{k: _long(kb.ui[k], 6) for k in ("card.kicker", "card.factors", "card.cta", "app.name")})
    long_kb = replace(kb, modes=modes, ui=ui)
    maker = CardMaker(long_kb, long_flow, cards.fonts)
    username = "a" * 32
    for name, (answers, _) in SAMPLES.items():
        rec = recommend(long_flow, services.rules, answers)
        for lang in LANGS:
            assert_card_png(maker.result_png(rec, lang, username))
    for lang in LANGS:
        assert_card_png(maker.compare_png(lang, username))
    # every answer "not sure": no reasons at all, seven neutral bars
    rec = recommend(flow, services.rules, {s.id: UNSURE for s in flow.steps})
    assert_card_png(cards.result_png(rec, "zh", BOT))


# --- what the card shows: the same data as the text result ---------------------------------------


def test_card_data_comes_from_the_recommendation(services):
    flow, kb = services.flow, services.kb
    r = Renderer(kb, flow)
    for name, rec in _recs(services).items():
        for lang in LANGS:
            card = result_card(kb, flow, rec, lang, "@" + BOT)
            answered = [s for s in flow.steps if s.id in {x.step for x in rec.reasons}]
            assert [b.title for b in card.bars] == [s.title(lang) for s in answered]
            for bar, step in zip(card.bars, answered):
                reason = next(x for x in rec.reasons if x.step == step.id)
                assert bar.answer == r.option_label(step.id, reason.option, lang)
                assert bar.value == reason.weight / max_weight(flow) and -1 <= bar.value <= 1
                assert bar.side == reason.favours
            assert card.reasons == tuple((x.favours, x.text(lang)) for x in rec.reasons
                                         if x.favours != "neutral")[:3]
            assert card.confidence_text == r.raw("result.confidence", lang, pct=round(rec.confidence * 100))
            assert card.footer.handle == "@" + BOT and card.footer.link == f"https://t.me/{BOT}?start=quiz"
            assert card.mode == rec.mode
            assert card.kind == {"borderline": "borderline", "full-now-semi-later": "later"}.get(name, "clear")
            assert (card.subline != "") == (card.kind != "clear")
    assert quiz_link("@x_bot") == "https://t.me/x_bot?start=quiz"
    assert Bar("t", "a", 0.0).side == "neutral"


def test_comparison_data_is_the_mode_summaries(services):
    for lang in LANGS:
        card = compare_card(services.kb, services.flow, lang, BOT)
        assert [p.mode for p in card.panels] == ["full", "semi"]
        for panel in card.panels:
            summary = services.kb.modes[panel.mode].summary(lang)
            assert panel.lead and summary.startswith(panel.lead) and panel.points
            squeeze = lambda s: "".join(ch for ch in s.lower() if ch.isalnum())  # noqa: E731
            assert squeeze(panel.lead + "".join(panel.points)) == squeeze(summary)


# --- fonts and the fallback to text ---------------------------------------------------------------


def test_no_cjk_font_means_no_chinese_card_and_one_log_line(services, fresh_log, caplog):
    caplog.set_level(logging.INFO, logger="bot.cards")
    fonts = _no_cjk_fonts()
    assert not fonts.supports("zh") and fonts.supports("en")
    first = CardMaker(services.kb, services.flow, fonts)
    second = CardMaker(services.kb, services.flow, fonts)
    rec = _recs(services)["full"]
    for maker in (first, second):
        assert not maker.can_draw("zh")
        assert maker.result_png(rec, "zh", BOT) is None and maker.compare_png("zh", BOT) is None
        assert maker.result_key(rec, "zh", BOT) is None
    told = [r for r in caplog.records if "CJK font" in r.getMessage()]
    assert len(told) == 1 and "fonts-noto-cjk" in told[0].getMessage() and "CARD_FONT" in told[0].getMessage()
    # English still has a picture, drawn with the font Pillow bundles
    assert fonts.choices["en"].regular.path is None
    assert_card_png(first.result_png(rec, "en", BOT))
    assert_card_png(first.compare_png("en", BOT))


def test_card_font_off_turns_pictures_off(services, fresh_log, caplog):
    caplog.set_level(logging.INFO, logger="bot.cards")
    maker = CardMaker.for_services(services, font_setting="off")
    assert maker.result_png(_recs(services)["semi"], "en", BOT) is None
    assert maker.compare_png("zh", BOT) is None
    assert any("Picture cards are off" in r.getMessage() for r in caplog.records)


def test_card_font_setting(tmp_path, caplog):
    env_file = tmp_path / ".env"
    env_file.write_text("CARD_FONT=/from/env/file.ttc\n", encoding="utf-8")
    assert card_font_setting({}, env_file) == "/from/env/file.ttc"
    assert card_font_setting({"CARD_FONT": " /x.ttf "}, env_file) == "/x.ttf"
    assert card_font_setting({}, tmp_path / "missing") == ""
    not_a_font = tmp_path / "font.ttf"
    not_a_font.write_bytes(b"not a font")
    caplog.set_level(logging.WARNING, logger="bot.cards")
    fonts = find_fonts(str(not_a_font), cjk_files=(), latin_files=(), fontconfig=False)
    assert fonts.supports("en") and not fonts.supports("zh")
    assert any("not a readable font file" in r.getMessage() for r in caplog.records)


def test_a_card_font_setting_is_used_for_both_languages(cards):
    path = cards.fonts.choices["zh"].regular.path
    fonts = find_fonts(path, cjk_files=(), latin_files=(), fontconfig=False)
    assert fonts.choices["zh"].regular.path == path == fonts.choices["en"].regular.path


def test_fontconfig_finds_a_cjk_font(cards):
    import shutil
    if shutil.which("fc-list") is None:
        pytest.skip("no fontconfig here")
    fonts = find_fonts("", cjk_files=(), latin_files=(), fontconfig=True)
    assert fonts.supports("zh") and draws(fonts.choices["zh"].regular, CJK_PROBE)


def test_faces_are_ranked_simplified_chinese_first():
    faces = [Face("x", 0, "Noto Sans CJK JP", "Regular"), Face("x", 1, "Noto Sans Mono CJK SC", "Regular"),
             Face("x", 2, "Noto Sans CJK SC", "Regular"), Face("x", 3, "PingFang SC", "Ultralight"),
             Face("x", 4, "PingFang SC", "Regular")]
    assert sorted(faces, key=_rank)[:2] == [faces[2], faces[4]]
    assert sorted(faces, key=_rank)[-1] == faces[1]
    assert not draws(Face("/nonexistent.ttf"), "a")


# --- text fitting ---------------------------------------------------------------------------------

_HANGING = "，。、；：！？）」』”’》〉,.;:!?)%"


@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("全托管半托管推荐模式，。；：abc Def-ghij,; ")),
                    min_size=0, max_size=160),
       width=st.integers(min_value=30, max_value=500), lang=st.sampled_from(LANGS))
def test_wrapped_lines_fit_their_width(text, width, lang):
    fonts = find_fonts("")
    if not fonts.supports(lang):
        lang = "en"
    c = Canvas(fonts, lang)
    lines = c.wrap(text, 22, width, max_lines=4)
    assert len(lines) <= 4
    for line in lines:
        assert c.width(line.rstrip(_HANGING), 22) <= width + 0.5
    if text.strip() and not any(line.endswith("…") for line in lines):
        squeeze = lambda s: "".join(s.split())  # noqa: E731
        assert squeeze("".join(lines)) == squeeze(text)           # nothing lost unless cut
    assert c.width(c.ellipsize(text, 22, width), 22) <= width + 0.5 or len(text) <= 1


# --- layers -----------------------------------------------------------------------------------------


def test_cards_import_nothing_from_telegram():
    for path in (Path(__file__).resolve().parent.parent / "bot" / "cards").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n.name for node in ast.walk(tree) if isinstance(node, ast.Import) for n in node.names}
        names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not {n for n in names if n.startswith(("telegram", "bot.tg"))}, path
