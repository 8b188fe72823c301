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
    content, base = reviewer.live.content(await store.overlay_examples()), reviewer.live.base
    assert content.learned_advice["en"][-1] == question and content.learned_advice["zh"] == base.learned_advice["zh"]
    assert content.advice == base.advice                    # learnt like the learnt sets: the FAQ model only


def test_advice_is_a_class_of_its_own_among_the_questions(services):
    """One text, one class: an entry's question, out of scope or advice, in the files or the overlay."""
    from bot.services import understanding_content
    base = understanding_content(services.flow, services.reading, services.kb)
    assert base.advice == services.kb.advice and base.advice["zh"] and base.advice["en"]
    asked = example("advice", "", "en", "my cousin and i sell scarves, tell us which road to take")
    merged = merge(base, [asked])
    assert merged.learned_advice["en"] == base.learned_advice["en"] + (asked.text,)
    assert merged.learned_advice["zh"] == base.learned_advice["zh"] and merged.advice == base.advice
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


def checkout(root):
    """A checkout to edit: copies of knowledge/ and dialogs/, beside this one's eval/ (the learnt sets)."""
    for folder in ("knowledge", "dialogs"):
        shutil.copytree(ROOT / folder, root / folder)
    (root / "eval").symlink_to(ROOT / "eval")
    return root


async def test_the_exported_patch_applied_to_the_files_gives_the_same_answers(services, tmp_path):
    root = checkout(tmp_path / "checkout")
    text = patch.dump(OVERLAY)
    changed = patch.apply(patch.load(text), root)
    assert sorted(changed) == ["dialogs/reading.yaml", "knowledge/reviewed/questions.yaml",
                               "knowledge/reviewed/typed.yaml"]
    assert patch.apply(patch.load(text), root) == []                        # applied twice: nothing more
    reviewed = (root / patch.QUESTIONS_FILE).read_text(encoding="utf-8")
    assert reviewed.startswith((ROOT / patch.QUESTIONS_FILE).read_text(encoding="utf-8").split("\nquestions:")[0])
    assert reviewed.count("which road to take") == 1                        # comments kept, the text appended once
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
    root = checkout(tmp_path / "checkout")
    before = {p: p.read_bytes() for p in (root / "knowledge" / "reviewed").iterdir()}
    fine = {"q": "a fresh question about deposits", "lang": "en", "expect": "deposit"}
    for part, error in (([fine, {"q": "x", "lang": "en", "expect": "no_such_entry"}], "no FAQ entry 'no_such_entry'"),
                        ([fine, {"q": "x", "lang": "fr", "expect": "deposit"}], "is not a question"),
                        ([fine, {"q": "x", "lang": "en", "kind": "choosing", "expect": "deposit"}], "kind choosing, no expect"),
                        ([fine, dict(fine, expect="fallback")], "there already, as 'deposit'")):
        with pytest.raises(patch.PatchError, match=error):
            patch.apply({patch.QUESTIONS_FILE: part}, root)
    with pytest.raises(patch.PatchError, match="no level factory.no_such_level"):
        patch.apply({patch.TYPED_FILE: [{"step": "factory", "lang": "en", "text": "x", "expect": "no_such_level"}]}, root)
    with pytest.raises(patch.PatchError, match="unknown file"):
        patch.apply({"knowledge/faq.yaml": {"deposit": {"en": ["x"]}}}, root)
    assert {p: p.read_bytes() for p in (root / "knowledge" / "reviewed").iterdir()} == before     # nothing changed


def test_applied_twice_and_on_top_of_earlier_decisions_the_reviewed_sets_keep_one_item_a_text(services, tmp_path):
    """`apply` appends below what earlier patches put there, keeps the comments, adds nothing twice; the loader
    then learns each item where its step and level say (step `brand` has a level `brand` too)."""
    root = checkout(tmp_path / "checkout")
    first = [example("level", "brand.brand", "en", "our own label comes before everything else"),
             example("faq", "deposit", "zh", "押金到底要交多少")]
    second = first + [example("level", "factory.none", "zh", "啥也没有呢"), example("oos", "", "en", "best pizza in town?")]
    assert patch.apply(patch.load(patch.dump(first)), root) == [patch.TYPED_FILE, patch.QUESTIONS_FILE]
    assert patch.apply(patch.load(patch.dump(second)), root) == [patch.TYPED_FILE, patch.QUESTIONS_FILE]
    assert patch.apply(patch.load(patch.dump(second)), root) == []
    typed = (root / patch.TYPED_FILE).read_text(encoding="utf-8")
    assert typed.startswith("# Typed answers decided in /review") and typed.count("\n  - {") == 2
    assert typed.index("our own label") < typed.index("啥也没有呢")
    from bot.engine.spec import load_dialogs, load_reading
    from bot.kb.loader import load_knowledge
    from bot.services import understanding_content
    kb = load_knowledge(root / "knowledge")
    flow, _ = load_dialogs(root / "dialogs", source_ids=set(kb.sources))
    content = understanding_content(flow, load_reading(flow, root / "dialogs"), kb)
    brand = next(lv for lv in content.slot("brand").levels if lv.id == "brand")
    assert brand.learned["en"][-1] == "our own label comes before everything else"
    assert not any("our own label comes before everything else" in ts for lv in content.slot("brand").levels
                   for ts in lv.examples.values())                  # a learnt typed answer, not a clause example
    assert content.learned_out_of_scope["en"][-1] == "best pizza in town?"
    assert next(d for d in content.faq if d.id == "deposit").learned["zh"][-1] == "押金到底要交多少"
    from bot.nlu.faq import OUT_OF_SCOPE
    assert content.decided_questions == (("best pizza in town?", OUT_OF_SCOPE), ("押金到底要交多少", "deposit"))
    assert content.decided_answers == (("brand", "brand", "our own label comes before everything else"),
                                       ("factory", "none", "啥也没有呢"))       # read as decided, word for word


def test_a_text_learnt_as_one_place_is_refused_as_another_in_the_overlay_and_in_the_reviewed_files(services, tmp_path):
    from bot.check import check_content
    from bot.services import understanding_content
    base = understanding_content(services.flow, services.reading, services.kb)
    entry = next(d for d in base.faq if d.learned.get("en"))
    learnt = next(q for q in entry.learned["en"] if '"' not in q and known(base, example("faq", entry.id, "en", q)))
    assert not any(learnt in qs for qs in entry.questions.values())          # learnt, not the entry's own
    other = next(d.id for d in base.faq if d.id != entry.id)
    assert conflict(base, example("faq", other, "en", learnt)) == f"faq:{entry.id}"
    assert conflict(base, example("oos", "", "en", learnt)) == f"faq:{entry.id}"
    typed = next(lv for lv in base.slot("factory").levels if lv.learned.get("zh"))
    answer = typed.learned["zh"][0]
    wrong = next(lv.id for lv in base.slot("factory").levels if lv.id != typed.id)
    assert conflict(base, example("level", f"factory.{wrong}", "zh", answer)) == f"level:factory.{typed.id}"
    root = checkout(tmp_path / "checkout")
    reviewed = root / patch.QUESTIONS_FILE
    reviewed.write_text(reviewed.read_text(encoding="utf-8").replace(
        "questions: []", f'questions:\n  - {{q: "{learnt}", lang: en, expect: {other}}}'), encoding="utf-8")
    found = [str(p) for p in check_content(root / "knowledge", root / "dialogs")]
    assert len(found) == 1 and f"reviewed question {learnt!r}: already an example of faq:{entry.id}" in found[0], found
