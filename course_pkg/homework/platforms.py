"""The course's grader packaged for the engines instructors already use: a Gradescope autograder and a
GitHub Classroom starter repository. Same extraction, sandbox, judging, verdicts and feedback lines as
``make grade`` (:mod:`course_pkg.homework.grading`): only the packaging differs.

    python -m course_pkg.homework.platforms autograder [--chapter binary_classification] [--out _build/autograder]
    python -m course_pkg.homework.platforms classroom --chapter binary_classification [--out _build/classroom]

``autograder`` writes ``<out>/<chapter>.zip`` in Gradescope's layout (every chapter with checks unless
``--chapter``): ``setup.sh`` (installs Python, the pinned lock with CPU torch, bubblewrap, and this
package), ``run_autograder`` (grades the one notebook in ``/autograder/submission/`` and writes
``/autograder/results/results.json``), ``course_pkg/``, ``book/<chapter>.ipynb`` (the master's check calls
and Colab cell only: no solution text), ``requirements.txt`` and ``autograder.json`` (the chapter and the
exercise labels). Inside Gradescope's container ``run_autograder`` calls::

    python -m course_pkg.homework.platforms gradescope --config autograder.json \\
        --submission /autograder/submission --results /autograder/results/results.json

``classroom`` writes ``<out>/<chapter>/``: the student notebook, ``.github/workflows/classroom.yml``, a
README for the student, and ``.grader/`` (the same package, trimmed master and lock, and ``grade.py``).
The workflow's grading step is one command that also runs in a local clone::

    python .grader/grade.py                 # grades the notebook, prints one line per exercise
    python .grader/grade.py --verdict ID    # that exercise's line; exit status 0 only if it PASSED

Where bubblewrap cannot start a sandbox (a Docker container without the privileges it needs, which is
usual on Gradescope), the runner is started with :func:`container_start` instead: no new namespaces, but
still ``nobody`` when the grader is root, the same resource limits, a cleared environment and a new
session; the grader still writes every result itself, after the sandboxed processes are gone.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat

from course_pkg.homework import grading, sandbox
from course_pkg.homework import registry
from course_pkg.homework.checking import feedback_line
from course_pkg.homework.student import BOOK, COLAB_TAG, ROOT

STUDENT = ROOT / "student"
LOCK = ROOT / "requirements.txt"
PACKAGE = ROOT / "course_pkg"
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
SANDBOX_ENV = "COURSE_GRADER_SANDBOX"      # "container": skip bubblewrap even where it would start
PREBUILT_ENV = "COURSE_PREBUILT_VENV"      # setup.sh: reuse this virtual environment instead of installing
ZIP_TIME = (2020, 1, 1, 0, 0, 0)           # fixed timestamps: the same sources give the same bundle


# --------------------------------------------------------------------------- exercise numbers

def _exercise_labels(master_path: Path) -> dict:
    """``{check id: "Exercise N.k"}`` for a master notebook: the numbering of
    :func:`course_pkg.homework.registry.chapter_exercises`, the one the site, the student notebooks and ``check``
    use (N is the file's numeric prefix; k counts the ``{exercise}`` directives, checked or not; a check id
    belongs to the last directive before its ``check("id", ...)``)."""
    master_path = Path(master_path)
    nb = nbformat.read(master_path, as_version=4)
    return {exercise_id: f"Exercise {ex['number']}"
            for ex in registry.chapter_exercises(nb, master_path.name) for exercise_id in ex["ids"]}


def exercise_name(exercise_id: str, labels: dict) -> str:
    """``"Exercise 5.2 (binary.fixed_loss)"``: the exercise's number and id, as the platforms show it.

    Example:
        >>> exercise_name("binary.fixed_loss", {"binary.fixed_loss": "Exercise 5.2"})
        'Exercise 5.2 (binary.fixed_loss)'
    """
    label = labels.get(exercise_id)
    return f"{label} ({exercise_id})" if label else exercise_id


# --------------------------------------------------------------------------- the sandbox where bubblewrap cannot run

def container_start(argv: list, *, sandboxed: bool = True, limits: sandbox.Limits = sandbox.Limits(),
                    hide=()) -> subprocess.Popen:
    """Start the runner without bubblewrap, keeping every protection that needs no namespace.

    For a container that already isolates one submission (Gradescope's) but lacks what bubblewrap needs:
    ``nobody`` with no capabilities when the grader is root (the results folder, the autograder's files and
    root-only files stay unwritable), the sandbox's resource limits (``prlimit``), its cleared environment,
    a new session (killed as a group by :func:`course_pkg.homework.sandbox.stop`), pipes as the only
    channel. ``hide`` cannot be honoured without a mount namespace; permissions do that job here.
    """
    rlimits = [f"--as={limits.memory_bytes * 3 // 4}", f"--cpu={limits.cpu_seconds}", f"--fsize={limits.file_bytes}",
               f"--nofile={limits.open_files}", "--core=0", f"--nproc={limits.processes}"]
    drop = []
    if os.geteuid() == 0:
        drop = [shutil.which("setpriv") or "setpriv", f"--reuid={sandbox.DROP_UID}", f"--regid={sandbox.DROP_UID}",
                "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    cmd = [*drop, shutil.which("prlimit") or "prlimit", *rlimits, "--", *argv]
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, cwd="/tmp",
                            env=sandbox.sandbox_env(), start_new_session=True)
    proc.stderr_file = err
    return proc


def sandbox_mode() -> tuple:
    """``("bubblewrap", None)`` where a sandbox starts here, else ``("container", container_start)``."""
    if os.environ.get(SANDBOX_ENV) != "container" and sandbox.status()[0]:
        return "bubblewrap", None
    return "container", container_start


# --------------------------------------------------------------------------- one submission

def find_notebook(folder: Path, chapter: str) -> tuple:
    """``(path, None)`` of the one notebook to grade under ``folder``, or ``(None, why)``.

    Links are not followed; hidden folders (``.git``, ``.grader``, checkpoints) are skipped. Several
    notebooks: the one named ``<chapter>.ipynb``, if exactly one is.
    """
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath) / f for f in sorted(filenames) if f.endswith(".ipynb") and not f.startswith(".")]
    if len(found) == 1:
        return found[0], None
    if not found:
        return None, "no .ipynb file was submitted: upload your notebook (the .ipynb file)"
    named = [p for p in found if p.name == f"{chapter}.ipynb"]
    if len(named) == 1:
        return named[0], None
    names = ", ".join(grading._csv_text(str(p.relative_to(folder))) for p in found[:5])
    return None, f"{len(found)} notebooks were submitted ({names}); submit only the chapter's notebook"


def grade_one(notebook: Path | None, config: dict, *, problem: str | None = None, hide=()) -> dict:
    """Grade one notebook as ``config["chapter"]``: ``grading.grade_notebook``'s dict, also for no notebook."""
    if notebook is None:
        return {"student": "", "chapter": None, "total": 0, "max": len(config["exercises"]),
                "reasons": [problem or "no notebook"], "mode": None,
                "exercises": {ex: {"status": "ERROR", "message": f"not graded: {problem}"}
                              for ex in config["exercises"]}}
    mode, start = sandbox_mode()
    graded = grading.grade_notebook(notebook, chapter=config["chapter"], hide=hide, start=start)
    graded["mode"] = mode
    return graded


def gradescope_results(graded: dict, config: dict, seconds: float) -> dict:
    """The ``results.json`` Gradescope reads, from :func:`grade_one`'s dict.

    One test per auto-checked exercise (1 point when PASSED), named ``Exercise N.k (id)``, whose ``output``
    is the feedback line ``check`` prints; one more test (0 points) when a person must look: a FLAGGED
    exercise or a submission that could not be graded.
    """
    labels, visibility = config["labels"], config.get("visibility", "visible")
    tests, review = [], []
    ids = list(config["exercises"]) + [ex for ex in graded["exercises"] if ex not in config["exercises"]]
    for ex in ids:
        result = graded["exercises"].get(ex, {"status": "ERROR", "message": "not graded"})
        passed = result["status"] == "PASSED"
        tests.append({"name": exercise_name(ex, labels), "number": labels.get(ex, "").replace("Exercise ", ""),
                      "score": 1.0 if passed else 0.0, "max_score": 1.0, "status": "passed" if passed else "failed",
                      "output": feedback_line(ex, result["status"], result["message"]), "visibility": visibility})
        if result["status"] == "FLAGGED":
            review.append(ex)
    if review or graded["chapter"] is None:
        why = ("FLAGGED: " + ", ".join(review) + " passed the checks but use what the exercise forbids; "
               "0 points for them until a person decides.") if review else "This submission could not be graded."
        tests.append({"name": "Needs a person (0 points)", "score": 0.0, "max_score": 0.0, "status": "failed",
                      "output": why + ("\n" + "\n".join(graded["reasons"]) if graded["reasons"] else ""),
                      "visibility": "visible"})
    score = float(sum(t["score"] for t in tests))
    return {"score": score, "execution_time": int(round(seconds)), "output": (
        f"{int(score)} of {len(ids)} exercises passed. Each line below is what `check` prints in your notebook, "
        "judged on inputs the grader draws afresh." + (f" (sandbox: {graded['mode']})" if graded.get("mode") else "")),
        "visibility": visibility, "stdout_visibility": "hidden", "tests": tests}


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file in the same folder, then a rename): a reader
    sees the old file or the whole new one, never half of one. ASCII only, no NaN: always valid JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, ensure_ascii=True, allow_nan=False)
    fd, tmp = tempfile.mkstemp(prefix=".results-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(text + "\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _failure(config: dict, why: str, seconds: float) -> dict:
    graded = {"chapter": None, "reasons": [why], "exercises": {}}
    return gradescope_results(graded, {"labels": {}, "exercises": [], **config}, seconds)


def gradescope_main(args) -> int:
    """``run_autograder``'s work: find, grade, write results.json. Always writes valid JSON, returns 0."""
    started = time.monotonic()
    results_path, config = Path(args.results), {}
    try:
        config = json.loads(Path(args.config).read_text(encoding="utf-8"))
        submission = Path(args.submission)
        notebook, problem = find_notebook(submission, config["chapter"])
        graded = grade_one(notebook, config, problem=problem, hide=(results_path.parent, ))
        results = gradescope_results(graded, config, time.monotonic() - started)
    except BaseException as err:  # the grader's own failure: still a valid results.json, saying so
        results = _failure(config, f"the autograder itself failed ({type(err).__name__}: "
                                   f"{grading._csv_text(str(err))[:300]}); please tell your instructor",
                           time.monotonic() - started)
    results["execution_time"] = int(round(time.monotonic() - started))
    write_json(results_path, results)
    return 0


# --------------------------------------------------------------------------- GitHub Classroom's grading step

def classroom_main(argv=None) -> int:
    """``.grader/grade.py``: grade the repository's notebook, or report one exercise's verdict."""
    ap = argparse.ArgumentParser(prog="python .grader/grade.py", description="Grade this assignment's notebook.")
    ap.add_argument("notebook", nargs="?", help="the notebook (default: the repository's one notebook)")
    ap.add_argument("--root", type=Path, default=Path.cwd(), help=argparse.SUPPRESS)
    ap.add_argument("--verdict", metavar="EXERCISE_ID",
                    help="print this exercise's line from the last grading; exit 0 only if it PASSED")
    ap.add_argument("--results", type=Path, help="where the grading is stored (default .grading/results.json)")
    args = ap.parse_args(argv)
    root = args.root
    config = json.loads((root / ".grader" / "assignment.json").read_text(encoding="utf-8"))
    results_path = args.results or root / ".grading" / "results.json"
    if args.verdict:
        try:
            stored = json.loads(results_path.read_text(encoding="utf-8"))
            result = stored["exercises"][args.verdict]
        except (OSError, ValueError, KeyError, TypeError):
            print(f"[ERROR] {args.verdict}: not graded (run `python .grader/grade.py` first)")
            return 1
        print(result["line"])
        return 0 if result["status"] == "PASSED" else 1
    started = time.monotonic()
    if args.notebook:
        notebook, problem = Path(args.notebook), None
    else:
        notebook, problem = find_notebook(root, config["chapter"])
    try:
        graded = grade_one(notebook, config, problem=problem, hide=(results_path.parent,))
    except Exception as err:  # still a results file, so every exercise's step reports something
        graded = grade_one(None, config, problem=f"the grader itself failed ({type(err).__name__}: {err})")
    exercises = {}
    for ex in config["exercises"]:
        result = graded["exercises"].get(ex, {"status": "ERROR", "message": "not graded"})
        line = feedback_line(ex, result["status"], result["message"])
        exercises[ex] = {**result, "line": line, "name": exercise_name(ex, config["labels"])}
        print(line)
    print(f"{graded['total']} of {len(exercises)} exercises passed ({time.monotonic() - started:.0f} s)")
    for reason in graded["reasons"]:
        print(f"note: {reason}")
    write_json(results_path, {"chapter": config["chapter"], "total": graded["total"], "max": len(exercises),
                              "reasons": graded["reasons"], "mode": graded.get("mode"), "exercises": exercises})
    return 0


# --------------------------------------------------------------------------- building the bundles

@functools.lru_cache(maxsize=None)
def chapters_with_checks() -> dict:
    """Chapter stem -> :class:`course_pkg.homework.grading.Chapter`, for the book's masters (read once)."""
    return grading.master_chapters(BOOK)


def resolve(chapter: str) -> str:
    """A chapter's stem from its stem or short name (``binary_classification`` -> ``05_binary_classification``)."""
    return grading._resolve_chapter(chapter, chapters_with_checks())


def trimmed_master(chapter: str) -> nbformat.NotebookNode:
    """What the grader reads of a master notebook and nothing else: its Colab set-up cell, one empty
    ``{exercise}`` directive (its label only) per exercise, so that the bundle numbers exercises as the book does
    (:func:`course_pkg.homework.registry.chapter_exercises`), and one ``check(id, answer)`` cell per check, in
    order. No solution, no prose."""
    ch = chapters_with_checks()[chapter]
    answers = dict(ch.exercises)
    master = BOOK / f"{chapter}.ipynb"
    nb = nbformat.v4.new_notebook()
    if ch.colab:
        nb.cells.append(nbformat.v4.new_code_cell(ch.colab, metadata={"tags": [COLAB_TAG, "remove-cell"]}))
    placed = set()
    for ex in registry.chapter_exercises(nbformat.read(master, as_version=4), master.name):
        label = f":label: {ex['label']}\n" if ex["label"] else ""
        nb.cells.append(nbformat.v4.new_markdown_cell(f"```{{exercise}}\n{label}```"))
        for exercise_id in ex["ids"]:
            if exercise_id in answers and exercise_id not in placed:
                nb.cells.append(nbformat.v4.new_code_cell(f"check({exercise_id!r}, {answers[exercise_id]})"))
                placed.add(exercise_id)
    nb.cells += [nbformat.v4.new_code_cell(f"check({ex!r}, {answer})") for ex, answer in ch.exercises
                 if ex not in placed]
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"  # not random: the same sources give the same bundle
    return nb


def assignment_config(chapter: str, visibility: str = "visible") -> dict:
    labels = _exercise_labels(BOOK / f"{chapter}.ipynb")
    exercises = [ex for ex, _ in chapters_with_checks()[chapter].exercises]
    return {"chapter": chapter, "exercises": exercises, "labels": {ex: labels.get(ex, "") for ex in exercises},
            "visibility": visibility}


def _package_files() -> list:
    """(path in the bundle, file) for the package: every file of course_pkg/ but caches."""
    out = []
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and not path.name.endswith((".pyc", ".pyo")):
            out.append((str(path.relative_to(ROOT)), path))
    return out


SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, in /autograder/source, when the autograder is built (Ubuntu base image).
# It installs Python 3.11 (the lock's; else the image's python3), the grader's packages pinned by the lock with
# CPU torch, bubblewrap if the image has it, and puts this folder's course_pkg on the environment's path. COURSE_PREBUILT_VENV=/path/to/venv reuses an
# environment that already has the lock installed instead (the repository's tests do that).
set -euo pipefail
SRC="$(cd "$(dirname "$0")" && pwd)"
cd "$SRC"
if [ -n "${COURSE_PREBUILT_VENV:-}" ]; then
  ln -sfn "$COURSE_PREBUILT_VENV" "$SRC/venv"
else
  export DEBIAN_FRONTEND=noninteractive
  if command -v apt-get >/dev/null; then
    { apt-get update -qq &&
      apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip ca-certificates util-linux \
        >/dev/null; } || echo "warning: apt-get failed; using the image's python3" >&2
    apt-get install -y -qq --no-install-recommends python3.11 python3.11-venv >/dev/null 2>&1 || true
    apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null 2>&1 || true
  fi
  PY="$(command -v python3.11 || command -v python3)"
  "$PY" -m venv "$SRC/venv"
  PIP=("$SRC/venv/bin/python" -m pip --disable-pip-version-check --no-input --quiet)
  TORCH="$(grep -E '^torch==' requirements.txt)"
  # what the grader imports, at the lock's versions (the lock as constraints: the book's build tools, which
  # need a newer Python than some images have, are not installed)
  "${PIP[@]}" install -c requirements.txt "$TORCH" ||
    "${PIP[@]}" install -c requirements.txt --index-url https://download.pytorch.org/whl/cpu "$TORCH"
  "${PIP[@]}" install -c requirements.txt {packages}
  SITE="$("$SRC/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  echo "$SRC" > "$SITE/course_pkg_autograder.pth"
fi
"$SRC/venv/bin/python" -m compileall -q "$SRC/course_pkg" >/dev/null  # compiled once, here, not per submission
chmod -R a+rX "$SRC"
chmod 0755 "$SRC/run_autograder"
PYTHONPATH="$SRC" "$SRC/venv/bin/python" -c "import torch, course_pkg.homework.platforms; print('torch', torch.__version__)"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for every submission (copied to /autograder/run_autograder). It grades the notebook in
# /autograder/submission/ with the course's grader and writes /autograder/results/results.json.
set -uo pipefail
SRC=/autograder/source
RESULTS=/autograder/results/results.json
export PYTHONPATH="$SRC" PYTHONDONTWRITEBYTECODE=1 OMP_NUM_THREADS=1 ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE
cd "$SRC"
mkdir -p /autograder/results
if ! "$SRC/venv/bin/python" -m course_pkg.homework.platforms gradescope --config "$SRC/autograder.json" \
     --submission /autograder/submission --results "$RESULTS"; then
  # the grader could not even start (a broken environment): still valid JSON, saying so
  printf '%s\n' '{"score": 0.0, "execution_time": 0, "tests": [{"name": "Needs a person (0 points)", "score": 0.0, "max_score": 0.0, "output": "The autograder could not start; please tell your instructor.", "visibility": "visible"}]}' > "$RESULTS.tmp"
  mv -f "$RESULTS.tmp" "$RESULTS"
fi
"""


GRADER_PACKAGES = ("numpy", "nbformat", "matplotlib")  # besides torch: what the grader and answers import


def _zip_add(z: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, data)


def build_autograder(chapter: str, out: Path, visibility: str = "visible") -> Path:
    """Write ``out/<chapter>.zip``, Gradescope's autograder for one chapter; return its path."""
    chapter = resolve(chapter)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{chapter}.zip"
    with zipfile.ZipFile(path, "w") as z:
        _zip_add(z, "setup.sh", SETUP_SH.replace("{packages}", " ".join(GRADER_PACKAGES)).encode(), 0o755)
        _zip_add(z, "run_autograder", RUN_AUTOGRADER.encode(), 0o755)
        _zip_add(z, "requirements.txt", LOCK.read_bytes())
        _zip_add(z, "autograder.json", json.dumps(assignment_config(chapter, visibility), indent=1).encode())
        _zip_add(z, f"book/{chapter}.ipynb", nbformat.writes(trimmed_master(chapter)).encode())
        for name, file in _package_files():
            _zip_add(z, name, file.read_bytes())
    return path


WORKFLOW = """\
# Grades the notebook on every push with the course's grader and reports one score per exercise to
# GitHub Classroom (classroom-resources/autograding-command-grader and autograding-grading-reporter).
name: Autograding
on: [push, workflow_dispatch]
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  grade:
    runs-on: ubuntu-22.04
    if: github.actor != 'github-classroom[bot]'
    timeout-minutes: 30
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
          cache: pip
          cache-dependency-path: .grader/requirements.txt
      - name: Install the pinned environment (CPU torch)
        run: |
          sudo apt-get install -y -qq bubblewrap || true
          TORCH="$(grep -E '^torch==' .grader/requirements.txt)"
          PIP="python -m pip install --quiet -c .grader/requirements.txt"
          $PIP "$TORCH" || $PIP --index-url https://download.pytorch.org/whl/cpu "$TORCH"
          $PIP {packages}
      - name: Grade the notebook
        run: {grade}
{steps}      - name: Autograding Reporter
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
{env}        with:
          runners: {runners}
"""

STEP = """\
      - name: {name}
        id: {id}
        uses: classroom-resources/autograding-command-grader@v1
        with:
          test-name: {name}
          command: {command}
          timeout: 1
          max-score: 1
"""

GRADE_COMMAND = "python .grader/grade.py"

STUDENT_README = """\
# {title}

Your assignment is the notebook `{chapter}.ipynb`. Solve its exercises (replace each stub), run the
`check(...)` cells to see how you are doing, save, then commit and push:

    git add {chapter}.ipynb
    git commit -m "my answers"
    git push

Every push is graded by GitHub Actions (the **Actions** tab; GitHub Classroom shows your points). Each
exercise is worth 1 point. The grader runs only the code that defines each answer, calls it on inputs it
draws afresh and prints the same kind of line `check` prints in the notebook:

{lines}

Your points come from the exercises' lines in the workflow's log. An exercise marked FLAGGED passed the
checks but uses what the exercise forbids: it counts 0 until your instructor reads it.

To grade your work the same way on your own machine (Python 3.11, Linux; bubblewrap for the sandbox):

    python -m pip install -r .grader/requirements.txt --extra-index-url https://download.pytorch.org/whl/cpu
    python .grader/grade.py

Do not edit `.grader/` or `.github/`: your instructor may regrade the notebook you push with the same grader.
"""

LAUNCHER = '''\
"""Grade this repository's notebook with the course's grader: the command the workflow runs.

    python .grader/grade.py                 # every exercise, one line each (stored in .grading/results.json)
    python .grader/grade.py --verdict ID    # one exercise's line; exit status 0 only if it PASSED
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if sys.argv[1:2] == ["--verdict"] and len(sys.argv) == 3:  # reads the stored grading: no torch to import
    try:
        result = json.loads((HERE.parent / ".grading" / "results.json").read_text(encoding="utf-8"))
        result = result["exercises"][sys.argv[2]]
        line, passed = str(result["line"]), result["status"] == "PASSED"
    except (OSError, ValueError, KeyError, TypeError):
        line, passed = f"[ERROR] {sys.argv[2]}: not graded (run `python .grader/grade.py` first)", False
    print(line)
    sys.exit(0 if passed else 1)
sys.path.insert(0, str(HERE))
from course_pkg.homework.platforms import classroom_main  # noqa: E402

sys.exit(classroom_main([*sys.argv[1:], "--root", str(HERE.parent)]))
'''


def _yaml_text(text: str) -> str:
    """A YAML flow scalar for ``text``: double-quoted JSON (YAML is a superset of JSON strings)."""
    return json.dumps(text)


def step_id(exercise_id: str) -> str:
    """A workflow step id (letters, digits, ``_``) for an exercise, as the reporter's ``<ID>_RESULTS`` needs.

    Example:
        >>> step_id("binary.fixed_loss")
        'exercise_binary_fixed_loss'
    """
    return "exercise_" + re.sub(r"\W", "_", exercise_id)


def workflow(config: dict) -> str:
    """The text of ``.github/workflows/classroom.yml`` for an assignment."""
    steps, env = "", ""
    for ex in config["exercises"]:
        sid = step_id(ex)
        steps += STEP.format(name=_yaml_text(exercise_name(ex, config["labels"])), id=sid,
                             command=_yaml_text(f"{GRADE_COMMAND} --verdict {ex}"))
        env += f"          {sid.upper()}_RESULTS: \"${{{{ steps.{sid}.outputs.result }}}}\"\n"
    return WORKFLOW.format(grade=_yaml_text(GRADE_COMMAND), steps=steps, env=env, packages=" ".join(GRADER_PACKAGES),
                           runners=",".join(step_id(ex) for ex in config["exercises"]))


def build_classroom(chapter: str, out: Path) -> Path:
    """Write ``out/<chapter>/``, the starter repository of one GitHub Classroom assignment; return it."""
    chapter = resolve(chapter)
    config = assignment_config(chapter)
    repo = out / chapter
    if repo.exists():
        shutil.rmtree(repo)
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copyfile(STUDENT / f"{chapter}.ipynb", repo / f"{chapter}.ipynb")
    grader = repo / ".grader"
    for name, file in _package_files():
        (grader / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, grader / name)
    (grader / "book").mkdir()
    nbformat.write(trimmed_master(chapter), grader / "book" / f"{chapter}.ipynb")
    shutil.copyfile(LOCK, grader / "requirements.txt")
    (grader / "assignment.json").write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    (grader / "grade.py").write_text(LAUNCHER, encoding="utf-8")
    (repo / ".github" / "workflows" / "classroom.yml").write_text(workflow(config), encoding="utf-8")
    (repo / ".gitignore").write_text(".grading/\n__pycache__/\n.ipynb_checkpoints/\n", encoding="utf-8")
    title = nbformat.read(STUDENT / f"{chapter}.ipynb", as_version=4)
    heading = next((line.lstrip("# ").strip() for c in title.cells if c.cell_type == "markdown"
                    for line in c.source.splitlines() if line.startswith("# ")), chapter)
    lines = "\n".join(f"    [PASSED] {ex}: ...    ({exercise_name(ex, config['labels'])})" for ex in config["exercises"])
    (repo / "README.md").write_text(STUDENT_README.format(title=heading, chapter=chapter, lines=lines),
                                    encoding="utf-8")
    return repo


# --------------------------------------------------------------------------- a Gradescope container, emulated here

class Emulator:
    """Gradescope's container layout on this machine, with bubblewrap: the bundle unzipped in a scratch folder
    bound to ``/autograder/source``, scratch ``/autograder/submission`` and ``/autograder/results``, a
    scratch ``/tmp``, the rest of the system read-only, a clean environment, own PID namespace; root's home
    replaced by an empty one (only a Python installed there is put back, readable, as an image's would be).

        emu = Emulator(zip_path, scratch)
        emu.run("/autograder/source/setup.sh", env={"COURSE_PREBUILT_VENV": sys.prefix})
        text, seconds, output = emu.grade({"mine.ipynb": data})   # run_autograder on one submission
    """

    def __init__(self, bundle: Path, scratch: Path):
        self.scratch = Path(scratch)
        self.source, self.submission = self.scratch / "source", self.scratch / "submission"
        self.results, self.tmp = self.scratch / "results", self.scratch / "tmp"
        for d in (self.source, self.submission, self.results, self.tmp):
            d.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(bundle) as z:
            for info in z.infolist():
                z.extract(info, self.source)
                os.chmod(self.source / info.filename, ((info.external_attr >> 16) & 0o777) or 0o644)

    def command(self, cmd: str, env: dict | None = None) -> list:
        args = ["bwrap"]
        for name in sorted(os.listdir("/")):
            path = "/" + name
            if name in ("proc", "dev", "tmp", "autograder", "root"):
                continue
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
        python_home = Path(sys.base_prefix).resolve()
        in_root = str(python_home).startswith("/root/")
        args += ["--perms", "0755" if in_root else "0700", "--dir", "/root"]
        if in_root:  # the folders above it readable too, as in an image that installed Python there
            for parent in reversed(python_home.parents[:-2]):
                args += ["--perms", "0755", "--dir", str(parent)]
            args += ["--ro-bind", str(python_home), str(python_home)]
        args += ["--dev", "/dev", "--proc", "/proc", "--bind", str(self.tmp), "/tmp", "--dir", "/autograder",
                 "--bind", str(self.source), "/autograder/source",
                 "--bind", str(self.submission), "/autograder/submission",
                 "--bind", str(self.results), "/autograder/results",
                 "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--new-session",
                 "--clearenv", "--setenv", "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                 "--setenv", "HOME", "/root", "--setenv", "LANG", "C.UTF-8"]
        for key, value in (env or {}).items():
            args += ["--setenv", key, value]
        return args + ["--chdir", "/autograder/source", "--", "/bin/bash", "-c", cmd]

    def run(self, cmd: str, env: dict | None = None, timeout: float = 3600) -> tuple:
        """``(exit status, output, seconds)`` of ``cmd`` in the emulated container."""
        started = time.monotonic()
        proc = subprocess.run(self.command(cmd, env), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started

    def grade(self, files: dict, env: dict | None = None) -> tuple:
        """Put ``files`` ({relative name: bytes}) in a fresh submission folder, run ``run_autograder``;
        return ``(results.json text or None, seconds, output)``."""
        for folder in (self.submission, self.results):
            shutil.rmtree(folder)
            folder.mkdir()
        for name, data in files.items():
            path = self.submission / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        code, output, seconds = self.run("/autograder/source/run_autograder", env)
        path = self.results / "results.json"
        return (path.read_text(encoding="utf-8") if path.exists() else None), seconds, output


# --------------------------------------------------------------------------- command line

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    a = sub.add_parser("autograder", help="write Gradescope autograder bundles")
    a.add_argument("--chapter", help="one chapter (stem or short name); default: every chapter with checks")
    a.add_argument("--out", type=Path, default=ROOT / "_build" / "autograder")
    a.add_argument("--visibility", choices=VISIBILITIES, default="visible",
                   help="when students see each exercise's result (Gradescope's test visibility)")
    c = sub.add_parser("classroom", help="write a GitHub Classroom starter repository")
    c.add_argument("--chapter", help="one chapter (stem or short name); default: every chapter with checks")
    c.add_argument("--out", type=Path, default=ROOT / "_build" / "classroom")
    g = sub.add_parser("gradescope", help="grade inside Gradescope's container (run_autograder calls this)")
    g.add_argument("--config", required=True)
    g.add_argument("--submission", required=True)
    g.add_argument("--results", required=True)
    args = ap.parse_args(argv)
    if args.command == "gradescope":
        return gradescope_main(args)
    chapters = [resolve(args.chapter)] if args.chapter else list(chapters_with_checks())
    for chapter in chapters:
        if args.command == "autograder":
            path = build_autograder(chapter, args.out, args.visibility)
            print(f"wrote {path} ({path.stat().st_size / 2**20:.2f} MiB)")
        else:
            print(f"wrote {build_classroom(chapter, args.out)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
