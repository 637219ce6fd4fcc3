# cnngan: `make train` and `make test` set everything up on a fresh machine first: a virtualenv
# in .venv (unless a virtualenv or conda env is active: then that one), and Fashion-MNIST, which
# `make data` may apt-get install (dataset-fashion-mnist) as root or with passwordless sudo;
# put the IDX files in data/FashionMNIST/raw to skip that.
# Extra Hydra overrides pass through ARGS, e.g. make train ARGS="trainer.max_epochs=3 data=mnist"

SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
ARGS ?=
PYTEST_ARGS ?=
# pinned so pip never resolves another torch; override for other platforms,
# e.g. make install TORCH_PINS="torch torchvision"
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1

# Use the active virtualenv / conda env; otherwise create and use .venv
ifdef VIRTUAL_ENV
ENV_DIR := $(VIRTUAL_ENV)
else ifdef CONDA_PREFIX
ENV_DIR := $(CONDA_PREFIX)
else
ENV_DIR := .venv
endif
BIN := $(ENV_DIR)/bin
PY := $(BIN)/python
STAMP := $(ENV_DIR)/.cnngan-installed

.PHONY: docs docs-config docs-serve help install data train train-gan eval test test-fast lint format clean \
	evaluator sweep bench bench-table profile-gan notebooks inpaint augment-study search search-gan search-dashboard ddp-cpu \
	wandb-sync slurm-up slurm-down

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(PY):
	@echo "cnngan: creating a virtualenv in $(ENV_DIR) (to use your own, activate it first: make uses the active virtualenv or conda env)"
	$(PYTHON) -m venv $(ENV_DIR)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install $(TORCH_PINS)
	$(PY) -m pip install -e ".[dev,sweep,mlflow]" $(TORCH_PINS)
	@touch $@

install: $(STAMP) ## create the environment (.venv unless one is active) and install cnngan

data: $(STAMP) ## make sure Fashion-MNIST is present (data dir, Debian package or download)
	$(PY) -m cnngan.data.fetch fashion_mnist --data-dir data --install-package

train: data ## train the default experiment (CNN on Fashion-MNIST)
	$(BIN)/cnngan-train $(ARGS)

train-gan: data ## train the default GAN (experiment=gan_dcgan_selfcond: FID during training, best-FID checkpoint)
	$(BIN)/cnngan-train experiment=gan_dcgan_selfcond $(ARGS)

eval: $(STAMP) ## test a checkpoint: make eval ARGS="ckpt_path=..."
	$(BIN)/cnngan-eval $(ARGS)

docs: $(STAMP) ## build the documentation site (strict: broken links fail) into site/, after checking the config reference
	$(PY) scripts/config_reference.py --check
	$(BIN)/mkdocs build --strict --quiet

docs-config: $(STAMP) ## regenerate docs/configuration.md from conf/
	$(PY) scripts/config_reference.py

docs-serve: $(STAMP) ## serve the documentation on http://127.0.0.1:8000
	$(BIN)/mkdocs serve

test: data ## run the whole test suite
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: data ## run the tests not marked slow
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

evaluator: data ## retrain the GAN metrics' evaluator into logs/evaluator/ (ARGS=--install replaces the shipped one)
	$(PY) scripts/train_evaluator.py $(ARGS)

sweep: data ## a small grid multirun (learning rate x pooling kind), summary in the sweep dir
	$(BIN)/cnngan-train hparams_search=classifier_grid $(ARGS)

search: data ## Optuna search of the classifier, e.g. ARGS="hydra.sweeper.n_trials=40"
	$(BIN)/cnngan-train hparams_search=classifier_optuna $(ARGS)

search-gan: data ## Optuna search of the GAN (objective val/fid, minimized)
	$(BIN)/cnngan-train experiment=gan_dcgan hparams_search=gan_optuna $(ARGS)

search-dashboard: ## optuna-dashboard on a search's study: make search-dashboard SWEEP=<sweep dir> [STORAGE=<url>] [PORT=8080]
	@test -n "$(SWEEP)$(STORAGE)" || { echo "usage: make search-dashboard SWEEP=logs/train/multiruns/<timestamp>"; exit 2; }
	$(BIN)/optuna-dashboard $(or $(STORAGE),sqlite:///$(abspath $(SWEEP))/optuna.db) --host 127.0.0.1 --port $(or $(PORT),8080)

ddp-cpu: data ## DDP over 2 CPU processes: check multi-process training without GPUs
	$(BIN)/cnngan-train trainer=ddp_cpu trainer.devices=2 $(ARGS)

SLURM_DIR ?= /tmp/cnngan-slurm
NODES ?= 1
slurm-up: ## SLURM cluster of NODES nodes here (root, slurm-wlm + munge): make slurm-up NODES=2
	$(PYTHON) scripts/slurm_local.py up --nodes $(NODES) --dir $(SLURM_DIR)

slurm-down: ## stop the daemons that make slurm-up started (by their process ids)
	$(PYTHON) scripts/slurm_local.py down --dir $(SLURM_DIR)

.PHONY: postgres-up postgres-down search-bench gpu-check
POSTGRES_DIR ?= /tmp/cnngan-postgres
postgres-up: ## private PostgreSQL 15 server for a shared search (postgresql); prints the storage URL
	$(PYTHON) scripts/postgres_local.py up --dir $(POSTGRES_DIR)

postgres-down: ## stop the server that make postgres-up started (by its process id)
	$(PYTHON) scripts/postgres_local.py down --dir $(POSTGRES_DIR)

search-bench: data ## 12-trial search on a 2-node SLURM cluster, 1 vs 2 parallel jobs (docs/search.md)
	$(PY) scripts/search_benchmark.py $(ARGS)

gpu-check: ## on a CUDA machine: gpu tests, train, GAN, benchmark (<= 8 min); results in one JSON
	PYTHON=$(PY) bash scripts/gpu_check.sh

wandb-sync: ## upload every offline W&B run under logs/ (after `wandb login`)
	$(BIN)/wandb sync $$(find logs -type d -name 'offline-run-*')

bench: data ## speed vs a plain PyTorch loop, utilisation of the peak (logs/bench/; prints its duration)
	$(PY) scripts/benchmark.py --full $(ARGS)

RESULTS ?= $(lastword $(sort $(wildcard logs/bench/*/results.json)))
bench-table: ## write docs/speed.md's tables from a bench run: make bench-table RESULTS=<results.json>
	$(PY) scripts/benchmark.py --table $(RESULTS)

profile-gan: data ## torch.profiler of one GAN iteration, cnngan vs plain loop (into results.json)
	$(PY) scripts/benchmark.py --tasks gan --comparisons none --startup-runs 0 --augment-images 0 \
		--no-estimate --no-utilisation --profile-steps 50 $(ARGS)

notebooks: data ## execute notebooks/*.ipynb, executed copies with figures in logs/notebooks/
	$(PY) scripts/run_notebooks.py $(ARGS)

GAN_CKPT ?= $(lastword $(sort $(wildcard logs/train/runs/*/checkpoints/last.ckpt)))
inpaint: data ## complete test images by GAN inversion vs baselines: make inpaint GAN_CKPT=<GAN ckpt>
	$(BIN)/cnngan-inpaint ckpt_path=$(GAN_CKPT) $(ARGS)

augment-study: data ## GAN augmentation study, reduced preset; full: ARGS="--full" (presets, times: docs/augment_study.md)
	$(PY) scripts/augment_study $(ARGS)

lint: $(STAMP) ## ruff check + format check + import layers (lint-imports, contracts in pyproject.toml)
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts
	$(BIN)/lint-imports

format: $(STAMP) ## ruff format + autofix
	$(BIN)/ruff format src tests scripts
	$(BIN)/ruff check --fix src tests scripts

clean: ## remove caches and build files (keeps logs/ and data/)
	rm -rf .pytest_cache .ruff_cache build dist src/*.egg-info
	find . -name __pycache__ -type d -prune -not -path "./.venv/*" -exec rm -rf {} +
