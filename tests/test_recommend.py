"""The recommendation: the public examples, profiles derived from the source article, and its explanations."""
import pytest

from bot.engine.dialogue import ResultView
from bot.engine.recommend import recommend
from bot.engine.spec import UNSURE
from bot.render import PLAIN


def rec(services, factory, experience, capital, brand, **optional):
    answers = dict(factory=factory, experience=experience, capital=capital, brand=brand, **optional)
    return recommend(services.flow, services.rules, answers)


# The public examples from the issue; they are a contract.
@pytest.mark.parametrize("answers,mode,borderline", [
    (("own_factory", "none", "limited", "volume"), "full", False),
    (("none", "none", "limited", "balanced"), "full", False),
    (("sourcing", "mature", "strong", "brand"), "semi", False),
    (("own_factory", "mature", "strong", "brand"), "semi", False),
    (("none", "none", "limited", "brand"), "full", False),
    (("sourcing", "some", "moderate", "balanced"), None, True),
])
def test_public_examples(services, answers, mode, borderline):
    r = rec(services, *answers)
    assert r.borderline is borderline
    if mode:
        assert r.mode == mode


def test_newcomer_who_wants_a_brand_gets_full_now_with_the_path_to_semi(services):
    r = rec(services, "none", "none", "limited", "brand")
    assert r.mode == "full" and r.semi_later
    assert {g.step for g in r.closed_gates} == {"capital", "experience"}
    text = services.renderer(PLAIN).result(ResultView(r, {}), "en")
    assert text.splitlines()[0] == "Recommendation: Full-managed for now; Semi-managed could fit once you're ready"
    assert "What Semi-managed would still need" in text
    # The sources do not say a shop can switch modes: the result must not promise it.
    assert "don't say whether an existing shop can move" in text


# Profiles read from the source article (shared/source/000_28ec2504a50c074c.txt).
@pytest.mark.parametrize("answers,optional,mode", [
    # Factory sellers: stable, cost-controlled supply but no cross-border operations -> full.
    (("own_factory", "none", "moderate", "volume"), {}, "full"),
    (("own_factory", "some", "limited", "balanced"), {}, "full"),
    # Newcomers / small businesses with limited money and resources -> full ("platform as safety net").
    (("sourcing", "none", "limited", "balanced"), {}, "full"),
    (("none", "some", "limited", "volume"), {"risk": "low"}, "full"),
    # Export companies with overseas operations experience and a mature team -> semi.
    (("sourcing", "mature", "strong", "balanced"), {}, "semi"),
    (("sourcing", "mature", "moderate", "brand"), {"content": "strong"}, "semi"),
    # Brand sellers able to pre-stock -> semi.
    (("own_factory", "some", "strong", "brand"), {}, "semi"),
    (("own_factory", "some", "strong", "brand"), {"category": "high_ticket"}, "semi"),
    # Light small items, low risk appetite and no content team pull to full.
    (("own_factory", "some", "moderate", "balanced"), {"category": "light_small", "risk": "low", "content": "none"}, "full"),
    # Experience and brand ambitions but no money for overseas stock: full now (gate), not semi.
    (("own_factory", "mature", "limited", "brand"), {}, "full"),
])
def test_profiles_from_the_source_article(services, answers, optional, mode):
    assert rec(services, *answers, **optional).mode == mode


def test_blocked_semi_says_what_is_missing(services):
    r = rec(services, "own_factory", "mature", "limited", "brand")
    assert r.blocked and r.score > 0 and [g.step for g in r.closed_gates] == ["capital"]


def test_borderline_explains_both_sides_and_what_would_tip_it(services):
    r = rec(services, "sourcing", "some", "moderate", "balanced")
    assert r.tippers and all(t.mode == "semi" for t in r.tippers)
    assert [m for m, _ in r.tradeoffs] == ["full", "semi"]
    assert {m: notes for m, notes in r.tradeoffs} == services.rules.tradeoffs
    assert r.confidence <= 0.6
    for t in r.tippers:
        flipped = rec(services, **{"factory": "sourcing", "experience": "some", "capital": "moderate",
                                   "brand": "balanced", t.step: t.option})
        assert flipped.mode == t.mode and not flipped.borderline


def test_every_answer_has_a_reason_that_says_which_way_it_pushed(services):
    r = rec(services, "own_factory", "mature", "strong", "volume", risk=UNSURE)
    by_step = {x.step: x for x in r.reasons}
    # The article: factory sellers with stable, cost-controlled supply fit full-managed.
    assert by_step["factory"].favours == "full" and by_step["brand"].favours == "full"
    assert by_step["experience"].favours == "semi"
    assert by_step["risk"].favours == "neutral" and r.unsure == ("risk",)
    assert "not sure" in by_step["risk"].text.en and "不确定" in by_step["risk"].text.zh


def test_confidence_grows_with_agreement(services):
    weak = rec(services, "sourcing", "mature", "moderate", "balanced")
    strong = rec(services, "own_factory", "mature", "strong", "brand")
    assert 0 < weak.confidence < strong.confidence <= 1


def test_result_text_leads_with_the_verdict_in_both_languages(services):
    render = services.renderer(PLAIN)
    r = rec(services, "sourcing", "mature", "strong", "brand")
    zh = render.result(ResultView(r, {}), "zh")
    en = render.result(ResultView(r, {}), "en")
    assert zh.splitlines()[0] == "推荐：半托管" and en.splitlines()[0] == "Recommendation: Semi-managed"
    for section in ("为什么", "取舍", "下一步准备", "注意"):
        assert section in zh
    for section in ("Why", "Trade-offs", "What to prepare next", "Keep in mind"):
        assert section in en


def test_a_borderline_result_lists_trade_offs_under_each_modes_name(services):
    r = rec(services, "sourcing", "some", "moderate", "balanced")
    text = services.renderer(PLAIN).result(ResultView(r, {}), "en")
    block = text.split("Trade-offs\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert block[0] == "Full-managed" and "Semi-managed" in block
    semi_at = block.index("Semi-managed")
    assert all(line.startswith("• ") for line in block[1:semi_at] + block[semi_at + 1:])
    assert any(line.startswith("• Gains") for line in block[1:semi_at])
    assert any(line.startswith("• Gains") for line in block[semi_at + 1:])


def test_factor_tags_say_which_mode_each_answer_favours_in_words(services):
    r = rec(services, "own_factory", "none", "limited", "volume", risk=UNSURE)
    en = services.renderer(PLAIN).result(ResultView(r, {}), "en")
    zh = services.renderer(PLAIN).result(ResultView(r, {}), "zh")
    assert "🔵 Supply (favours Full-managed): " in en
    assert "⚪ Risk (neutral, favours neither mode): " in en
    assert "🔵 货源（倾向全托管）：" in zh
    assert " full " not in en.replace("\n", " ")  # no bare tag words


def test_english_labels_have_a_space_after_the_colon(services):
    render = services.renderer(PLAIN)
    from bot.engine.dialogue import ConfirmView
    text = render.confirm(ConfirmView({"factory": "own_factory"}), "en")
    assert "Supply: Own factory" in text
    assert "货源：自有工厂" in render.confirm(ConfirmView({"factory": "own_factory"}), "zh")


def test_advice_tagged_as_ours_is_shown_as_our_suggestion(services):
    r = rec(services, "none", "none", "limited", "brand")
    text = services.renderer(PLAIN).result(ResultView(r, {}), "en")
    assert "(our suggestion, not the article's or the platform's)" in text
