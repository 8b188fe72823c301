"""Load benchmark: the bot as its own process (`python -m bot run`, long polling) against the fake
Bot API server, which runs in this process together with the simulated users.

Scenarios (figures only, nothing is asserted):

  saturation   closed loop, 50 users, flood limiter off, three runs in turn, --repeat times: the bot
               with CARD_FONT=off (no new cards), bench/baseline_bot.py (bare python-telegram-bot, no
               logic), the bot with cards (most results a new card); ratios to the baseline pair by pair
  human        flood limiter on and the fake enforcing Telegram's limits with 429s; 50 users each
               pausing a seeded 1-3 s before every action (the first one too, so they do not all
               start in the same instant); --pairs back-to-back pairs, with cards then CARD_FONT=off
  burst        flood limiter on, limits enforced; 300 users send /start at the same moment
  crash        users under load while the bot is SIGKILLed at seeded random moments and restarted
  group        limits enforced (edits like sends); 5 members of one group send /quiz@bot within the
               same second and answer their cards by buttons at a human pace (1-3 s), while users in
               private chats run the human-paced scenario; then the same private run without the group

A user of the first three: /start, four core answers and "Show my result" by buttons, then two
follow-up questions typed as text. Latency is the fake's: from the update becoming available to
the bot's first reply in that chat. Bot CPU is utime+stime of the bot process and of every process
under it (the card workers and their forkserver; /proc/<pid>/stat, ended children by cutime+cstime)
while the users run; peak memory is the bot's VmHWM, and the sum with its children's.

    python -m bench load                            # everything, ~12 minutes on a shared 2-core machine
    python -m bench load --only saturation human    # issue 16's figures, ~5-6 minutes
    python -m bench.load --quick                    # smaller runs
    python -m bench.load --only group --members 5
    python -m bench load --only saturation --repeat 1 --profile /tmp/prof   # py-spy stacks of each run
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakebot import FakeTelegram, FakeUsageError  # noqa: E402
from tests.fakebot.records import SEND_METHODS  # noqa: E402
from tests.group_harness import call_text, uploaded  # noqa: E402
from tests.process_harness import BotProcess, Flow, peak_rss_kb, crash_run, descendants, wait_view  # noqa: E402

QUESTIONS = ("全托管谁来定价？", "who pays the first-leg freight in semi-managed?")
TELEGRAM_RATE = 30.0   # messages per second, Telegram's overall limit (and the fake's)
PROFILE: list[Path] = []   # --profile DIR: py-spy collapsed stacks (py-spy raw format) of the bot's runs go there


# -- simulated users -----------------------------------------------------------------------------------
def our_choice(flow: Flow, plan: dict[str, str]) -> Callable[[Any], str]:
    """Presses the planned answer of a core question, "Show my result" at the first optional one."""
    def choose(msg) -> str:
        datas = msg.callback_datas
        answers = [d.split(":") for d in datas if d.startswith("a:")]
        if answers and answers[0][2] in flow.core:
            step = answers[0][2]
            return next(d for d in datas if d.startswith("a:") and d.split(":")[2:4] == [step, plan[step]])
        return next(d for d in datas if d.startswith("n:") and d.split(":")[2] == "finish")
    return choose


def first_button(msg) -> str:
    return msg.callback_datas[0]


@dataclass
class Tally:
    actions: int = 0
    finished: int = 0
    failures: list[str] = field(default_factory=list)


async def scripted_user(fake: FakeTelegram, uid: int, lang: str, chooser: Callable[[Any], str],
                        pause: Callable[[], float] | None, tally: Tally, timeout: float = 60.0) -> None:
    """/start, five presses (four answers and the result), two typed questions; each action waits for the view."""
    user = fake.user(uid, f"User{uid}", language_code=lang)
    try:
        if pause:
            await asyncio.sleep(pause())
        await user.send("/start")
        msg = await wait_view(user, timeout)
        tally.actions += 1
        for _ in range(5):
            if pause:
                await asyncio.sleep(pause())
            await user.press(msg, callback_data=chooser(msg))
            msg = await wait_view(user, timeout)
            tally.actions += 1
        for question in QUESTIONS:
            if pause:
                await asyncio.sleep(pause())
            await user.send(question)
            msg = await wait_view(user, timeout)
            tally.actions += 1
        tally.finished += 1
    except (TimeoutError, FakeUsageError, StopIteration) as exc:
        tally.failures.append(f"user {uid}: {type(exc).__name__} {exc}")


# -- one measured run -----------------------------------------------------------------------------------
@dataclass
class Figures:
    scenario: str
    bot: str
    users: int
    updates: int
    wall: float
    p50: float
    p95: float
    p99: float
    cpu_per_update_ms: float
    rss_mb: float
    flood_429: int
    errors: int
    harness_cpu_share: float
    fake_ms_per_update: float = 0.0
    calls_per_update: float = 0.0
    polls_per_update: float = 0.0
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.updates / self.wall if self.wall else 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def errors_of(fake: FakeTelegram, bot: BotProcess, tally: Tally) -> tuple[int, list[str]]:
    """Everything that went wrong: failed users, refused calls, non-429 HTTP errors, unanswered
    callback queries, ERROR lines in the bot's log."""
    bad_calls = [c for c in fake.call_log if c.status >= 400 and c.status not in (429, 499)]
    notes = list(tally.failures[:3])
    notes += [f"{c.method} -> {c.status} {c.description}" for c in bad_calls[:3]]
    notes += [f"rejected: {r.method} {r.description}" for r in fake.rejections[:3]]
    problems = bot.log_problems()
    notes += problems[:3]
    unanswered = fake.unanswered_callback_queries()
    if unanswered:
        notes.append(f"{len(unanswered)} callback queries never answered")
    total = len(tally.failures) + len(bad_calls) + len(fake.rejections) + len(unanswered) + len(problems)
    return total, notes


async def measured(scenario: str, module: str, users: int, flood: bool, drive: Callable,
                   label: str | None = None, env: dict[str, str] | None = None) -> Figures:
    """Start the bot (`module`) against a fresh fake, run `drive(fake, tally)`, collect figures."""
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        async with FakeTelegram(flood_limits=flood) as fake:
            bot = BotProcess(fake, Path(tmp), module=module, args=("run",) if module == "bot" else (),
                             flood_limit=flood, extra_env=env)
            await bot.start_and_wait()
            spy = bot.profile(PROFILE[0] / f"{scenario}-{label or module}.txt") if PROFILE else None
            await asyncio.sleep(0.3)          # let post_init calls finish before measuring
            first_update = len(fake.updates.records)
            tally = Tally()
            cpu0, wall0, own0 = bot.cpu_seconds(), time.monotonic(), time.process_time()
            extra = await drive(fake, tally) or {}
            wall, own = time.monotonic() - wall0, time.process_time() - own0
            cpu, rss = bot.cpu_seconds() - cpu0, bot.peak_rss_mb()
            extra["bot_rss_mb"] = peak_rss_kb(bot.proc.pid) / 1024
            extra["workers"] = len(descendants(bot.proc.pid))
            await bot.stop()
            if spy is not None:
                await asyncio.to_thread(spy.wait, 60)
            records = fake.updates.records[first_update:]
            calls = [c for c in fake.call_log if c.method != "getUpdates" and c.at >= wall0 and c.done_at]
            fake_time = sum(c.done_at - c.at for c in calls)
            polls = sum(1 for c in fake.call_log if c.method == "getUpdates" and c.at >= wall0 and c.done_at
                        and c.done_at <= wall0 + wall)
            latencies = [r.replied_at - r.available_at for r in records if r.replied_at]
            errors, notes = errors_of(fake, bot, tally)
            missing = sum(1 for r in records if not r.replied_at)
            if missing:
                notes.append(f"{missing} updates got no reply")
            photos = [c for c in fake.call_log if c.method == "sendPhoto" and c.at >= wall0 and c.status == 200]
            extra.setdefault("photos", len(photos))
            extra.setdefault("new_cards", sum(1 for c in photos if uploaded(c)))
            extra.setdefault("bot_rss_mb", peak_rss_kb(bot.proc.pid) / 1024)
            return Figures(scenario, label or module, users, len(records), wall,
                           percentile(latencies, .50) * 1000, percentile(latencies, .95) * 1000,
                           percentile(latencies, .99) * 1000, cpu / max(1, len(records)) * 1000, rss,
                           fake.flood.sent_429, errors + missing, own / wall if wall else 0.0,
                           fake_time / max(1, len(records)) * 1000, len(calls) / max(1, len(records)),
                           polls / max(1, len(records)), notes, extra)


def closed_loop(flow: Flow, users: int, rounds: int, seed: int, ours: bool) -> Callable:
    async def drive(fake: FakeTelegram, tally: Tally) -> None:
        rng = random.Random(seed)

        async def slot(i: int) -> None:
            for r in range(rounds):
                uid = 100_000 + r * 10_000 + i
                chooser = our_choice(flow, flow.plan(rng)) if ours else first_button
                await scripted_user(fake, uid, "zh-hans" if uid % 2 else "en", chooser, None, tally)

        await asyncio.gather(*(slot(i) for i in range(users)))
    return drive


def human_paced(flow: Flow, users: int, seed: int) -> Callable:
    async def drive(fake: FakeTelegram, tally: Tally) -> None:
        tasks = []
        for i in range(users):
            rng = random.Random(seed * 1000 + i)
            first = [True]

            def pause(rng=rng, first=first) -> float:
                if first[0]:
                    first[0] = False
                    return rng.uniform(0, 3)
                return rng.uniform(1, 3)
            uid = 200_000 + i
            tasks.append(scripted_user(fake, uid, "zh-hans" if i % 2 else "en", our_choice(flow, flow.plan(rng)),
                                       pause, tally))
        await asyncio.gather(*tasks)
    return drive


def burst(users: int) -> Callable:
    async def drive(fake: FakeTelegram, tally: Tally) -> dict:
        people = [fake.user(300_000 + i, f"B{i}", language_code="zh-hans" if i % 2 else "en") for i in range(users)]
        mark = fake.mark()
        t0 = time.monotonic()
        for user in people:             # all in the same instant: no await yields in between
            await user.send("/start")
        served: list[float] = []

        async def wait(user) -> None:
            try:
                await wait_view(user, 180)
                served.append(time.monotonic() - t0)
            except TimeoutError:
                tally.failures.append(f"user {user.id} not served")

        await asyncio.gather(*(wait(u) for u in people))
        tally.finished = len(served)
        sends = [c for c in fake.call_log[mark:] if c.method in SEND_METHODS and c.status == 200]
        return {"served": len(served), "all_served_s": max(served) if served else float("nan"),
                "messages": len(sends), "minimum_s": len(sends) / TELEGRAM_RATE}
    return drive


# -- a busy group beside private chats ------------------------------------------------------------------
GROUP_ID = -100_777_000
LATE_ANSWER = 1.5      # seconds: the dispatcher answers a press itself ("busy") when its handler is later


@dataclass
class Member:
    name: str
    presses: list = field(default_factory=list)        # fake QueryStates, in order
    result_at: float | None = None


def card_of(chat, name: str):
    """A group member's card as the group sees it now (their newest message starting with their name)."""
    for event in reversed(chat.transcript()):
        if (event.text or event.caption or "").startswith(f"👤 {name} ·"):   # a text card or a photo's caption
            return event
    return None


def is_result_card(card) -> bool:
    return card is not None and not any(d.startswith("g:") for d in card.callback_datas)


async def group_member(fake: FakeTelegram, group, uid: int, name: str, lang: str, flow: Flow,
                       rng: random.Random, member: Member, tally: Tally) -> None:
    """/quiz@bot within the first second, then one press per core question, 1-3 s apart, on the card."""
    user = fake.user(uid, name, language_code=lang)
    group.add_member(user)
    plan = flow.plan(rng)
    try:
        await asyncio.sleep(rng.uniform(0, 1))
        await user.send("/quiz@ModeAdvisorBot", chat=group)
        card = await fake.notifier.wait_until(lambda: card_of(group.chat, name), 90)
        for step in flow.core:
            await asyncio.sleep(rng.uniform(1, 3))
            data = next(d for d in card.callback_datas if d.startswith("g:") and d.split(":")[2:4] == [step, plan[step]])
            member.presses.append(await user.press(card, callback_data=data, chat=group))
        await fake.notifier.wait_until(lambda: is_result_card(card_of(group.chat, name)), 120)
        member.result_at = time.monotonic()
        tally.finished += 1
    except (TimeoutError, FakeUsageError, StopIteration) as exc:
        tally.failures.append(f"member {name}: {type(exc).__name__} {exc}")


def group_figures(fake: FakeTelegram, members: list[Member]) -> dict:
    """Press -> callback answer, last press -> result on the card, group calls per member, late answers."""
    answers = {c.params.get("callback_query_id"): c for c in fake.call_log
               if c.method == "answerCallbackQuery" and c.done_at}
    shown, late, busy_texts = [], 0, 0
    for member in members:
        for press in member.presses:
            call = answers.get(press.id)
            if call is None:
                continue
            shown.append(call.done_at - press.at)
            late += call.done_at - press.at > LATE_ANSWER
            busy_texts += bool(call.params.get("url")) or (call.params.get("text") or "").startswith("⏳")
    group_calls = [c for c in fake.call_log if c.method in SEND_METHODS and str(c.chat_id) == str(GROUP_ID)
                   and c.status == 200]
    per_member = [sum(1 for c in group_calls if f"👤 {m.name} ·" in call_text(c)) for m in members]
    results = []
    for member in members:
        edits = [c for c in group_calls if c.method in ("editMessageText", "editMessageMedia") and
                 f"👤 {member.name} ·" in call_text(c) and member.presses and c.at >= member.presses[-1].at]
        if edits:
            results.append(edits[0].done_at - member.presses[-1].at)
    unanswered = sum(1 for m in members for p in m.presses if p.id not in answers)
    return {"members": len(members), "reached": sum(1 for m in members if m.result_at),
            "presses": len(shown), "press_p95": percentile(shown, .95) * 1000, "press_max": max(shown, default=0) * 1000,
            "result_p95": percentile(results, .95) * 1000, "per_member_max": max(per_member, default=0),
            "per_member_mean": sum(per_member) / max(1, len(per_member)), "group_calls": len(group_calls),
            "late": late, "busy_texts": busy_texts, "unanswered": unanswered}


def private_latencies(fake: FakeTelegram, since: float) -> list[float]:
    return [r.replied_at - r.available_at for r in fake.updates.records
            if r.replied_at and r.available_at >= since and r.chat_id is not None and r.chat_id > 0]


def busy_group(flow: Flow, users: int, members: int, seed: int, with_group: bool) -> Callable:
    async def drive(fake: FakeTelegram, tally: Tally) -> dict:
        since = time.monotonic()
        people = [human_paced(flow, users, seed)(fake, tally)]
        crew: list[Member] = []
        if with_group:
            group = fake.group(GROUP_ID, "Busy sellers")
            crew = [Member(f"G{i}") for i in range(members)]
            people += [group_member(fake, group, 700_000 + i, m.name, "zh-hans" if i % 2 else "en", flow,
                                    random.Random(seed * 31 + i), m, tally) for i, m in enumerate(crew)]
        await asyncio.gather(*people)
        await asyncio.sleep(0.5)
        private = private_latencies(fake, since)
        extra = {"private_p99": percentile(private, .99) * 1000, "private_p95": percentile(private, .95) * 1000,
                 "private_updates": len(private)}
        if with_group:
            extra.update(group_figures(fake, crew))
        return extra
    return drive


NO_CARDS = {"CARD_FONT": "off"}


def with_cards() -> dict[str, str]:
    """The bot's environment with picture cards on (CARD_FONT from this environment unless it is "off")."""
    setting = os.environ.get("CARD_FONT", "")
    return {"CARD_FONT": "" if setting.lower() == "off" else setting}


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if len(ordered) % 2 else sum(ordered[len(ordered) // 2 - 1:][:2]) / 2


# -- printing -----------------------------------------------------------------------------------------------
def print_table(rows: list[Figures]) -> None:
    print(f"{'scenario':<11} {'bot':<9} {'users':>5} {'updates':>7} {'upd/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'p99 ms':>7} {'CPU ms/upd':>10} {'RSS MB':>7} {'429s':>5} {'errors':>6} {'calls/upd':>9} {'polls/upd':>9} "
          f"{'fake ms/upd':>11} {'harness CPU':>11}")
    for f in rows:
        print(f"{f.scenario:<11} {f.bot:<9} {f.users:>5} {f.updates:>7} {f.rate:>7.1f} {f.p50:>7.1f} {f.p95:>7.1f} "
              f"{f.p99:>7.1f} {f.cpu_per_update_ms:>10.2f} {f.rss_mb:>7.1f} {f.flood_429:>5} {f.errors:>6} "
              f"{f.calls_per_update:>9.2f} {f.polls_per_update:>9.2f} {f.fake_ms_per_update:>11.2f} "
              f"{f.harness_cpu_share:>10.0%}")
        for note in f.notes[:6]:
            print(f"{'':<11} ! {note[:150]}")


async def run(args: argparse.Namespace) -> None:
    flow = Flow.load()
    only = set(args.only or ("saturation", "human", "burst", "crash", "group"))
    rows: list[Figures] = []
    ratios = None
    if "saturation" in only:
        # Alternating runs (no new cards, baseline, a card at every result), the ratios pair by pair: the machine
        # is shared, so a figure is only compared with the runs beside it.
        # --http fast httpx: a no-cards run per Bot API client (TELEGRAM_HTTP) in each round, and the baseline on
        # the fast client too ("baseline fast"; "baseline" stays PTB's default httpx).
        http = {"": args.http[0]} if len(args.http) == 1 else {f" {h}": h for h in args.http}
        plan = [(f"no cards{name}", "bot", {**NO_CARDS, "TELEGRAM_HTTP": h}) for name, h in http.items()]
        plan += [("baseline", "bench.baseline_bot", None)]
        if "fast" in args.http and len(args.http) > 1:
            plan += [("baseline fast", "bench.baseline_bot", {"TELEGRAM_HTTP": "fast"})]
        plan += [("cards", "bot", {**with_cards(), "TELEGRAM_HTTP": args.http[0]})]
        runs: dict[str, list[Figures]] = {label: [] for label, _, _ in plan}
        for _ in range(args.repeat):
            for label, module, env in plan:
                drive = closed_loop(flow, args.users, args.rounds, args.seed, ours=module == "bot")
                runs[label].append(await measured("saturation", module, args.users, False, drive, label, env))
        rows += [f for trio in zip(*runs.values()) for f in trio]
        ratios = {label: ([f.cpu_per_update_ms / b.cpu_per_update_ms for f, b in zip(runs[label], runs["baseline"])],
                          [f.rate / b.rate for f, b in zip(runs[label], runs["baseline"])],
                          sum(f.errors for f in runs[label]))
                  for label in runs if label != "baseline"}
        card_runs = runs["cards"]
    human_pairs: list[tuple[Figures, Figures]] = []
    if "human" in only:
        for _ in range(args.pairs):    # with cards, then CARD_FONT=off, back to back
            pair = []
            for env in (with_cards(), NO_CARDS):
                pair.append(await measured("human", "bot", args.users, True, human_paced(flow, args.users, args.seed),
                                           "cards" if env is not NO_CARDS else "no cards", env))
            human_pairs.append(tuple(pair))
            rows += pair
    burst_fig = None
    if "burst" in only:
        burst_fig = await measured("burst", "bot", args.burst_users, True, burst(args.burst_users), "ours")
        rows.append(burst_fig)
    print(f"Load: the bot as a process (`python -m bot run`, polling, POLL_TIMEOUT=1) vs the fake Bot API on "
          f"127.0.0.1; {os.cpu_count()} CPUs; seed {args.seed}")
    if rows:
        print_table(rows)
        print("latency: update available -> first reply call in that chat; CPU: bot process utime+stime per update; "
              "harness CPU: fake + users (this process) busy share of wall time")
    if ratios:
        for label, (cpu, rate, errors) in ratios.items():
            what = (f"without new cards (CARD_FONT=off{label[8:] and ', TELEGRAM_HTTP=' + label[9:]})"
                    if label.startswith("no cards") else "with cards (the card worker's CPU included)"
                    if label == "cards" else "the baseline itself on the fast client")
            print(f"questionnaire loop {what}, bot/baseline, median of {len(cpu)} alternating pairs: CPU per update "
                  f"{median(cpu):.2f}x ({', '.join(f'{x:.2f}' for x in cpu)}), throughput {median(rate):.2f}x "
                  f"({', '.join(f'{x:.2f}' for x in rate)}), errors {errors}"
                  + ("; targets <= 0.90x, >= 0.95x, 0" if label.startswith("no cards") else ""))
        if "baseline fast" in runs:         # the bot against the baseline on the same client: its own code's cost
            same = [f.cpu_per_update_ms / b.cpu_per_update_ms for f, b in zip(runs["no cards fast"], runs["baseline fast"])]
            print(f"questionnaire loop without new cards, bot/baseline both on the fast client: CPU per update "
                  f"{median(same):.2f}x ({', '.join(f'{x:.2f}' for x in same)})")
        new = sum(f.extra["new_cards"] for f in card_runs)
        results = sum(f.extra["photos"] for f in card_runs)
        print(f"  with cards: {new} of {results} result pictures were new cards (drawn and uploaded), the rest sent "
              f"by file_id; peak memory {median([f.extra['bot_rss_mb'] for f in card_runs]):.0f} MB the bot, "
              f"{median([f.rss_mb for f in card_runs]):.0f} MB with its {card_runs[0].extra['workers']} child "
              f"process(es) (sum of peak RSS: pages they share are counted twice)")
    if human_pairs:
        ratio = [c.p99 / o.p99 for c, o in human_pairs]
        print(f"human-paced private chats, reply p99 with cards / CARD_FONT=off, {len(ratio)} back-to-back pairs: "
              + ", ".join(f"{c.p99:.0f}/{o.p99:.0f} ms" for c, o in human_pairs)
              + f"; median ratio {median(ratio):.2f}x (target <= 1.15x); 429s "
              f"{sum(c.flood_429 + o.flood_429 for c, o in human_pairs)} (target 0), errors "
              f"{sum(c.errors + o.errors for c, o in human_pairs)} (target 0)")
    if burst_fig:
        x = burst_fig.extra
        print(f"burst: {x['served']}/{burst_fig.users} users served in {x['all_served_s']:.1f} s; {x['messages']} "
              f"messages, minimum at {TELEGRAM_RATE:.0f}/s = {x['minimum_s']:.1f} s; ratio "
              f"{x['all_served_s'] / x['minimum_s']:.2f}x (target <= 1.25x), 429s {burst_fig.flood_429} (target 0)")
    if "group" in only:
        await group_report(flow, args)
    if "crash" in only:
        r = await crash_run(users=args.crash_users, kills=args.kills, seed=args.seed)
        ok = r.users - len(r.stuck) - len({m.split(':')[0] for m in r.mismatches})
        print(f"crash: {r.users} users, {r.kills} SIGKILLs + restarts in {r.elapsed:.0f} s; {r.rounds} questionnaires "
              f"completed; {r.updates} updates, {r.while_down} sent while the bot was down; {r.resends} re-sends "
              f"after no reply; updates never handled: {len(r.lost)}; users with exactly their answers: "
              f"{ok}/{r.users}; stuck {len(r.stuck)}; rejections {len(r.rejections)} (besides {r.repeat_answers} repeat "
              f"answers to resumed presses); unanswered callbacks {r.unanswered}; bot log errors "
              f"{len(r.log_problems)}")
        for m in (r.mismatches + r.stuck_screens)[:3]:
            print(f"  ! {m[:400]}")


async def group_report(flow: Flow, args: argparse.Namespace) -> None:
    """Alternating runs with and without the busy group (the machine is shared: timings are noisy)."""
    pairs = []
    for _ in range(args.group_pairs):
        busy = await measured("group", "bot", args.users, True,
                              busy_group(flow, args.users, args.members, args.seed, True), "ours")
        calm = await measured("group", "bot", args.users, True,
                              busy_group(flow, args.users, args.members, args.seed, False), "ours")
        pairs.append((busy, calm))
    print(f"Busy group: {args.members} members of one group start within 1 s and answer their cards by buttons "
          f"(1-3 s apart), beside {args.users} human-paced private users; the fake enforces Telegram's limits "
          f"(20/min per group, edits counted like sends); {args.group_pairs} alternating pair(s)")
    print(f"{'run':>3} {'reached':>7} {'press p95':>9} {'press max':>9} {'result p95':>10} {'grp/member':>10} "
          f"{'429s':>5} {'late':>4} {'busy':>4} {'errors':>6} {'private p99':>11} {'without group':>13} {'change':>7}")
    for i, (busy, calm) in enumerate(pairs, 1):
        x, y = busy.extra, calm.extra
        change = (x["private_p99"] / y["private_p99"] - 1) if y["private_p99"] else float("nan")
        print(f"{i:>3} {x['reached']:>4}/{x['members']:<2} {x['press_p95']:>6.0f} ms {x['press_max']:>6.0f} ms "
              f"{x['result_p95']:>7.0f} ms {x['per_member_max']:>4} max {busy.flood_429 + calm.flood_429:>5} "
              f"{x['late']:>4} {x['busy_texts']:>4} {busy.errors + calm.errors:>6} {x['private_p99']:>8.0f} ms "
              f"{y['private_p99']:>10.0f} ms {change:>+7.0%}")
        for note in (busy.notes + calm.notes)[:4]:
            print(f"    ! {note[:150]}")
    busy_p99 = sorted(b.extra["private_p99"] for b, _ in pairs)[len(pairs) // 2]
    calm_p99 = sorted(c.extra["private_p99"] for _, c in pairs)[len(pairs) // 2]
    x = pairs[-1][0].extra
    print(f"group: every member reaches the result {x['reached']}/{x['members']}; press -> callback answer p95 "
          f"{x['press_p95']:.0f} ms (target < 2000), last press -> result on the card p95 {x['result_p95']:.0f} ms; "
          f"group messages+edits per member max {x['per_member_max']} (mean {x['per_member_mean']:.1f}, target <= 3); "
          f"429s {sum(b.flood_429 + c.flood_429 for b, c in pairs)} (target 0); late callback answers (> "
          f"{LATE_ANSWER} s) {sum(b.extra['late'] for b, _ in pairs)} (target 0); private p99 median "
          f"{busy_p99:.0f} ms with the group vs {calm_p99:.0f} ms without "
          f"({(busy_p99 / calm_p99 - 1) if calm_p99 else float('nan'):+.0%}, target within 10%)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description="load benchmark (figures only)")
    parser.add_argument("--users", type=int, default=50, help="users in saturation and human-paced runs")
    parser.add_argument("--burst-users", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="questionnaires per user slot in the closed loop")
    parser.add_argument("--repeat", type=int, default=3, help="saturation rounds (no cards, baseline, cards)")
    parser.add_argument("--http", nargs="+", choices=("fast", "httpx"), default=["fast"],
                        help="saturation: the bot's Bot API client (TELEGRAM_HTTP); two give a no-cards run each")
    parser.add_argument("--group-pairs", type=int, default=2, help="busy-group pairs (with, without the group)")
    parser.add_argument("--pairs", type=int, default=3, help="human-paced pairs (cards, CARD_FONT=off)")
    parser.add_argument("--crash-users", type=int, default=30)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--members", type=int, default=5, help="members of the busy group")
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--profile", type=Path, help="write py-spy collapsed stacks (py-spy raw format) of the bot's runs to this directory "
                        "(pip install py-spy; a tool, not a dependency)")
    parser.add_argument("--fake-decode", choices=("on", "off"), default="on",
                        help="off: the fake reads an uploaded photo's header only instead of decoding it (a "
                        "diagnostic: the decode runs on the harness's event loop and delays every chat's timing)")
    parser.add_argument("--quick", action="store_true", help="small runs (10 users, 60 in the burst, 3 kills)")
    parser.add_argument("--only", nargs="+", choices=("saturation", "human", "burst", "crash", "group"))
    args = parser.parse_args(argv or [])
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        PROFILE[:] = [args.profile.resolve()]
    if args.quick:
        args.users, args.burst_users, args.rounds, args.repeat, args.crash_users, args.kills = 10, 60, 1, 1, 8, 3
        args.pairs = args.group_pairs = 1
    return args


def _photo_header_only(data: bytes) -> tuple[int, int]:
    """The fake's photo check without decoding the pixels (--fake-decode off)."""
    import io

    from PIL import Image
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.fake_decode == "off":
        import tests.fakebot.validate as fake_checks
        fake_checks.check_photo = _photo_header_only
        print("(diagnostic: the fake does not decode uploaded photos)")
    asyncio.run(run(args))


if __name__ == "__main__":
    main(sys.argv[1:])
