# Two commands do everything from a fresh clone (only python3 and make needed):
#   make test   set up .venv, build the site, run every test: unit, doctest, browser, nbval, determinism
#   make book   set up .venv, build the HTML site into _build/html
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
JOBS ?= 2
# One numerical environment for every execution (refresh, build, nbval): one thread per kernel, ATen's portable
# kernels and MKL's processor-independent code path. Stored outputs then reproduce bit for bit on any x86-64
# machine (Intel or AMD, AVX2 or AVX-512), whatever the thread count. tools/refresh_notebooks.py sets the same.
export OMP_NUM_THREADS := 1
export ATEN_CPU_CAPABILITY := default
export MKL_CBWR := COMPATIBLE
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --dist loadscope

BOOK_SOURCES := $(shell find book course_pkg student -type f -not -path '*/.ipynb_checkpoints/*' \
                  -not -path '*/__pycache__/*' 2>/dev/null) _config.yml _toc.yml requirements.txt

.PHONY: install test unit nbval browser book refresh retarget students grade bench stability clean
.DEFAULT_GOAL := test

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

install: $(INSTALLED)

## test: everything. The site build runs every chapter, nbval re-runs it, and both must reproduce the stored
## outputs (tests/test_determinism.py, nbval).
test: $(INSTALLED)
	$(MAKE) --no-print-directory book
	$(BIN)/python -m pytest -n $(JOBS) --dist loadscope --doctest-modules \
	  --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg course_pkg tests book

unit: $(INSTALLED)
	$(BIN)/python -m pytest -n $(JOBS) --doctest-modules course_pkg tests \
	  --deselect tests/test_site_browser.py --deselect tests/test_determinism.py

nbval: $(INSTALLED)
	$(BIN)/python -m pytest -n $(JOBS) $(NBVAL) book

browser: $(INSTALLED) book
	$(BIN)/python -m pytest -n $(JOBS) tests/test_site_browser.py

## book: build the site; any change to a chapter, the package or the config re-executes every notebook
book: _build/html/.built

_build/html/.built: $(INSTALLED) $(BOOK_SOURCES)
	$(BIN)/jupyter-book build . --all -W -n --keep-going
	touch $@

## refresh: re-execute every book notebook in place (fresh kernel, top to bottom), store outputs, regenerate students
refresh: $(INSTALLED)
	$(BIN)/python tools/refresh_notebooks.py
	$(BIN)/python -m course_pkg.homework.student

## retarget: re-derive Colab cells, README badges and student notebooks from _config.yml's repository
retarget: $(INSTALLED)
	$(BIN)/python tools/retarget.py

## students: write the student notebooks (solutions removed) into student/
students: $(INSTALLED)
	$(BIN)/python -m course_pkg.homework.student

## grade: make grade SUBMISSIONS=folder [OUT=grades.csv] [TIMEOUT=60]: grade every .ipynb in the folder
grade: $(INSTALLED)
	test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder"; exit 2; }
	$(BIN)/python -m course_pkg.homework.grading "$(SUBMISSIONS)" --out "$(or $(OUT),grades.csv)" --timeout $(or $(TIMEOUT),60)

## stability: re-run the chapters in the machine's native numerics (its vector units, MKL's own code path, two
## threads) and list every printed value that differs from the stored one: those print more digits than are stable.
stability: $(INSTALLED)
	env -u ATEN_CPU_CAPABILITY -u MKL_CBWR OMP_NUM_THREADS=2 $(BIN)/python -m pytest -n $(JOBS) $(NBVAL) $(or $(NOTEBOOKS),book)

## bench: measure build, test and notebook times; writes bench/results.{md,json} and the README table
bench: $(INSTALLED)
	$(BIN)/python tools/bench.py

## compat: make compat [COMPAT=newest|oldest] [COMPAT_PINS="torch==X ..."]: Colab-like run (tools/compat.py). A
## Python 3.12 venv in _build/compat/<config>/, course_pkg pip-installed from this repository's HEAD as the Colab
## cell does, every chapter and student notebook run in native numerics (the variables above are removed) and
## compared with the stored outputs; report in _build/compat/<config>/report.md. Downloads torch (GBs from PyPI;
## COMPAT_TORCH_INDEX=https://download.pytorch.org/whl/cpu for the CPU build). Needs no .venv.
.PHONY: compat
COMPAT ?= newest
COMPAT_PYTHON ?= python3.12
COMPAT_FLAGS ?=
compat:
	$(PYTHON) tools/compat.py --config $(COMPAT) --python $(COMPAT_PYTHON) \
	  $(if $(COMPAT_PINS),--pins "$(COMPAT_PINS)") $(if $(COMPAT_TORCH_INDEX),--torch-index $(COMPAT_TORCH_INDEX)) $(COMPAT_FLAGS)

clean:
	rm -rf _build
