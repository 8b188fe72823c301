"""The console chat in-process: resume after a restart, language switch, FAQ, typed answers."""
from bot.console import ConsoleChat
from bot.conversation import Conversations


def chat(services, store, lang="en"):
    lines = []
    c = ConsoleChat(Conversations(services, store), lang, lines.append)
    return c, lines


def test_progress_is_saved_and_resumed(services, store):
    c, out = chat(services, store)
    c.start()
    c.handle("we are a factory, new to cross-border, small budget")
    c.handle("yes")
    assert "Question 4/4" in out[-2]
    again, out2 = chat(services, store)
    again.start()
    assert any("Welcome back" in line for line in out2)
    assert "Question 4/4" in "\n".join(out2)


def test_language_switch_and_faq_in_the_other_language(services, store):
    c, out = chat(services, store)
    c.start()
    c.handle("lang")
    assert "已切换为中文" in "\n".join(out)
    out.clear()
    c.handle("who sets the price in full-managed?")
    text = "\n".join(out)
    assert "Source:" in text           # the FAQ answer comes in English, the language of the question
    assert "第 1/4 题" in text          # then the pending question, in the user's language


def test_stats_are_recorded(services, store):
    c, _ = chat(services, store)
    c.start()
    for line in ("1", "1", "1", "1", "result", "what's the weather on mars?"):
        c.handle(line)
    stats = store.stats()
    assert stats["quizzes_started"] == 1 and stats["quizzes_completed"] == 1
    assert stats["results_by_mode"] == {"full": 1}
    assert stats["unanswered"] and stats["unanswered"][0][2] == "what's the weather on mars?"


def test_a_read_back_comes_in_the_language_the_seller_wrote_in(services, store):
    c, out = chat(services, store, lang="en")
    c.start()
    out.clear()
    c.handle("我们是东莞的工厂，没做过跨境，资金不多")
    text = "\n".join(out)
    assert "我从你的描述里读到了这些" in text and "货源：自有工厂，成本可控" in text
