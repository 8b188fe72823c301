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


@pytest_asyncio.fixture
async def bot(fake, tmp_path):
    """The real Application polling the fake, with a fresh SQLite store: yields (app, store)."""
    from tests.tg_harness import running_bot
    async with running_bot(fake, tmp_path / "bot.sqlite3") as (app, store):
        yield app, store
