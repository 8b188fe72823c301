import os
import sys
from pathlib import Path

import pytest

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


@pytest.fixture
def store():
    from bot.store import Store
    s = Store(":memory:")
    yield s
    s.close()
