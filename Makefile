# jax-mnist-tutorials: `make setup` once, then `make test`. `make help` lists every target.

# Python 3.13 (Colab's): found on PATH or in pyenv's versions; `make setup PYTHON=...` to choose.
PYTHON ?= $(shell scripts/find_python.sh 3.13 2>/dev/null)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-requirements
# The other end of the tested window: a replica of Colab's runtime (requirements-colab.txt),
# with the wheels of what the pages' setup cells install there, for offline test runs.
COLAB_VENV   := .venv-colab
COLAB_BIN    := $(COLAB_VENV)/bin
COLAB_STAMP  := $(COLAB_VENV)/.installed-requirements
COLAB_WHEELS := $(COLAB_VENV)/setup-cell-wheels
# uv, pinned, installs both environments exactly as their requirement files say.
UV_VERSION := 0.13.9
UV         := .uv/bin/uv

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

.PHONY: help tfds-data-dir setup lock check-platforms setup-colab colab-lock sync check-sync lint badges setup-cells docs determinism seeds bench test test-repo \
	test-notebooks test-colab outputs clean distclean

tfds-data-dir: ## Print the TFDS data dir the notebooks and tests use (empty: TFDS's default)
	@echo "$(TFDS_DATA_DIR)"

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv (Python 3.13) with the locked newest releases (requirements.txt); safe to re-run

$(STAMP): requirements.txt $(UV)
	@test -x $(BIN)/python || test -n "$(PYTHON)" || scripts/find_python.sh 3.13
	test -x $(BIN)/python || $(UV) venv --quiet --seed --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --python $(BIN)/python requirements.txt
	scripts/install_browser.sh
	touch $@

# The lock: requirements.txt, resolved by uv from requirements.in for every platform at once
# (universal: markers say where each package applies). `make lock` keeps the locked versions
# where requirements.in allows; `make lock LOCK_ARGS=--upgrade` moves to the newest releases.
PLATFORMS := aarch64-apple-darwin x86_64-pc-windows-msvc x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu
lock: $(UV) ## Resolve requirements.txt from requirements.in with uv, for every platform (LOCK_ARGS=--upgrade: newest)
	$(UV) pip compile --quiet --universal --python-version 3.13 --custom-compile-command "make lock" \
		$(LOCK_ARGS) requirements.in -o requirements.txt
	@echo "now: make setup-cells (the tested window comes from the lock), make setup, make test"

check-platforms: $(UV) ## Check that the lock installs on macOS arm64, Windows x86_64, Linux x86_64 and aarch64 (registry)
	@for platform in $(PLATFORMS); do \
		$(UV) pip compile --quiet --no-header --python-platform $$platform --python-version 3.13 \
			requirements.txt -o /dev/null && echo "$$platform: the lock resolves" || exit 1; \
	done

$(UV):
	@test -n "$(PYTHON)" || scripts/find_python.sh 3.13
	$(PYTHON) -m pip install --quiet --target .uv uv==$(UV_VERSION)

setup-colab: $(COLAB_STAMP) ## Create .venv-colab, a replica of Colab's runtime (for `make test-colab`)

$(COLAB_STAMP): requirements-colab.txt $(UV)
	@test -x $(COLAB_BIN)/python || test -n "$(PYTHON)" || scripts/find_python.sh 3.13
	test -x $(COLAB_BIN)/python || $(UV) venv --quiet --python $(PYTHON) $(COLAB_VENV)
	$(UV) pip sync --quiet --python $(COLAB_BIN)/python requirements-colab.txt
	$(COLAB_BIN)/python scripts/colab_replica.py --wheels $(COLAB_WHEELS)
	touch $@

colab-lock: $(STAMP) $(UV) ## Re-derive requirements-colab.txt from Colab's published list (colab/)
	$(BIN)/python scripts/colab_replica.py

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

# Each page runs on a pristine replica: uv first puts back exactly what requirements-colab.txt lists
# (undoing what the previous page's setup cell installed), and the page's pip installs come from
# COLAB_WHEELS, so that the run needs no network.
# tests/colab/probe (on PYTHONPATH) notes any search for a module the replica leaves out; its log
# fails the run (conftest.py).
COLAB_SYNC := $(UV) pip sync --offline --find-links $(COLAB_WHEELS) --python $(COLAB_BIN)/python requirements-colab.txt
COLAB_PROBE_LOG := build/colab-replica-probe.log
test-colab: $(COLAB_STAMP) $(STAMP) ## Every notebook on a pristine replica of Colab's runtime (nbval lax: cells run, asserts hold)
	$(COLAB_SYNC) --quiet
	COLAB_WHEELS=$(COLAB_WHEELS) $(COLAB_BIN)/python -m pytest -v tests/colab
	@mkdir -p build; rm -f $(COLAB_PROBE_LOG); failed=""; \
	for nb in $(NOTEBOOKS); do \
		echo "== $$nb, on a pristine replica:"; \
		$(COLAB_SYNC) || exit 1; \
		PIP_NO_INDEX=1 PIP_FIND_LINKS=$(abspath $(COLAB_WHEELS)) PYTHONPATH=$(abspath tests/colab/probe) \
		COLAB_REPLICA_ABSENT_MODULES=$$($(COLAB_BIN)/python scripts/colab_replica.py --absent-modules) \
		COLAB_REPLICA_PROBE_LOG=$(abspath $(COLAB_PROBE_LOG)) \
			$(COLAB_BIN)/python -m pytest --nbval-lax -v $$nb || failed="$$failed $$nb"; \
	done; \
	$(COLAB_SYNC) --quiet; \
	if [ -n "$$failed" ]; then echo "FAILED on the Colab replica:$$failed"; exit 1; fi

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

distclean: clean ## Also remove .venv, .venv-colab and uv (.uv)
	rm -rf $(VENV) $(COLAB_VENV) .uv
