"""Understanding (bot.nlu): normalisation, facts, clauses, negation, the issue's examples, hostile
input, the model cache, and a small content of its own (engine-free)."""
from __future__ import annotations

import json

import pytest

from bot.nlu.content import AmountRule, Content, FaqDoc, Level, Lexicon, Slot, YearsRule
from bot.nlu.facts import amounts, durations, zh_number
from bot.nlu.faq import FaqClassifier
from bot.nlu import features
from bot.nlu.features import Featurizer
from bot.nlu.text import clauses, normalize
from bot.nlu.understand import Understanding

RATE = 7.2


# --- text -------------------------------------------------------------------------------------

def test_normalize_width_case_space_invisibles_and_traditional():
    assert normalize("ＦＵＬＬ　Ｍａｎａｇｅｄ") == "full managed"
    assert normalize("a\u200bb\u200dc\ufeff") == "abc"
    assert normalize("  hello\n\t world\x07 ") == "hello world"
    assert normalize("全託管模式下誰來定價？") == "全托管模式下谁来定价?"
    assert normalize("<b>全托管</b>谁定价") == "全托管 谁定价"
    assert normalize(None) == "" and normalize(12) == "12"
    assert len(normalize("全" * 10_000)) == 600


def test_clauses_split_on_punctuation_and_connectives_and_mark_contrast():
    found = clauses(normalize("我们不是工厂，但有几家长期合作的供应商"))
    assert [str(c) for c in found] == ["我们不是工厂", "但有几家长期合作的供应商"]
    assert [c.contrast for c in found] == [False, True]
    found = clauses(normalize("we are a factory but never sold abroad and money is tight"))
    assert [str(c) for c in found] == ["we are a factory", "never sold abroad", "money is tight"]
    assert [c.contrast for c in found] == [False, True, False]
    assert [str(c) for c in clauses("rmb 80,000 budget")] == ["rmb 80,000 budget"]   # a thousands comma
    # "between X and Y" is one thing said, not two clauses
    assert [str(c) for c in clauses("torn between a brand and steady orders, and we have 20k")] == [
        "torn between a brand and steady orders", "we have 20k"]


# --- facts ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,cny,usd", [
    ("手头现金大概二十万", 200_000, False), ("预算五十万左右", 500_000, False), ("50w", 500_000, False),
    ("五十个w", 500_000, False), ("20个w", 200_000, False), ("十来万", 100_000, False), ("几千块", 3_000, False),
    ("一两万", 15_000, False), ("1.5万", 15_000, False), ("RMB 80,000", 80_000, False), ("¥200,000", 200_000, False),
    ("$20k", 144_000, True), ("we could put maybe 30k USD into stock", 216_000, True), ("3万美金", 216_000, True),
    ("half a million yuan", 500_000, False), ("一百五十万", 1_500_000, False),
    # orders of magnitude, read like 几万 / 几十万 / 几百万
    ("a few tens of thousands of dollars", 216_000, True), ("hundreds of thousands of rmb", 300_000, False),
    ("a few hundred bucks", 2_160, True),
    ("about 80-ish k rmb", 80_000, False), ("40ish grand usd", 288_000, True),     # an approximate number
    ("二十好几万", 230_000, False), ("a couple hundred grand rmb", 200_000, False),
    ("about 1 mil rmb budget", 1_000_000, False), ("about 12 grand US", 86_400, True),
    ("I could put maybe 10 grand (usd) in", 72_000, True),            # a currency in brackets
])
def test_amounts_in_the_forms_sellers_type(text, cny, usd):
    found = amounts(normalize(text), RATE)
    assert len(found) == 1 and round(found[0].value) == cny and found[0].usd is usd


@pytest.mark.parametrize("text", ["around 40 million VND", "Capital around £20k", "Budget RM 100k can", "资金大概80万台币",
                                  "we have about SGD 25k", "S$30k", "20 juta rupiah", "€15k"])
def test_amounts_in_other_currencies_are_not_read_and_say_no_capital_level(services, text):
    """The bands are in yuan and dollars (DEFINITIONS); a rate for the baht would be a guess that ages."""
    from bot.nlu.facts import foreign_amount
    assert amounts(normalize(text), RATE) == [] and foreign_amount(normalize(text))
    assert "capital" not in services.nlu.read(text).answers
    assert "capital" not in services.nlu.read(text, step="capital").answers


@pytest.mark.parametrize("text,answers", [
    ("I have 0 experience abroad, 0 supplier, 0 content skills", {"experience": "none", "factory": "none", "content": "none"}),
    ("跨境0经验", {"experience": "none"}),
    # a plan is not the present state
    ("我们打算明年招直播团队，目前没人做内容", {"content": "none"}),
    ("We plan to open our own factory next year; for now we order from 3 long-term OEM partners", {"factory": "sourcing"}),
    # years the model cannot see, read by the years rule's band
    ("Been doing TikTok Shop US and UK for 2 years", {"experience": "some"}),
    ("2 years on Back Market EU", {"experience": "some"}),
])
def test_zero_plans_and_years_the_model_cannot_see(services, text, answers):
    got = services.nlu.read(text).answers
    assert {k: got.get(k) for k in answers} == answers, got


def test_a_plan_alone_states_nothing(services):
    """"I plan to hire a live streaming team next year": no content level today (not strong)."""
    got = services.nlu.read("I plan to hire a live streaming team next year, but right now we don't do any video")
    assert got.answers.get("content") in (None, "none")


@pytest.mark.parametrize("text", ["3个人", "2019年开始", "我们有3个工厂", "做了三年", "top 10 products", "2 skus",
                                  "millions of followers", "hundreds of orders a day"])
def test_numbers_that_are_not_money(text):
    assert amounts(normalize(text), RATE) == []


def test_a_bare_number_is_money_only_with_the_capital_question_on_screen():
    assert amounts("200000", RATE) == []
    assert round(amounts("200000", RATE, bare_ok=True)[0].value) == 200_000
    assert amounts("2", RATE, bare_ok=True) == []          # an option number, not a budget
    assert amounts("三千", RATE) == [] and round(amounts("三千", RATE, bare_ok=True)[0].value) == 3_000
    assert amounts("三年", RATE, bare_ok=True) == [] and amounts("十来个人", RATE, bare_ok=True) == []


@pytest.mark.parametrize("text,years", [
    ("做过三年速卖通", 3), ("之前在亚马逊卖过两年", 2), ("干了五年", 5), ("3 yrs", 3), ("about a year", 1),
    ("a couple of years", 2), ("6 months", 0.5), ("一年半", 1.5), ("半年", 0.5), ("五六年", 5.5),
    ("about a decade", 10), ("two decades", 20),
])
def test_durations(text, years):
    assert [d.years for d in durations(normalize(text))] == [years]


@pytest.mark.parametrize("text", ["跨境做了不满三年", "快3年了", "less than 3 years on amazon", "not even three years",
                                  "亚马逊三年不到"])
def test_a_duration_said_to_fall_short_of_n_years_is_read_under_n(text):
    assert all(2 < d.years < 3 for d in durations(normalize(text))) and durations(normalize(text))


def test_zh_numbers():
    assert [zh_number(t) for t in ("二十", "一百五", "十来", "三四十", "几", "两")] == [20, 150, 10, 35, 3, 2]
    assert zh_number("abc") is None


def test_negation_gives_negated_words_their_own_features():
    f = Featurizer()
    plain, negated = set(f("有工厂")), set(f("没有工厂"))
    assert "工厂" in plain and "工厂" not in negated and "~工厂" in negated and "有工厂" not in negated
    assert "w:factory" in f("we have a factory") and "w:factory" not in f("we have no factory")
    assert "w:brand" in f("we want a brand") and "w:brand" not in f("forget the brand")
    said_no = features.negated
    assert said_no("订单其次") and said_no("brand is secondary") and not said_no("品牌优先")


# --- the issue's examples through the real content ---------------------------------------------

# reading rules: supply not settled, short years, both ends
RULE_CASES = [
    ("factory", "工厂还没谈妥", "none"),                   # supply not settled is a fact: none yet
    ("factory", "在谈一家代工厂，还没定", "none"),
    ("factory", "工厂那边还没谈好，不确定", "unsure"),       # ...but "not sure" said in so many words stays a hedge
    ("capital", "预算还没定", "unsure"),                    # the rule is about supply only
    ("experience", "跨境做了不满三年", "some"),
    ("brand", "sales now and a brand later on", "balanced"),   # one end beside "both" is both
    ("content", "we can't really make videos", "none"),        # "can't really" is not a hedge by itself
    ("brand", "keep the orders coming and forget the brand", "volume"),  # "forget" says no: not both ends
]


def test_an_end_said_to_come_second_is_not_both_ends(services):
    # "订单其次" (orders come second) says no to orders: never "a bit of both"
    assert services.nlu.read("品牌优先，订单其次", step="brand").answers.get("brand") != "balanced"

# clause cues: dismissals, hedges, short answers inside a message
CUE_CASES = [
    ("brand", "orders first. brand? nah", "volume"),                 # a dismissal takes back the clause before
    ("factory", "idk tbh, my partner handles suppliers", "unsure"),   # a hedge on screen beats a guess
    ("content", "a little, nobody dedicated", "some"),              # a short answer inside a message
    ("experience", "no, but we do have a factory", "none"),         # an opening "no" answers the question on screen
]


@pytest.mark.parametrize("step,text,level", [
    ("experience", "做过三年速卖通", "mature"),
    ("brand", "品牌和销量我们都看重", "balanced"),
    ("experience", "we sold on Shopee for about a year", "some"),
    ("factory", "我们自己不生产，找稳定的工厂代工", "sourcing"),
    ("brand", "we don't care much about branding", "volume"),
    ("capital", "大概有二十万现金", "moderate"),
    ("capital", "预算五十万左右", "strong"),
    ("capital", "we could put maybe 30k USD into stock", "moderate"),
    ("factory", "还没想清楚", "unsure"),
    ("brand", "not sure yet", "unsure"),
] + RULE_CASES + CUE_CASES)
def test_typed_answers_from_the_issue_and_the_reading_rules(services, step, text, level):
    reading = services.nlu.read(text, step=step)
    assert reading.on_screen == step and reading.answers[step] == level


def test_a_typed_answer_its_clauses_read_otherwise_is_never_the_clause_alone(services):
    # the clause "brand" alone is a short answer (brand); the whole message means "both": it is read as
    # both or asked again, never taken as the clause's "brand" (TYPED_DISAGREE_MARGIN)
    reading = services.nlu.read("equal parts orders and brand", step="brand")
    assert reading.answers.get("brand") in (None, "balanced")


def test_a_typed_answer_only_one_clause_reads_faintly_is_asked_again(services):
    # the whole message reads no level; a faint clause reading (a factory named, not owned) is not taken
    reading = services.nlu.read("we're looking for a factory now", step="factory")
    assert reading.answers.get("factory") != "own_factory"


@pytest.mark.parametrize("text,level", [("2年", "some"), ("1 year", "some"), ("2 years", "some"), ("about 2 years", "some"),
                                        ("做了4年", "mature"), ("5 years", "mature")])
def test_a_bare_number_of_years_answers_the_experience_question(services, text, level):
    # digits are one feature to the models ("2年" read `mature` like "5年"): the years rule reads them
    reading = services.nlu.read(text, step="experience")
    assert reading.answers.get("experience") == level and reading.on_screen == "experience"


@pytest.mark.parametrize("text", ["做了8年代工", "we have run our plant for 12 years", "开厂十年"])
def test_years_of_making_goods_typed_at_the_experience_question_are_not_selling_experience(services, text):
    assert services.nlu.read(text, step="experience").answers.get("experience") not in ("some", "mature")


def test_years_of_running_a_factory_are_not_selling_experience(services):
    reading = services.nlu.read("工厂干了二十年", step="experience")
    assert reading.answers.get("experience") != "mature"


def test_a_description_is_read_clause_by_clause(services):
    r = services.nlu.read("我们在义乌有个小工厂做饰品，之前在亚马逊卖过两年，手头现金大概二十万，想慢慢做出自己的牌子")
    assert {k: r.answers.get(k) for k in ("factory", "experience", "capital", "brand")} == {
        "factory": "own_factory", "experience": "some", "capital": "moderate", "brand": "brand"}
    assert round(r.details["capital"].amount.value) == 200_000 and r.details["experience"].years == 2
    assert r.facts.platforms == ["亚马逊"] and r.lang == "zh"


@pytest.mark.parametrize("text,expected", [
    ("我们不是工厂，但有几家长期合作的供应商", {"factory": "sourcing"}),
    ("给大牌做了很多年OEM，但从没自己卖到海外", {"experience": "none"}),
    ("we did OEM for big brands for years but never sold overseas ourselves", {"experience": "none"}),
])
def test_negation_and_contrast(services, text, expected):
    answers = services.nlu.read(text).answers
    assert {k: answers.get(k) for k in expected} == expected
    assert answers.get("experience") != "mature"          # years of OEM are not cross-border experience


def test_a_fact_about_one_thing_is_not_an_answer_to_another(services):
    assert services.nlu.read("我们的仓库在美国", step="factory").answers.get("factory") is None
    assert "capital" not in services.nlu.read("年销售额五百万，工厂自己的").answers      # revenue is not capital
    assert "capital" not in services.nlu.read("our items sell for $20 each").answers


@pytest.mark.parametrize("text", ["我们有工厂，也是贸易商，也没有稳定货源", "we're a factory and a trader and we have no supplier"])
def test_a_description_naming_every_level_of_one_question_reads_none_of_them(services, text):
    assert "factory" not in services.nlu.read(text).answers


@pytest.mark.parametrize("text,entry", [
    ("which sellers is full-managed made for?", "full_for_whom"),
    ("全托管是给什么类型的卖家设计的", "full_for_whom"),
    ("who is semi-managed really meant for?", "semi_for_whom"),
    ("if I choose a mode and it doesn't work out, can I change?", "switch_modes"),
    ("选错了模式会怎么样", "wrong_choice"),
    ("半托管能让我跟同行做出差异化吗", "semi_differentiation"),
    ("我们想自己开直播带货，该选哪个模式", "own_live_streams"),
    ("全托管谁来定价？", "full_pricing"),
    ("刚起步、预算不多，适合哪种模式？", "fit_newcomer"),      # the issue: it used to land on the capital entry
    ("who pays the first leg freight in semi-managed?", "semi_first_leg"),
])
def test_questions_land_on_their_entry(services, text, entry):
    r = services.nlu.read(text)
    assert r.question and r.answerable and r.faq[0].id == entry, r.faq[:3]


def test_an_advice_question_is_read_as_advice_with_the_facts_it_states(services):
    r = services.nlu.read("刚起步、预算不多，适合哪种模式？")
    assert r.question and r.advice
    assert r.answers.get("experience") == "none" and r.answers.get("capital") == "limited"
    plain = services.nlu.read("哪个模式更赚钱？")
    assert plain.question and not plain.advice and plain.faq[0].id == "margin_compare"


def test_one_more_questionnaire_example_moves_few_situational_questions(services):
    """Each FAQ example is also learned after a seller's situation; one example added to the
    questionnaire re-pairs only the questions it now wins, so the FAQ readings do not all move."""
    content = services.nlu.content
    situations = content.situations()
    before = FaqClassifier.training_set(content.faq, content.out_of_scope, situations)
    more = {**situations, "en": situations["en"] + ("we are a small candle workshop",)}
    after = FaqClassifier.training_set(content.faq, content.out_of_scope, more)
    assert len(before) == len(after)
    moved = sum(a != b for a, b in zip(before, after))
    assert 0 < moved < 0.02 * len(before)


@pytest.mark.parametrize("text", ["what's the weather in Paris tomorrow?", "给我讲个笑话", "how do I get a US visa"])
def test_out_of_scope_questions_fall_back(services, text):
    assert not services.nlu.read(text).answerable


# --- hostile input ------------------------------------------------------------------------------

HOSTILE = ["", "   ", "\n\t", "🙂🙂🙂", "👨‍👩‍👧‍👦" * 40, "?!?!", "<b>全托管</b>谁定价", "<script>alert(1)</script>",
           "全托管谁定价" * 900, "x" * 5000, "a " * 2600, "工" * 5000, "\u200b\u200b", "\x00\x01", "&nbsp;&amp;",
           "我们是factory，没有experience，budget大概五万块", "مرحبا، ما هو النظام المدار بالكامل؟", "1e308万", "9" * 400 + "万",
           "我们有工厂也没工厂，是贸易商也不是，资金充足又有限，做品牌又走量"]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_never_raises(services, text):
    for step in (None, "factory", "capital", "content"):
        r = services.nlu.read(text, step=step, lang="zh")
        json.dumps(r.to_dict(), ensure_ascii=False)
        assert all(0 <= c <= 1 for c in r.confidence.values())
    answer = services.answerer.ask(text, "en")
    json.dumps(answer.to_dict(services.renderer().faq_answer(answer)), ensure_ascii=False)


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_gets_a_friendly_reply_at_every_state(services, text):
    from bot.render import HTML
    render = services.renderer(HTML)
    d = services.dialogue
    for prepare in (lambda s: None, lambda s: d.choose(s, "factory", "none"),
                    lambda s: [d.choose(s, st.id, st.options[0].id) for st in services.flow.core_steps] and d.finish(s)):
        s = d.new_session()
        prepare(s)
        reply = d.text(s, text, "zh")
        for part in render.reply(reply, "zh"):
            assert part.strip()


# --- a small content of its own: engine-free, trained on the spot, cached by content hash ------------

def _mini_content() -> Content:
    lvl = lambda i, zh, en: Level(i, (i,), {"zh": tuple(zh), "en": tuple(en)})  # noqa: E731
    slots = (
        Slot("pet", (lvl("cat", ["我养猫", "家里有只猫", "猫咪", "两只猫"], ["i have a cat", "we own cats", "a kitten", "cat person"]),
                     lvl("dog", ["我养狗", "家里有条狗", "狗狗", "一只狗"], ["i have a dog", "we own dogs", "a puppy", "dog person"])),
             {"zh": ("宠物还没定",), "en": ("not sure about pets",)}),
        Slot("money", (lvl("low", ["钱少", "没钱"], ["little money", "broke"]), lvl("high", ["钱多", "有钱"], ["rich", "lots of money"]))),
    )
    lex = Lexicon(**{name: () for name in Lexicon.__dataclass_fields__})
    faq = (FaqDoc("feed", ("喂食",), {"zh": ("猫吃什么", "狗吃什么", "怎么喂宠物"), "en": ("what do cats eat", "how to feed a dog", "pet food")}),
           FaqDoc("walk", ("遛狗",), {"zh": ("多久遛一次狗", "遛狗时间"), "en": ("how often to walk a dog", "dog walking")}))
    return Content(slots=slots, unsure={"zh": ("不知道",), "en": ("no idea",)}, unsure_short={"zh": ("?",), "en": ("?",)},
                   other={"zh": ("你好",), "en": ("hello",)}, commands={"yes": ("yes", "对")},
                   amounts=AmountRule("money", RATE, (("low", 10_000.0), ("high", None))),
                   years=YearsRule("pet", (("cat", None),), "cat", "cat"), lexicon=lex, faq=faq,
                   out_of_scope={"zh": ("今天天气",), "en": ("weather today",)}, concepts=())


def test_a_small_content_trains_reads_and_is_cached(tmp_path):
    first = Understanding(_mini_content(), cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.json"))) == 1 and len(list(tmp_path.glob("*.npz"))) == 1
    assert first.read("we've got two dogs", step="pet").answers == {"pet": "dog"}
    assert first.read("大概五万块", step="money").answers == {"money": "high"}       # our rule of thumb, from YAML
    assert first.read("what should my cat eat?").faq[0].id == "feed"
    again = Understanding(_mini_content(), cache_dir=tmp_path)          # from the cache: no training
    assert again.read("we've got two dogs", step="pet").answers == {"pet": "dog"}
    for path in tmp_path.glob("*.npz"):
        path.write_bytes(b"not a model")                                # a broken cache is retrained
    assert Understanding(_mini_content(), cache_dir=tmp_path).read("一只小狗", step="pet").answers == {"pet": "dog"}


def test_the_advice_files_questions_alone_make_the_advice_class(tmp_path):
    """knowledge/advice_questions.yaml's questions teach the advice class even with nothing learnt; no
    advice questions at all, no class."""
    from dataclasses import replace

    from bot.nlu.faq import ADVICE
    plain = _mini_content()
    content = replace(plain, advice={"zh": ("猫和狗我该养哪个", "你觉得我适合养哪种", "换成你会选哪种宠物"),
                                     "en": ("cat or dog, which suits me", "which pet would you pick for someone like me",
                                            "help me decide which pet to get")})
    assert content.digest("v") != plain.digest("v")
    nlu = Understanding(content, cache_dir=tmp_path)
    assert ADVICE in nlu.models.faq.classes and ADVICE not in Understanding(plain, cache_dir=tmp_path).models.faq.classes
    asks, feeds = nlu.read("which pet would suit someone like me?"), nlu.read("what do cats eat?")
    assert asks.advice_probability > 0.5 > feeds.advice_probability and feeds.faq[0].id == "feed"


def test_commands_are_whole_messages(services):
    assert services.nlu.command("对") == "yes" and services.nlu.command(" Back ") == "back"
    assert services.nlu.command("对的，我们有工厂") is None


# --- reading the way a person reads: clause cues, merges, sizes and starts ------------------------

def test_clauses_chinese_spaces_and_concession():
    found = clauses(normalize("我们东莞自己有厂 做手机壳的 亚马逊做了五年"))
    assert [str(c) for c in found] == ["我们东莞自己有厂", "做手机壳的", "亚马逊做了五年"]
    assert [str(c) for c in clauses(normalize("直播 不会"))] == ["直播 不会"]           # a short topic stays with its comment
    assert [str(c) for c in clauses(normalize("我们做 shopee 两年了"))] == ["我们做 shopee 两年了"]
    found = clauses(normalize("虽然我家是开厂的，但那是我爸的"))
    assert [(c.concession, c.contrast) for c in found] == [(True, False), (False, True)]


def test_negation_after_its_topic():
    f = Featurizer()
    assert "~直播" in f("直播短视频都没搞过") and "直播" not in f("直播短视频都没搞过")
    assert "~品牌" in f("品牌无所谓")
    assert "~品牌" in f("品牌以后再说") and "~牌子" in f("牌子往后放")      # put off: said no to for now
    assert "~直播" in f("直播短视频都做不了") and "~视频" in f("视频我们拍不来")    # cannot


@pytest.mark.parametrize("text,cny", [
    ("资金大几万", 80_000), ("小几十万的预算", 200_000), ("七位数的预算", 1_500_000), ("预算六位数", 150_000),
    ("low six figures", 150_000), ("multi-million budget", 2_000_000), ("一两百万", 1_500_000),
])
def test_amounts_said_by_their_size(text, cny):
    assert [round(a.value) for a in amounts(normalize(text), RATE)] == [cny]


def test_millions_of_views_are_no_budget():
    assert amounts(normalize("millions of views on our videos"), RATE) == []
    assert [a.value for a in amounts("millions", RATE, bare_ok=True)] == [2e6]     # ...said at the capital question


@pytest.mark.parametrize("text,years", [
    ("temu去年才开始做", 1), ("从2019年开始做亚马逊", 6), ("since last year on amazon", 1),
    ("we started selling on shopee in 2021", 4), ("今年刚开始做", 0.5),
    ("23年开始做temu", 2), ("做了12年开始转型", 12),       # a two-digit year; "了" makes it years done
])
def test_durations_said_as_a_start(text, years):
    assert [d.years for d in durations(normalize(text), this_year=2025)] == [years]


def test_word_lists_match_chinese_terms_inside_words_and_latin_terms_as_whole_words():
    from bot.nlu.facts import WordLists
    scan = WordLists({"a": ("亚马逊", "amazon", "cross-border"), "b": ("跨境", "tiktok shop")}).scan
    expected = {"我们做亚马逊跨境": {"a", "b"}, "we sell cross border on amazon": {"a"}, "tiktok shop only": {"b"},
                "nothing here": set(), "amazonian": set()}
    for text, lists in expected.items():
        assert set(scan(normalize(text))) == lists, text


def test_traditional_is_converted_and_simplified_left_as_is():
    assert normalize("我們有自己的工廠") == "我们有自己的工厂"
    assert normalize("我们有自己的工厂，资金二十万") == "我们有自己的工厂,资金二十万"


@pytest.mark.parametrize("text,expected,absent", [
    ("我表哥在义乌开厂，我自己没货源", {"factory": "none"}, ()),                          # someone else's factory
    ("my cousin runs a big amazon store but i have zero experience myself", {"experience": "none"}, ()),
    ("used to have a factory but closed it, now we buy from 1688 whenever", {"factory": "none"}, ()),   # an ended state
    ("资金这块还没定，我们自己有工厂", {"capital": "unsure", "factory": "own_factory"}, ()),      # a hedge about one step
    ("帮人弄过一些店，不知道算不算", {"experience": "unsure"}, ()),                        # a bare hedge: the clause before
    ("Budget: ~¥400k. Experience: none.", {"capital": "strong", "experience": "none"}, ()),  # step: value
    ("淘宝做了四年，跨境一天都没做过", {"experience": "some"}, ()),                        # domestic is `some`
    ("没厂，我们是贸易公司，合作的工厂很稳", {"factory": "sourcing"}, ()),                  # what is beats what is not
    ("我们厂只做贴牌代工，给国外客户做了十年", {"factory": "own_factory"}, ("experience",)),  # OEM for others
    ("need steady orders, but also want to grow a brand", {"brand": "balanced"}, ()),       # both ends: both
    ("high end drones, $800 each", {"category": "high_ticket"}, ("capital",)),            # a price, not a budget
])
def test_descriptions_read_with_clause_cues(services, text, expected, absent):
    answers = services.nlu.read(text).answers
    assert {k: answers.get(k) for k in expected} == expected, answers
    assert not set(absent) & set(answers), answers




@pytest.mark.parametrize("text", ["my cousin owns the factory, we just resell", "the factory belongs to my uncle, we handle sales"])
def test_a_typed_answer_is_read_without_its_clauses_about_someone_else(services, text):
    # the whole-message model reads the message without "my cousin owns the factory": never own_factory
    assert services.nlu.read(text, step="factory").answers.get("factory") != "own_factory"


def test_a_step_said_no_to_is_not_read_from_the_whole_message(services):
    reading = services.nlu.read("做品牌？暂时不考虑", step="brand")
    assert reading.answers.get("brand") != "brand"


@pytest.mark.parametrize("text", ["我们有自己的工厂,可以稳定供货", "we own a factory and can supply steadily", "自己有厂，货源稳定"])
def test_an_own_factory_that_supplies_steadily_is_an_own_factory(services, text):
    # issue 15: the steady-supply clause alone reads `sourcing`; beside an own factory it agrees (lexicon.both)
    for step in ("factory", None):
        assert services.nlu.read(text, step=step).answers.get("factory") == "own_factory"
    assert services.nlu.read("没有工厂，但货源稳定", step="factory").answers.get("factory") == "sourcing"


@pytest.mark.parametrize("step,text,level", [
    ("experience", "做外贸十年了，都是b2b，只卖给国外批发商", "some"),          # B2B export alone: some
    ("experience", "we've exported to importers for 15 years", "some"),
    ("experience", "外贸做了十二年，欧洲有本土团队，了解当地消费者", "mature"),   # the article's semi-managed seller
    ("experience", "we have been exporting to the us for 10 years, we know local consumers and have a mature ops team there",
     "mature"),
    # ...with the years in a clause of their own: they are the years of that export
    ("experience", "做外贸的，中东市场十年了，懂当地消费者", "mature"),
    ("experience", "we are an export company, 12 years in the US market, with our own team on the ground", "mature"),
])
def test_export_stops_being_b2b_where_the_seller_runs_the_overseas_side(services, step, text, level):
    assert services.nlu.read(text, step=step).answers.get(step) == level



@pytest.mark.parametrize("text,step,level", [
    ("we have years of experience doing livestreams", "content", "strong"),   # "experience" lent to content
    ("we have experience with videos", "content", "some"),
    ("有一些拍视频的经验", "content", "some"),
])
def test_experience_with_videos_is_content_not_selling_experience(services, text, step, level):
    answers = services.nlu.read(text).answers
    assert answers.get(step) == level and "experience" not in answers, answers


@pytest.mark.parametrize("text, step, expect", [
    ("yes", "experience", {}),                      # "yes" to "how much experience?": asked again...
    ("yeah", "factory", {}),
    ("ok", "capital", {}),
    ("yes", "content", {"content": "strong"}),      # ...but it answers "can you do live streams?"
    ("no", "experience", {"experience": "none"}),   # and "no" is the on-screen step's own short answer
])
def test_a_command_word_alone_answers_only_the_question_on_screen(services, text, step, expect):
    """A bare "yes" at the experience question used to be read as a description: content = strong."""
    assert services.nlu.read(text, step=step, lang="en").answers == expect
