"""Groups, channels and sharing end to end: inline mode, share cards, deep links, groups, channel posts."""
from __future__ import annotations

import asyncio

import pytest

from bot.tg.deeplink import DeepLink, parse_payload
from tests.tg_harness import ADMIN_ID, replies

TAKE_TEST = "https://t.me/ModeAdvisorBot?start="


async def finish_quiz(user, labels=("Own factory, cost under control", "Mature overseas team",
                                    "Can pre-stock overseas", "Build my own brand", "✅ Show my result")):
    """The questionnaire in private by buttons; what the bot showed for the last press (the result's text and
    then, where the language has a font for pictures, its picture card with the buttons)."""
    await user.send("/start")
    await replies(user)
    for label in labels:
        await user.press(text=label)
        shown = await replies(user)
    return shown


def file_id_of(photo) -> str:
    """The file_id of the largest size of a photo message (what the bot keeps to send it again)."""
    return photo.media["photo"][-1]["file_id"]


async def answered(fake, state, timeout=5.0):
    for _ in range(int(timeout / 0.02)):
        if fake.inline_queries[state.id].answered:
            return fake.inline_queries[state.id].answer
        await asyncio.sleep(0.02)
    raise AssertionError("inline query not answered")


def button_urls(result):
    markup = result.get("reply_markup") or {}
    return [b.get("url") for row in markup.get("inline_keyboard", []) for b in row]


async def test_inline_empty_query_offers_comparison_and_the_users_own_result(fake, bot):
    seller = fake.user(5001, "Chen", language_code="en")
    picture = (await finish_quiz(seller))[-1]
    assert picture.kind == "photo"
    answer = await answered(fake, await seller.inline_query(""))
    ids = [r["id"] for r in answer["results"]]
    assert ids[0] == "res" and "cmp" in ids and {"full", "semi"} <= set(ids)
    assert answer["is_personal"] is True and answer["cache_time"] <= 10
    # The result as the picture card the bot sent (a cached photo: sharing uploads nothing), with a caption.
    res = answer["results"][0]
    assert res["type"] == "photo" and res["photo_file_id"] == file_id_of(picture)
    assert res["caption"].startswith("<b>Recommendation: Semi-managed</b>") and "contract governs" in res["caption"]
    assert all(url.startswith(TAKE_TEST) for r in answer["results"] for url in button_urls(r))
    # The comparison is text until its picture has been sent once; then it is the cached photo too.
    cmp = next(r for r in answer["results"] if r["id"] == "cmp")
    assert cmp["type"] == "article" and cmp["input_message_content"]["message_text"].startswith("<b>Full-managed vs")
    await seller.send("/compare")
    compared = (await replies(seller))[0]
    again = await answered(fake, await seller.inline_query(""))
    cmp = next(r for r in again["results"] if r["id"] == "cmp")
    assert cmp["type"] == "photo" and cmp["photo_file_id"] == file_id_of(compared)
    assert cmp["caption"].startswith("<b>Full-managed vs Semi-managed</b>") and "contract governs" in cmp["caption"]
    # Another user never sees Chen's result.
    other = fake.user(5002, "Dana", language_code="en")
    other_answer = await answered(fake, await other.inline_query(""))
    assert "res" not in [r["id"] for r in other_answer["results"]]
    assert len(ids) == len(set(ids)) <= 50 and all(len(i.encode()) <= 64 for i in ids)


async def test_inline_matching_query_and_no_match(fake, bot):
    user = fake.user(5003, "Eli", language_code="zh-hans")
    answer = await answered(fake, await user.inline_query("全托管谁定价"))
    first = answer["results"][0]
    assert first["id"].startswith("f:") and "来源" in first["input_message_content"]["message_text"]
    nothing = await answered(fake, await user.inline_query("天气怎么样 xyzzy"))
    assert {"cmp", "full", "semi"} <= {r["id"] for r in nothing["results"]}
    assert "res" not in {r["id"] for r in nothing["results"]}


async def test_share_flow_puts_a_card_with_a_deep_link_and_counts_it(fake, bot):
    _, store = bot
    user = fake.user(5004, "Fang", language_code="en")
    picture = (await finish_quiz(user))[-1]
    share = next(b for row in picture.buttons for b in row if b["text"] == "📤 Share my result")
    assert share["switch_inline_query"] == "my result"
    state = await user.inline_query(share["switch_inline_query"])
    answer = await answered(fake, state)
    assert answer["results"][0]["id"] == "res" and answer["results"][0]["photo_file_id"] == file_id_of(picture)
    inline_id = await user.choose_inline_result(state, "res")
    shared = fake.inline_messages[inline_id]          # the picture card in the chat it was shared into
    assert shared.kind == "photo" and shared.media["photo"][-1]["file_id"] == file_id_of(picture)
    assert shared.caption.startswith("Recommendation: Semi-managed") and "your own contract governs" in shared.caption
    assert button_urls({"reply_markup": shared.reply_markup}) == [TAKE_TEST + "src_share"]
    for _ in range(100):
        if (await store.stats())["shares"]:
            break
        await asyncio.sleep(0.02)
    stats = await store.stats()
    assert stats["shares"] == 1 and stats["inline_chosen"] == 1 and stats["inline_queries"] == 1


@pytest.mark.parametrize("payload,expect", [
    ("quiz", "Question 1/4"), ("faq_full_pricing", "Source:"), ("src_tiktok_sellers", "Question 1/4"),
    ("<script>", "Question 1/4"), ("x" * 65, "Question 1/4"), ("faq_no_such_entry", "Question 1/4"),
    ("mv-100999", "Question 1/4"),
])
async def test_deep_links(fake, bot, payload, expect):
    _, store = bot
    user = fake.user(5005, "Gao", language_code="en")
    await user.send(f"/start {payload}")
    shown = "\n".join(m.text for m in await replies(user))
    assert expect in shown
    if payload.startswith("src_"):
        assert (await store.user("5005")).source == "tiktok_sellers"
        assert (await store.stats())["deeplinks"] == [("tiktok_sellers", 1)]


def test_deep_link_payloads_are_validated():
    assert parse_payload("faq_full_pricing") == DeepLink("faq", "full_pricing")
    assert parse_payload("src_Group_1") == DeepLink("src", "group_1")
    assert parse_payload("mv-1001234") == DeepLink("move", "-1001234")
    for bad in (None, "", "x" * 65, "src_", "src_a-b", "faq_BAD", "mv12a", "hello world", "quiz\n", "ü"):
        assert parse_payload(bad).kind == "none"


async def test_bot_added_to_group_introduces_itself_once(fake, bot):
    _, store = bot
    admin = fake.user(5006, "Hu", language_code="en")
    group = fake.group(-100500, "Sellers")
    await group.add_bot(by=admin)
    intro = await group.next_reply()
    assert "Hi all! I'm Mode Advisor" in intro.text and "@ModeAdvisorBot" in intro.text
    await asyncio.sleep(0.3)
    assert len(group.transcript()) == 1
    assert (await store.stats())["groups"] == 1


async def test_mention_question_and_reply_in_a_group(fake, bot):
    group = fake.group(-100700, "Q&A")
    user = fake.user(5009, "Ivy", language_code="zh-hans")
    group.add_member(user)
    await user.send("大家好", chat=group)                      # plain chatter: not even delivered
    await user.send("@ModeAdvisorBot 半托管的头程运费谁出？", chat=group)
    answer = await group.next_reply()
    assert "来源" in answer.text and any(b.get("url", "").startswith(TAKE_TEST) for row in answer.buttons for b in row)
    await user.send("那全托管呢 who sets the price?", chat=group, reply_to=answer)
    again = await group.next_reply()
    assert again.text
    await user.send("/nonsense@ModeAdvisorBot", chat=group)
    assert "不认识这个命令" in (await group.next_reply()).text
    await user.send("/other@SomeOtherBot", chat=group)
    await asyncio.sleep(0.3)
    assert len(group.transcript()) == 3


async def test_channel_post_by_admin_and_refusals(fake, bot):
    _, store = bot
    admin = fake.user(ADMIN_ID, "Boss", language_code="en")
    channel = fake.channel(-100800, "Seller news", username="sellernews")
    await admin.send("/post @sellernews")
    assert "Posted to @sellernews" in (await replies(admin))[0].text
    post = channel.transcript()[-1]                   # the comparison card, with a short caption and the deep link
    assert post.kind == "photo" and post.caption.startswith("Full-managed vs Semi-managed")
    assert "your own contract governs" in post.caption
    assert post.buttons[0][0]["url"] == TAKE_TEST + "src_channel"
    fake.channel(-100801, "Not mine", username="notmine", bot_status="member")
    await admin.send("/post @notmine")
    assert "not an administrator" in (await replies(admin))[0].text
    await admin.send("/post @nosuchchannel")
    assert "can't find the channel" in (await replies(admin))[0].text
    await admin.send("/post")
    assert "Usage: /post" in (await replies(admin))[0].text
    stranger = fake.user(5010, "Nosy", language_code="en")
    await stranger.send("/post @sellernews")
    assert "don't know that command" in (await replies(stranger))[0].text
    assert len(channel.transcript()) == 1
    # The bot ignores channel posts it receives.
    mark = fake.mark()
    await channel.post("hello subscribers")
    await asyncio.sleep(0.3)
    assert [c.method for c in fake.call_log[mark:] if c.method != "getUpdates"] == []
    expected = [r for r in fake.rejections if r.params.get("chat_id") in ("@notmine", "@nosuchchannel")]
    assert len(expected) == 2                      # the two refusals the admin was told about
    fake.rejections[:] = [r for r in fake.rejections if r not in expected]


async def test_stats_include_sharing_sources_and_groups(fake, bot):
    admin = fake.user(ADMIN_ID, "Boss", language_code="en")
    newcomer = fake.user(5011, "Jo", language_code="en")
    await newcomer.send("/start src_wechat_group")
    await replies(newcomer)
    await answered(fake, await newcomer.inline_query("semi"))
    await admin.send("/stats")
    stats = (await replies(admin))[0].text
    assert "inline queries: 1" in stats and "wechat_group: 1" in stats and "Groups: 0" in stats
