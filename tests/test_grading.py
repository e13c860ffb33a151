"""The grader, with the sandbox on, on a folder of honest and hostile submissions of the regression chapter
(book/03_regression.ipynb: `regression.scale_to_range` answered by `to_range`, `regression.fixed_mse` by
`fixed_mse`).

One folder is graded once (module fixture, in parallel with a second folder holding the notebook that ignores
interrupts); each test then reads the rows. Every hostile submission below reproduces an attack that beat the
grader before it ran submissions in a sandbox and judged outside the kernel (issue 11): rewriting the checker
through `course_pkg.__file__`, replacing a classmate's notebook, injecting a submission, appending to the CSV,
a detached process rewriting grades.csv after the grader exits, patching torch.isclose/allclose/json/open,
a sys.meta_path hook, reading the reference from the checker's frames, a Tensor subclass that fakes
comparisons, suspicious code in the Colab set-up cell, a disarmed time limit, in-place modification, the
reference imported as the answer, and files that stopped the run (an int `source`, a list-valued chapter,
a non-UTF-8 name, a hidden file, not JSON, huge outputs). Since the grader runs only each answer's own
definitions, most of these attacks now never run at all; where a test needs the attack to run (the files
attack, the endless loop, the crash), the hostile code sits inside what an answer uses.
The red team's later attacks are in tests/test_grading_attacks.py."""
import csv
import hashlib
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from course_pkg.homework import grading, sandbox
from course_pkg.homework.student import METADATA_KEY

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "submissions"
EX1, EX2 = "regression.scale_to_range", "regression.fixed_mse"

HEADER = "import torch\nfrom course_pkg.homework import check"
GOOD = "def to_range(o, low, high):\n    return low + (high - low) * torch.sigmoid(o)"
GOOD_MSE = "def fixed_mse(pred, target):\n    return ((pred.reshape(-1) - target) ** 2).mean()"
WRONG = "def to_range(o, low, high):\n    return o"
STUB = ("def to_range(o, low, high):\n"
        "    raise NotImplementedError('Exercise regression.scale_to_range: replace this line')")
WRONG_GRAD = "def to_range(o, low, high):\n    return low + (high - low) / (1 + torch.exp(-o))"
CHECKS = f'check("{EX1}", to_range)\ncheck("{EX2}", fixed_mse)'
CHEAT = """\
import course_pkg.homework as hw
from course_pkg.homework import checking
hw.check_quietly = lambda i, a: hw.CheckResult(i, hw.Status.PASSED, "")
checking.run_checker = lambda i, c, a, time_limit: checking.CheckResult(i, checking.Status.PASSED, "")
def check(*args):
    print("[PASSED] regression.scale_to_range")
print('{"results": {"regression.scale_to_range": ["PASSED", ""]}}')"""


def notebook(*cells, chapter="03_regression", tags=None):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    for i, cell_tags in (tags or {}).items():
        nb.cells[i].metadata["tags"] = cell_tags
    if chapter is not None:
        nb.metadata[METADATA_KEY] = {"chapter": chapter}
    return nbformat.writes(nb)


def attack_files(paths):
    """Everything a notebook could do to the files around it, with the exact paths handed to it."""
    return f"""\
import os, subprocess, course_pkg, course_pkg.homework.checking as chk
paths = {paths!r}
done = []
def attempt(what, fn):
    try:
        fn(); done.append(what)
    except Exception as err:
        pass
attempt("checker", lambda: open(chk.__file__, "a").write("\\n# hacked\\n"))
attempt("exercise", lambda: open(os.path.join(os.path.dirname(chk.__file__), "exercises", "zz_hacked.py"), "w").write("x = 1"))
attempt("classmate", lambda: open(paths["classmate"], "w").write("{{}}"))
attempt("inject", lambda: open(os.path.join(paths["folder"], "injected.ipynb"), "w").write("{{}}"))
attempt("csv", lambda: open(paths["csv"], "a").write("mallory,1,1,2,\\n"))
def copy():  # take a classmate's answer
    import json
    for c in json.load(open(paths["classmate"]))["cells"]:
        src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        if src.startswith("def to_range"):
            exec(src, globals())
attempt("copy", copy)
attempt("daemon", lambda: subprocess.Popen(["/bin/sh", "-c", "sleep 4; echo hacked > " + paths["csv"]
                                          + "; echo hacked > " + paths["marker"]], start_new_session=True))
attempt("host", lambda: open(paths["host"], "w").write("x"))
print(done)"""


PATCH_ISCLOSE = """\
import torch
torch.isclose = lambda *a, **k: torch.ones(torch.broadcast_shapes(a[0].shape, a[1].shape), dtype=torch.bool)
torch.allclose = lambda *a, **k: True
torch.Tensor.__eq__ = lambda self, other: torch.ones(self.shape, dtype=torch.bool)"""

PATCH_JSON = """\
import json, builtins
fake = '{"results": {"regression.scale_to_range": ["PASSED", ""]}, "format": 1, "calls": []}'
json.dump = lambda obj, f, *a, **k: f.write(fake)
json.dumps = lambda obj, *a, **k: fake
real_open = builtins.open
open = lambda *a, **k: real_open(*a, **k)"""

META_PATH = """\
import sys, types
class Hook:
    def find_spec(self, name, path=None, target=None):
        if name.startswith("course_pkg.homework"):
            import importlib.machinery
            return importlib.machinery.ModuleSpec(name, self)
    def create_module(self, spec):
        m = types.ModuleType(spec.name)
        m.check_quietly = lambda i, a: None
        m.__path__ = []
        return m
    def exec_module(self, module):
        pass
sys.meta_path.insert(0, Hook())
for name in [m for m in sys.modules if m.startswith("course_pkg.homework")]:
    del sys.modules[name]"""

FRAMES = """\
import sys
def to_range(o, low, high):
    frame = sys._getframe(1)
    while frame is not None:
        for key in ("reference", "expected"):
            ref = frame.f_locals.get(key)
            if callable(ref):
                return ref(o, low, high)
        frame = frame.f_back
    return o"""

SUBCLASS = """\
import torch
class Liar(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("isclose", "eq", "__eq__", "equal", "allclose"):
            return True if name in ("equal", "allclose") else torch.ones(args[0].shape, dtype=torch.bool)
        return super().__torch_function__(func, types, args, kwargs or {})
def to_range(o, low, high):
    return o.detach().as_subclass(Liar).requires_grad_(o.requires_grad)"""

DISARMED = """\
import signal, time
signal.signal = lambda *a, **k: None
signal.setitimer = lambda *a, **k: (0.0, 0.0)
def to_range(o, low, high):
    time.sleep(1000)"""

IN_PLACE_MSE = """\
def fixed_mse(pred, target):
    target.data.mul_(0.5)   # changes the caller's tensor
    return ((pred.reshape(-1) - 2 * target) ** 2).mean()"""

LIAR_MSE = SUBCLASS.split("def to_range")[0] + """\
def fixed_mse(pred, target):
    return (pred.reshape(-1) - target).abs().mean().as_subclass(Liar)"""

HONEST = {  # student name -> (notebook text, points)
    "correct": (notebook(HEADER, GOOD, GOOD_MSE, CHECKS), 2),
    # no chapter in the metadata (a list instead: found from the check calls), a raising cell, a cell whose
    # source is an int, float64 as default dtype, 8 MB of stored output and a cell printing 5 MB
    "messy": (None, 2),
    "looping": (notebook(HEADER, "while True:\n    pass", GOOD, GOOD_MSE), 2),
}

HOSTILE = {  # student name -> notebook text; each must score 0 (or be FLAGGED) on what it attacks
    "blank": notebook(HEADER, STUB, GOOD_MSE.replace("fixed_mse", "my_mse"), CHECKS),  # stub and renamed
    "partial": notebook(HEADER, WRONG_GRAD, IN_PLACE_MSE, CHECKS),
    "cheater": notebook(HEADER, WRONG, CHEAT, CHECKS),
    "crashing": notebook(HEADER, GOOD, "import os\ndef fixed_mse(pred, target):\n    os._exit(1)"),
    # patches in the Colab set-up cell, then an import hook replacing the checker's modules
    "patchers": notebook(PATCH_ISCLOSE, HEADER, WRONG, META_PATH, CHECKS, tags={0: ["colab-setup", "remove-cell"]}),
    "patch_json_open": notebook(HEADER, WRONG, PATCH_JSON, CHECKS),
    # the reference stolen from the checker's frames; a Tensor subclass that says it is close to anything
    "liars": notebook(HEADER, FRAMES, LIAR_MSE, CHECKS),
    "disarmed": notebook(HEADER, DISARMED, GOOD_MSE),
    "shortcut": notebook(HEADER, "from course_pkg.transforms import scale_to_range as to_range", GOOD_MSE),
    "attack_files": None,             # built below, with the real paths
}
ATTACKED = {"blank": (EX1, EX2), "partial": (EX1, EX2), "liars": (EX1, EX2), "disarmed": (EX1,), "crashing": (EX2,)}

NOT_NOTEBOOKS = {  # file name (bytes) -> content; each gets a row with a reason
    b"not_a_notebook.ipynb": None,    # the fixture file
    b"empty_json.ipynb": b"{}",
    b"not_json.ipynb": b"\x00\xff\xfe garbage",
    b".hidden.ipynb": b"hidden",
    b"caf\xe9.ipynb": b"latin-1 name",
    b"=HYPERLINK(1).ipynb": b"formula",
}


def digest(folder: Path) -> dict:
    out = {}
    for dirpath, _, files in os.walk(os.fsencode(folder)):
        for name in files:
            p = os.path.join(dirpath, name)
            with open(p, "rb") as f:
                out[os.fsdecode(p)] = hashlib.sha256(f.read()).hexdigest()
    return out


def repo_digest() -> dict:
    tracked = subprocess.run(["git", "ls-files", "-z", "course_pkg", "book", "tests", "tools"], cwd=ROOT,
                             capture_output=True, check=True).stdout.split(b"\0")
    return {t: hashlib.sha256((ROOT / os.fsdecode(t)).read_bytes()).hexdigest() for t in tracked if t}


def _build_folder(root: Path) -> dict:
    folder = root / "submissions"
    folder.mkdir()
    out = root / "out" / "grades.csv"
    paths = {"folder": str(folder), "classmate": str(folder / "correct.ipynb"), "csv": str(out),
             "marker": str(root / "marker"), "host": f"/tmp/course-grading-was-here-{os.getpid()}-{time.time_ns()}"}
    texts = {name: text for name, (text, _) in HONEST.items() if text}
    texts.update({name: text for name, text in HOSTILE.items() if text})
    attack = "if True:\n" + "".join("    " + line for line in attack_files(paths).splitlines(True))
    texts["attack_files"] = notebook(HEADER, "def to_range(o, low, high):\n    done  # runs the attack cell\n"
                                     "    return o", attack, CHECKS)
    messy = nbformat.reads(notebook(HEADER, "raise RuntimeError('oops')", "torch.set_default_dtype(torch.float64)",
                                    GOOD, GOOD_MSE, "for _ in range(5):\n    print('y' * 1_000_000)", CHECKS,
                                    chapter=["03_regression"]), as_version=4)
    messy.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 8_000_000)]
    data = json.loads(nbformat.writes(messy))
    data["cells"].insert(1, {**data["cells"][1], "source": 5})
    texts["messy"] = json.dumps(data)
    for name, text in texts.items():
        (folder / f"{name}.ipynb").write_text(text, encoding="utf-8")
    for name, content in NOT_NOTEBOOKS.items():
        path = os.path.join(os.fsencode(folder), name)
        with open(path, "wb") as f:
            f.write(content if content is not None else (FIXTURES / "not_a_notebook.ipynb").read_bytes())
    (folder / "a_folder").mkdir()
    return {"folder": folder, "out": out, "paths": paths}


@pytest.fixture(scope="session")
def sandbox_ready():
    """bubblewrap installed (apt-get, as make test does for the browser) and able to start a sandbox here."""
    if not sandbox.bwrap_path():
        sandbox.install_bwrap()
    works, why = sandbox.status()
    if not works:
        pytest.fail(f"the grading sandbox cannot run here: {why}")


def _grade(folder: Path, out: Path, options: list) -> dict:
    assert grading.main([str(folder), "--out", str(out), *options]) == 0
    with out.open(newline="", encoding="utf-8") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    with out.with_name("grades_details.csv").open(newline="", encoding="utf-8") as f:
        details = {}
        for r in csv.DictReader(f):
            details.setdefault(r["student"], {})[r["exercise"]] = r
    return {"rows": rows, "details": details, "csv": out.read_bytes()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory, sandbox_ready):
    root = tmp_path_factory.mktemp("grading")
    built = _build_folder(root)
    stubborn = root / "stubborn"
    stubborn.mkdir()
    (stubborn / "stubborn.ipynb").write_text(notebook(
        HEADER, GOOD, "import time\nif True:\n    while True:\n        try:\n            time.sleep(0.2)\n"
        "        except BaseException:\n            pass\n    def fixed_mse(pred, target):\n        return pred"),
        encoding="utf-8")
    before = {"folder": digest(built["folder"]), "repo": repo_digest()}
    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        main = pool.submit(_grade, built["folder"], built["out"],
                           ["--timeout", "4", "--total-timeout", "150", "--jobs", "3"])
        slow = pool.submit(_grade, stubborn, root / "stubborn_out" / "grades.csv",
                           ["--timeout", "3", "--total-timeout", "20"])
        result, stubborn_result = main.result(), slow.result()
    result["seconds"] = time.monotonic() - started
    time.sleep(max(0.0, 6 - (time.monotonic() - started)))  # the detached writer would have struck by now
    result["after"] = {"folder": digest(built["folder"]), "repo": repo_digest(), "csv": built["out"].read_bytes()}
    result.update(before=before, built=built, stubborn=stubborn_result)
    return result


def test_every_file_gets_a_row(graded):
    rows = graded["rows"]
    expected = set(HONEST) | set(HOSTILE) | {"not_a_notebook", "empty_json", "not_json", ".hidden", "caf\\xe9",
                                             "'=HYPERLINK(1)", "a_folder"}
    assert set(rows) == expected
    assert list(next(iter(rows.values()))) == ["student", EX1, EX2, "total", "reason"]
    assert "hidden file" in rows[".hidden"]["reason"]
    assert "a folder" in rows["a_folder"]["reason"]
    for name in ("not_a_notebook", "empty_json", "not_json", "caf\\xe9", "'=HYPERLINK(1)"):
        assert rows[name]["total"] == "0" and "not a readable notebook" in rows[name]["reason"], rows[name]
    assert "source of type int" in rows["messy"]["reason"]


@pytest.mark.parametrize("student", sorted(HONEST))
def test_honest_submissions_get_full_marks(graded, student):
    row = graded["rows"][student]
    assert row["total"] == str(HONEST[student][1]), (row, graded["details"].get(student))


def test_reasons_name_what_happened(graded):
    rows = graded["rows"]
    assert rows["correct"]["reason"] == ""
    # only each answer's definitions run: a raising cell, an endless loop in a cell of its own, never run
    assert "RuntimeError" not in rows["messy"]["reason"] and rows["looping"]["reason"] == ""
    crashing = graded["details"]["crashing"]
    assert crashing[EX1]["status"] == "PASSED" and crashing[EX2]["status"] == "ERROR"
    assert "died" in crashing[EX2]["message"], crashing
    stubborn = graded["stubborn"]["rows"]["stubborn"]   # an endless loop that ignores interrupts, in a definition
    assert stubborn["total"] == "1" and stubborn[EX2] == "0", stubborn
    assert "did not finish within its time limit" in stubborn["reason"] or "ran longer than" in stubborn["reason"]


@pytest.mark.parametrize("student", sorted(HOSTILE))
def test_hostile_submissions_score_zero_on_the_attacked_exercise_or_are_flagged(graded, student):
    row, details = graded["rows"][student], graded["details"].get(student, {})
    for exercise_id in ATTACKED.get(student, (EX1,)):
        assert row[exercise_id] == "0", (row, details)
        assert details[exercise_id]["status"] != "PASSED", (student, details[exercise_id])


@pytest.mark.parametrize("student, fragment", [
    ("cheater", "assigns course_pkg.homework.check_quietly"), ("patchers", "cell 0: assigns torch.isclose"), ("patchers", "sys.meta_path"),
    ("patch_json_open", "assigns json.dump"), ("liars", "frame inspection"), ("liars", "subclasses torch.Tensor"),
    ("disarmed", "assigns signal.signal"), ("attack_files", "opens a file for writing"),
])
def test_tampering_is_flagged_in_the_reason(graded, student, fragment):
    assert fragment in graded["rows"][student]["reason"], graded["rows"][student]


def test_forbidden_shortcut_is_flagged_not_passed(graded):
    row, details = graded["rows"]["shortcut"], graded["details"]["shortcut"]
    assert details[EX1]["status"] == "FLAGGED" and row[EX1] == "0"
    assert "course_pkg.transforms.scale_to_range" in row["reason"]
    assert row[EX2] == "1"


def test_a_disarmed_time_limit_costs_only_its_exercise(graded):
    details = graded["details"]["disarmed"]
    assert details[EX1]["status"] == "ERROR" and "did not return" in details[EX1]["message"]
    assert details[EX2]["status"] == "PASSED"


def test_answers_are_judged_outside_the_kernel(graded):
    details = graded["details"]
    for student in ("patchers", "cheater"):
        assert details[student][EX1]["status"] == "FAILED", (student, details[student][EX1])
    assert details["liars"][EX1]["status"] in ("FAILED", "ERROR")        # no reference in any frame
    assert details["liars"][EX2]["status"] == "FAILED"                   # its real bytes are compared
    assert details["patch_json_open"][EX1]["status"] in ("FAILED", "ERROR")
    assert "Tensor subclass" in graded["rows"]["liars"]["reason"]


def test_in_place_modification_fails(graded):
    assert "in place" in graded["details"]["partial"][EX2]["message"]


def test_stub_and_renamed_answers_are_not_attempted(graded):
    details = graded["details"]["blank"]
    assert details[EX1]["status"] == details[EX2]["status"] == "NOT ATTEMPTED"
    assert "`fixed_mse` is not defined" in details[EX2]["message"]


def test_nothing_outside_the_sandboxes_changed(graded):
    before, after = graded["before"], graded["after"]
    assert after["repo"] == before["repo"], "a submission changed the repository"
    assert after["folder"] == before["folder"], "a submission changed the submissions folder"
    assert after["csv"] == graded["csv"], "something rewrote grades.csv after the grader exited"
    assert b"mallory" not in graded["csv"] and b"hacked" not in graded["csv"]
    assert not Path(graded["built"]["paths"]["marker"]).exists()
    assert not (ROOT / "course_pkg" / "homework" / "exercises" / "zz_hacked.py").exists()
    assert not Path(graded["built"]["paths"]["host"]).exists()   # the sandbox's /tmp is its own


def test_classmates_cannot_be_copied(graded):
    assert graded["details"]["attack_files"][EX1]["status"] == "FAILED"


def test_feedback_never_contains_expected_values(graded):
    assert "NaN" in graded["details"]["partial"][EX1]["message"]


def test_summary_lists_every_student(graded):
    rows = graded["rows"]
    table = grading.summary([EX1], [grading.Row(s, {EX1: ("PASSED", "")}, ["03_regression"]) for s in rows])
    for student in rows:
        assert student in table


# --------------------------------------------------------------------------- the sandbox itself, without a kernel

def _in_sandbox(tmp_path, code: str, **kw) -> tuple:
    result = sandbox.run([sys.executable, "-c", code], timeout=kw.pop("timeout", 60), **kw)
    return result, result["stdout"]


def test_sandbox_is_read_only_private_offline_and_leaves_no_process(tmp_path, sandbox_ready):
    secret = tmp_path / "submissions"
    secret.mkdir()
    (secret / "classmate.ipynb").write_text("answers")
    code = f"""
import os, socket, subprocess
def attempt(fn):
    try:
        fn(); return "yes"
    except Exception as err:
        return "no"
print("repo-write", attempt(lambda: open({str(ROOT / "README.md")!r}, "a")))
print("tmp-write", attempt(lambda: open("/tmp/x", "w").write("x")))
print("classmate", attempt(lambda: open({str(secret / "classmate.ipynb")!r}).read()))
print("network", attempt(lambda: socket.create_connection(("1.1.1.1", 53), timeout=2)))
print("pids", len([p for p in os.listdir("/proc") if p.isdigit()]))
subprocess.Popen(["/bin/sh", "-c", "sleep 31.4159"], start_new_session=True)
"""
    result, log = _in_sandbox(tmp_path, code, hide=(secret,))
    assert result["returncode"] == 0, log
    assert "repo-write no" in log and "tmp-write yes" in log and "classmate no" in log and "network no" in log
    assert int(log.split("pids ")[1].split()[0]) < 10, log
    for _ in range(50):  # the PID namespace's processes are killed when the sandbox ends
        left = subprocess.run(["pgrep", "-f", "^sleep 31.4159$"], capture_output=True).stdout
        if not left:
            break
        time.sleep(0.1)
    assert left == b"", left


def test_sandbox_puts_back_a_repository_that_lives_in_tmp(tmp_path, sandbox_ready, monkeypatch):
    """A clone in /tmp (where the sandbox mounts an empty /tmp) is visible, read-only, inside the sandbox."""
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / "checker.py").write_text("VERSION = 42\n")
    clone.chmod(0o755)
    (clone / "checker.py").chmod(0o644)
    assert str(clone).startswith("/tmp/"), clone
    roots = sandbox._python_roots()
    monkeypatch.setattr(sandbox, "_python_roots", lambda: sorted(roots + [clone]))
    code = f"""
print("read", open({str(clone / "checker.py")!r}).read().strip())
try:
    open({str(clone / "checker.py")!r}, "a"); print("write yes")
except OSError:
    print("write no")
"""
    result, log = _in_sandbox(tmp_path, code)
    assert result["returncode"] == 0, log
    assert "read VERSION = 42" in log and "write no" in log, log


def test_sandbox_limits_memory_and_file_size(tmp_path, sandbox_ready):
    code = """
try:
    x = bytearray(3 << 30)
    print("memory yes")
except MemoryError:
    print("memory no")
try:
    open("/tmp/big", "wb").write(b"x" * (2 << 20))
    print("file yes")
except OSError:
    print("file no")
"""
    result, log = _in_sandbox(tmp_path, code, limits=sandbox.Limits(memory_bytes=2 << 30, file_bytes=1 << 20))
    assert "memory no" in log and "file no" in log, log


def test_sandbox_is_killed_at_its_deadline(tmp_path, sandbox_ready):
    start = time.monotonic()
    result, _ = _in_sandbox(tmp_path, "import time\ntime.sleep(60)", timeout=2)
    assert result["killed"] and time.monotonic() - start < 15


def test_grader_refuses_without_a_sandbox_unless_told(tmp_path, monkeypatch, capsys):
    (tmp_path / "s").mkdir()
    monkeypatch.setattr(sandbox, "status", lambda: (False, "bwrap cannot start a sandbox: test"))
    assert grading.main([str(tmp_path / "s"), "--out", str(tmp_path / "g.csv")]) == 3
    assert "--no-sandbox" in capsys.readouterr().err
    assert grading.main([str(tmp_path / "s"), "--out", str(tmp_path / "g.csv"), "--no-sandbox"]) == 0
    assert "no isolation" in capsys.readouterr().err


# --------------------------------------------------------------------------- no sandbox needed

def test_master_chapters_know_the_regression_answer():
    chapters = grading.master_chapters()
    assert (EX1, "to_range") in chapters["03_regression"].exercises


def test_chapter_detection_from_metadata_or_check_calls():
    chapters = grading.master_chapters()
    with_meta = grading.read_submission(notebook(HEADER).encode())
    from_call = grading.read_submission(notebook(HEADER, f'check("{EX1}", to_range)', chapter=None).encode())
    listed = grading.read_submission(notebook(HEADER, chapter=["03_regression"]).encode())

    def detect(nb):
        return grading.detect_chapters({"metadata": nb["metadata"], "cells": [
            {"cell_type": c["type"], "source": c["source"]} for c in nb["cells"]]}, chapters)

    assert detect(with_meta) == ["03_regression"]
    assert detect(from_call) == ["03_regression"]
    assert detect(listed) == []


def test_honest_master_notebooks_are_not_flagged():
    from course_pkg.homework import extract, load_all, scan
    registry = load_all()
    for name, chapter in grading.master_chapters().items():
        nb = nbformat.read(ROOT / "book" / f"{name}.ipynb", as_version=4)
        sources = [c.source for c in nb.cells if c.cell_type == "code"]
        assert scan.tampering(sources, trusted={chapter.colab}) == [], name
        for exercise_id, answer in chapter.exercises:
            assert scan.forbidden_uses(sources, answer, registry[exercise_id].forbidden) == [], exercise_id
            program = extract.answer_program(sources, answer)
            assert program.statements, exercise_id
            assert extract.findings(program, registry[exercise_id].forbidden) == ([], []), exercise_id


def test_readable_names():
    assert grading.readable_name(os.fsdecode(b"caf\xe9")) == "caf\\xe9"
    assert grading.readable_name("a\nb") == "a\\x0ab"
    assert grading.readable_name("+1") == "'+1"
    assert grading.readable_name("élève") == "élève"


def test_probe_records_round_trip_exactly():
    import math

    import torch

    from course_pkg.homework import probe
    t = torch.tensor([float("nan"), float("inf"), -float("inf"), -0.0, 1e-310, 3.0])
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        back = probe.decode(probe.encode(t.to(dtype)))
        assert back.dtype == dtype and torch.equal(back.view(-1).view(torch.uint8), t.to(dtype).view(-1).view(torch.uint8))
    assert probe.decode(probe.encode(torch.tensor([True, False]))).tolist() == [True, False]
    assert math.copysign(1, probe.decode(probe.encode(-0.0))) == -1
    assert probe.decode(probe.encode((1, "a", None, ...))) == (1, "a", None, ...)
    with pytest.raises(ValueError):
        probe.decode({"kind": "tensor", "dtype": "float32", "shape": [3], "data": "AAAA"})
