# Two commands do everything from a fresh clone (python3 and make; make test also installs Chromium and npm packages):
#   make test   set up .venv and the browser, build the site, run every test: unit, doctest, browser, nbval, determinism
#   make book   set up .venv, build the HTML site into _build/html
# A learner needs one: make lab (set up .venv, open the student notebooks in JupyterLab).
# The instructor's kit (tools/instructor_kit.py; none of it executes a notebook again):
#   make pdf    the book as one PDF, _build/pdf/book.pdf        make slides   the decks slides/*.ipynb -> _build/slides
#   make site   the site with the PDF and the decks in it       make book SOLUTIONS=hide   the term site, _build/html-term
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED = $(VENV)/.installed$(if $(LATEST),-latest)
JOBS ?= 2
PIP := $(BIN)/python -m pip --disable-pip-version-check
# One numerical environment for every execution (refresh, build, nbval): one thread per kernel, ATen's portable
# kernels and MKL's processor-independent code path (tools/refresh_notebooks.py sets the same). It does not make
# results bit-identical across machines (glibc's libm picks its exp/log code by CPU), so the chapters print only
# digits that are identical under every numerical path `make stability` forces, and claims tests check conclusions.
export OMP_NUM_THREADS := 1
export ATEN_CPU_CAPABILITY := default
export MKL_CBWR := COMPATIBLE
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --dist loadscope

BOOK_SOURCES := $(shell find book course_pkg student -type f -not -path '*/.ipynb_checkpoints/*' \
                  -not -path '*/__pycache__/*' 2>/dev/null) _config.yml _toc.yml requirements.txt pyproject.toml \
                  tools/execute_book.py
# The lock's torch is the CPU build ("+cpu"). Where pip's configured indexes lack it, it comes from PyTorch's CPU index.
TORCH := $(shell grep -E '^torch==' requirements.txt)
# LATEST=1: install the newest versions requirements.in allows instead of the lock (the weekly CI job).
LATEST ?=
# JUNIT=folder: each pytest run also writes a JUnit XML report there (tools/drift_report.py reads them).
JUNIT ?=
junit = $(if $(JUNIT),--junitxml=$(JUNIT)/$(1).xml)

.PHONY: install lock test unit nbval browser browser-setup book execute refresh retarget students grade bench \
        stability clean pdf slides site lab autograder classroom
.DEFAULT_GOAL := test

## install: .venv with the locked environment (requirements.txt, made from requirements.in by `make lock`)
$(INSTALLED): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet "$(TORCH)" || $(PIP) install --quiet --index-url https://download.pytorch.org/whl/cpu "$(TORCH)"
	$(PIP) install --quiet $(if $(LATEST),--upgrade --upgrade-strategy eager -r requirements.in,-r requirements.txt)
	$(PIP) install --quiet --no-deps -e .
	touch $@

install: $(INSTALLED)

## lab: the learner's one command: install the environment (no site build), copy the student notebooks that are new
## into work/ (never overwriting yours) and open JupyterLab there. LAB_FLAGS="--no-browser --port 8899" to pass on.
lab: $(INSTALLED)
	$(BIN)/python tools/lab.py -- $(LAB_FLAGS)

## lock: re-resolve requirements.in to the newest versions it allows and write the complete lock, requirements.txt
lock: $(INSTALLED)
	$(BIN)/pip-compile --quiet --upgrade --strip-extras --no-emit-index-url --no-emit-find-links \
	  --output-file requirements.txt requirements.in
	! grep -iE '^(nvidia|triton)' requirements.txt || { echo "the lock pulls CUDA packages: torch must be the CPU build"; exit 1; }

## browser-setup: find or install Chromium (apt-get, else Playwright's own) and axe-core (npm) for the browser test
browser-setup: $(INSTALLED)
	$(BIN)/python tools/browser_setup.py

## test: everything, in two pytest runs around the site build. First the unit tests, doctests, the student
## notebooks and nbval, which runs every chapter in a fresh kernel and compares each output with the stored one;
## nbval's run is recorded (tests/nbval_record.py) and the site is built from it, so no chapter runs twice. Then
## the browser test of that site and tests/test_determinism.py (the site shows exactly the stored outputs), and
## the instructor's kit made from the same build (PDF, slides, term site; side by side): tests/test_pdf.py,
## test_slides.py, test_term_site.py.
RECORD := _build/nbval
KIT_TESTS := tests/test_pdf.py tests/test_slides.py tests/test_term_site.py
SITE_TESTS := tests/test_site_browser.py tests/test_determinism.py $(KIT_TESTS)
test: $(INSTALLED) browser-setup
	rc=0; \
	$(BIN)/python -m pytest -n $(JOBS) --doctest-modules $(NBVAL) -p tests.nbval_record $(call junit,checks) \
	  --nbval-record $(RECORD) course_pkg tests book $(addprefix --deselect ,$(SITE_TESTS)) || rc=$$?; \
	{ $(BIN)/python tools/execute_book.py --from-record $(RECORD) --jobs $(JOBS) && \
	  $(MAKE) --no-print-directory -j $(JOBS) site _build/html-term/.built SOLUTIONS=show; } || rc=$$?; \
	$(BIN)/python -m pytest -n $(JOBS) $(call junit,site) $(SITE_TESTS) || rc=$$?; \
	exit $$rc

unit: $(INSTALLED)
	$(BIN)/python -m pytest -n $(JOBS) --doctest-modules course_pkg tests $(addprefix --deselect ,$(SITE_TESTS))

nbval: $(INSTALLED)
	$(BIN)/python -m pytest -n $(JOBS) $(NBVAL) book

browser: $(INSTALLED) browser-setup book
	$(BIN)/python -m pytest -n $(JOBS) $(SITE_TESTS)

## execute: run every chapter from the current code, JOBS at a time, into the build's execution cache
## (_build/.jupyter_cache). Does nothing when the cache already matches every source; any other build (HTML,
## single-page, PDF, solutions hidden) then takes its outputs from there and executes nothing.
execute: $(INSTALLED)
	$(BIN)/python tools/execute_book.py --if-stale --jobs $(JOBS)

## book: build the site; any change to a chapter, the package, the config or the lock re-executes every notebook.
## SOLUTIONS=hide: also the term site, every exercise and no solution, into its own folder _build/html-term (written
## from the site build's parsed pages: nothing executes again; book/_ext/editions.py removes the solutions)
SOLUTIONS ?= show
ifeq ($(filter $(SOLUTIONS),show hide),)
$(error SOLUTIONS must be show or hide, not "$(SOLUTIONS)")
endif
KIT := $(BIN)/python tools/instructor_kit.py
KIT_SOURCES := tools/instructor_kit.py book/_ext/editions.py
book: _build/html/.built $(if $(filter hide,$(SOLUTIONS)),_build/html-term/.built)

_build/html-term/.built: _build/html/.built $(KIT_SOURCES)
	$(KIT) term
	touch $@

## pdf: the whole book as one PDF, _build/pdf/book.pdf (SOLUTIONS=hide: book-term.pdf, without solutions): the
## single-page build of the site's parsed pages, printed by Chromium once MathJax has typeset it (no TeX)
pdf: _build/html/.built browser-setup
	$(KIT) pdf --solutions $(SOLUTIONS)

## slides: the lecture decks, _build/slides/NN_name.html (offline reveal.js, S: speaker notes), from the authored
## sources slides/NN_name.ipynb (markdown notebooks: edit them in Jupyter, see slides/README.md) and the figures of
## the executed chapters in book/ (also extracted into slides/figures/ for Jupyter); needs no site build
slides: browser-setup
	$(KIT) slides

## site: the PDF and the decks copied into the site (_build/html; SOLUTIONS=hide: _build/html-term), where the
## welcome page links the PDF and each chapter its deck: what the Pages workflow publishes
site: book pdf slides
	$(KIT) publish --solutions $(SOLUTIONS)

_build/html/.built: $(INSTALLED) $(BOOK_SOURCES)
	$(BIN)/python tools/execute_book.py --if-stale --jobs $(JOBS)
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

## grade: make grade SUBMISSIONS=folder [OUT=grades.csv] [TIMEOUT=60] [GRADEBOOK=canvas|moodle] [GRADE_FLAGS=--no-sandbox]: grade every
## file in the folder, each in a bubblewrap sandbox (Debian's bubblewrap, installed here when missing: root or sudo -n)
grade: $(INSTALLED)
	test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder [GRADEBOOK=canvas|moodle]"; exit 2; }
	command -v bwrap >/dev/null || $(BIN)/python -c "from course_pkg.homework.sandbox import install_bwrap; install_bwrap(quiet=False)" || true
	$(BIN)/python -m course_pkg.homework.grading "$(SUBMISSIONS)" --out "$(or $(OUT),grades.csv)" \
	  --timeout $(or $(TIMEOUT),60) --jobs $(JOBS) $(if $(GRADEBOOK),--gradebook $(GRADEBOOK)) $(GRADE_FLAGS)

## autograder: make autograder [CHAPTER=binary_classification] [VISIBILITY=visible|after_published|...]: Gradescope
## autograder bundles, _build/autograder/<chapter>.zip (every chapter with checks without CHAPTER); upload one per
## assignment (README, "Grading on Gradescope"). classroom: make classroom CHAPTER=...: a GitHub Classroom starter
## repository in _build/classroom/<chapter>/ (its workflow grades every push with the same grader).
autograder: $(INSTALLED)
	$(BIN)/python -m course_pkg.homework.platforms autograder $(if $(CHAPTER),--chapter $(CHAPTER)) \
	  $(if $(VISIBILITY),--visibility $(VISIBILITY))

classroom: $(INSTALLED)
	$(BIN)/python -m course_pkg.homework.platforms classroom $(if $(CHAPTER),--chapter $(CHAPTER))

## stability: run the chapters (NOTEBOOKS=... to choose) under every numerical path this machine can force: ATen's
## portable, AVX2 and AVX-512 kernels, 1 and 2 threads, glibc's other libm variant (tools/stability.py), and list
## every printed value that differs from the stored one: those print more digits than are stable. Fails if any does.
stability: $(INSTALLED)
	$(BIN)/python tools/stability.py --jobs $(JOBS) $(NOTEBOOKS)

## bench: measure build, test and notebook times; writes bench/results.{md,json} and the README table
bench: $(INSTALLED) browser-setup
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
