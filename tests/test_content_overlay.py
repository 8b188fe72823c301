"""The content overlay (bot/content): decisions refused when one example would belong to two entries or
levels (or to an entry and out of scope or advice), `bot check` over files plus overlay, and the export
round trip: the exported YAML patch applied to the files, with no overlay, gives the same training content
and the same answers."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from bot import ROOT
from bot.content import patch
from bot.content.live import LiveContent
from bot.content.overlay import check_overlay, conflict, example, known, merge
from bot.content.review import Reviewer, for_review
from bot.services import build_services
from bot.store import SQLiteStore
from bot.store.base import Unanswered

OVERLAY = [example("faq", "full_return_fee", "en", "who pays when a buyer sends something back under the consignment deal"),
           example("faq", "full_pricing", "zh", "全托的价格到底谁说了算呀"),
           example("oos", "", "en", "how do i bake sourdough bread"),
           example("advice", "", "en", "my cousin and i sell scarves, tell us which road to take"),
           example("advice", "", "zh", "以我们的条件，倾向哪一边？"),
           example("level", "factory.sourcing", "en", "we mostly just resell stuff from 1688 wholesalers"),
           example("level", "capital.limited", "zh", "兜里就几千块"),
           example("other", "factory", "zh", "哈哈好的呢收到")]


@pytest.fixture
async def reviewer(services, tmp_path):
    store = SQLiteStore(tmp_path / "bot.sqlite3")
    yield Reviewer(LiveContent(services, store, cache_dir=tmp_path / "cache"), store)
    await store.close()


async def _items(store):
    out, after = [], 0
    while (item := await store.review_next(after)) is not None:
        out.append(item)
        after = item.id
    return out


async def test_a_decision_that_makes_an_example_belong_to_two_entries_or_levels_is_refused(reviewer):
    store = reviewer.store
    await store.record_unanswered("x", "zh", None, None, Unanswered("什么是全托管", "zh", None, None, "fallback", None,
                                                                   ("semi_definition", "full_definition")))
    await store.record_unanswered("x", "en", None, None, Unanswered("we have our own factory", "en", None, None, "typed",
                                                                   "factory", ()))
    await store.record_unanswered("x", "en", None, None, Unanswered("brand new phrasing about fees", "en", None, None,
                                                                   "fallback", None, ("settlement",)))
    faq, typed, fresh = await _items(store)
    assert reviewer.choices(faq) == [("faq", "semi_definition"), ("faq", "full_definition"), ("advice", ""),
                                     ("oos", "")]                        # the nearest entries, advice, out of scope
    assert ("advice", "") not in reviewer.choices(typed)
    refused = await reviewer.decide(faq.id, "faq", "semi_definition")     # a question full_definition has
    assert (refused.status, refused.clash) == ("refused", "faq:full_definition")
    assert (await reviewer.decide(faq.id, "oos", "")).clash == "faq:full_definition"
    assert (await reviewer.decide(faq.id, "advice", "")).clash == "faq:full_definition"
    assert (await reviewer.decide(typed.id, "advice", "")).status == "invalid"
    refused = await reviewer.decide(typed.id, "level", "factory.none")
    assert (refused.status, refused.clash) == ("refused", "level:factory.own_factory")
    assert await store.overlay_examples() == [] and await store.review_waiting() == 3     # nothing changed
    assert (await reviewer.decide(faq.id, "faq", "full_definition")).status == "known"    # already there: closed
    assert (await reviewer.decide(typed.id, "faq", "settlement")).status == "invalid"     # not a choice of a typed item
    assert (await reviewer.decide(fresh.id, "faq", "settlement")).status == "done"
    assert (await reviewer.decide(fresh.id, "faq", "settlement")).status == "gone"
    # the overlay counts as much as the files: the same text later, as another entry, is refused
    await store.record_unanswered("x", "en", None, None, Unanswered("brand new phrasing about fees", "en", None, None,
                                                                   "fallback", None, ("semi_fees", "settlement")))
    again = (await _items(store))[-1]
    assert (await reviewer.decide(again.id, "faq", "semi_fees")).clash == "faq:settlement"
    assert (await reviewer.decide(again.id, "advice", "")).clash == "faq:settlement"
    assert await store.overlay_version() == 1


async def test_a_question_decided_as_advice_is_an_advice_example(reviewer):
    store = reviewer.store
    question = "my cousin and i sell scarves, tell us which road to take"
    await store.record_unanswered("x", "en", None, None, Unanswered(question, "en", None, None, "fallback", None,
                                                                   ("help_me_choose",)))
    item, = await _items(store)
    assert (await reviewer.decide(item.id, "advice", "")).status == "done"
    assert [(ex.kind, ex.target, ex.text) for ex in await store.overlay_examples()] == [("advice", "", question)]
    content = reviewer.live.content(await store.overlay_examples())
    assert content.advice["en"][-1] == question and content.advice["zh"] == reviewer.live.base.advice["zh"]


def test_advice_is_a_class_of_its_own_among_the_questions(services):
    """One text, one class: an entry's question, out of scope or advice, in the files or the overlay."""
    from bot.services import understanding_content
    base = understanding_content(services.flow, services.reading, services.kb)
    assert base.advice == services.kb.advice and base.advice["zh"] and base.advice["en"]
    asked = example("advice", "", "en", "my cousin and i sell scarves, tell us which road to take")
    merged = merge(base, [asked])
    assert merged.advice["en"] == base.advice["en"] + (asked.text,) and merged.advice["zh"] == base.advice["zh"]
    assert base.digest("v") != merged.digest("v")                        # a new model, learnt from it
    assert known(merged, asked) and not known(base, asked) and conflict(merged, asked) is None
    assert conflict(merged, example("oos", "", "en", asked.text)) == "advice:"
    assert conflict(merged, example("faq", "deposit", "en", asked.text)) == "advice:"
    assert conflict(base, example("oos", "", "zh", base.advice["zh"][0])) == "advice:"       # the file's
    assert conflict(base, example("advice", "", "zh", "什么是全托管")) == "faq:full_definition"
    assert conflict(base, example("advice", "", "en", base.out_of_scope["en"][0])) == "oos:"
    problems = check_overlay(base, [asked, example("faq", "deposit", "en", asked.text),
                                    example("advice", "", "en", base.out_of_scope["en"][0])])
    assert len(problems) == 2 and "already an example of advice:" in problems[0], problems
    assert "already an example of oos:" in problems[1], problems


async def test_retention_deletes_old_items_and_keeps_new_ones(services, tmp_path):
    store = SQLiteStore(tmp_path / "bot.sqlite3")
    await store.record_unanswered("old question", "en", None)
    store.db.execute("UPDATE unanswered SET ts = ts - 31 * 86400")
    await store.record_unanswered("new question", "en", None)
    live = LiveContent(services, store, cache_dir=tmp_path / "cache", retention_days=30)
    await live._purge()
    assert [i.text for i in await _items(store)] == ["new question"]
    await store.close()


def test_what_is_kept_for_review(services):
    ask = services.answerer.ask
    fell_back = for_review(ask("how do i bake sourdough bread", "en"), "1")
    assert fell_back.kind == "fallback" and len(fell_back.candidates) == 3 and fell_back.step is None
    sure = ask("全托管是什么意思", "zh")
    assert not sure.fallback and for_review(sure, "1") is None                # answered with confidence: not kept
    typed = for_review(ask("we mostly just resell stuff from 1688 wholesalers", "en"), "1", typed_at="factory",
                       nlu=services.nlu)
    assert (typed.kind, typed.step, typed.nearest) == ("typed", "factory", "sourcing")    # nearest levels first
    assert set(typed.candidates) == {"none", "sourcing", "own_factory"}
    assert for_review(ask("   ", "en"), "1") is None
    # answered with the questionnaire offer alone, the advice class unsure: kept, the nearest entries offered
    advised = ask("full managed feels like a gamble for us", "en")
    assert (advised.handling, advised.entries) == ("advice", ()) and advised.advice < 0.5
    item = for_review(advised, "1")
    assert item.kind == "advised" and item.score == round(advised.advice, 4)
    assert item.candidates == tuple(e.id for e in advised.suggestions) and len(item.candidates) == 3
    sure_advice = ask("which mode would you pick for someone like me", "en")      # the advice class is sure
    assert sure_advice.handling == "advice" and for_review(sure_advice, "1") is None


def test_check_names_overlay_examples_that_clash_or_point_nowhere(services):
    from bot.services import understanding_content
    base = understanding_content(services.flow, services.reading, services.kb)
    assert check_overlay(base, OVERLAY) == []
    bad = [example("faq", "no_such_entry", "en", "a question"),
           example("level", "factory.no_such_level", "en", "an answer"),
           example("faq", "semi_definition", "zh", "什么是全托管"),
           example("faq", "semi_fees", "en", "fresh words"), example("oos", "", "en", "fresh words")]
    problems = check_overlay(base, bad)
    assert len(problems) == 4, problems
    assert "no FAQ entry 'no_such_entry'" in problems[0] and "no questionnaire level" in problems[1]
    assert "already an example of faq:full_definition" in problems[2]
    assert "already an example of faq:semi_fees" in problems[3]


async def test_bot_check_validates_the_overlay_in_the_store(tmp_path):
    db = tmp_path / "bot.sqlite3"
    store = SQLiteStore(db)
    await store.overlay_add(example("faq", "semi_definition", "zh", "什么是全托管"))
    await store.close()
    out = subprocess.run([sys.executable, "-m", "bot", "check"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "DATABASE_URL": f"sqlite:///{db}"})
    assert out.returncode == 1 and "already an example of faq:full_definition" in out.stdout, out.stdout + out.stderr


async def test_the_exported_patch_applied_to_the_files_gives_the_same_answers(services, tmp_path):
    root = tmp_path / "checkout"
    for folder in ("knowledge", "dialogs"):
        shutil.copytree(ROOT / folder, root / folder)
    text = patch.dump(OVERLAY)
    changed = patch.apply(patch.load(text), root)
    assert sorted(changed) == ["dialogs/reading.yaml", "dialogs/seller_questionnaire.yaml",
                               "knowledge/advice_questions.yaml", "knowledge/faq.yaml", "knowledge/out_of_scope.yaml"]
    assert patch.apply(patch.load(text), root) == []                        # applied twice: nothing more
    advice_file = (root / patch.ADVICE_FILE).read_text(encoding="utf-8")
    assert advice_file.startswith((ROOT / patch.ADVICE_FILE).read_text(encoding="utf-8").split("\nquestions:")[0])
    assert advice_file.count("which road to take") == 1                     # comments kept, the text appended once
    cache = tmp_path / "cache"
    patched = build_services(root / "knowledge", root / "dialogs", cache_dir=cache)
    from bot.services import understanding_content
    merged = merge(understanding_content(services.flow, services.reading, services.kb), OVERLAY)
    files = understanding_content(patched.flow, patched.reading, patched.kb)
    assert files == merged                                  # the very same training content...
    live = LiveContent(services, SQLiteStore(":memory:"), cache_dir=cache)
    try:
        live._swap(await live._train(merged))               # the training process finds them in the cache
    finally:
        live.close()
    assert live.trainer.starts == 1
    questions = [ex.text for ex in OVERLAY] + ["全托管谁定价", "what does semi-managed mean", "半托管的头程运费谁出?",
                                               "how much money do i need for semi", "who handles returns in full mode"]
    for q in questions:                                     # ...and the same answers, overlay or files
        a, b = live.services.answerer.ask(q, "en"), patched.answerer.ask(q, "en")
        assert (a.entry and a.entry.id, a.fallback, a.score) == (b.entry and b.entry.id, b.fallback, b.score), q
    for q in ("we mostly just resell stuff from 1688 wholesalers", "兜里就几千块", "哈哈好的呢收到"):
        for step in ("factory", "capital"):
            assert live.nlu.read(q, step).answers == patched.nlu.read(q, step).answers, (q, step)
    assert live.nlu.read("we mostly just resell stuff from 1688 wholesalers", "factory").answers == {"factory": "sourcing"}
    assert live.services.answerer.ask(OVERLAY[0].text, "en").entry.id == "full_return_fee"


def test_patch_errors_name_what_does_not_fit(tmp_path):
    root = tmp_path / "checkout"
    for folder in ("knowledge", "dialogs"):
        shutil.copytree(ROOT / folder, root / folder)
    with pytest.raises(patch.PatchError, match="entry 'no_such_entry'"):
        patch.apply({patch.FAQ_FILE: {"no_such_entry": {"en": ["x"]}}}, root)
    with pytest.raises(patch.PatchError, match="unknown file"):
        patch.apply({"knowledge/ui.yaml": {}}, root)


def test_a_patch_for_a_level_named_like_its_step_lands_in_the_level(tmp_path):
    """Step `brand` has a level `brand`: the example goes to that level's examples, not to the step line."""
    import yaml

    shutil.copytree(ROOT / "dialogs", tmp_path / "dialogs")
    text = "our own label comes before everything else"
    assert patch.apply({"dialogs/seller_questionnaire.yaml": {"brand.brand": {"en": [text]}}}, tmp_path) \
        == ["dialogs/seller_questionnaire.yaml"]
    flow = yaml.safe_load((tmp_path / "dialogs" / "seller_questionnaire.yaml").read_text(encoding="utf-8"))
    step = next(s for s in flow["steps"] if s["id"] == "brand")
    level = next(o for o in step["options"] if o["id"] == "brand")
    assert text in level["examples"]["en"]
    assert sum(text in str(o) for o in step["options"]) == 1
