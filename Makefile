# The two commands of the README, and the checks CI runs before the tests. Each makes the local virtual
# environment on first use and installs the project at the versions pinned in requirements.lock; later
# runs reuse it until pyproject.toml or the lock file changes.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint lock clean

$(STAMP): pyproject.toml requirements.lock requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements-dev.lock -e ".[test,lint]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tongket demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# requirements.lock pins what the service runs (the Dockerfile installs it); requirements-dev.lock adds the
# test and lint tools on top of the same pins. Upgrades are made on purpose: `make lock` re-resolves within
# pyproject.toml's ranges, keeping the pins it can; `make lock UPGRADE=--upgrade` moves to the newest
# versions allowed. Run the whole suite after either.
LOCK := $(BIN)/uv pip compile pyproject.toml --python-version 3.11 --quiet
lock: $(STAMP)
	$(LOCK) --extra units -o requirements.lock $(UPGRADE)
	$(LOCK) --extra units --extra test --extra lint -c requirements.lock -o requirements-dev.lock $(UPGRADE)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
