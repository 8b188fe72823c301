"""Every reading rule that stayed after the ablation (docs/understanding.md) and the phrasings it
serves: switch the rule off and these are read wrong or not at all (most are development items the
ablation found depending on it). A rule whose phrasings the examples learn instead has no place here:
it was removed."""
import pytest

# (rule, step on screen or None, text, what it reads)
SERVED = [
    ("second facts", None, "我们在义乌有个小工厂做饰品，之前在亚马逊卖过两年，手头现金大概二十万，想慢慢做出自己的牌子",
     {"factory": "own_factory", "brand": "brand"}),
    ("second facts", None, "we make furniture, ship big items, and we've never sold online",
     {"factory": "own_factory", "category": "high_ticket"}),
    ("a clause's own fact over a second fact elsewhere", None, "We are brand owner, registered TM in US & EU, want to "
     "control pricing and image. products made by contract manufacturers, 5yrs DTC on shopify", {"factory": "sourcing"}),
    ("a hedge said in words wins", "factory", "idk tbh, my partner handles suppliers, gotta ask him", "unsure"),
    ("a stated amount or years wins", None, "I ran my own amazon store for 5 years, sold it last year, now starting "
     "fresh. supply not sorted yet, still hunting products", {"experience": "mature", "factory": "none"}),
    ("what is said beats what is not", "factory", "no factory, we r a trading company with long term suppliers",
     "sourcing"),
    ("a concession yields", None, "虽然我家是开厂的，但那是我爸的，我自己出来单干，现在货都是临时找的没个准",
     {"factory": "none"}),
    ("a contrast wins", None, "Budget: ~¥400k. Experience: none. Factory: no, but reliable suppliers.",
     {"factory": "sourcing", "capital": "strong", "experience": "none"}),
    ("revenue is not capital", None, "厦门的贸易公司 主要卖高端3C 客单价几百美金 供应商很稳定 资金八十万",
     {"capital": "strong"}),
    ("'brand new' is not a brand", None, "brand new to this, we make socks in our own factory, and we just want "
     "steady orders", {"experience": "none", "brand": "volume"}),
    ("50/50 is half and half", "brand", "50/50, need cashflow but also want to grow a brand", "balanced"),
    ("below/above an amount", "capital", "不到五万", "limited"),
    ("domestic e-commerce is some", "experience", "did taobao for 2 years but never sold overseas", "some"),
    ("domestic e-commerce is some", None, "domestic douyin seller 3 yrs, never cross border, we have 2 full-time "
     "streamers", {"experience": "some"}),
    ("B2B export is some", "experience", "we've done B2B export for a decade", "some"),
    ("B2B export is some", None, "资金大概五万美金，外贸做了十年", {"experience": "some", "capital": "strong"}),
    ("OEM for others makes the seller the maker", None, "we did OEM for big brands for years but never sold overseas "
     "ourselves", {"factory": "own_factory", "experience": "none"}),
    ("someone else's", None, "钱还没算好，工厂是亲戚的，我们拿货很稳定", {"factory": "sourcing"}),
    ("someone else's", None, "zero experience in cross border myself, my wife ran a taobao shop tho. we have about "
     "100k rmb", {"experience": "none"}),
    ("someone else's, unless the clause comes back to the seller", "factory", "没有自己的厂，不过有个亲戚开厂一直给我们供货",
     "sourcing"),
    ("a state that has ended", None, "used to have a factory but closed it, now we buy from 1688 whenever",
     {"factory": "none"}),
    ("step: value", None, "Budget: ~¥400k. Experience: none.", {"capital": "strong", "experience": "none"}),
    ("a dismissal takes back the clause before", "brand", "orders first. brand? nah", "volume"),
    ("unsettled supply is none", "factory", "供应商还没定下来", "none"),
    ("a hedge naming its step", None, "not sure about budget yet, but we own a factory",
     {"capital": "unsure", "factory": "own_factory"}),
    ("a hedge naming its step", None, "not into lives or videos at all, want low risk, not sure what to sell yet",
     {"content": "none", "risk": "low", "category": "unsure"}),
    ("both ends read as one level", "brand", "先走量，后面也想做品牌", "balanced"),
    ("both ends read as one level", "factory", "it's our own plant, supply is dependable", "own_factory"),
    ("...not beside a hedge: the two ends are what is undecided", "brand", "还没定，老板想做品牌，我想先走量", "unsure"),
    ("a start read as a duration", "experience", "Temu去年才开始做", "some"),
    ("goods named in passing", None, "我们是做女装的厂，没做过跨境", {"factory": "own_factory", "category": "fast_moving"}),
    ("goods named in passing", None, "our lipstick is made by a partner factory we trust",
     {"factory": "sourcing", "category": "fast_moving"}),
    ("goods named in passing", None, "I've sold earrings on Etsy for two years", {"category": "light_small"}),
    ("'between X and Y' is one clause", None, "about 30k rmb, can't choose between volume and a brand yet",
     {"capital": "limited", "brand": "unsure"}),
    ("one part no, another yes: the level between", "content", "we film videos but nobody goes live", "some"),
    ("one part no, another yes: the level between", "content", "有人拍视频，不过没有主播", "some"),
    ("one part no, another yes: the level between", "risk", "some but not much", "medium"),
    ("putting one end off says no to it", "brand", "先把单量冲上去，牌子往后放", "volume"),
    ("putting one end off says no to it", "brand", "目前就要销量，品牌以后再谈", "volume"),
    ("below an amount, said after it", "capital", "五万不到", "limited"),
    ("a bare Chinese number at the capital question", "capital", "八千", "limited"),
]


@pytest.mark.parametrize("rule,step,text,expected", SERVED, ids=[f"{r}: {t[:24]}" for r, _, t, _ in SERVED])
def test_a_kept_rule_reads_the_phrasings_it_serves(services, rule, step, text, expected):
    reading = services.nlu.read(text, step=step)
    if isinstance(expected, str):
        assert reading.answers.get(step) == expected and reading.on_screen == step, (rule, reading.answers)
    else:
        assert {k: reading.answers.get(k) for k in expected} == expected, (rule, reading.answers)
