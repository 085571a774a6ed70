# Every target installs what it needs first, so each works on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run index test lint format docs bench bench-quick eval train clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade "pip>=25.1" 2>/dev/null
	@# The CPU wheel on this machine's disk; an unpinned torch would pull a multi-GB CUDA build.
	@$(BIN)/python -m pip install -q --disable-pip-version-check torch==2.13.0 2>/dev/null
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e . --group dev 2>/dev/null
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

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

test: install lint
	$(BIN)/pytest -q

eval: install
	$(BIN)/storybot eval

# Reproduces the shipped reader weights (index/reader/) on this machine's CPU, about an hour.
train: install
	$(BIN)/storybot train

bench: install
	$(BIN)/python -m bench

bench-quick: install
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
