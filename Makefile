# Every target sets up what it needs: a fresh clone only needs python3 (>= 3.11).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Test workers: the suite mostly waits (on the fake Bot API, bot processes, PostgreSQL), so more workers
# than cores pays off on 2 cores. make test runs in three steps (tests/README.md): the short tests in
# TEST_WORKERS workers, then the long ones (crash, load, replicas: marked `long` by tests/conftest.py) in two
# lanes, then the `alone` ones by themselves; each step fails the target on a failure or on no tests.
TEST_WORKERS ?= 6
LONG_LANES ?= 2

.PHONY: run test test-fast check eval bench diagram console cards clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)  ## start the bot (console chat when no TELEGRAM_BOT_TOKEN is set)
	$(PY) -m bot run

console: $(STAMP)
	$(PY) -m bot console

test: $(STAMP)  ## the whole test suite (as root, installs PostgreSQL and a CJK font when missing: .ci/system-deps)
	@bash .ci/system-deps
	$(PY) -m bot check
	@if [ -z "$$SKIP_POSTGRES" ]; then $(PY) -m tests.pg_server --check; fi
	$(PY) -m pytest -n $(TEST_WORKERS) -m "not long and not alone"
	$(PY) -m pytest -n $(LONG_LANES) --dist loadgroup -m "long and not alone"
	$(PY) -m pytest -m alone

test-fast: $(STAMP)  ## the edit loop: every test but the crash, load, long and PostgreSQL ones (markers in tests/conftest.py)
	$(PY) -m pytest -n $(TEST_WORKERS) -q -m "not crash and not load and not postgres and not long"

check: $(STAMP)
	$(PY) -m bot check

eval: $(STAMP)  ## understanding accuracy: the development sets, then the held-out sets (eval/holdout/)
	$(PY) -m bot.nlu.evaluate --all

bench: $(STAMP)  ## benchmarks (figures, not pass/fail); the replica run needs the PostgreSQL server binaries
	$(PY) -m bench

diagram: $(STAMP)
	$(PY) -m bot diagram

cards: $(STAMP)  ## sample picture cards in both languages, to look at: cards/*.png
	$(PY) -m bot.cards cards

clean:
	rm -rf $(VENV) .pytest_cache
