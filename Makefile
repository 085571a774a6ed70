# Every target installs what it needs first, so each works on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# The CPU wheel on this machine's disk; an unpinned torch would pull a multi-GB CUDA build.
TORCH := 2.13.0
# -qq: pip prints its errors and nothing else, so a good install is just the step lines below
# (its warnings were setuptools' notes on the editable build and this machine's index config).
PIP := $(BIN)/python -m pip install -qq --disable-pip-version-check
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run index test lint format docs bench bench-quick eval train clean

# Reinstalls only when pyproject.toml changed (the stamp is named by its checksum), so an
# installed venv costs nothing; a failed step leaves no stamp, and the next run tries again.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { echo "Creating $(VENV)..." && $(PYTHON) -m venv $(VENV); }
	@echo "Upgrading pip..."
	@$(PIP) --upgrade "pip>=25.1"
	@echo "Installing torch $(TORCH) (CPU)..."
	@$(PIP) torch==$(TORCH)
	@echo "Installing storybot and dev tools..."
	@$(PIP) -e . --group dev
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)
	@echo "Installed into $(VENV)."

install: $(STAMP)

index: install
	$(BIN)/storybot index

run: install
	@$(BIN)/storybot run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# README.md's Configuration table, regenerated from bot/settings.py (tests/test_settings.py checks it).
docs: install
	$(BIN)/python -m bot.settings README.md

# pytest-xdist: one worker more than there are cores, because a third of the suite's time is
# spent waiting (on sockets, subprocesses, rate-limit windows), not computing. Whole modules go
# to a worker (loadfile), so module fixtures are made once. (xdist's loadgroup does not group
# under pytest 9.2: pytest-xdist issue 1386.) --no-loadscope-reorder keeps the order of
# tests/conftest.py's LONG_FIRST: by default xdist hands out the modules with the most tests
# first, which left the longest module (40 s of waits) to start last, a quarter of the run alone.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))

test: install lint
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

eval: install
	$(BIN)/storybot eval

# Reproduces the shipped reader (index/reader/) byte for byte on this machine's CPU: about half
# an hour (storybot train --teacher mpnet: the distillation pipeline, about six hours).
train: install
	$(BIN)/storybot train

bench: install
	$(BIN)/python -m bench

bench-quick: install
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
