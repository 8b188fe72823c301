import os
import sys
from pathlib import Path

import pytest
import pytest_asyncio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(ROOT / ".hypothesis"))


@pytest.fixture(scope="session")
def services():
    from bot.services import load_services
    return load_services()


@pytest.fixture
def dialogue(services):
    return services.dialogue


@pytest_asyncio.fixture
async def store():
    from bot.store import SQLiteStore
    s = SQLiteStore(":memory:")
    yield s
    await s.close()


@pytest_asyncio.fixture
async def fake():
    """The strict fake Bot API; at the end, every call the bot made must have been accepted."""
    from tests.fakebot import FakeTelegram
    from tests.tg_harness import assert_clean
    async with FakeTelegram() as server:
        yield server
        assert_clean(server)


# Parametrize a test's `bot` with these (indirect=True) to run it over both Bot API clients (TELEGRAM_HTTP).
BOTH_CLIENTS = ["fast", "httpx"]


@pytest_asyncio.fixture
async def bot(fake, tmp_path, request):
    """The real Application polling the fake, with a fresh SQLite store: yields (app, store). Its Bot API client
    is the default one unless the test parametrizes `bot` (indirectly) with "fast" or "httpx"."""
    from tests.tg_harness import running_bot
    async with running_bot(fake, tmp_path / "bot.sqlite3",
                           telegram_http=getattr(request, "param", "fast")) as (app, store):
        yield app, store


# -- PostgreSQL: a throwaway server for the session (tests/pg_server.py) -----------------------------------
# Tests that need it use the `pg_url` fixture (a fresh database each) or are marked `postgres`. They never
# skip: without the server binaries they fail, saying how to install them. A developer without them can
# leave them out on purpose with SKIP_POSTGRES=1 (refused on CI, where .ci/run installs the server).
SKIP_POSTGRES = os.environ.get("SKIP_POSTGRES", "") not in ("", "0")


def _is_long(item) -> bool:
    """The tests that take many seconds: the bot as its own process, load runs, the replicas, and the review
    loop end to end."""
    return any(item.get_closest_marker(m) for m in ("crash", "load")) or item.module.__name__.endswith("test_replicas") \
        or _times_retraining(item)


def _times_retraining(item) -> bool:
    """The review loop end to end asserts a decision shows within 30 s: a retraining at the lowest priority,
    beside other tests' bot processes on 2 cores (even the other long lane's), may not finish in time. It
    runs `alone`."""
    return item.name.startswith("test_review_loop")


LONG_LANES = ("long-a", "long-b")


def _lanes(items) -> None:
    """The long tests are marked `long` and run in two lanes (pytest-xdist groups, `--dist loadgroup`), one
    test at a time in each, after the others (make test). Run beside other tests on 2 cores, each starting
    bot processes, they were starved of CPU until Telegram's deadlines (a request answered in time) passed."""
    long_ones = [item for item in items if _is_long(item)]
    for i, item in enumerate(long_ones):
        item.add_marker(pytest.mark.long)
        if _times_retraining(item):
            item.add_marker(pytest.mark.alone)
        item.add_marker(pytest.mark.xdist_group(LONG_LANES[i % len(LONG_LANES)]))


def pytest_configure(config):
    config.addinivalue_line("markers", "postgres: needs the throwaway PostgreSQL server (tests/pg_server.py); "
                                       "set by itself on tests that use pg_url or the postgres store")
    config.addinivalue_line("markers", "crash: starts the bot as its own process (SIGKILL, SIGTERM, restarts)")
    config.addinivalue_line("markers", "load: many simulated users or a long randomised run against the live bot")
    config.addinivalue_line("markers", "long: set by itself on crash, load and replica tests; make test runs them in "
                                       "two lanes after the others")
    config.addinivalue_line("markers", "alone: run by itself after the parallel run (make test): what it tests is "
                                       "timing under its own load, which other tests' load on 2 cores distorts")
    if SKIP_POSTGRES and os.environ.get("CI"):
        raise pytest.UsageError("SKIP_POSTGRES is refused on CI: the PostgreSQL tests must run there")


def _needs_postgres(item) -> bool:
    return item.get_closest_marker("postgres") is not None or "pg_url" in getattr(item, "fixturenames", ()) or \
        "postgres" in getattr(getattr(item, "callspec", None), "id", "")


@pytest.hookimpl(tryfirst=True)        # before `-m` selects: `-m "not postgres"` sees the marks set here
def pytest_collection_modifyitems(config, items):
    for item in items:
        if _needs_postgres(item) and item.get_closest_marker("postgres") is None:
            item.add_marker(pytest.mark.postgres)
    _lanes(items)
    if not SKIP_POSTGRES:
        return
    left_out = [item for item in items if _needs_postgres(item)]
    if left_out:
        items[:] = [item for item in items if not _needs_postgres(item)]
        config.hook.pytest_deselected(items=left_out)
        config._postgres_left_out = len(left_out)


# With pytest-xdist (`make test`) the workers collect, not the controller: each worker hands its count of
# PostgreSQL tests left out back to the controller, which prints the warning once.
def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["postgres_left_out"] = getattr(session.config, "_postgres_left_out", 0)


def pytest_testnodedown(node, error):
    left_out = getattr(node, "workeroutput", {}).get("postgres_left_out", 0)
    node.config._postgres_left_out = max(getattr(node.config, "_postgres_left_out", 0), left_out)


def pytest_terminal_summary(terminalreporter, config):
    left_out = getattr(config, "_postgres_left_out", 0)
    if left_out:
        terminalreporter.write_line(f"SKIP_POSTGRES=1: {left_out} PostgreSQL tests were NOT run", red=True, bold=True)


@pytest.fixture(scope="session")
def pg_server():
    from tests.pg_server import INSTALL_HINT, PostgresServer, server_bindir
    if server_bindir() is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server):
    """The URL of a fresh, empty database on the session's PostgreSQL server."""
    return pg_server.new_database()


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def any_store(request, tmp_path):
    """The same store tests on both backends (PostgreSQL: a fresh database; SQLite: a fresh file)."""
    from bot.store import open_store
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    s = open_store(url)
    await s.open()
    yield s
    await s.close()
