"""The training process: one beside each bot process, started by its first retrain and kept, idle, for the next.

Training understanding is seconds of CPU-bound Python and numpy: in the bot's process it would hold the
interpreter lock and slow every reply. So the bot (bot.content.live) keeps this process beside it, a fresh
interpreter (`python -m bot.content.training`, at the lowest priority from its first millisecond) that
imports nothing heavy until its first job. It is not started with the bot: a bot process may never
retrain, and an interpreter starting beside every bot took CPU from its first replies. A job is the
merged content: the process trains the models into the cache (keyed by the content's hash; with the models
cached already, by another replica on the host say, it only reads them) and sends back the hash and the
cache files' bytes, from which the bot builds the new `Understanding` in steps between replies
(`Understanding.in_steps`).

It runs with one BLAS thread (a pool of spinning BLAS threads would take every core from the bot) at the
highest niceness, so on a busy machine replies come first, and it is paced: while the bot has replies in
flight (its ChatDispatcher calls `TrainingProcess.replying`, which sets one byte of memory shared with this
process), it sleeps. bot.nlu.linear calls the `Pacer` before every piece of a training step, a millisecond
or so of work apart, and it looks at that byte; a job waits PACE_BUDGET seconds at most in all, then trains
on unpaced, so a decision always shows. Pacing only adds sleeps: the models are the same to the bit. Even
at nice 19 a process beside the bot cost its replies: the kernel gives it a tick (4 ms) now and then on the
bot's core, and on the other core it competes for the caches and memory. Waiting while replies are in
flight took much of that away for ~10% more training time; a duty cycle (resting in proportion to the work
done) made replies slower, and waiting on for a while after the last reply cost training time for nothing
(docs/review.md, "Figures"). (Linux's SCHED_IDLE was tried: on the 2 shared cores of the bench a retrain
then took ~19 s instead of ~5 s, close to the 30 s a decision may take to show, for no clearer gain in
replies; tried again beside the pacing, it gained nothing measurable either.)

It ends when its input closes (the bot stopped or died) or its parent changes (the bot was killed outright
while it trained); one that died is started again at the next job.

Its arguments: the bot's process id, and the file descriptor of the shared byte (inherited). On the pipes,
every message is a frame: 8 bytes of length, then the bytes. Bot -> process: a pickle of (content,
cache_dir). Process -> bot: a pickle of ("ok", digest, seconds waited for replies) followed by two raw frames, the cache
files' json and npz bytes (read straight into memory, with the interpreter lock free meanwhile), or a
pickle of ("error", what went wrong).
"""
from __future__ import annotations

import mmap
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import BinaryIO

from bot import ROOT

NICE = 19               # the highest niceness: on a busy machine the bot's replies come first
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
PARENT_WATCH = 1.0      # seconds between the process's checks that the bot is still its parent

# The pacing: the process waits while the bot has replies in flight, PACE_BUDGET seconds at most a job (then it
# trains on unpaced, so a decision shows within a retrain and this). Measured in docs/review.md, "Figures".
PACE_BUDGET = 8.0
PACE_POLL = 0.002       # seconds between two looks at the bot's flag while the process waits
_LENGTH = struct.Struct("<Q")


class TrainingFailed(Exception):
    """The process could not start, died, or could not train; the caller trains some other way."""


# -- frames --------------------------------------------------------------------------------------------
def _write(stream: BinaryIO, data: bytes) -> None:
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)
    stream.flush()


def _read(stream: BinaryIO) -> bytes:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("the pipe closed")
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the pipe closed mid-message")
    return data


# -- in the bot ----------------------------------------------------------------------------------------
class TrainingProcess:
    """The bot's end: `train()` one job at a time from a worker thread (it blocks until the models are
    there; the first job starts the process, `start()`), `stop()` with the bot."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self.starts = 0                       # processes started so far (a dead one is replaced)
        self.last_waited: float | None = None # seconds the last job waited for replies (Pacer)
        self._replying = False
        self._flag_file: BinaryIO | None = None   # one byte shared with the process: replies in flight
        self._flag: mmap.mmap | None = None

    def replying(self, active: bool) -> None:
        """The bot has replies in flight (True) or none (False); the process waits meanwhile (Pacer). One
        byte written to shared memory: cheap enough for every update, and nothing before the first retrain."""
        self._replying = active
        if self._flag is not None:
            self._flag[0] = active

    def _flag_fd(self) -> int | None:
        """The shared byte's file, made at the first start (None where it cannot be: training is not paced)."""
        if self._flag is None:
            try:
                self._flag_file = tempfile.TemporaryFile()
                self._flag_file.write(bytes([self._replying]))
                self._flag_file.flush()
                self._flag = mmap.mmap(self._flag_file.fileno(), 1)
            except (OSError, ValueError):
                return None
        return self._flag_file.fileno()

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def start(self) -> subprocess.Popen:
        """Start the process unless it runs (it, either way); TrainingFailed when it cannot be started."""
        with self._lock:
            if self._proc is not None:
                if self._proc.poll() is None:
                    return self._proc
                self._reap(self._proc)
            env = {**os.environ, **{name: "1" for name in THREAD_VARS}}
            try:
                flag = self._flag_fd()
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", __name__, str(os.getpid()), *([str(flag)] if flag is not None else [])],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT, env=env,
                    pass_fds=(flag,) if flag is not None else ())
            except (OSError, ValueError) as exc:
                self._proc = None
                raise TrainingFailed(f"could not start a training process: {exc}") from exc
            try:                              # at once, not when its own start-up gets there (setup)
                os.setpriority(os.PRIO_PROCESS, self._proc.pid, NICE)
            except (OSError, AttributeError):
                pass
            self.starts += 1
            return self._proc

    def train(self, content, cache_dir: Path) -> tuple[str, bytes, bytes]:
        """The content's digest and its models' cache files' bytes (json, npz). Blocks for as long as training
        takes: call it from a worker thread. TrainingFailed when the process cannot start, dies (it is then
        replaced at the next job) or reports an error (it stays, for the next job)."""
        proc = self.start()
        try:
            _write(proc.stdin, pickle.dumps((content, str(Path(cache_dir).resolve())), pickle.HIGHEST_PROTOCOL))
            reply = pickle.loads(_read(proc.stdout))
            if reply[0] != "ok":
                raise TrainingFailed(f"the training process could not train: {reply[1]}")
            self.last_waited = reply[2]
            return reply[1], _read(proc.stdout), _read(proc.stdout)
        except (OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
            self.stop(proc)                   # whatever state it is in, a new one starts at the next job
            raise TrainingFailed(f"the training process ended ({exc!r})") from exc

    def stop(self, proc: subprocess.Popen | None = None) -> None:
        """End `proc`, by default the running process (a new one starts at the next job). It keeps nothing
        worth waiting for: the cache files it writes appear whole or not at all."""
        with self._lock:
            proc = proc or self._proc
            if proc is None:
                return
            if proc is self._proc:
                self._proc = None
            self._reap(proc, kill=True)

    @staticmethod
    def _reap(proc: subprocess.Popen, kill: bool = False) -> None:
        if kill and proc.poll() is None:
            proc.kill()                       # first: a thread blocked on its pipes gets EOF and lets go of them
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:   # stuck in the kernel: it is reaped when it ends (Popen's list)
            pass


# -- in the training process -----------------------------------------------------------------------------
class Pacer:
    """bot.nlu.linear.pace in the training process, called before every piece of a training step (a
    millisecond or so apart): while the bot's flag byte says it has replies in flight, it sleeps, looking
    again every PACE_POLL seconds. A job waits `budget` seconds at most in all, then trains unpaced, so a
    retrain always ends. It only ever sleeps: what is learnt is the same, paced or not."""

    def __init__(self, flag: mmap.mmap | None, budget: float = PACE_BUDGET):
        self.flag, self.budget = flag, budget
        self.job()

    def job(self) -> None:
        """A new job: its budget starts full."""
        self.waited = 0.0

    def __call__(self) -> None:
        flag = self.flag
        if flag is None or not flag[0] or self.waited >= self.budget:
            return
        start = time.perf_counter()
        end = start + self.budget - self.waited
        while flag[0] and time.perf_counter() < end:
            time.sleep(PACE_POLL)
        self.waited += time.perf_counter() - start


def setup() -> None:
    """One thread of linear algebra (set before numpy is imported; the bot sets it in the environment too),
    at the highest niceness (the bot sets that too, as soon as it has started us)."""
    for name in THREAD_VARS:
        os.environ[name] = "1"
    try:
        os.setpriority(os.PRIO_PROCESS, 0, NICE)
    except (OSError, AttributeError):
        pass


def _end_with_parent(parent: int) -> None:
    """Exit once the bot is gone (its children are then handed to another parent): a bot killed outright
    cannot stop us, and a job under way would otherwise train to its end for nobody."""
    while os.getppid() == parent:
        time.sleep(PARENT_WATCH)
    os._exit(0)


def main(parent: int, flag_fd: int | None = None) -> None:
    """`parent`: the bot's process id (given, not read here: the bot may be gone before we start);
    `flag_fd`: the file of the bot's flag byte (replies in flight)."""
    setup()
    flag = None
    if flag_fd is not None:
        try:
            flag = mmap.mmap(flag_fd, 1, prot=mmap.PROT_READ)
        except (OSError, ValueError):
            pass
    pacer = Pacer(flag)
    threading.Thread(target=_end_with_parent, args=(parent,), name="parent watch", daemon=True).start()
    inp = sys.stdin.buffer
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)                             # a stray print goes to the log, never into a frame
    while True:
        try:
            job = _read(inp)
        except EOFError:
            return                            # the bot closed its end: stopped
        from bot.nlu import linear
        from bot.nlu.understand import cached_models
        linear.pace = pacer
        pacer.job()
        try:
            content, cache_dir = pickle.loads(job)
            digest, meta, arrays = cached_models(content, Path(cache_dir))
        except Exception as exc:               # noqa: BLE001 - told to the bot, which trains another way
            _write(out, pickle.dumps(("error", repr(exc))))
            continue
        _write(out, pickle.dumps(("ok", digest, pacer.waited)))
        _write(out, meta)
        _write(out, arrays)


if __name__ == "__main__":
    try:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else os.getppid(), int(sys.argv[2]) if len(sys.argv) > 2 else None)
    except (BrokenPipeError, KeyboardInterrupt):
        pass
