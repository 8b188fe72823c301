"""Scope: the platforms and modes a message names (bot.nlu.scope), answers that respect them
(bot.nlu.answer, bot.render), `ask --json`, and scripted console conversations in both languages."""
from __future__ import annotations

import html
import json
import re

import pytest

from bot.console import ConsoleChat
from bot.conversation import Conversations
from bot.nlu.scope import ScopeReader, load_book, parse_book
from bot.nlu.text import normalize
from bot.render import ANSWER_LIMIT, HTML, PLAIN, caption_size

READER = ScopeReader.default()


def scope(text: str):
    return READER.find(normalize(text))


# -- extraction -------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, platforms, modes", [
    ("Temu半托管是什么意思", ("temu",), ("semi_managed",)),
    ("TK全托管谁定价", ("tiktok",), ("full_managed",)),
    ("Tk小店和抖音海外是一回事吗", ("tiktok",), ()),
    ("抖音跨境全托管要什么条件", ("tiktok",), ("full_managed",)),
    ("速卖通AE半托管", ("aliexpress",), ("semi_managed",)),
    ("希音和SHEIN", ("shein",), ()),
    ("虾皮SIP vs full-managed", ("shopee",), ("shopee_sip", "full_managed")),
    ("亚马逊FBA和TikTok FBT", ("amazon", "tiktok"), ("amazon_fba", "fbt")),
    ("lazada, ozon or walmart?", ("lazada", "ozon", "walmart"), ()),
    ("半拖管的货要发海外仓吗", (), ("semi_managed",)),                # a typo of the mode's name
    ("全託管的售後是誰負責", (), ("full_managed",)),                   # Traditional Chinese
    ("tiktok self-operated (POP) vs semi_managed", ("tiktok",), ("pop", "semi_managed")),
    ("跨境店和本土店哪个好", (), ("cross_border_store", "local_store")),
    ("Y2模式怎么发货", ("temu",), ("temu_y2",)),                        # Temu's mode names Temu
    ("what is choice on aliexpress", ("aliexpress",), ("choice",)),
])
def test_platforms_and_modes_named(text, platforms, modes):
    found = scope(text)
    assert found.platforms == platforms and found.modes == modes


@pytest.mark.parametrize("text", [
    "which is the better choice for us",       # 'choice' is AliExpress's only beside AliExpress
    "we ship to the UAE",                      # 'ae' stands alone only
    "泡泡玛特pop mart能卖吗", "k-pop merch",      # not the POP store
    "I sip tea and think about it" if False else "my mate's shop",
    "thanks a lot",
])
def test_words_that_are_not_platforms_or_modes(text):
    found = scope(text)
    assert "aliexpress" not in found.platforms and "choice" not in found.modes and "pop" not in found.modes


def test_a_platform_named_as_the_askers_history_is_background():
    found = scope("We sold on Amazon for 3 years, who sets the price in tiktok full managed?")
    assert "amazon" in found.platforms and found.background == ("amazon",)
    assert scope("我们做亚马逊三年了，想问下TK全托管谁定价").background == ("amazon",)
    assert scope("temu全托管和tiktok全托管有什么区别").background == ()
    assert scope("做了3年亚马逊").background == ()        # nothing else asked: not just background
    # a sentence stating something about the asker before one naming TikTok
    assert scope("Amazon seller, 7 figures. Is tiktok semi managed for us?").background == ("amazon",)
    assert scope("亚马逊卖家转tk 全托还是半托").background == ("amazon",)
    # but not after TikTok, nor a bare name in a list, nor a sentence naming another platform's mode
    assert scope("can I run tiktok full managed and shein at the same time").background == ()
    assert scope("Temu、SHEIN和TK的全托管有什么不同").background == ()
    assert scope("Shopee SIP. Is tiktok full managed the same?").background == ()
    # moving to TikTok: what came before is history, even another platform's programme
    assert scope("两年temu半托了 准备做tk 半托管尾程谁出").background == ("temu",)
    found = scope("been on temu semi for a while, thinking about tiktok. who pays the last mile?")
    assert found.background == ("temu",)


def test_the_question_is_read_without_the_askers_history(services):
    """'速卖通做了两年，现在tk全托管怎么入驻' fell back: its history clause clouded the reading."""
    answer = services.answerer.ask("速卖通做了两年，现在tk全托管怎么入驻", "zh")
    assert answer.handling == "answer" and answer.entries[0].id == "full_onboarding"


def test_a_question_about_selling_on_another_platform_is_not_the_askers_history(services):
    """"can i sell ... on temu": its "i sell" asks, it does not tell what the asker did before."""
    scope = services.nlu.read("can we sell one product on shein full managed and tiktok full managed together?").scope
    assert "shein" in scope.platforms and "shein" not in scope.background
    history = services.nlu.read("we sell on shein already, is tiktok full managed similar?").scope
    assert "shein" in history.background


def test_a_platform_name_with_two_letters_swapped_is_still_that_platform():
    from bot.nlu.scope import swapped_letters
    assert "tmeu" in swapped_letters("temu") and "amazno" in swapped_letters("amazon")
    assert swapped_letters("tk") == () and swapped_letters("抖音海外") == ()
    reader = ScopeReader.default()
    assert reader.find("was on tmeu for a year").platforms == ("temu",)
    assert reader.find("what a team").platforms == ()       # a word that is no swap of a name is left alone


def test_scope_yaml_sources_and_entries_exist(services):
    book = load_book()
    assert book.source_ids() <= set(services.kb.sources)
    assert {r.entry for r in book.choosing} <= set(services.kb.by_id)
    assert {x for pair in book.counterparts for x in pair} <= set(services.kb.by_id)
    assert set(book.comparison_entries) <= set(services.kb.by_id)
    for key, text in book.ui.items():
        assert text("zh").strip() and text("en").strip(), key


def test_a_scope_file_missing_a_language_is_refused():
    with pytest.raises(ValueError, match="zh and en"):
        parse_book({"home": "tiktok", "platforms": [{"id": "tiktok", "name": {"zh": "TikTok"}, "words": ["tiktok"]}]})


def test_understand_reports_scope(services):
    data = services.nlu.read("Temu半拖管跟TK全托管有啥区别", lang="zh").to_dict()
    assert data["scope"] == {"platforms": ["temu", "tiktok"], "modes": ["semi_managed", "full_managed"]}


# -- handling ---------------------------------------------------------------------------------------
CASES = [
    # (question, lang, handling, entries that must be among the answered)
    ("Temu半托管是什么意思", "zh", "other_platform", ()),
    ("What does Temu semi-managed mean", "en", "other_platform", ()),
    ("速卖通全托管怎么加入", "zh", "other_platform", ()),
    ("Shopee SIP vs full managed", "en", "other_platform", ()),
    ("TikTok Shop的自运营(POP)模式是什么", "zh", "other_mode", ()),
    ("cross border store vs local store for a beginner", "en", "other_mode", ()),
    ("全托管、半托管、POP三种模式有什么区别", "zh", "other_mode", ("core_difference",)),
    ("店铺运营模式怎么选", "zh", "advice", ()),
    ("how much control should I hand over to the platform", "en", "advice", ()),
    ("what's hard about moving from full to semi managed", "en", "advice", ("switch_modes",)),
    ("who is semi-managed best for?", "en", "advice", ("semi_for_whom",)),
    ("全托管利润怎么样？价格是谁定的？", "zh", "answer", ("full_profit", "full_pricing")),
    ("Does full managed need a deposit? Also what's the commission?", "en", "answer", ("deposit", "fees_commission")),
    ("半拖管的尾程谁出钱", "zh", "answer", ("semi_last_mile",)),
    ("半托?", "zh", "answer", ("semi_definition",)),                  # only a mode's name: what it is
    ("全托管怎么退出", "zh", "advice", ("switch_modes",)),
    # "go from" / "move from" switch only from a mode: goods that go from a warehouse are logistics
    ("how does shipping work in full managed, does it go from a domestic warehouse", "en", "answer",
     ("full_logistics_chain",)),
    ("thinking of going from fully managed to semi managed", "en", "advice", ("switch_modes",)),
    # parts: a numbered list, "+", "whats" without its apostrophe; an "or ..." alternative is one question
    ("两个问题：1.全托管的佣金多少 2.多久回款", "zh", "answer", ("fees_commission", "settlement")),
    ("1) what's FBT 2) who pays customs in semi managed", "en", "answer", ("fbt", "semi_customs")),
    ("who sets prices in semi managed + who pays the last mile", "en", "answer", ("semi_pricing", "semi_last_mile")),
    ("whats semi managed and who sets prices in it", "en", "answer", ("semi_definition", "semi_pricing")),
    ("is full managed profitable, or is it a race to the bottom", "en", "answer", ("full_profit",)),
    # another platform only as the asker's history beside TikTok: advice, not another platform's facts
    ("10 years on Shopee, big team. full or semi for tiktok?", "en", "advice", ()),
    ("在虾皮卖了很多年 现在想做TK 选全托还是半托", "zh", "advice", ()),
    ("Temu、SHEIN和TK的全托管有什么不同", "zh", "other_platform", ()),     # names in a list are no history
    ("Temu. what is semi managed there?", "en", "other_platform", ()),
    ("what are local shops on tiktok", "en", "other_mode", ()),            # a plural is the same word
    ("we have no warehouse abroad and little money. which one?", "en", "advice", ()),
    ("I run 4 stores already. Which mode suits a seller like me?", "en", "advice", ()),
    ("全托管佣金多少+多久回款", "zh", "answer", ("fees_commission", "settlement")),
    # a joining word or sign makes both sides parts, even without question words
    ("semi managed: fees & payout timing", "en", "answer", ("semi_fees", "settlement")),
    ("tell me two things: when does full managed pay out and whether there is a deposit", "en", "answer",
     ("settlement", "deposit")),
    ("Q1 who sets prices in full managed Q2 who handles customs", "en", "answer", ("full_pricing", "full_customs")),
    ("半托管有保证金吗 回款周期多长", "zh", "answer", ("deposit", "settlement")),      # 多长 asks
    # a part read below the part bar but far ahead of its runner-up is still a part (with the FAQ model at 100
    # steps, "能不能自己直播" reads 0.26 against 0.10: not far enough ahead; "做直播" is)
    ("全托管可以做品牌吗 能不能自己做直播", "zh", "answer", ("brand_in_full", "full_marketing")),
    ("到底要给平台多少控制权", "zh", "advice", ("help_me_choose",)),
    ("帮我选一下，我们有工厂，资金不多", "zh", "advice", ()),
    # "十几个人" is a number, not a second question: the one question is which mode
    ("做了三年shopee 仓库十几个人 打算上tiktok 推荐什么模式", "zh", "advice", ("help_me_choose",)),
    # "交多少" is an amount to pay here, not how much control to hand over; "要先交保证金不" asks (A-not-A)
    ("全托管要先交保证金不 得交多少", "zh", "answer", ("deposit",)),
    ("全托管的库存平台是怎么决定补多少的", "zh", "answer", ("full_inventory",)),   # how the platform decides: no choosing
    ("全托现在都开了哪些国家的站点", "zh", "answer", ("markets_launch",)),      # "都开" is no running of both modes
    ("tmeu半托管 海外仓谁出钱", "zh", "other_platform", ()),      # two letters swapped in a platform's name
    ("空运和海运怎么选", "zh", "fallback", ()),          # choosing words, but no mode and the advice class disowns it
    # Amazon is history, unless the question itself names its mode: then it compares
    ("been on amazon fba for years. is tiktok semi managed basically fba?", "en", "other_platform", ()),
    ("been on amazon fba for years. on tiktok semi managed who pays the first leg?", "en", "answer", ("semi_first_leg",)),
    # ...also in a question that starts asking and names no background ("Amazon seller here. Is...")
    ("Amazon seller here. Is TikTok full-managed basically just FBA with extra steps?", "en", "other_platform", ()),
    ("我做亚马逊FBA五年了，最近在看TK半托管。想问问跟FBA比，半托管在运营上最大的不同在哪？", "zh", "other_platform", ()),
    ("LazGlobal vs TikTok semi managed for SEA, any experiences?", "en", "other_platform", ()),
    ("Been on Amazon FBA 4 yrs so I know how FBA fees stack up. On TikTok semi-managed, what fees should I expect?",
     "en", "answer", ("semi_fees",)),
    # ...and when the question asks whether TikTok's mode is the same deal as, or better than, the one it knows
    ("我现在做temu全托，被压价压得喘不过气，tk全托管会不会也这样搞", "zh", "other_platform", ()),
    ("I've been on Temu full-managed for a year and they squeeze our price every month. Is TikTok full-managed the "
     "same kind of deal?", "en", "other_platform", ("other_platforms_semi",)),
    # a sure factual entry the advice class disowns: no choosing route ("realistic or") makes it advice
    ("are full-managed margins realistic or is it a myth", "en", "answer", ("full_profit",)),
    # ...but words asking for the decision outright do ("trying to make up my mind"), even beside an entry
    # that answers "which mode makes more" itself
    ("Full is easy but thin margins, semi is more work but more profit... how do I choose?", "en", "advice",
     ("help_me_choose",)),
    ("what's the catch with semi-managed? trying to make up my mind", "en", "advice", ("help_me_choose",)),
    ("英国VAT怎么注册", "zh", "fallback", ()),
    # how to use the bot itself: its commands (an uncovered topic with a message of its own)
    ("how do I go back to the previous question", "en", "fallback", ()),
    ("问卷第三题选错了，能返回去改吗", "zh", "fallback", ()),
    # choosing words in a question the out-of-scope class is sure of and the advice class is not: no advice
    ("which tiktok ad objective should i pick for a new product launch", "en", "fallback", ()),
    ("what camera should I buy for live streaming", "en", "fallback", ()),
    ("tell me a joke", "en", "fallback", ()),
]


@pytest.mark.parametrize("question, lang, handling, entries", CASES)
def test_handling(services, question, lang, handling, entries):
    answer = services.answerer.ask(question, lang)
    assert answer.handling == handling
    assert set(entries) <= {e.id for e in answer.entries}
    assert answer.fallback == (handling == "fallback")


# One question, cut by the splitter into two asking pieces: the second piece only asks more about the first,
# so the message gets one entry, never a second, unasked one (an entry the asker never asked for misleads).
ONE_QUESTION = [
    # the piece reads its entry only once the message's mode name is added: it reads the name, not its words
    ("全托管回款快吗 大概多久", "zh", "settlement"),
    ("全托管佣金多少 具体是多少", "zh", "fees_commission"),
    ("全托管怎么入驻呢 具体怎么弄", "zh", "full_onboarding"),
    # a yes-no question about "it" after a comma asks more about the question before it
    ("what's FBT, does it cost extra", "en", "fbt"),
    ("who handles customs in semi managed, is it the platform", "en", "semi_customs"),
]


@pytest.mark.parametrize("question, lang, entry", ONE_QUESTION)
def test_a_piece_that_only_asks_more_is_no_second_part(services, question, lang, entry):
    assert [e.id for e in services.answerer.ask(question, lang).entries] == [entry]


@pytest.mark.parametrize("question, parts", [
    ("全托管的清关谁来做呢 平台吗", 1),       # a word or two and 吗 guesses at the answer
    ("半托管的头程运费谁出 卖家吗", 1),
    ("whats fbt, is that a warehouse", 1),
    ("全托管的清关谁来做 售后呢", 2),         # "...呢" asks about something else
    ("半托管头程谁出 时效快吗", 2),           # a question of its own
    ("whats fbt? is that a warehouse", 2),    # after a question mark it is a question of its own
    ("全托管平台具体帮我干什么？管上架？管售后？", 1),   # three or four characters that ask nothing: guesses
    ("全托管谁上架？谁定价？", 2),                        # ...but "谁定价" asks
])
def test_a_guess_at_the_answer_goes_on_asking_the_question_before_it(services, question, parts):
    assert len(services.answerer.parts(normalize(question))) == parts


@pytest.mark.parametrize("question, lang, entries", [
    ("what is FBT, and is it faster than full managed delivery", "en", ["fbt", "delivery_speed"]),   # a join word
    ("全托管要保证金吗 佣金多少", "zh", ["deposit", "fees_commission"]),       # the part's own words read it
    ("半托管谁负责清关，尾程又是谁送", "zh", ["semi_customs", "semi_last_mile"]),
    # a request that asks nothing, then a join word: the request is a part of its own, not the next one's context
    ("full managed commission rates please, and also who handles customs", "en", ["fees_commission", "full_customs"]),
    ("全托管的结算周期 另外退货运费谁出", "zh", ["settlement", "full_return_fee"]),
    # a word alone after "& ...?" is a question of its own, not an option of the one before ("资金？团队？")
    ("who sets prices in full managed? & customs?", "en", ["full_pricing", "full_customs"]),
    # "A和B的X分别…": the topic X is shared, not only the ending
    ("全托管和半托管的售后分别谁负责", "zh", ["full_after_sales", "semi_after_sales"]),
    ("半托管谁负责清关、谁负责尾程", "zh", ["semi_customs", "semi_last_mile"]),    # 、 between two questions
])
def test_two_questions_shaped_alike_keep_both_parts(services, question, lang, entries):
    assert [e.id for e in services.answerer.ask(question, lang).entries] == entries


def test_the_mode_named_wins_over_the_other_modes_entry(services):
    """A question naming full-managed is never answered with semi-managed's entry (and back)."""
    a = services.answerer
    for q, lang, want in (("全托管的库存怎么补", "zh", "full_inventory"),
                          ("半托管能自己定价吗？能报名大促活动吗？", "zh", "semi_promotions")):
        ids = [e.id for e in a.ask(q, lang).entries]
        assert want in ids and not any(i.startswith("full_" if want.startswith("semi") else "semi_") for i in ids)


def test_understanding_reads_the_named_modes_entry_first(services):
    """The reading itself (what the dialogue, `understand` and the FAQ figures use), not only the answer:
    the topic from the words, the mode from its name."""
    reading = services.nlu.read("全托可以自己做满减吗")        # the classifier alone reads semi's promotions first
    assert reading.faq[0].id == "full_promotions"
    both = services.nlu.read("全托和半托谁定价")         # both modes named: the classifier's order stands
    assert both.faq[0].id in ("full_pricing", "semi_pricing")


@pytest.mark.parametrize("question, lang", [(q, lang) for q, lang, h, _ in CASES])
def test_rendered_answers_are_escaped_and_within_telegrams_limit(services, question, lang):
    answer = services.answerer.ask(question, lang)
    text = services.renderer(HTML).faq_answer(answer)
    assert caption_size(text) <= ANSWER_LIMIT < 4096
    assert re.sub(r"</?(b|i)>", "", text).count("<") == 0        # only the renderer's own tags
    plain = services.renderer(PLAIN).faq_answer(answer)
    assert html.unescape(re.sub(r"<[^>]*>", "", text)) == plain


def test_other_platform_answer_says_scope_first_and_labels_tiktok(services):
    r = services.renderer(PLAIN)
    zh = r.faq_answer(services.answerer.ask("temu全托管和tiktok全托管有什么区别", "zh"))
    assert zh.startswith("托管模式顾问只讲 TikTok Shop") and "关于Temu，我的资料" in zh and "⚠️" in zh
    en = r.faq_answer(services.answerer.ask("who sets prices on temu semi", "en"))
    assert en.startswith("Mode Advisor covers TikTok Shop") and "Temu still sets the price" in en
    # TikTok's answer, when offered, is labelled as TikTok's, after the platform's facts
    offered = services.answerer.ask("速卖通全托管怎么入驻", "zh")
    text = r.faq_answer(offered)
    if offered.entries:
        assert text.index("关于速卖通") < text.index("TikTok Shop 的情况（不是速卖通（AliExpress）的）")
    nothing = r.faq_answer(services.answerer.ask("lazada semi managed program requirements", "en"))
    assert "say nothing reliable about Lazada" in nothing


def test_other_mode_answer_says_what_is_known_and_what_is_not(services):
    r = services.renderer(PLAIN)
    zh = r.faq_answer(services.answerer.ask("全托管和自运营有什么区别", "zh"))
    assert "关于 TikTok Shop 的自运营（POP）店" in zh and "和全托管/半托管的关系" in zh and "资料没有覆盖" in zh
    en = r.faq_answer(services.answerer.ask("what's a cross-border store on tiktok shop", "en"))
    assert "About TikTok Shop's cross-border store" in en and "don't cover the rest" in en


def test_ask_json_reports_handling_entries_and_scope(services):
    def ask(q, lang):
        a = services.answerer.ask(q, lang)
        return a.to_dict(services.renderer(PLAIN).faq_answer(a))
    data = ask("全托管要保证金吗？佣金多少？", "zh")
    assert data["handling"] == "answer" and data["entries"][:2] == ["deposit", "fees_commission"]
    assert data["entry"] == "deposit" and data["scope"] == {"platforms": [], "modes": ["full_managed"]}
    other = ask("Temu Y2模式是什么", "zh")
    assert other["handling"] == "other_platform" and other["scope"]["platforms"] == ["temu"]
    json.dumps(other, ensure_ascii=False)


@pytest.mark.parametrize("question, lang", [(q, lang) for q, lang, h, _ in CASES])
def test_ask_json_answer_is_the_text_shown_for_every_handling_but_fallback(services, question, lang, capsys):
    """`ask --json`: `answer` is the plain text the user sees (what `ask` prints), null only on fallback."""
    from bot.__main__ import main
    assert main(["ask", question, "--lang", lang, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert main(["ask", question, "--lang", lang]) == 0
    shown = capsys.readouterr().out.rstrip("\n")
    if data["handling"] == "fallback":
        assert data["answer"] is None and data["fallback"] is True
    else:
        assert data["answer"] == shown and "<b>" not in shown


def test_a_long_two_part_answer_leaves_out_a_block_rather_than_pass_the_limit(services):
    r = services.renderer(HTML)
    assert r._fit(["a" * 3000, "b" * 3000, "c" * 500]) == "a" * 3000 + "\n\n" + "c" * 500


# -- every channel answers the same way ----------------------------------------------------------------
# One question of each edge kind in each language (language, question, handling). The console, private
# chat, group mentions and inline mode must show what Renderer.faq_answer renders for the FaqAnswerer's
# answer (tests/test_tg_scope.py runs the same table over the fake Bot API).
SAME_EVERYWHERE = [
    ("zh", "半托管的售后谁负责？", "answer"),                                     # in scope
    ("en", "who sets the prices under full managed?", "answer"),
    ("zh", "全托管利润怎么样？价格是谁定的？", "answer"),                           # two parts
    ("en", "how long until full managed pays out, and is there a deposit?", "answer"),
    ("zh", "SHEIN半托管是怎么运作的", "other_platform"),                          # another platform
    ("en", "how does AliExpress Choice work for sellers?", "other_platform"),
    ("zh", "TikTok本土店和跨境店有什么区别？", "other_mode"),                      # another TikTok mode
    ("en", "what is a POP store on tiktok shop?", "other_mode"),
    ("zh", "全托转半托难在哪？", "advice"),                                       # choosing / switching
    ("en", "how do I choose between the two modes?", "advice"),
    ("zh", "英国VAT怎么注册？", "fallback"),                                      # out of scope
    ("en", "what's the weather like in Paris?", "fallback"),
]


@pytest.mark.parametrize("lang, question, handling", SAME_EVERYWHERE)
def test_the_table_covers_each_kind_as_labelled(services, lang, question, handling):
    assert services.answerer.ask(question, lang).handling == handling


def shown_the_same(services, lang: str, question: str, text: str) -> None:
    """`text` (what a channel showed, as plain text) holds the rendered answer; a fallback, its topics."""
    answer = services.answerer.ask(question, lang)
    if answer.fallback:
        for entry in answer.suggestions:
            assert entry.title(lang) in text, (entry.id, text)
        assert not any(e.answer(lang) in text for e in services.kb.entries)      # no entry given as an answer
    else:
        assert services.renderer(PLAIN).faq_answer(answer) in text, (question, text[:800])


@pytest.mark.parametrize("lang, question, handling", SAME_EVERYWHERE)
async def test_console_shows_what_every_channel_shows(services, store, lang, question, handling):
    shown_the_same(services, lang, question, await console_reply(services, store, lang, question))


# -- the console, both languages ----------------------------------------------------------------------
def chat(services, store, lang):
    lines: list[str] = []
    return ConsoleChat(Conversations(services, store), lang, lines.append), lines


async def console_reply(services, store, lang: str, question: str) -> str:
    """What a fresh console chat prints for `question`, after its greeting."""
    c, out = chat(services, store, lang)
    await c.start()
    out.clear()
    await c.handle(question)
    return "\n".join(out)


CONSOLE = [
    ("zh", "Temu半托管是什么意思？", ["不是Temu的顾问", "关于Temu"]),
    ("en", "Shopee SIP vs full managed", ["not a guide to Shopee", "say nothing reliable about Shopee"]),
    ("zh", "TikTok Shop的自运营（POP）模式是什么？", ["自运营（POP）店", "我的资料没有覆盖"]),
    ("en", "What is TikTok Shop's self-operated (POP) mode?", ["self-operated (POP) store", "don't cover the rest"]),
    ("zh", "店铺运营模式怎么选？", ["/quiz"]),
    ("en", "how much control should I hand over to the platform?", ["/quiz"]),
    ("zh", "全托管利润怎么样？价格是谁定的？", ["全托管利润怎么样", "你问题的另一部分", "全托管谁定价"]),
    ("en", "when does full managed pay me? and is there a deposit?", ["The other part of your question"]),
]


@pytest.mark.parametrize("lang, question, expected", CONSOLE)
async def test_console_answers_each_kind_of_edge_question(services, store, lang, question, expected):
    text = await console_reply(services, store, lang, question)
    for piece in expected:
        assert piece in text, (piece, text)
    assert "I don't have a reliable answer" not in text and "资料里没有可靠答案" not in text


def test_bot_check_flags_an_unknown_source_in_scope_yaml(tmp_path):
    import shutil

    from bot import ROOT
    from bot.check import check_content
    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    (tmp_path / "eval").symlink_to(ROOT / "eval")      # the learnt sets (knowledge/learned.yaml)
    path = tmp_path / "knowledge" / "scope.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("sources: [X39]", "sources: [X99]"), encoding="utf-8")
    problems = check_content(tmp_path / "knowledge")
    assert [(p.file, p.entry) for p in problems] == [("scope.yaml", "source X99")]


# -- topics no source covers, and entries about one mode only -------------------------------------------
@pytest.mark.parametrize("question, lang, topic", [
    ("半托管的商品主图怎么拍才好看", "zh", "content_craft"),       # names semi-managed, asks about photos
    ("全托管卖到美国要交销售税吗", "zh", "taxes"),
    ("which freight forwarder should I use for my semi managed stock", "en", "forwarders"),
    ("my tiktok account got banned, how do I appeal", "en", "account_health"),
    ("how to set up a gmv max campaign", "en", "ads"),
    ("what price should I put on my yoga mats in semi to undercut the competition", "en", "product_prices"),
    ("全托管美国站蓝牙耳机一般核价能给到多少", "zh", "product_prices"),
    ("半托管做宠物用品有没有搞头，推荐几个品呗", "zh", "sourcing"),
    ("物业全托管和半托管有什么区别", "zh", "other_trades"),          # 托管 in another trade
    ("fully managed vs semi managed wordpress hosting which is cheaper", "en", "other_trades"),
])
def test_a_question_about_an_uncovered_topic_falls_back_naming_it(services, question, lang, topic):
    answer = services.answerer.ask(question, lang)
    assert (answer.handling, answer.entries, answer.uncovered.id) == ("fallback", (), topic)
    for renderer in (services.renderer(PLAIN), services.renderer(HTML)):
        text = renderer.faq_answer(answer)
        assert answer.uncovered.name(lang) in html.unescape(text) and caption_size(text) <= ANSWER_LIMIT
    assert answer.to_dict(None)["uncovered"] == topic


@pytest.mark.parametrize("question, lang", [
    ("can I restart the questionnaire from the beginning?", "en"),
    ("switch to chinese pls", "en"),
    ("问卷第三题选错了，能返回去改吗", "zh"),
])
def test_a_question_about_using_the_bot_gets_its_commands(services, question, lang):
    """Not "my sources don't cover that": where the commands are (scope.yaml: the topic's own `says`)."""
    answer = services.answerer.ask(question, lang)
    assert (answer.handling, answer.entries, answer.uncovered.id) == ("fallback", (), "using_the_bot")
    for renderer in (services.renderer(PLAIN), services.renderer(HTML)):
        text = renderer.faq_answer(answer)
        assert "/help" in text and answer.uncovered.name(lang) not in text and caption_size(text) <= ANSWER_LIMIT


@pytest.mark.parametrize("question, lang, entry", [
    ("全托管清关谁负责", "zh", "full_customs"),                     # customs, freight and fees stay covered
    ("半托管头程运费谁出", "zh", "semi_first_leg"),
    ("who handles customs and duties in full managed", "en", "full_customs"),
    ("does full managed need a deposit", "en", "deposit"),
])
def test_covered_words_are_not_uncovered_topics(services, question, lang, entry):
    answer = services.answerer.ask(question, lang)
    assert answer.uncovered is None and answer.entries[0].id == entry


def test_uncovered_words_never_catch_an_example_question(services):
    """The word lists are narrow: no knowledge-base question (every entry's examples) reads as uncovered."""
    reader = services.nlu.scope
    caught = [q for e in services.kb.entries for q in (*e.questions_zh, *e.questions_en)
              if reader.uncovered(normalize(q)) is not None]
    assert not caught


def test_a_question_naming_one_mode_is_not_answered_with_the_other_modes_only_entry(services):
    """brand_in_full is about full-managed only: a semi-managed brand question gets another entry or none."""
    book = load_book()
    assert book.mode_of("brand_in_full") == "full_managed" and book.mode_of("semi_pricing") == "semi_managed"
    assert book.mode_of("core_difference") is None
    for q, lang in (("半托管能做品牌吗 我们有商标", "zh"), ("can I build my own brand on semi managed", "en")):
        ids = [e.id for e in services.answerer.ask(q, lang).entries]
        assert "brand_in_full" not in ids
        assert not any(book.mode_of(i) == "full_managed" for i in ids)
    assert services.answerer.ask("全托管能做品牌吗", "zh").entries[0].id == "brand_in_full"
    # nothing about semi-managed's onboarding in the sources: not full-managed's steps, nor semi's definition
    assert services.answerer.ask("半托管怎么入驻呢 具体怎么弄", "zh").handling == "fallback"


def test_bot_check_flags_an_unknown_entry_in_one_mode(tmp_path):
    import shutil

    from bot import ROOT
    from bot.check import check_content
    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    (tmp_path / "eval").symlink_to(ROOT / "eval")      # the learnt sets (knowledge/learned.yaml)
    path = tmp_path / "knowledge" / "scope.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("[brand_in_full,", "[brand_in_nowhere,"), encoding="utf-8")
    assert [(p.file, p.entry) for p in check_content(tmp_path / "knowledge")] == [("scope.yaml", "entry brand_in_nowhere")]


@pytest.mark.parametrize("question, lang, handling, entries", [
    # a choosing question beside another question: both answered, as advice
    ("我们是做五金的工厂，适合哪种模式？另外半托管要准备多少资金", "zh", "advice", ["fit_factory", "capital_needed"]),
    # a numbered list the whole of which reads nothing clearly: its items do
    ("1) is full managed open in the uk? 2) how do I sign up?", "en", "answer", ["uk_market", "full_onboarding"]),
    # no mode named, but the first part's entry is about one: the later parts ask about that mode
    ("What are the requirements for the TikTok overseas warehouse, and who pays the freight to get goods there?", "en",
     "answer", ["overseas_wh_reqs", "semi_first_leg"]),
    # a question naming one market that reads another market's entry gets the named one's
    ("is full managed open in the uk?", "en", "answer", ["uk_market"]),
    ("全托管在美国能做吗", "zh", "answer", ["us_market"]),
    # ...each item needing only a clear reading: the asker set them apart
    ("1) how do goods move in semi managed 2) how do they move in full managed", "en", "answer",
     ["semi_logistics_chain", "full_logistics_chain"]),
    # circled numbers are item breaks (normalising makes them plain digits)
    ("两个问题 ①半托管头程谁出 ②尾程谁送", "zh", "answer", ["semi_first_leg", "semi_last_mile"]),
    # "和" between two asking halves splits; between two names it does not
    ("半托管清关谁负责和尾程谁送", "zh", "answer", ["semi_customs", "semi_last_mile"]),
    ("全托管和半托管哪个好", "zh", "advice", ["which_is_better"]),
    # a typo of the mode's name (拓 for 托) still names the mode
    ("全拓管谁定价", "zh", "answer", ["full_pricing"]),
    # qt / bt: the pinyin initials sellers write for 全托 / 半托
    ("bt模式下售价谁说了算啊", "zh", "answer", ["semi_pricing"]),
    # a mode's name with only "呢" / "what about" after a question: that question about the mode
    ("全托管谁负责售后 半托管呢", "zh", "answer", ["full_after_sales", "semi_after_sales"]),
    # "full" alone is no mode's name, but "what about full" / "and in full" after a question about semi is
    ("who handles customs in semi? and in full?", "en", "answer", ["semi_customs", "full_customs"]),
    ("who does after-sales in semi managed, what about full?", "en", "answer", ["semi_after_sales", "full_after_sales"]),
    ("who sets the price in semi managed? what about full managed?", "en", "answer", ["semi_pricing", "full_pricing"]),
    # one question about both modes: each mode's entry, in the order named; a choosing one stays advice
    ("who sets the price in full vs semi managed", "en", "answer", ["full_pricing", "semi_pricing"]),
    ("Risks of full managed vs risks of semi managed?", "en", "answer", ["full_risks", "semi_risks"]),
    ("full managed or semi managed for someone who really hates risk", "en", "advice", ["help_me_choose"]),
    # a piece asking only the amount, or guessing "is it just...", asks no second question
    ("全托管要交押金吗 大概多少钱", "zh", "answer", ["deposit"]),
    ("who handles customs in semi managed. is it just the platform?", "en", "answer", ["semi_customs"]),
    # ...or only who pays for what the piece before asks about (the entry about it says who pays)
    ("半托管尾程派送谁负责，费用算谁的", "zh", "answer", ["semi_last_mile"]),
    ("semi managed - last mile to the customer, who does it and is that on my bill?", "en", "answer", ["semi_last_mile"]),
    # "and in semi," before a question names that question's mode: no question of its own
    ("Does TikTok do the marketing for me in full-managed? And in semi, what does the platform actually help with?",
     "en", "answer", ["full_marketing", "semi_platform_help"]),
    # a piece ending in 吧 / 嘛 asks
    ("全托可以自己报活动吧 佣金呢", "zh", "answer", ["full_promotions", "fees_commission"]),
    ("全托管能自己定价嘛 售后谁管", "zh", "answer", ["full_pricing", "full_after_sales"]),
    # choosing words of spoken Chinese and English; "we do 5M a year on amazon" is the asker's history, and
    # with a team of 20 it is a large seller's question (the entry for it, since the blind sets were learnt from)
    ("我们小工厂 资金不多 是不是只能全托", "zh", "advice", ["fit_factory"]),
    ("we do about 5M a year on amazon with a team of 20, would you suggest full or semi", "en", "advice",
     ["fit_large_seller"]),
    # a self-description, then choosing words in its one question: advice, not the description's entry
    ("我们做了两年独立站 团队有六个人 这种情况应该上半托吧", "zh", "advice", ["help_me_choose"]),
    # guesses, options and requests for a recommendation
    ("全托管国际运费谁出，我们只负责送到国内仓对吧？", "zh", "answer", ["full_first_leg"]),      # a guess: 对吧
    ("who does customer service in semi managed? i guess the platform?", "en", "answer", ["semi_after_sales"]),
    ("选模式看哪几个因素 资金？团队？", "zh", "advice", ["help_me_choose"]),        # options, not questions
    ("semi-managed margins? risks?", "en", "answer", ["semi_profit", "semi_risks"]),  # after a question that is a topic alone
    ("tiktok semi managed who do the listing? seller self or platform?", "en", "answer", ["semi_listing"]),
    ("which mode should we pick if we hate holding stock", "en", "advice", ["help_me_choose"]),
    ("帮我推荐一下，我们是小工厂", "zh", "advice", ["fit_factory"]),      # the asker is a factory: its own entry
    # the evening's development sets (edge v4 and v5 after their one look)
    ("我们一直在Temu做全托管，现在想上TK，继续做全托管还是试试半托管？", "zh", "advice", ["help_me_choose"]),  # history
    ("we have 3 hosts in house and want to do our own tiktok lives. which mode lets us do that", "en", "answer",
     ["own_live_streams"]),                              # an entry that answers "which mode lets me..." itself
    ("全托半托好纠结", "zh", "advice", ["help_me_choose"]),
    ("Need help choosing. Not sure about budget yet.", "en", "advice", ["help_me_choose"]),     # not capital_needed
    ("Can I switch from full to semi later? And what's the commission on full?", "en", "advice",
     ["switch_modes", "fees_commission"]),
])
def test_two_part_spoken_and_choosing_questions(services, question, lang, handling, entries):
    answer = services.answerer.ask(question, lang)
    assert (answer.handling, [e.id for e in answer.entries]) == (handling, entries)


def test_a_platform_compared_with_both_sides_words_is_a_subject_not_history(services):
    """"我在速卖通做了两年全托管" alone is the asker's history; "两边...一样吗" makes AliExpress a subject."""
    compared = services.answerer.ask("我在速卖通做了两年全托管，两边的定价规则一样吗", "zh")
    assert compared.handling == "other_platform" and [p.id for p in compared.platforms] == ["aliexpress"]
    history = services.nlu.read("我在速卖通做了两年全托管，想转tk全托管，要注意什么", lang="zh").scope
    assert history.background == ("aliexpress",)


@pytest.mark.parametrize("question, lang, entry", [
    ("what do I have to do on full managed? only send the goods to the warehouse?", "en", "full_seller_tasks"),
    ("全托管卖家要干啥？把货送到仓库就行了吗", "zh", "full_seller_tasks"),
])
def test_a_guess_at_the_answer_after_a_question_mark_asks_no_more(services, question, lang, entry):
    assert [e.id for e in services.answerer.ask(question, lang).entries] == [entry]


def test_part_words_come_from_scope_yaml():
    words = load_book().part_words
    assert "另外" in words.joins and "and" in words.en_joins and "just" in words.guesses
    assert "is it" in words.follow_ups and "还是" in words.alternatives


def test_two_parts_reading_one_entry_give_the_less_sure_part_its_close_second_choice(services):
    """Both parts read the return-fee entry; the part about who handles returns is nearly as sure of
    after-sales, so it gets that: two different questions are never answered with one entry."""
    for q, lang in (("who deals with returns in full managed, and who pays for return shipping?", "en"),
                    ("全托管退货谁处理，另外退货运费谁出", "zh")):
        assert [e.id for e in services.answerer.ask(q, lang).entries] == ["full_after_sales", "full_return_fee"]


def test_a_part_asking_about_tiktok_beside_another_platforms_question_is_answered_as_tiktoks(services):
    answer = services.answerer.ask("is aliexpress full managed like tiktok's? also who sets prices on tiktok full managed", "en")
    assert answer.handling == "other_platform" and [e.id for e in answer.entries] == ["full_pricing"]
    text = services.renderer(PLAIN).faq_answer(answer)
    assert text.startswith("Mode Advisor covers TikTok Shop")
    assert text.index("about AliExpress") < text.index("here is TikTok Shop's answer") < text.index("Who sets prices")
    # a part naming only the other platform is never answered with TikTok's entry as a part of its own
    only_other = services.answerer.ask("temu semi managed who sets the price? and temu full managed who pays freight?", "en")
    assert len(only_other.entries) <= 1


def test_how_many_orders_is_an_uncovered_topic(services):
    for q, lang in (("半托管平台能保证每天出多少单吗", "zh"), ("how many orders can I expect per month on full managed", "en")):
        answer = services.answerer.ask(q, lang)
        assert answer.handling == "fallback" and answer.uncovered.id == "order_volume"


def test_a_specific_choosing_entry_close_to_a_generic_one_answers(services):
    """"How to choose" tops the reading and "which mode suits a factory" is nearly as sure: the specific
    entry answers (scope.yaml generic_choosing); far behind, the generic one stays."""
    from dataclasses import replace

    from bot.nlu.understand import FaqHit
    reading = services.nlu.read("we make phone cases in our own plant, never sold abroad. full or semi?", lang="en")
    close = replace(reading, faq=(FaqHit("help_me_choose", 0.33), FaqHit("fit_factory", 0.28)), faq_probability=0.33,
                    answerable=True)
    far = replace(close, faq=(FaqHit("help_me_choose", 0.33), FaqHit("fit_factory", 0.1)))
    assert [e.id for e in services.answerer.answer(close).entries] == ["fit_factory"]
    assert [e.id for e in services.answerer.answer(far).entries] == ["help_me_choose"]


@pytest.mark.parametrize("question, lang, entries", [
    ("半托管平台具体帮我们做什么 给不给流量", "zh", ["semi_platform_help"]),     # traffic is part of what it does
    ("全托管谁来定价 会不会把价格压得很低", "zh", ["full_pricing"]),
    ("全托管谁补货，另外卖不掉的货会退回来吗", "zh", ["full_inventory", "full_inventory_risk"]),   # two questions
])
def test_a_later_part_that_also_reads_the_first_parts_entry_asks_more_of_it(services, question, lang, entries):
    assert [e.id for e in services.answerer.ask(question, lang).entries] == entries
