"""The training process behind a retrain (bot/content/training.py, bot/content/live.py): it trains what the
bot then builds in steps, it is started by the first retrain and reused, and when it cannot start, dies mid-job or sends
models that do not load, the retrain still lands (trained in a thread). It waits while the bot has replies in
flight, within a budget, and learns the same paced or not. It ends with the bot, also when the bot is killed
outright."""
from __future__ import annotations

import asyncio
import io
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from bot import ROOT
from bot.content.live import LiveContent
from bot.content.overlay import example, merge
from bot.content.training import Pacer, TrainingProcess
from bot.nlu import linear
from bot.nlu.content import AmountRule, Content, FaqDoc, Level, Lexicon, Slot, YearsRule
from bot.nlu.faq import ADVICE, OUT_OF_SCOPE, FaqClassifier
from bot.nlu.slots import SlotReader
from bot.nlu.understand import Understanding, _Models, cached_models, finish, group_digests, model_version
from bot.store import SQLiteStore

MESSAGES = [("we've got two dogs", "pet"), ("大概五万块", "money"), ("what should my cat eat?", None),
            ("how often should the dog go out", None), ("今天天气怎么样", None)]


def small_content(extra: str = "") -> Content:
    """A content that trains in well under a second (`extra`: one more example question, a new hash)."""
    lvl = lambda i, zh, en: Level(i, (i,), {"zh": tuple(zh), "en": tuple(en)})  # noqa: E731
    slots = (Slot("pet", (lvl("cat", ["我养猫", "家里有只猫", "猫咪"], ["i have a cat", "we own cats", "a kitten"]),
                          lvl("dog", ["我养狗", "家里有条狗", "狗狗"], ["i have a dog", "we own dogs", "a puppy"]))),
             Slot("money", (lvl("low", ["钱少", "没钱"], ["little money", "broke"]),
                            lvl("high", ["钱多", "有钱"], ["rich", "lots of money"]))))
    faq = (FaqDoc("feed", ("喂食",), {"zh": ("猫吃什么", "狗吃什么"), "en": ("what do cats eat", "pet food") + ((extra,) if extra else ())}),
           FaqDoc("walk", ("遛狗",), {"zh": ("多久遛一次狗",), "en": ("how often to walk a dog", "dog walking")}))
    return Content(slots=slots, unsure={"zh": ("不知道",), "en": ("no idea",)}, unsure_short={"zh": ("?",), "en": ("?",)},
                   other={"zh": ("你好",), "en": ("hello",)}, commands={"yes": ("yes", "对")},
                   amounts=AmountRule("money", 7.2, (("low", 10_000.0), ("high", None))),
                   years=YearsRule("pet", (("cat", None),), "cat", "cat"),
                   lexicon=Lexicon(**{name: () for name in Lexicon.__dataclass_fields__}), faq=faq,
                   out_of_scope={"zh": ("今天天气",), "en": ("weather today",)}, concepts=())


def readings(nlu: Understanding) -> list:
    return [(r.answers, r.faq[0].id if r.faq else None, round(r.faq_probability, 4))
            for r in (nlu.read(text, step=step) for text, step in MESSAGES)]


@pytest.fixture
async def live(services, tmp_path):
    store = SQLiteStore(tmp_path / "bot.sqlite3")
    live = LiveContent(services, store, cache_dir=tmp_path / "cache")
    yield live
    live.close()
    await store.close()


def gone(pid: int, within: float = 20.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


async def test_the_training_process_trains_and_the_bot_builds_the_same_understanding(live, tmp_path, caplog):
    content = small_content()
    with caplog.at_level(logging.WARNING):
        nlu = await live._train(content)
        pid = live.trainer.pid
        again = await live._train(small_content("what does a kitten eat"))     # a new hash: trained again
    assert pid is not None and pid != os.getpid() and live.trainer.pid == pid and live.trainer.starts == 1
    assert "in a thread" not in caplog.text
    assert readings(nlu) == readings(Understanding(content, cache_dir=None))     # as if trained right here
    assert nlu.digest == content.digest(model_version())
    assert readings(nlu)[0][0] == {"pet": "dog"} and readings(again)[2][1] == "feed"
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2                   # written by the process


def test_the_steps_build_what_the_constructor_builds(tmp_path):
    content = small_content()
    digest, meta, arrays = cached_models(content, tmp_path)
    built = finish(Understanding.in_steps(content, digest, meta, arrays))
    assert readings(built) == readings(Understanding(content, cache_dir=tmp_path))
    assert cached_models(content, tmp_path) == (digest, meta, arrays)           # from the cache the second time
    with pytest.raises((ValueError, KeyError, OSError)):
        finish(Understanding.in_steps(content, digest, meta, b"not a model"))


def learnt(content: Content) -> Content:
    """`content` with learnt examples: typed answers at `pet`, a question of `feed`."""
    pet = content.slots[0]
    levels = tuple(replace(lv, learned={"en": (f"just {lv.id}s at home",)}) for lv in pet.levels)
    return replace(content, slots=(replace(pet, levels=levels),) + content.slots[1:],
                   faq=(replace(content.faq[0], learned={"en": ("what should a pet eat",)}),) + content.faq[1:])


def test_a_decision_retrains_only_the_models_it_teaches_and_takes_the_rest_from_the_cache_to_the_bit(
        tmp_path, monkeypatch):
    base = learnt(small_content())
    asked = merge(base, [example("faq", "walk", "en", "how long should a walk last")])
    answered = merge(asked, [example("level", "pet.dog", "en", "a golden retriever")])
    chatted = merge(answered, [example("other", "pet", "en", "lovely weather")])
    digests = [group_digests(c, model_version()) for c in (base, asked, answered, chatted)]
    changed = [sorted(g for g in a if a[g] != b[g]) for a, b in zip(digests, digests[1:])]
    assert changed == [["faq"], ["typed"], ["faq", "slots", "typed"]]     # what each decision teaches
    trained: list[str] = []
    for owner, name, group in ((SlotReader, "fit", "slots"), (SlotReader, "fit_typed", "typed"),
                               (FaqClassifier, "fit", "faq")):
        fit = getattr(owner, name)
        monkeypatch.setattr(owner, name, lambda *a, fit=fit, group=group, **kw: (trained.append(group), fit(*a, **kw))[1])
    cached_models(base, tmp_path)
    assert sorted(trained) == ["faq", "slots", "typed"]
    trained.clear()
    cached_models(asked, tmp_path)
    assert trained == ["faq"]                   # the clause, hedge and typed-answer models from the cache
    trained.clear()
    digest, meta, arrays = cached_models(answered, tmp_path)
    assert trained == ["typed"]                 # ...the FAQ model from the one just cached
    trained.clear()
    scratch_meta, scratch_arrays = _Models.fit(answered, digests[2]).parts()
    assert sorted(trained) == ["faq", "slots", "typed"]
    assert meta == scratch_meta
    with np.load(io.BytesIO(arrays)) as reused, np.load(io.BytesIO(scratch_arrays)) as scratch:
        assert sorted(reused.files) == sorted(scratch.files)
        for name in scratch.files:              # array for array, to the bit
            assert reused[name].dtype == scratch[name].dtype and reused[name].shape == scratch[name].shape, name
            assert reused[name].tobytes() == scratch[name].tobytes(), name
    trained.clear()
    cached_models(chatted, tmp_path)            # a message that answers nothing teaches every model
    assert sorted(trained) == ["faq", "slots", "typed"]


def test_two_processes_training_the_same_content_at_once_train_it_once(tmp_path, monkeypatch):
    """Replicas on one host that poll the same decision: one trains, the other waits for it and reads what it
    cached (the lock is per open file, so two threads contend as two processes would)."""
    fits: list[float] = []
    fit = _Models.fit

    def slow_fit(*args, **kwargs):
        fits.append(time.monotonic())
        time.sleep(0.5)                          # long enough for the other to arrive while this one trains
        return fit(*args, **kwargs)

    monkeypatch.setattr(_Models, "fit", slow_fit)
    content, start = small_content("a new question"), threading.Barrier(2)
    results: list[tuple[str, bytes, bytes]] = []

    def replica() -> None:
        start.wait()
        results.append(cached_models(content, tmp_path))

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(fits) == 1 and len(results) == 2 and results[0] == results[1]


def test_decided_examples_read_as_decided_word_for_word():
    """Content.decided_questions and decided_answers win over what the models read (here decided against it)."""
    content = learnt(small_content())
    plain = Understanding(content, cache_dir=None)
    decided = Understanding(replace(content, decided_questions=(("what do cats eat", "walk"), ("dog walking", OUT_OF_SCOPE),
                                                                ("how often to walk a dog", ADVICE)),
                                    decided_answers=(("pet", "cat", "a puppy"),)), cache_dir=None)
    assert plain.read("what do cats eat").faq[0].id == "feed" and plain.read("a puppy", "pet").answers == {"pet": "dog"}
    read = decided.read("what do cats eat")
    assert (read.faq[0].id, read.faq_probability, read.answerable) == ("walk", 1.0, True)
    read = decided.read("dog walking")
    assert (read.answerable, read.oos_probability) == (False, 1.0) and plain.read("dog walking").answerable
    assert decided.read("how often to walk a dog").advice_probability == 1.0
    assert decided.read("a puppy", "pet").answers == {"pet": "cat"}
    assert decided.read("a puppy").answers == plain.read("a puppy").answers      # at its step only
    assert decided.read("what do dogs eat").faq[0].id == plain.read("what do dogs eat").faq[0].id


def test_training_learns_the_same_in_any_pieces_and_paced(monkeypatch):
    rng = np.random.default_rng(1)
    vectors = [[(int(j), float(rng.random())) for j in rng.choice(40, 5, replace=False)] for _ in range(50)]
    labels = [("a", "b", "c")[i % 3] for i in range(50)]

    def trained(rows: int, pace=None) -> tuple[bytes, bytes]:
        monkeypatch.setattr(linear, "ROWS_A_PIECE", rows)
        monkeypatch.setattr(linear, "pace", pace)
        model = linear.train(vectors, labels, ["a", "b", "c"], iterations=30, n_features=45)
        return model.weights.tobytes(), model.bias.tobytes()

    calls: list[int] = []

    def pace() -> None:
        calls.append(1)
        time.sleep(0.0001)

    whole = trained(10**9)
    assert trained(7) == whole and trained(1) == whole                 # to the bit
    assert trained(7, pace) == whole
    assert len(calls) > 30 * 3                                          # several times a step


def test_the_pacer_waits_while_the_flag_is_up_within_its_budget():
    flag = bytearray(1)
    pacer = Pacer(flag, budget=0.3)
    started = time.perf_counter()
    pacer()
    assert pacer.waited == 0.0 and time.perf_counter() - started < 0.1   # no replies in flight: on at once
    flag[0] = 1
    threading.Timer(0.1, lambda: flag.__setitem__(0, 0)).start()      # the last reply is done
    pacer()                                                             # until the flag is down
    assert not flag[0] and 0.08 < pacer.waited < 0.25
    flag[0] = 1
    pacer()                                                             # the flag stays up: until the budget is spent
    assert flag[0] and 0.29 < pacer.waited < 0.45
    started = time.perf_counter()
    pacer()
    assert time.perf_counter() - started < 0.05                         # spent: unpaced
    pacer.job()
    assert pacer.waited == 0.0                                          # the next job has its budget again


async def test_the_training_process_waits_while_the_bot_has_replies_in_flight(live):
    await live._train(small_content())                                  # started, warm
    live.trainer.replying(True)
    content = small_content("what does a puppy eat")
    job = asyncio.create_task(live._train(content))
    await asyncio.sleep(1.0)
    assert not job.done()                                               # it trains in well under a second unpaced
    live.trainer.replying(False)
    nlu = await asyncio.wait_for(job, 30)
    assert live.trainer.last_waited >= 0.5
    assert readings(nlu) == readings(Understanding(content, cache_dir=None))     # paced, the same models
    await live._train(small_content("puppy food"))
    assert live.trainer.last_waited == 0.0


async def test_a_training_process_that_dies_mid_job_is_replaced_and_the_retrain_still_lands(live, caplog):
    live.trainer.start()
    first = live.trainer.pid
    os.kill(first, signal.SIGSTOP)                       # it gets the job but never answers...
    content = small_content()
    with caplog.at_level(logging.WARNING):
        job = asyncio.create_task(live._train(content))
        await asyncio.sleep(0.3)
        os.kill(first, signal.SIGKILL)                   # ...and dies
        nlu = await asyncio.wait_for(job, 60)
    assert "training in a thread" in caplog.text and gone(first)
    assert readings(nlu) == readings(Understanding(content, cache_dir=None))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        await live._train(small_content("kitten food"))  # the next retrain: a new process
    assert "in a thread" not in caplog.text and live.trainer.starts == 2 and live.trainer.pid not in (None, first)


@pytest.mark.parametrize("executable", ["/nonexistent/python", shutil.which("true") or "/bin/true"])
async def test_when_no_training_process_can_start_or_it_exits_at_once_the_bot_trains_in_a_thread(
        live, monkeypatch, caplog, executable):
    monkeypatch.setattr(sys, "executable", executable)
    content = small_content()
    with caplog.at_level(logging.WARNING):
        nlu = await live._train(content)
    assert "training in a thread" in caplog.text
    assert readings(nlu) == readings(Understanding(content, cache_dir=None))


async def test_models_that_do_not_load_are_built_in_a_thread(live, monkeypatch, caplog):
    monkeypatch.setattr(live.trainer, "train", lambda content, cache_dir: ("0" * 24, b"{}", b"garbage"))
    content = small_content()
    with caplog.at_level(logging.WARNING):
        nlu = await live._train(content)
    assert "building in a thread" in caplog.text
    assert readings(nlu) == readings(Understanding(content, cache_dir=None))


async def test_the_training_process_waits_for_a_retrain_and_ends_with_following(live):
    following = True
    task = asyncio.create_task(live.follow(lambda: following))
    await asyncio.sleep(0.2)
    assert live.trainer.pid is None                       # nothing to train yet: no process
    await live._train(small_content())
    pid = live.trainer.pid
    assert pid is not None                                # kept, idle, for the next retrain
    following = False
    await asyncio.wait_for(task, 10)
    assert live.trainer.pid is None and gone(pid)


KILLED_BOT = '''
import os, pickle, signal, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from bot.content import training
from bot.services import load_services, understanding_content

trainer = training.TrainingProcess()
trainer.start()
if {busy!r}:                              # a whole retrain (seconds of training) under way
    s = load_services()
    content = understanding_content(s.flow, s.reading, s.kb)
    training._write(trainer._proc.stdin, pickle.dumps((content, {cache!r})))
    time.sleep(1.0)
print(trainer.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)      # no chance to stop it
'''


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "training"])
def test_the_training_process_ends_when_the_bot_is_killed_outright(tmp_path, busy):
    script = tmp_path / "bot.py"
    cache = tmp_path / "cache"
    script.write_text(KILLED_BOT.format(root=str(ROOT), busy=busy, cache=str(cache)))
    bot = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(bot.stdout.readline())
        assert bot.wait(30) == -signal.SIGKILL
        assert gone(pid), "the training process outlived its bot"
        assert not list(cache.glob("*.json")), "the job went on for nobody"     # abandoned, not finished
    finally:
        bot.stdout.close()
        if bot.poll() is None:
            bot.kill()
