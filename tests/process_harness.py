"""The bot as its own process, for the tests and the benchmarks (bench/ imports from here; tests never
import bench/): `BotProcess` (`python -m bot run` against the fake Bot API, its CPU time, RSS and log),
simulated users that find the screen they are on, and the crash run: users tapping through the
questionnaire while the bot is SIGKILLed at seeded random moments and restarted."""
from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.fakebot import FakeTelegram, FakeUsageError

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- CPU and memory of a process and its children (/proc) --------------------------------------------
def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def descendants(pid: int) -> list[int]:
    """Every live process under `pid` (children, their children...)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def process_tree_cpu(pid: int) -> float:
    """utime + stime of `pid` and its live descendants, plus cutime + cstime (children that ended), seconds."""
    total = 0
    fields = _stat(pid)
    if fields is not None:
        total += sum(int(x) for x in fields[11:15])
    for child in descendants(pid):
        if (fields := _stat(child)) is not None:
            total += sum(int(x) for x in fields[11:15])
    return total / CLK_TCK


def peak_rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


# -- the bot under test, as a process ----------------------------------------------------------------
class BotProcess:
    """`python -m <module> [args]` pointed at the fake, with its CPU time and peak RSS readable."""

    def __init__(self, fake: FakeTelegram, workdir: Path, *, module: str = "bot", args: tuple[str, ...] = ("run",),
                 flood_limit: bool = False, log_level: str = "WARNING", extra_env: dict[str, str] | None = None):
        self.fake, self.workdir = fake, workdir
        self.argv = [sys.executable, "-m", module, *args]
        self.db = workdir / "bench.sqlite3"
        self.log = workdir / f"{module.replace('.', '_')}.log"
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir),
                    "PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": fake.token,
                    "TELEGRAM_API_BASE_URL": fake.base_url, "DATABASE_URL": f"sqlite:///{self.db}",
                    "POLL_TIMEOUT": "1", "LOG_LEVEL": log_level,
                    "TELEGRAM_FLOOD_LIMIT": "on" if flood_limit else "off",
                    # `CARD_FONT=off python -m bench load` measures the bot without pictures
                    **({"CARD_FONT": os.environ["CARD_FONT"]} if "CARD_FONT" in os.environ else {}),
                    **(extra_env or {})}
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.starts += 1

    async def ready(self, since: int, timeout: float = 60.0) -> float:
        """Wait until the process polls the fake (a getUpdates call after call index `since`)."""
        await self.fake.notifier.wait_until(
            lambda: any(c.method == "getUpdates" for c in self.fake.call_log[since:]), timeout)
        return time.monotonic()

    async def start_and_wait(self, timeout: float = 60.0) -> float:
        since = self.fake.mark()
        self.start()
        return await self.ready(since, timeout)

    def cpu_seconds(self) -> float:
        """CPU (utime + stime) so far of the bot and of all its descendants (the card workers): those
        alive now, and those that ended and were waited for (cutime + cstime)."""
        return process_tree_cpu(self.proc.pid)

    def peak_rss_mb(self) -> float:
        """The bot's peak RSS plus its live descendants' (the card workers): memory the bot needs."""
        return sum(peak_rss_kb(pid) for pid in [self.proc.pid, *descendants(self.proc.pid)]) / 1024

    def profile(self, out: Path) -> subprocess.Popen:
        """py-spy (when installed) sampling the bot and its workers until the bot exits: a flame graph in `out`."""
        spy = Path(sys.executable).with_name("py-spy")
        return subprocess.Popen([str(spy), "record", "--pid", str(self.proc.pid), "--subprocesses", "--rate", "250",
                                 "--format", "raw" if out.suffix == ".txt" else "flamegraph", "-o", str(out)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    async def stop(self) -> int:
        """SIGTERM and wait (in a thread: the fake in this loop must answer the final getUpdates)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.to_thread(self.proc.wait, 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return await asyncio.to_thread(self.proc.wait)

    def log_problems(self) -> list[str]:
        """ERROR/CRITICAL lines and tracebacks the process logged."""
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return [ln for ln in lines if " ERROR " in ln or " CRITICAL " in ln or ln.startswith("Traceback")]


# -- simulated users: what they look at --------------------------------------------------------------
@dataclass
class Flow:
    """What the users need to know about the questionnaire: core steps and their options."""

    core: dict[str, list[str]]

    @classmethod
    def load(cls) -> "Flow":
        from bot.services import load_services
        flow = load_services().flow
        return cls({s.id: [o.id for o in flow.choices(s)] for s in flow.core_steps})

    def plan(self, rng: random.Random) -> dict[str, str]:
        return {step: rng.choice(options) for step, options in self.core.items()}


VIEW_BUTTONS = ("a:", "n:", "c:", "b:")     # the questionnaire's own buttons (b: the baseline's)


def is_view(msg) -> bool:
    """A question, confirmation or result with its keyboard (not, say, an FAQ answer's related-topic buttons)."""
    return any(d.startswith(VIEW_BUTTONS) for d in msg.callback_datas)


async def wait_view(user, timeout: float):
    """The bot's next output in the user's chat that is a view: the last message of its reply to an action."""
    deadline = time.monotonic() + timeout
    while True:
        msg = await user.next_reply(max(0.01, deadline - time.monotonic()))
        if is_view(msg):
            return msg


# -- crash recovery under load ----------------------------------------------------------------------------
@dataclass
class CrashReport:
    users: int
    kills: int = 0
    rounds: int = 0
    updates: int = 0
    while_down: int = 0
    resends: int = 0
    lost: list[int] = field(default_factory=list)       # pushed, never handled (not in handled_updates)
    down_ids: list[int] = field(default_factory=list)   # pushed while the bot was down
    down_unhandled: list[int] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    stuck: list[int] = field(default_factory=list)
    stuck_screens: list[str] = field(default_factory=list)
    usage_errors: list[str] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)
    repeat_answers: int = 0          # a second answer to a press already answered (refused; the bot ignores it)
    unanswered: int = 0
    log_problems: list[str] = field(default_factory=list)
    elapsed: float = 0.0


class Expected:
    """The result text the bot must show for a set of answers (rendered like the bot, parsed like the fake)."""

    def __init__(self):
        from bot.engine.dialogue import ResultView
        from bot.engine.recommend import recommend
        from bot.render import HTML
        from bot.services import load_services
        from tests.fakebot.htmlparse import parse_html
        services = load_services()
        optional = {s.id: "skip" for s in services.flow.optional_steps}
        renderer = services.renderer(HTML)

        def text(plan: dict[str, str], lang: str) -> str:
            answers = {**plan, **optional}
            view = ResultView(recommend(services.flow, services.rules, answers), answers)
            return parse_html(renderer.view(view, lang))[0]
        self.text = text
        self.optional = optional


def _screen(chat):
    """The latest view the bot showed: what the user is looking at."""
    for event in reversed(chat.events):
        if is_view(event):
            return event
    return None


def _result_text(chat, screen) -> str:
    """The text of the result a screen shows: its own, or, for a result's picture card (which carries the
    buttons), the detailed result sent just before it."""
    if screen.text is not None or screen.kind != "photo":
        return screen.text or ""
    index = next(i for i in range(len(chat.events) - 1, -1, -1) if chat.events[i] is screen)
    return next((e.text for e in reversed(chat.events[:index]) if e.text is not None), "")


def _key(event) -> tuple | None:
    return None if event is None else (event.message_id, tuple(event.callback_datas), event.text)


async def crash_user(fake: FakeTelegram, uid: int, flow: Flow, expected: Expected, rng: random.Random,
                     killer_done: asyncio.Event, report: CrashReport, plans: dict[int, dict[str, str]],
                     think: tuple[float, float], resend_after: float, deadline: float) -> None:
    """A user who taps through the questionnaire, looks at the screen to decide, and, like a person,
    taps again (or re-sends /start) when nothing happens for `resend_after` seconds. After each
    result: checks it is the result of exactly the answers given, then restarts, until the kills are over."""
    lang_code = "zh-hans" if uid % 2 else "en"
    lang = "zh" if uid % 2 else "en"
    user = fake.user(uid, f"C{uid}", language_code=lang_code)
    chat = fake.world.chats[uid]
    plan, done_rev = flow.plan(rng), -1
    plans[uid] = plan
    while time.monotonic() < deadline:
        screen = _screen(chat)
        before = _key(screen)
        datas = screen.callback_datas if screen else []
        answer_buttons = [d.split(":") for d in datas if d.startswith("a:")]
        restart = next((d for d in datas if d.startswith("n:") and d.split(":")[2] == "restart"), None)
        try:
            if screen is None:
                await user.send("/start")
            elif answer_buttons:
                step = answer_buttons[0][2]
                if step in flow.core:
                    data = next(d for d in datas if d.startswith("a:") and d.split(":")[2:4] == [step, plan[step]])
                else:
                    data = next(d for d in datas if d.startswith("n:") and d.split(":")[2] == "finish")
                await user.press(screen.message_id, callback_data=data)
            elif int(restart.split(":")[1]) <= done_rev:   # the previous result shown again (a stale press)
                await user.press(screen.message_id, callback_data=restart)
            elif _result_text(chat, screen) == expected.text(plan, lang):
                report.rounds += 1                        # a result: exactly the answers given
                done_rev = int(restart.split(":")[1])
                if killer_done.is_set():
                    return
                plan = flow.plan(rng)
                plans[uid] = plan
                await user.press(screen.message_id, callback_data=restart)
            else:
                report.mismatches.append(f"user {uid}: result does not match the answers {plan}: "
                                         f"{_result_text(chat, screen)[:120]!r}")
                return
        except FakeUsageError as exc:                     # the message changed under the finger: look again
            report.usage_errors.append(f"user {uid}: {exc}")
        try:
            await fake.notifier.wait_until(lambda: _key(_screen(chat)) != before, resend_after)
        except TimeoutError:
            report.resends += 1
            continue
        await asyncio.sleep(rng.uniform(*think))
    report.stuck.append(uid)


async def crash_run(users: int = 10, kills: int = 5, seed: int = 7, up: tuple[float, float] = (0.5, 2.0),
                    down: tuple[float, float] = (0.0, 1.0), think: tuple[float, float] = (0.05, 0.4),
                    resend_after: float = 4.0, limit: float = 150.0, workdir: Path | None = None) -> CrashReport:
    """Users under load; the bot SIGKILLed `kills` times at seeded random moments and restarted."""
    flow, expected = Flow.load(), Expected()
    rng = random.Random(seed)
    report = CrashReport(users)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-crash-") as tmp:
        async with FakeTelegram() as fake:
            bot = BotProcess(fake, workdir or Path(tmp))
            await bot.start_and_wait()
            killer_done = asyncio.Event()
            plans: dict[int, dict[str, str]] = {}
            deadline = time.monotonic() + limit

            async def killer() -> None:
                for _ in range(kills):
                    await asyncio.sleep(rng.uniform(*up))
                    bot.kill()
                    report.kills += 1
                    down_at = time.monotonic()
                    await asyncio.sleep(rng.uniform(*down))
                    back_at = await bot.start_and_wait()
                    report.down_ids += [r.update_id for r in fake.updates.records
                                        if down_at <= r.available_at <= back_at]
                    report.while_down = len(report.down_ids)
                killer_done.set()

            people = [crash_user(fake, 500_000 + i, flow, expected, random.Random(seed * 7919 + i), killer_done,
                                 report, plans, think, resend_after, deadline) for i in range(users)]
            await asyncio.gather(killer(), *people)
            try:   # everything pushed is handled before the bot stops
                await fake.notifier.wait_until(lambda: not fake.updates.pending, 15)
            except TimeoutError:
                pass
            await asyncio.sleep(1.5)
            await bot.stop()
            for uid in report.stuck:
                chat = fake.world.chats[uid]
                shown = " | ".join(f"{e.via}:{(e.text or '')[:30]!r}:{e.callback_datas[:2]}" for e in chat.events[-4:])
                report.stuck_screens.append(f"user {uid} (answers {plans.get(uid)}): ... {shown}")
            report.updates = len(fake.updates.records)
            # A press answered just before a kill is not answered again after the restart: the bot records each
            # answer Telegram takes. Only a kill in the instant between Telegram taking it and the record can
            # still bring a repeat, which Telegram refuses: counted apart. Any other refusal, including a first
            # answer refused, is a real one.
            repeats = [r for r in fake.rejections if r.method == "answerCallbackQuery"
                       and (q := fake.callback_queries.get(str(r.params.get("callback_query_id")))) is not None
                       and q.answered]
            report.repeat_answers = len(repeats)
            report.rejections = [f"{r.method}: {r.description}" for r in fake.rejections if r not in repeats]
            report.unanswered = len(fake.unanswered_callback_queries())
            report.log_problems = bot.log_problems()
            db = sqlite3.connect(bot.db)
            try:
                seen = {row[0] for row in db.execute("SELECT update_id FROM handled_updates")}
                pending = {r.update_id for r in fake.updates.pending}
                report.lost = sorted(r.update_id for r in fake.updates.records
                                     if r.update_id not in seen and r.update_id not in pending)
                report.down_unhandled = [u for u in report.down_ids if u not in seen]
                for uid, plan in plans.items():
                    row = db.execute("SELECT data FROM sessions WHERE key=?", (f"{uid}:{uid}",)).fetchone()
                    data = json.loads(row[0]) if row else {}
                    want = {**plan, **expected.optional}
                    if uid in report.stuck:
                        continue
                    if data.get("s") != "result" or data.get("a") != want:
                        report.mismatches.append(f"user {uid}: stored session {data} != answers given {want}")
            finally:
                db.close()
    report.elapsed = time.monotonic() - started
    return report
