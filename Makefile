# `make run` sets up and serves on http://127.0.0.1:8000; `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: setup run test lint bench

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: the CPU wheel; anything that pulls torch later must find it there
	$(PY) -m pip install --quiet "$$(grep -o 'torch==[0-9.]*' pyproject.toml)"
	$(PY) -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_identity_defaults
	$(PY) manage.py collectstatic --noinput --verbosity 0

run: setup
	$(PY) -m avatarsite.serve -b 127.0.0.1 -p 8000 avatarsite.asgi:application

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest
	$(PY) scripts/postgres_tests.py "$(TEST_POSTGRES_URL)"

bench: $(STAMP)
	$(PY) manage.py bench_identity
