# jax-mnist-tutorials: `make setup` once, then `make test`. `make help` lists every target.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-requirements

# Offline MNIST: when TFDS_DATA_DIR is unset and the project's shared copy sits
# beside the checkout, use it. Set TFDS_DATA_DIR yourself to use another copy.
SHARED_TFDS := $(abspath ../shared/data/tfds)
ifeq ($(origin TFDS_DATA_DIR),undefined)
ifneq ($(wildcard $(SHARED_TFDS)/mnist),)
export TFDS_DATA_DIR := $(SHARED_TFDS)
endif
endif
# TensorFlow's C++ start-up chatter is noise in the stored outputs.
export TF_CPP_MIN_LOG_LEVEL ?= 2

NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
# `make outputs NB=notebooks/x.ipynb` re-executes one notebook only.
NB ?= $(NOTEBOOKS)
# Per-cell limit for real training runs (seconds).
CELL_TIMEOUT ?= 1200
NBVAL := $(BIN)/python -m pytest --nbval --nbval-current-env \
	--nbval-sanitize-with nbval-sanitize.cfg --nbval-cell-timeout $(CELL_TIMEOUT) \
	-p no:cacheprovider -v

.PHONY: help setup sync check-sync lint badges docs determinism bench test test-repo test-notebooks outputs clean distclean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv (Python 3.11) with the pinned requirements; safe to re-run

$(STAMP): requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run 'make setup PYTHON=/path/to/python3.11'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	scripts/install_browser.sh
	touch $@

sync: $(STAMP) ## Synchronise each md/ + notebooks/ pair (the newer file wins)
	$(BIN)/jupytext --sync md/*.md notebooks/*.ipynb

check-sync: $(STAMP) ## Fail when a pair has drifted or lacks a half
	$(BIN)/python scripts/check_pairs.py

lint: check-sync ## ruff on code and notebooks, pair sync and Colab badges (what pre-commit runs)
	$(BIN)/ruff check .
	$(BIN)/python scripts/colab_badges.py --check

badges: $(STAMP) ## Write the Open-in-Colab badge (repo set in pyproject.toml) into every tutorial
	$(BIN)/python scripts/colab_badges.py
	$(MAKE) --no-print-directory sync

docs: $(STAMP) ## Build the HTML docs from the stored outputs (no execution) into build/html
	$(BIN)/sphinx-build -W --keep-going -q -b html -c docs . build/html
	@echo "docs: build/html/index.html"

determinism: $(STAMP) ## Run every notebook twice; printed results must match exactly (~22 min)
	$(BIN)/python scripts/check_determinism.py $(NOTEBOOKS)

bench: $(STAMP) ## Benchmark the training steps and input pipelines; table + build/bench.json (BENCH_ARGS=--quick, --batches 256,2048)
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)

test: lint docs test-repo test-notebooks ## Lint and sync check, docs, repository tests (browser test included), every notebook under nbval

test-repo: $(STAMP) ## The repository's own tests (tests/); the browser test needs `make docs` first
	$(BIN)/python -m pytest -p no:cacheprovider

test-notebooks: $(STAMP) ## Execute every notebook end to end and compare outputs (nbval, strict)
	$(NBVAL) $(NOTEBOOKS)

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

distclean: clean ## Also remove .venv
	rm -rf $(VENV)
