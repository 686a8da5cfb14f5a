# jax-mnist-tutorials: `make setup`, then `make test`. `make help` lists the targets;
# CONTRIBUTING.md says what each is for.

# uv (https://docs.astral.sh/uv/) makes the environments; pyproject.toml says which uv versions do.
UV     ?= uv
PYTHON ?= 3.13
BIN    := .venv/bin
COLAB_BIN    := .venv-colab/bin
COLAB_WHEELS := .venv-colab/wheels
STAMP        := .venv/.lock-installed
COLAB_STAMP  := .venv-colab/.lock-installed

# MNIST: TFDS reads TFDS_DATA_DIR (else ~/tensorflow_datasets) and downloads it there on first use.
# This project's own offline copy is used when it sits beside the checkout and TFDS_DATA_DIR is unset.
ifeq ($(origin TFDS_DATA_DIR),undefined)
ifneq ($(wildcard ../shared/data/tfds/mnist),)
export TFDS_DATA_DIR := $(abspath ../shared/data/tfds)
endif
endif

# NB=notebooks/03_flax_nnx_cnn_mnist.ipynb: only that page (test, test-colab, outputs, seeds).
NB ?= $(sort $(wildcard notebooks/*.ipynb))
# SEED=3: `make test` runs the pages with another seed (papermill's parameterisation), strictly.
SEED ?=

.PHONY: help setup setup-colab lock lint docs test test-colab outputs seeds bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: ## Create or repair .venv (Python 3.13) from the lock, requirements.txt
	@command -v $(UV) >/dev/null || { echo "make setup needs uv: pip install uv, or see https://docs.astral.sh/uv/"; exit 1; }
	test -x $(BIN)/python || $(UV) venv --quiet --seed --python $(PYTHON) .venv
	$(UV) pip install --quiet --python $(BIN)/python -r requirements.txt
	scripts/install_browser.sh
	@touch $(STAMP)

$(STAMP): requirements.txt
	$(MAKE) --no-print-directory setup

setup-colab: ## Create or repair .venv-colab, a replica of Colab's runtime (requirements-colab.txt)
	test -x $(COLAB_BIN)/python || $(UV) venv --quiet --python $(PYTHON) .venv-colab
	$(UV) pip sync --quiet --python $(COLAB_BIN)/python requirements-colab.txt
	$(COLAB_BIN)/python scripts/colab_replica.py --wheels $(COLAB_WHEELS)
	@touch $(COLAB_STAMP)

$(COLAB_STAMP): requirements-colab.txt
	$(MAKE) --no-print-directory setup-colab

lock: $(STAMP) ## Re-resolve requirements.txt and requirements-colab.txt; check the lock on 4 platforms (UPGRADE=1: newest)
	$(UV) pip compile --quiet --universal --python-version $(PYTHON) --custom-compile-command "make lock" \
		$(if $(UPGRADE),--upgrade) requirements.in -o requirements.txt
	$(BIN)/python scripts/colab_replica.py
	@for platform in aarch64-apple-darwin x86_64-pc-windows-msvc x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu; do \
		$(UV) pip compile --quiet --no-header --python-platform $$platform --python-version $(PYTHON) \
			requirements.txt -o /dev/null && echo "$$platform: the lock resolves" || exit 1; \
	done

lint: $(STAMP) ## Every pre-commit hook on every file: pairs in sync, ruff, Colab replica, seed sweep, workflow
	$(BIN)/pre-commit run --all-files

docs: $(STAMP) ## Build the HTML docs from the stored outputs (no execution) into build/html
	$(BIN)/sphinx-build -W --keep-going -q -b html -c docs . build/html
	@echo "docs: build/html/index.html"

# nbval's time limit for one cell, in seconds (a page's training is one cell): for every run of a page.
CELL_TIMEOUT := 1200
NBVAL := --nbval-cell-timeout=$(CELL_TIMEOUT)

# The repository's own tests run as on a new machine: no MNIST prepared (an empty TFDS_DATA_DIR).
test: $(STAMP) ## lint, docs, tests/ and every page, strictly (NB=...: those pages only; SEED=n: with seed n)
ifeq ($(origin NB)$(SEED),file)
	$(MAKE) --no-print-directory lint docs
	TFDS_DATA_DIR=$$(mktemp -d) $(BIN)/python -m pytest --timeout=300 tests
endif
ifeq ($(SEED),)
	$(BIN)/python -m pytest --nbval $(NBVAL) $(NB)
else
	rm -rf build/seed-$(SEED) && mkdir -p build/seed-$(SEED)
	for nb in $(NB); do \
		$(BIN)/papermill --prepare-only -p SEED $(SEED) $$nb build/seed-$(SEED)/$$(basename $$nb) || exit 1; \
	done
	$(BIN)/python -m pytest --nbval $(NBVAL) build/seed-$(SEED)/*.ipynb
endif

# Each page runs on a pristine replica: uv first puts back exactly requirements-colab.txt (undoing what
# the previous page's setup cell installed); the pages' pip installs come from COLAB_WHEELS, offline.
# tests/colab/probe (on PYTHONPATH) notes any search for a module the replica leaves out: it fails the run.
COLAB_SYNC := $(UV) pip sync --quiet --offline --find-links $(COLAB_WHEELS) --python $(COLAB_BIN)/python requirements-colab.txt
test-colab: $(COLAB_STAMP) ## Every page (or NB=...) on a pristine replica of Colab's runtime: cells run, asserts hold
	$(COLAB_SYNC)
	COLAB_WHEELS=$(COLAB_WHEELS) $(COLAB_BIN)/python -m pytest tests/colab
	@mkdir -p build; rm -f build/colab-probe.log; failed=""; for nb in $(NB); do \
		$(COLAB_SYNC) || exit 1; \
		PIP_NO_INDEX=1 PIP_FIND_LINKS=$(abspath $(COLAB_WHEELS)) PYTHONPATH=$(abspath tests/colab/probe) \
			COLAB_REPLICA_ABSENT_MODULES=$$($(COLAB_BIN)/python scripts/colab_replica.py --absent-modules) \
			COLAB_REPLICA_PROBE_LOG=$(abspath build/colab-probe.log) \
			$(COLAB_BIN)/python -m pytest --nbval-lax $(NBVAL) $$nb || failed="$$failed $$nb"; \
	done; $(COLAB_SYNC); \
	if [ -n "$$failed" ]; then echo "FAILED on the Colab replica:$$failed"; exit 1; fi

outputs: $(STAMP) ## Re-execute pages (all, or NB=...) and store their outputs; md/ edits are synced first
	$(BIN)/jupytext --sync $(NB)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=$(CELL_TIMEOUT) \
		--ExecutePreprocessor.record_timing=False $(NB)
	$(BIN)/jupytext --sync $(NB)

seeds: $(STAMP) ## Run pages (all, or NB=...) with 5 seeds: docs/seeds.json, What to expect, range sentences
	$(BIN)/python scripts/seed_sweep.py --timeout $(CELL_TIMEOUT) $(NB)
	$(BIN)/jupytext --sync $(NB)

bench: $(STAMP) $(COLAB_STAMP) ## Time the CNN step's parts and each page's training loop, at both ends
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)
	$(COLAB_BIN)/python scripts/bench.py --steps-only $(BENCH_ARGS)

clean: ## Remove build output and caches (ALL=1: the environments too)
	rm -rf build .pytest_cache $(if $(ALL),.venv .venv-colab)
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
