"""The console chat in-process: resume after a restart, language switch, FAQ, typed answers."""
from bot.console import ConsoleChat
from bot.conversation import Conversations


def chat(services, store, lang="en"):
    lines = []
    c = ConsoleChat(Conversations(services, store), lang, lines.append)
    return c, lines


async def test_progress_is_saved_and_resumed(services, store):
    c, out = chat(services, store)
    await c.start()
    await c.handle("we are a factory, new to cross-border, small budget")
    await c.handle("yes")
    assert "Question 4/4" in out[-2]
    again, out2 = chat(services, store)
    await again.start()
    assert any("Welcome back" in line for line in out2)
    assert "Question 4/4" in "\n".join(out2)


async def test_language_switch_and_faq_in_the_other_language(services, store):
    c, out = chat(services, store)
    await c.start()
    await c.handle("lang")
    assert "已切换为中文" in "\n".join(out)
    out.clear()
    await c.handle("who sets the price in full-managed?")
    text = "\n".join(out)
    assert "Source:" in text           # the FAQ answer comes in English, the language of the question
    assert "第 1/4 题" in text          # then the pending question, in the user's language


async def test_stats_are_recorded(services, store):
    c, _ = chat(services, store)
    await c.start()
    for line in ("1", "1", "1", "1", "result", "what's the weather on mars?"):
        await c.handle(line)
    stats = await store.stats()
    assert stats["quizzes_started"] == 1 and stats["quizzes_completed"] == 1
    assert stats["results_by_mode"] == {"full": 1}
    assert stats["unanswered"] and stats["unanswered"][0][2] == "what's the weather on mars?"


async def test_a_read_back_comes_in_the_language_the_seller_wrote_in(services, store):
    c, out = chat(services, store, lang="en")
    await c.start()
    out.clear()
    await c.handle("我们是东莞的工厂，没做过跨境，资金不多")
    text = "\n".join(out)
    assert "我从你的描述里读到了这些" in text and "货源：自有工厂，成本可控" in text
