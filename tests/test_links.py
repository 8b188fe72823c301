"""bot.links: the one builder of t.me start links, used by the cards and the Telegram adapter."""
from bot.cards.content import quiz_link
from bot.links import QUIZ, start_link
from bot.tg.deeplink import DeepLink, parse_payload


def test_a_start_link_opens_the_bot_with_its_payload():
    assert start_link("x_bot", "faq_full_pricing") == "https://t.me/x_bot?start=faq_full_pricing"
    assert start_link("@x_bot", QUIZ) == "https://t.me/x_bot?start=quiz"


def test_no_link_without_a_name_or_with_a_payload_telegram_refuses():
    assert start_link(None, QUIZ) is None and start_link("", QUIZ) is None and start_link("@", QUIZ) is None
    assert start_link("x_bot", "has space") is None and start_link("x_bot", "a" * 65) is None


def test_the_cards_quiz_link_is_the_link_the_adapter_reads_as_the_quiz():
    link = quiz_link("@x_bot")
    assert link == start_link("x_bot", QUIZ)
    assert parse_payload(link.split("?start=", 1)[1]) == DeepLink("quiz")
