# jax-mnist-tutorials: `make setup` once, then `make test`. `make help` lists every target.

# Python 3.13 (Colab's): found on PATH or in pyenv's versions; `make setup PYTHON=...` to choose.
PYTHON ?= $(shell scripts/find_python.sh 3.13 2>/dev/null)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-requirements
# The other end of the tested window: Colab's preinstalled stack (requirements-colab.txt).
COLAB_VENV  := .venv-colab
COLAB_BIN   := $(COLAB_VENV)/bin
COLAB_STAMP := $(COLAB_VENV)/.installed-requirements

# Offline MNIST: when TFDS_DATA_DIR is unset and the project's shared copy sits
# beside the checkout, use it. Set TFDS_DATA_DIR yourself to use another copy.
SHARED_TFDS := $(abspath ../shared/data/tfds)
ifeq ($(origin TFDS_DATA_DIR),undefined)
ifneq ($(wildcard $(SHARED_TFDS)/mnist),)
export TFDS_DATA_DIR := $(SHARED_TFDS)
endif
endif
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
# `make outputs NB=notebooks/x.ipynb` re-executes one notebook only.
NB ?= $(NOTEBOOKS)
# nbval's options (cell timeout included) live in pytest.ini's addopts; `make outputs`
# executes with the same cell timeout, read from there.
CELL_TIMEOUT := $(shell sed -n 's/.*--nbval-cell-timeout \([0-9]*\).*/\1/p' pytest.ini)

.PHONY: help tfds-data-dir setup setup-colab sync check-sync lint badges setup-cells docs determinism seeds bench test test-repo \
	test-notebooks test-colab outputs clean distclean

tfds-data-dir: ## Print the TFDS data dir the notebooks and tests use (empty: TFDS's default)
	@echo "$(TFDS_DATA_DIR)"

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv (Python 3.13) with the pinned newest releases; safe to re-run

# $(call make-venv,VENV,REQUIREMENTS): create VENV with PYTHON (once) and install REQUIREMENTS into it;
# with no Python 3.13 found, find_python.sh says how to get one.
define make-venv
	@test -x $(1)/bin/python || test -n "$(PYTHON)" || scripts/find_python.sh 3.13
	test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install --quiet --upgrade pip
	$(1)/bin/python -m pip install --quiet -r $(2)
endef

$(STAMP): requirements.txt
	$(call make-venv,$(VENV),requirements.txt)
	scripts/install_browser.sh
	touch $@

setup-colab: $(COLAB_STAMP) ## Create .venv-colab with Colab's preinstalled stack (for `make test-colab`)

$(COLAB_STAMP): requirements-colab.txt
	$(call make-venv,$(COLAB_VENV),requirements-colab.txt)
	touch $@

sync: $(STAMP) ## Synchronise each md/ + notebooks/ pair (the newer file wins)
	$(BIN)/jupytext --sync md/*.md notebooks/*.ipynb

check-sync: $(STAMP) ## Fail when a pair has drifted or lacks a half (the jupytext pre-commit hook)
	$(BIN)/pre-commit run jupytext --all-files

lint: $(STAMP) ## Every pre-commit hook on every file: pair sync, ruff, Colab badges, setup cells
	$(BIN)/pre-commit run --all-files

badges: $(STAMP) ## Write the Open-in-Colab badge (repo set in pyproject.toml) into every tutorial
	$(BIN)/python scripts/colab_badges.py
	$(MAKE) --no-print-directory sync

setup-cells: $(STAMP) ## Write each tutorial's setup cell and the README's version table from the requirement files
	$(BIN)/python scripts/setup_cells.py
	$(MAKE) --no-print-directory sync

docs: $(STAMP) ## Build the HTML docs from the stored outputs (no execution) into build/html
	$(BIN)/sphinx-build -W --keep-going -q -b html -c docs . build/html
	@echo "docs: build/html/index.html"

determinism: $(STAMP) ## Run every notebook twice; printed results must match exactly (~22 min)
	$(BIN)/python scripts/check_determinism.py $(NOTEBOOKS)

seeds: $(STAMP) ## Run notebooks (all, or NB=...) with 5 seeds; docs/seeds.json, "What to expect" page (~1 h for all)
	$(BIN)/python scripts/seed_sweep.py --notebooks $(basename $(notdir $(NB)))
	$(MAKE) --no-print-directory sync

bench: $(STAMP) ## Benchmark the CNN training steps and each tutorial's training loop; tables + build/bench.json (BENCH_ARGS=--quick, --loops 02,03, --batches 256,2048)
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)

test: lint docs test-repo test-notebooks ## Lint and sync check, docs, repository tests (browser test included), every notebook under nbval

test-repo: $(STAMP) ## The repository's own tests (tests/); the browser test needs `make docs` first
	$(BIN)/python -m pytest

test-notebooks: $(STAMP) ## Execute every notebook end to end and compare outputs (nbval, strict)
	$(BIN)/python -m pytest --nbval -v $(NOTEBOOKS)

test-colab: $(COLAB_STAMP) ## Every notebook end to end on Colab's stack (nbval lax: every cell must run, asserts hold)
	$(COLAB_BIN)/python -m pytest --nbval-lax -v $(NOTEBOOKS)

outputs: $(STAMP) ## Re-execute notebooks (all, or NB=...) and store their outputs
	@for nb in $(NB); do \
		echo "executing $$nb"; \
		$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.timeout=$(CELL_TIMEOUT) \
			--ExecutePreprocessor.record_timing=False $$nb || exit 1; \
	done
	$(BIN)/jupytext --sync $(NB)

clean: ## Remove build output and caches (keeps .venv)
	rm -rf build .pytest_cache
	find . -path ./.venv -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean ## Also remove .venv and .venv-colab
	rm -rf $(VENV) $(COLAB_VENV)
