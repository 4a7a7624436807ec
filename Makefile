# Set-up is part of every target: a fresh clone needs only `make demo` or `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# `make test` runs test files on this many processes (pytest-xdist; a file's tests stay in one process so its
# module fixtures are built once). 2 = the CI machine's cores; TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= 2
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED ?= 0

.PHONY: install demo test test-slow test-all bench clean lint image image-cpu

$(PY):
	@py310=$$(scripts/find_python310.sh) || exit 1; \
	echo "Creating $(VENV) with $$py310"; \
	$$py310 -m venv $(VENV)

$(STAMP): $(PY) setup.py constraints.txt requirements-dev.txt requirements-data.txt
	$(PIP) install --quiet --upgrade "pip<25"
	$(PIP) install --quiet -c constraints.txt -e . -r requirements-dev.txt
	$(PIP) install --quiet --no-deps -c constraints.txt -r requirements-data.txt
	$(PY) -c "import tfx, tensorflow, keras, kfp, dill; print('stack ok: tfx', tfx.__version__, 'tf', tensorflow.__version__)"
	@# Headless Chromium for the report's browser test (tests/pipelines/test_report_browser.py).
	@command -v chromium >/dev/null 2>&1 || { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; else echo "Chromium is missing: install it (Debian: sudo apt-get install -y chromium) for the report browser test."; fi; }
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m pipelines.demo --run-dir runs/demo

test: $(STAMP)
	$(PY) -m pytest -m "not slow" -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(PY) -m pytest -m "slow" $(PYTEST_ARGS)

test-all: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PIP) install --quiet -c constraints.txt -r requirements-bench.txt
	$(PY) benchmarks/augment_ops_benchmark.py

clean:
	rm -rf runs .pytest_cache

# Container images (need a running container engine; none runs on CI).
IMAGE ?= tfx-autofit
IMAGE_VERSION := $(shell sed -n 's/^ *version="\([^"]*\)".*/\1/p' setup.py)
DOCKER ?= docker
IMAGE_BUILD = $(DOCKER) build --build-arg VERSION=$(IMAGE_VERSION) \
	--build-arg REVISION=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown) \
	--build-arg SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || echo 0)

image:
	@$(DOCKER) info >/dev/null 2>&1 || { echo "make image needs a running container engine ('$(DOCKER) info' failed)"; exit 1; }
	$(IMAGE_BUILD) --build-arg TF_PACKAGE='tensorflow[and-cuda]' -t $(IMAGE):$(IMAGE_VERSION) .

image-cpu:
	@$(DOCKER) info >/dev/null 2>&1 || { echo "make image-cpu needs a running container engine ('$(DOCKER) info' failed)"; exit 1; }
	$(IMAGE_BUILD) --build-arg TF_PACKAGE=tensorflow -t $(IMAGE):$(IMAGE_VERSION)-cpu .
