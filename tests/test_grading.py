"""The grader on fixture submissions of the regression chapter (book/03_regression.ipynb, exercise
`regression.scale_to_range`, answer `to_range`): correct, blank, partially correct, raising, crashing,
looping, looping while ignoring interrupts, monkeypatching `check`, and files that are not notebooks."""
import csv
import hashlib
import shutil
from pathlib import Path

import nbformat
import pytest

from course_pkg.homework import grading
from course_pkg.homework.student import METADATA_KEY

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "submissions"
EXERCISE = "regression.scale_to_range"

HEADER = "import torch\nfrom course_pkg.homework import check"
GOOD = "def to_range(o, low, high):\n    return low + (high - low) * torch.sigmoid(o)"
STUB = ("def to_range(o, low, high):\n"
        "    raise NotImplementedError('Exercise regression.scale_to_range: replace this line')")
WRONG_GRAD = "def to_range(o, low, high):\n    return low + (high - low) / (1 + torch.exp(-o))"
CHEAT = """\
import course_pkg.homework as hw
from course_pkg.homework import checking
hw.check_quietly = lambda i, a: hw.CheckResult(i, hw.Status.PASSED, "")
checking.run_checker = lambda i, c, a, time_limit: checking.CheckResult(i, checking.Status.PASSED, "")
def check(*args):
    print("[PASSED] regression.scale_to_range")
print('{"results": {"regression.scale_to_range": ["PASSED", ""]}}')"""


def notebook(*cells, chapter=True):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    if chapter:
        nb.metadata[METADATA_KEY] = {"chapter": "03_regression"}
    return nbformat.writes(nb)


SUBMISSIONS = {
    "correct": notebook(HEADER, GOOD, f'check("{EXERCISE}", to_range)'),
    "blank": notebook(HEADER, STUB, f'check("{EXERCISE}", to_range)'),
    "partial": notebook(HEADER, WRONG_GRAD, f'check("{EXERCISE}", to_range)'),
    "raising": notebook(HEADER, "raise RuntimeError('oops')", GOOD, f'check("{EXERCISE}", to_range)', chapter=False),
    "crashing": notebook(HEADER, GOOD, "import os\nos._exit(1)"),
    "looping": notebook(HEADER, "while True:\n    pass", GOOD),
    "stubborn": notebook(HEADER, GOOD, "import time\nwhile True:\n    try:\n        time.sleep(0.2)\n"
                                        "    except BaseException:\n        pass"),
    "cheater": notebook(HEADER, "def to_range(o, low, high):\n    return o", CHEAT, f'check("{EXERCISE}", to_range)'),
    "renamed": notebook(HEADER, GOOD.replace("to_range", "my_range")),
    "empty_json": "{}",
}


def digest(folder: Path) -> dict:
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in folder.iterdir()}


# Three groups graded at the same time, each with the limits its cases need: the endless cases use short
# limits, the others generous ones (so a slow, loaded machine does not turn a correct answer into a timeout).
GROUPS = {
    "normal": (["correct", "blank", "partial", "raising", "cheater", "renamed", "crashing", "empty_json",
                "not_a_notebook"],
               ["--timeout", "120", "--total-timeout", "300", "--jobs", "3"]),
    "looping": (["looping"], ["--timeout", "20", "--total-timeout", "300"]),
    "killed": (["stubborn"], ["--timeout", "5", "--total-timeout", "12"]),
}


def _grade_group(root, group, names, options):
    folder = root / group / "submissions"
    folder.mkdir(parents=True)
    for name in names:
        if name in SUBMISSIONS:
            (folder / f"{name}.ipynb").write_text(SUBMISSIONS[name], encoding="utf-8")
        else:
            shutil.copy(FIXTURES / f"{name}.ipynb", folder)
    before = digest(folder)
    out = root / group / "grades.csv"
    assert grading.main([str(folder), "--out", str(out), "--chapter", "regression", *options]) == 0
    with out.open(newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    with out.with_name("grades_details.csv").open(newline="") as f:
        details = {r["student"]: r for r in csv.DictReader(f) if r["exercise"] == EXERCISE}
    return rows, details, before, digest(folder)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from concurrent.futures import ThreadPoolExecutor

    root = tmp_path_factory.mktemp("grading")
    with ThreadPoolExecutor(len(GROUPS)) as pool:
        parts = list(pool.map(lambda item: _grade_group(root, item[0], *item[1]), GROUPS.items()))
    rows, details, before, after = {}, {}, {}, {}
    for r, d, b, a in parts:
        rows.update(r), details.update(d), before.update(b), after.update(a)
    return rows, details, before, after


def test_one_row_per_submission_with_exercise_total_and_reason(graded):
    rows, _, _, _ = graded
    assert set(rows) == set(SUBMISSIONS) | {"not_a_notebook"}
    # One column per exercise of the regression chapter, in the master notebook's order; the fixtures answer only
    # the first one, so the second scores 0 everywhere.
    assert list(next(iter(rows.values()))) == ["student", EXERCISE, "regression.fixed_mse", "total", "reason"]
    assert all(row["regression.fixed_mse"] == "0" for row in rows.values())


@pytest.mark.parametrize("student, points, status", [
    ("correct", "1", "PASSED"), ("blank", "0", "NOT ATTEMPTED"), ("partial", "0", "FAILED"),
    ("raising", "1", "PASSED"), ("looping", "1", "PASSED"), ("cheater", "0", "FAILED"),
    ("renamed", "0", "NOT ATTEMPTED"),
])
def test_graded_statuses(graded, student, points, status):
    rows, details, _, _ = graded
    assert rows[student][EXERCISE] == points and rows[student]["total"] == points
    assert details[student]["status"] == status, details[student]


def test_reasons_name_what_happened(graded):
    rows, _, _, _ = graded
    assert rows["correct"]["reason"] == ""
    assert "cell 1 RuntimeError" in rows["raising"]["reason"]
    assert "cell 1 timed out after 20 s" in rows["looping"]["reason"]
    assert "patches the checker" in rows["cheater"]["reason"]
    assert "kernel died" in rows["crashing"]["reason"] and rows["crashing"]["total"] == "0"
    assert "longer than 12 s" in rows["stubborn"]["reason"] and rows["stubborn"]["total"] == "0"
    for name in ("not_a_notebook", "empty_json"):
        assert rows[name]["total"] == "0" and "not a readable notebook" in rows[name]["reason"]


def test_feedback_never_contains_expected_values(graded):
    _, details, _, _ = graded
    assert "NaN" in details["partial"]["message"]


def test_submissions_are_never_modified(graded):
    _, _, before, after = graded
    assert before == after


def test_summary_lists_every_student(graded):
    rows, _, _, _ = graded
    ids = [EXERCISE]
    table = grading.summary(ids, [grading.Row(s, {EXERCISE: ("PASSED", "")}, ["03_regression"]) for s in rows])
    for student in rows:
        assert student in table


def test_master_chapters_know_the_regression_answer():
    chapters = grading.master_chapters()
    assert (EXERCISE, "to_range") in chapters["03_regression"].exercises


def test_chapter_detection_from_metadata_or_check_calls():
    chapters = grading.master_chapters()
    with_meta = nbformat.reads(notebook(HEADER), as_version=4)
    from_call = nbformat.reads(notebook(HEADER, f'check("{EXERCISE}", to_range)', chapter=False), as_version=4)
    nothing = nbformat.reads(notebook(HEADER, chapter=False), as_version=4)
    assert grading.detect_chapters(with_meta, chapters) == ["03_regression"]
    assert grading.detect_chapters(from_call, chapters) == ["03_regression"]
    assert grading.detect_chapters(nothing, chapters) == []
