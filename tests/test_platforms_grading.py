"""One grade everywhere: the same notebooks graded by ``check`` in the notebook, ``make grade``
(``grade_folder``), the Gradescope autograder in an emulated Gradescope container and the GitHub Classroom
workflow's grading step in a clean clone of the generated starter repository give the same per-exercise
verdicts and feedback lines, and every results.json is valid against Gradescope's documented schema
whatever the submission does.

The Gradescope container is emulated with bubblewrap (:class:`course_pkg.homework.platforms.Emulator`):
the bundle unzipped into a scratch folder bound to ``/autograder/source``, scratch ``/autograder/submission``
and ``/autograder/results``, the system read-only, a clean environment. ``setup.sh`` runs once with
``COURSE_PREBUILT_VENV`` (the repository's ``.venv``: no download; the real install path is measured by
``make bench``), then ``run_autograder`` once per submission. The submissions are the regression chapter's
(book/03_regression.ipynb) honest and hostile notebooks of tests/test_grading.py, and attacks aimed at the
Gradescope layout: an answer whose code overwrites ``results.json`` and the autograder's files and leaves a
process behind to do it again later, tried with bubblewrap and in the "container" mode used where
bubblewrap cannot start (Gradescope's usual case).
"""
import contextlib
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import nbformat
import pytest
import yaml

import bench_grading  # tools/ (tests/conftest.py puts it on the path)
import test_grading as tg
from test_grading import sandbox_ready  # noqa: F401  (the session fixture: bubblewrap works here)
from course_pkg.homework import grading, platforms

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "03_regression"
IDS = [tg.EX1, tg.EX2]
VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}
# Gradescope's results.json (gradescope-autograders.readthedocs.io, "Autograder Specifications"): every
# documented field with its type, nothing else; what we always write is required on top.
TEST_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["name", "score", "max_score", "output", "visibility"],
    "properties": {"score": {"type": "number"}, "max_score": {"type": "number"},
                   "status": {"enum": ["passed", "failed"]}, "name": {"type": "string", "minLength": 1},
                   "name_format": FORMAT, "number": {"type": "string"}, "output": {"type": "string"},
                   "output_format": FORMAT, "tags": {"type": "array", "items": {"type": "string"}},
                   "visibility": VISIBILITY, "extra_data": {"type": "object"}}}
RESULTS_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["score", "execution_time", "tests"],
    "properties": {"score": {"type": "number"}, "execution_time": {"type": "number"}, "output": {"type": "string"},
                   "output_format": FORMAT, "test_output_format": FORMAT, "test_name_format": FORMAT,
                   "visibility": VISIBILITY, "stdout_visibility": VISIBILITY, "extra_data": {"type": "object"},
                   "tests": {"type": "array", "items": TEST_SCHEMA}, "leaderboard": {"type": "array"}}}

ATTACK = """\
if True:
    import os, subprocess
    fake = '{"score": 100.0, "execution_time": 1, "tests": []}'
    for path in ("/autograder/results/results.json", "/autograder/source/autograder.json",
                 "/autograder/source/run_autograder", "/autograder/source/course_pkg/homework/replay.py"):
        try:
            open(path, "w").write(fake)
        except Exception:
            pass
    try:  # a process left behind, in a session of its own, to overwrite the results after the grader wrote them
        subprocess.Popen(["/bin/sh", "-c", "sleep 2; echo '" + fake + "' > /autograder/results/results.json; "
                          "echo x > /autograder/results/results.json.tmp"], start_new_session=True)
    except Exception:
        pass
    print(fake)
    attacked = True"""
ATTACKER = "def to_range(o, low, high):\n    attacked  # makes the grader run the attack's cell\n    return o"


def submissions() -> dict:
    """Name -> notebook text: honest ones, wrong ones and hostile ones (all of the regression chapter)."""
    return {
        "honest": bench_grading.honest_submission(CHAPTER),
        "partial": tg.HOSTILE["partial"],
        "blank": tg.HOSTILE["blank"],
        "crashing": tg.HOSTILE["crashing"],
        "shortcut": tg.HOSTILE["shortcut"],
        "attack": tg.notebook(tg.HEADER, ATTACK, ATTACKER, tg.GOOD_MSE, tg.CHECKS),
    }


BENIGN = ("honest", "partial", "blank")  # safe to run in this process, as a student would


def validate(text) -> dict:
    assert text is not None, "run_autograder wrote no results.json"
    data = json.loads(text)
    jsonschema.validate(data, RESULTS_SCHEMA)
    assert data["score"] == sum(t["score"] for t in data["tests"])
    return data


def digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory, sandbox_ready):
    folder = tmp_path_factory.mktemp("class")
    for name, text in submissions().items():
        (folder / f"{name}.ipynb").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def folder_grades(class_folder):
    """``make grade``'s verdicts: student -> {exercise: (status, message)}."""
    _, rows = grading.grade_folder(class_folder, chapter=CHAPTER, jobs=2)
    return {r.student: r for r in rows}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory, sandbox_ready):
    scratch = tmp_path_factory.mktemp("gradescope")
    bundle = platforms.build_autograder("regression", scratch / "zips")
    emu = platforms.Emulator(bundle, scratch / "autograder")
    code, output, _ = emu.run("/autograder/source/setup.sh", env={platforms.PREBUILT_ENV: sys.prefix})
    assert code == 0, output[-3000:]
    return emu


@pytest.fixture(scope="module")
def gradescope(emulator):
    """Name -> (results.json text, seconds, output) of run_autograder, one run per submission."""
    runs = {}
    source_before = digest(emulator.source)
    texts = submissions()
    for name, text in texts.items():
        runs[name] = emulator.grade({f"{name}.ipynb": text.encode()})
        if name == "attack":
            time.sleep(3)  # the left-behind process had its chance to overwrite the results
            runs[name] = ((emulator.results / "results.json").read_text(encoding="utf-8"), *runs[name][1:])
            assert not (emulator.results / "results.json.tmp").exists()
    runs["attack (container mode)"] = emulator.grade({"attack.ipynb": texts["attack"].encode()},
                                                     env={platforms.SANDBOX_ENV: "container"})
    time.sleep(3)
    runs["attack (container mode)"] = ((emulator.results / "results.json").read_text(encoding="utf-8"),
                                       *runs["attack (container mode)"][1:])
    runs["not a notebook"] = emulator.grade({"mine.ipynb": b"\x00\xff not json"})
    runs["nothing"] = emulator.grade({"answers.py": b"print(1)"})
    runs["two notebooks"] = emulator.grade({"a.ipynb": texts["honest"].encode(),
                                            "sub/b.ipynb": texts["honest"].encode()})
    runs["source digest"] = (source_before, digest(emulator.source))
    return runs


def lines_from_results(data: dict) -> dict:
    """{exercise id: the line} from results.json's tests named "Exercise N.k (id)"."""
    out = {}
    for t in data["tests"]:
        m = re.fullmatch(r"Exercise \d+\.\d+ \(([\w.]+)\)", t["name"])
        if m:
            out[m.group(1)] = t["output"]
    return out


def folder_lines(row) -> dict:
    return {ex: platforms.feedback_line(ex, *row.results[ex]) for ex in IDS}


def same_line(a: str, b: str) -> bool:
    """The same feedback line, but for the numbers of a FAILED line: the grader draws fresh inputs for every
    grading (a seed the submission cannot know), so "where yours is 0.731" differs from run to run."""
    if a.startswith("[FAILED]") and b.startswith("[FAILED]"):
        return re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "#", a) == re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "#", b)
    return a == b


def test_every_results_json_is_valid_gradescope_json(gradescope):
    for name, run in gradescope.items():
        if name == "source digest":
            continue
        data = validate(run[0])
        names = [t["name"] for t in data["tests"]]
        assert names[:2] == [f"Exercise 3.1 ({tg.EX1})", f"Exercise 3.2 ({tg.EX2})"], (name, names)
        assert all(t["max_score"] == 1.0 for t in data["tests"][:2])
        assert data["execution_time"] >= 0


def test_gradescope_scores_and_lines_are_make_grades(gradescope, folder_grades):
    for name in submissions():
        data = validate(gradescope[name][0])
        row = folder_grades[name]
        assert data["score"] == row.total, (name, data["score"], row.results)
        got, expected = lines_from_results(data), folder_lines(row)
        for ex in IDS:
            assert same_line(got[ex], expected[ex]), (name, ex, got[ex], expected[ex])
    assert folder_grades["honest"].total == 2


def test_flagged_and_ungradeable_submissions_say_so(gradescope, folder_grades):
    assert any(s == "FLAGGED" for s, _ in folder_grades["shortcut"].results.values())
    review = validate(gradescope["shortcut"][0])["tests"][-1]
    assert review["name"].startswith("Needs a person") and "FLAGGED" in review["output"]
    for name, why in (("not a notebook", "not a readable notebook"), ("nothing", "no .ipynb file"),
                      ("two notebooks", "2 notebooks were submitted")):
        data = validate(gradescope[name][0])
        assert data["score"] == 0 and data["tests"][-1]["name"].startswith("Needs a person"), name
        assert why in data["tests"][-1]["output"], (name, data["tests"][-1]["output"])


def test_hostile_code_cannot_touch_results_or_the_autograder(gradescope, folder_grades):
    before, after = gradescope["source digest"]
    assert before == after, "the autograder's files changed"
    for name in ("attack", "attack (container mode)"):
        data = validate(gradescope[name][0])
        assert data["score"] == folder_grades["attack"].total == 1, (name, data)   # fixed_mse right, to_range wrong
        assert "100" not in json.dumps(data["score"])
    assert "container" in validate(gradescope["attack (container mode)"][0])["output"]


# --------------------------------------------------------------------------- GitHub Classroom

@pytest.fixture(scope="module")
def classroom(tmp_path_factory, sandbox_ready):
    """The starter repository, committed, cloned afresh; the workflow's commands run in the clone."""
    scratch = tmp_path_factory.mktemp("classroom")
    repo = platforms.build_classroom("regression", scratch / "out")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "starter"], cwd=repo, check=True)
    clone = scratch / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    workflow = yaml.safe_load((clone / ".github" / "workflows" / "classroom.yml").read_text())
    steps = workflow["jobs"]["grade"]["steps"]
    grade = next(s["run"] for s in steps if s.get("name") == "Grade the notebook")
    verdicts = [s for s in steps if str(s.get("uses", "")).startswith("classroom-resources/autograding-command-grader")]
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(scratch), "LANG": "C.UTF-8"}
    runs = {}
    for name in ("honest", "partial"):
        (clone / f"{CHAPTER}.ipynb").write_text(submissions()[name], encoding="utf-8")  # the student's push
        out = subprocess.run(["bash", "-c", grade], cwd=clone, env=env, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stdout + out.stderr
        steps_out = {}
        for step in verdicts:
            v = subprocess.run(["bash", "-c", step["with"]["command"]], cwd=clone, env=env, capture_output=True,
                               text=True, timeout=60)
            steps_out[step["id"]] = (v.returncode, v.stdout.strip())
        runs[name] = (out.stdout, steps_out)
    return {"workflow": workflow, "verdicts": verdicts, "runs": runs, "clone": clone}


def test_classroom_grading_step_gives_make_grades_lines_and_points(classroom, folder_grades):
    by_step = {platforms.step_id(ex): ex for ex in IDS}
    for name, (stdout, steps_out) in classroom["runs"].items():
        row = folder_grades[name]
        expected = folder_lines(row)
        printed = [line for line in stdout.splitlines() if line.startswith("[")]
        assert len(printed) == 2 and all(same_line(a, expected[ex]) for a, ex in zip(printed, IDS)), (name, printed)
        for sid, (code, line) in steps_out.items():
            ex = by_step[sid]
            assert same_line(line, expected[ex]), (name, line, expected[ex])
            assert (code == 0) == (row.results[ex][0] == "PASSED"), (name, ex, code)
    assert sum(c == 0 for c, _ in classroom["runs"]["honest"][1].values()) == 2


def test_classroom_workflow_reports_every_exercise(classroom):
    """The structure GitHub Classroom's reporter reads: one command-grader step per exercise (1 point each),
    its id in ``runners`` and its result in the reporter's ``<ID>_RESULTS`` variable."""
    steps = classroom["workflow"]["jobs"]["grade"]["steps"]
    reporter = steps[-1]
    assert reporter["uses"] == "classroom-resources/autograding-grading-reporter@v1"
    ids = [s["id"] for s in classroom["verdicts"]]
    assert ids == [platforms.step_id(ex) for ex in IDS]
    assert reporter["with"]["runners"].split(",") == ids
    for s in classroom["verdicts"]:
        assert s["with"]["max-score"] == 1 and re.fullmatch(r"[A-Za-z_][\w-]*", s["id"])
        assert reporter["env"][f"{s['id'].upper()}_RESULTS"] == f"${{{{ steps.{s['id']}.outputs.result }}}}"


def test_check_in_the_notebook_prints_the_same_lines(folder_grades):
    """``check`` run as the student runs it (benign notebooks only, in this process) prints the lines the
    graders report."""
    for name in BENIGN:
        nb = nbformat.reads(submissions()[name], as_version=4)
        namespace, out = {"__name__": "__main__"}, io.StringIO()
        with contextlib.redirect_stdout(out):
            for cell in nb.cells:
                try:
                    exec(compile(cell.source, "<cell>", "exec"), namespace)
                except Exception:
                    pass  # as in a notebook: the next cell still runs
        printed = {line.split("]", 1)[1].split(":", 1)[0].split(" (Exercise ")[0].strip(): line
                   for line in out.getvalue().splitlines() if line.startswith("[")}
        expected = folder_lines(folder_grades[name])
        assert printed, name
        for ex, line in printed.items():
            assert same_line(line, expected[ex]), (name, line, expected[ex])
