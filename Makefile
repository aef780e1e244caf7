# Faultline: `make demo` sets up and runs the demo; `make test` runs the whole suite, `make test-fast` the tests
# that need no service (unit tests and doctests, well under a minute).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SYSTEM_PACKAGES := mosquitto mosquitto-clients influxdb

.PHONY: demo test test-fast setup system-deps test-system-deps bench bench-quick stack-up stack-down clean

# DEMO_ARGS: options of `faultline demo`, e.g. DEMO_ARGS=--exit (stop after the report; what CI runs).
# exec: the demo replaces the recipe's shell, so a signal to make's child reaches it.
demo: setup
	exec $(BIN)/faultline demo $(DEMO_ARGS)

# -n auto: one pytest worker per core, each with its own Mosquitto and InfluxDB (tests wait on I/O).
test: setup test-system-deps
	$(BIN)/lint-imports
	$(BIN)/pytest -q -n auto

# The fast lane: every test not marked `integration` (tests/conftest.py marks those that need a real service).
test-fast: setup
	$(BIN)/lint-imports
	$(BIN)/pytest -q -n auto -m "not integration"

setup: system-deps $(VENV)/.installed

# Debian packages: installed when missing (as root), else the exact command is printed.
system-deps:
	@missing=""; \
	for tool in mosquitto influxd; do command -v $$tool >/dev/null 2>&1 || [ -x /usr/sbin/$$tool ] || [ -x /usr/bin/$$tool ] || missing="$$missing $$tool"; done; \
	$(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages for:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) python3-venv >/dev/null; \
	  else \
	    echo "missing:$$missing. Run as root: apt-get install -y $(SYSTEM_PACKAGES) python3-venv"; exit 1; \
	  fi; \
	fi

# For the tests only: docker-compose validates docker-compose.yml; pages are checked in headless Chromium.
test-system-deps:
	@missing=""; \
	command -v docker-compose >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v pdftoppm >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ]; then \
	  echo "installing for the tests:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || true; \
	fi

$(VENV)/.installed: pyproject.toml
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,postgres]'
	@touch $@

bench-quick: setup
	$(BIN)/python -m bench --quick

bench: setup
	$(BIN)/python -m bench

stack-up: setup
	$(BIN)/faultline stack up

stack-down:
	$(BIN)/faultline stack down

clean:
	-$(BIN)/faultline stack down
	rm -rf $(VENV) .faultline
