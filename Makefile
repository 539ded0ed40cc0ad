# tinykube's entry points. The README's quick start is `make demo` and `make test`; both set up
# what they need (venv, Docker engine, example images) and change nothing that is already in place.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Re-run `pip install` only when pyproject.toml changes.
STAMP := $(VENV)/.tinykube-installed
PYTEST_ARGS ?=
# Extra options for `tinykube up` in `make demo`, e.g. UP_ARGS="--agents 2".
UP_ARGS ?=
MYPY := $(BIN)/mypy --strict -p common -p control -p agent

export VENV UP_ARGS

# apt-get (python3-venv, docker.io, busybox-static) must never run twice at once.
.NOTPARALLEL:
.DEFAULT_GOAL := help
.PHONY: help venv lint typecheck test test-fast images docker demo down bench clean clean-images

help:
	@echo "make demo        bring up a cluster and run examples/pod.yaml (sets up what is missing)"
	@echo "make test        make lint, then the whole test suite: unit, contract, integration and e2e"
	@echo "make test-fast   every test but the e2e ones (no Docker set-up)"
		@echo "make down        stop the cluster started by make demo (tinykube down)"
	@echo "make lint        ruff check, ruff format --check, mypy --strict"
	@echo "make typecheck   mypy --strict on common, control and agent"
	@echo "make images      build the example images tinykube/{web,sleeper,crasher}:1"
	@echo "make docker      make sure a Docker engine answers (install/start it if allowed)"
	@echo "make venv        create $(VENV) and pip install -e '.[dev]'"
	@echo "make bench       run the benchmarks under bench/"
	@echo "make clean       remove $(VENV), caches and build outputs"
	@echo "make clean-images  remove the example images"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@scripts/ensure-python.sh "$(PYTHON)"
	@if ! $(BIN)/python -c '' 2>/dev/null; then \
		echo "tinykube: creating $(VENV) with $(PYTHON)"; \
		$(PYTHON) -m venv $(VENV); \
	fi
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MYPY)

typecheck: venv
	$(MYPY)

docker:
	@scripts/ensure-docker.sh

images: docker
	@scripts/build-images.sh

test: venv lint images
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: venv
	$(BIN)/pytest -m "not e2e" $(PYTEST_ARGS)

demo: venv images
	@scripts/demo.sh

down:
	@if [ -x $(BIN)/tinykube ]; then $(BIN)/tinykube down; \
	else echo "tinykube: $(BIN)/tinykube is missing, so no cluster was started from here"; fi

# Each bench/<name>.py (not _*.py) is a standalone program printing its figures next to a baseline.
bench: venv images
	@found=; for f in bench/*.py; do \
		case "$${f##*/}" in _*) continue ;; esac; \
		[ -e "$$f" ] || continue; found=1; \
		echo "== $$f"; $(BIN)/python "$$f" || exit 1; \
	done; \
	[ -n "$$found" ] || { echo "tinykube: no benchmarks found (bench/*.py)"; exit 1; }

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist .tmp ./*.egg-info
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

clean-images:
	@ids="$$(docker image ls -q --filter label=tinykube.io/example-image=true | sort -u)"; \
	if [ -n "$$ids" ]; then docker image rm -f $$ids; fi
