# Two commands do everything from a fresh clone (only python3 and make needed):
#   make test   set up .venv, run the unit tests and nbval on every notebook
#   make book   set up .venv, build the HTML site into _build/html
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
JOBS ?= 2

BOOK_SOURCES := $(shell find book course_pkg -type f \( -name '*.py' -o -name '*.ipynb' -o -name '*.md' -o -name '*.bib' -o -name '*.png' -o -name '*.css' -o -name '*.js' -o -name '*.html' \) -not -path '*/.ipynb_checkpoints/*' -not -path '*/__pycache__/*') _config.yml _toc.yml requirements.txt

.PHONY: install test unit nbval book refresh clean
.DEFAULT_GOAL := test

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

install: $(INSTALLED)

## test: the whole suite (unit tests, doctests, nbval on every book notebook), in parallel
test: $(INSTALLED)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadscope \
	  --doctest-modules course_pkg tests \
	  --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg book

unit: $(INSTALLED)
	$(BIN)/python -m pytest -n $(JOBS) --doctest-modules course_pkg tests

nbval: $(INSTALLED)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadscope \
	  --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg book

## book: build the site, re-executing every notebook whenever any source changed
book: _build/html/.built

_build/html/.built: $(INSTALLED) $(BOOK_SOURCES)
	$(BIN)/jupyter-book build . --all -W -n --keep-going
	touch $@

## refresh: re-execute every book notebook in place (fresh kernel, top to bottom) and store outputs
refresh: $(INSTALLED)
	$(BIN)/python tools/refresh_notebooks.py

clean:
	rm -rf _build
