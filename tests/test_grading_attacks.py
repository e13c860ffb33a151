"""The red team's attacks on the grader (issue "Grades an instructor can trust"), each a regression test.

Every hostile notebook below scored full marks, or stopped the whole class's grading, on the grader
that ran each notebook's cells in a kernel and read the probe's JSON files back from the box. One
folder holds them all, with honest notebooks around them, and is graded once (module fixture,
`--jobs 2`); each test reads its rows. Where an attack needs a reference answer's outputs (the
seed-0 table), the test computes them with the checker's own plan.

Attacks: a forged probe record (the original one, and one written to the runner's pipe), a table of
the notebook's seed-0 outputs, 13 obfuscated ways to reach a forbidden function, probe detection,
the in-place detector switched off, a chapter-3 notebook without metadata adding chapter-2 answers,
a deep directory tree, FIFOs, lone surrogates, a root-only file read into an exception message,
a killed runner, colliding file names, leftovers in /tmp, and tmpfs memory.
"""
import csv
import os
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from course_pkg.homework import grading, sandbox
from course_pkg.homework.student import METADATA_KEY

ROOT = Path(__file__).resolve().parents[1]
REG1, REG2 = "regression.scale_to_range", "regression.fixed_mse"
HEADER = "import torch\nfrom course_pkg.homework import check"
GOOD = "def to_range(o, low, high):\n    return low + (high - low) * torch.sigmoid(o)"
GOOD_MSE = "def fixed_mse(pred, target):\n    return ((pred.reshape(-1) - target) ** 2).mean()"
STUB = "def to_range(o, low, high):\n    raise NotImplementedError('Exercise regression.scale_to_range')"
CHECKS = f'check("{REG1}", to_range)\ncheck("{REG2}", fixed_mse)'


def notebook(*cells, chapter="03_regression"):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    if chapter is not None:
        nb.metadata[METADATA_KEY] = {"chapter": chapter}
    return nbformat.writes(nb)


# --------------------------------------------------------------------------- forged records

FORGED_RECORD = """\
import json, os, sys
hw = sys.modules["course_pkg.homework"]
from course_pkg.homework import probe
plan = json.load(open("/tmp/box/plan.json"))
refs = hw.load_all()
for n, spec in enumerate(plan["exercises"]):
    record = probe.probe_exercise(refs[spec["id"]].reference, spec)
    with open(f"/tmp/box/out/{n}.json", "w") as f:
        json.dump(record, f)
    os.mkdir(f"/tmp/box/out/{n}.json.tmp")"""

FORGED_PIPE = """\
if True:
    import json, os
    fake = {"format": 1, "answer": {"kind": "callable"}, "calls": []}
    for fd in range(3, 64):
        try:
            os.write(fd, (json.dumps({"defined": True, "errors": []}) + "\\n" + json.dumps(fake) + "\\n").encode())
        except OSError:
            pass
    def fixed_mse(pred, target):
        return pred"""

# --------------------------------------------------------------------------- forbidden functions, obfuscated

SCALE = "from course_pkg.transforms import scale_to_range"
OBFUSCATED = {  # name -> (chapter, exercise id, cells)
    "def_in_if": ("03_regression", REG1, [SCALE, "if True:\n    def to_range(o, low, high):\n"
                                                 "        return scale_to_range(o, low, high)"]),
    "def_in_for": ("03_regression", REG1, [SCALE, "for _ in range(1):\n    def to_range(o, low, high):\n"
                                                  "        return scale_to_range(o, low, high)"]),
    "bound_by_call": ("03_regression", REG1, [SCALE, "f = (lambda: scale_to_range)()",
                                              "def to_range(o, low, high):\n    return f(o, low, high)"]),
    "bound_by_subscript": ("03_regression", REG1, [SCALE, "f = [scale_to_range][0]",
                                                   "def to_range(o, low, high):\n    return f(o, low, high)"]),
    "global_dead_store": ("03_regression", REG1, [
        SCALE, "f = None", "def setup():\n    global f\n    f = scale_to_range", "setup()",
        "def to_range(o, low, high):\n    return f(o, low, high)"]),
    "sys_modules": ("03_regression", REG1, [
        "import sys", "def to_range(o, low, high):\n    import course_pkg.losses  # loads the transforms too\n"
        "    return getattr(sys.modules['course_' + 'pkg.transforms'], 'scale_to_range')(o, low, high)"]),
    "pickle": ("03_regression", REG1, [
        "import _pickle", "f = _pickle.loads(b'c' + b'course_pkg.trans' + b'forms\\nscale_to_range\\n.')",
        "def to_range(o, low, high):\n    return f(o, low, high)"]),
    # (F.normalize itself no longer passes distance.l2_normalize: it returns NaN for a float16 zero row)
    "module_dict": ("06_multiclass_classification", "multiclass.log_softmax", [
        "import torch\nimport torch.nn.functional as F", "def my_log_softmax(o, dim=-1):\n"
        "    return F.__dict__['log_softmax'](o, dim=dim)"]),
    "package_dict": ("10_structured_outputs", "structured.sparsemax", [
        "import torch\nimport course_pkg.transforms", "def my_sparsemax(o):\n"
        "    return course_pkg.transforms.__dict__['sparse' + 'max'](o)"]),
    "computed_getattr": ("09_predicting_distributions", "distributions.gaussian_nll", [
        "import torch\nimport torch.nn.functional as F", "def my_gaussian_nll(mean, var, target):\n"
        "    return getattr(F, 'gaussian_' + 'nll_loss')(mean, target, var)"]),
    "aten_cross_entropy": ("06_multiclass_classification", "multiclass.cross_entropy", [
        "import torch", "def my_cross_entropy(logits, target):\n"
        "    return torch.ops.aten.cross_entropy_loss(logits, target)"]),
    "aten_bce": ("05_binary_classification", "binary.bce_with_logits", [
        "import torch", "def my_bce_with_logits(logits, target):\n    if logits.shape != target.shape:\n"
        "        raise ValueError('logits and target must have the same shape')\n"
        "    return torch.ops.aten.binary_cross_entropy_with_logits(logits, target)"]),
    "private_log_softmax": ("06_multiclass_classification", "multiclass.log_softmax", [
        "import torch", "def my_log_softmax(o, dim=-1):\n    return torch._log_softmax(o, dim, False)"]),
}

PROBE_DETECTION = """\
import sys
def to_range(o, low, high):
    if '__course_pkg_probe' in vars(sys.modules['__main__']):
        return getattr(sys.modules['course_' + 'pkg.transforms'], 'scale_to_' + 'range')(o, low, high)
    return o"""

IN_PLACE_SWITCHED_OFF = """\
if True:
    torch.__dict__.update(equal=lambda a, b: True)
    def fixed_mse(pred, target):
        target.data.mul_(0.5)   # changes the caller's tensor
        return ((pred.reshape(-1) - 2 * target) ** 2).mean()"""

# --------------------------------------------------------------------------- denying the class its grades

DEEP_TREE = """\
if True:
    import os
    for base in ("/tmp", "/tmp/box", "/tmp/box/work", "."):
        try:
            os.chdir(base)
            for _ in range(3000):
                os.mkdir("d")
                os.chdir("d")
        except OSError:
            pass
    def fixed_mse(pred, target):
        return ((pred.reshape(-1) - target) ** 2).mean()"""

FIFOS = """\
if True:
    import os
    for path in ("/tmp/box/out/0.json", "/tmp/box/log.json", "/tmp/box/out/1.json", "/tmp/fifo", "fifo"):
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            if os.path.exists(path):
                os.remove(path)
            os.mkfifo(path)
            os.mkdir(path + ".tmp")   # so that nothing can replace the FIFO with a file
        except OSError:
            pass
    def fixed_mse(pred, target):
        return ((pred.reshape(-1) - target) ** 2).mean()"""

SURROGATE = """\
def fixed_mse(pred, target):
    raise ValueError("lone surrogate \\ud800 here")"""

SHADOW = """\
def fixed_mse(pred, target):
    try:
        line = open("/etc/shadow").readline()
    except OSError as err:
        line = f"unreadable ({type(err).__name__})"
    raise ValueError("shadow says " + line)"""

KILL_RUNNER = """\
if True:
    import os, signal
    os.kill(os.getppid(), signal.SIGKILL)
    def fixed_mse(pred, target):
        return ((pred.reshape(-1) - target) ** 2).mean()"""


def seed0_table() -> str:
    """A to_range that knows only the notebook's (seed 0) inputs: their outputs and derivatives, looked up."""
    import torch

    from course_pkg.homework import probe, replay
    from course_pkg.homework.registry import load_all
    from course_pkg.transforms import scale_to_range
    spec = replay.plan_exercise(load_all()[REG1], seed=0)
    table = {}
    for call in spec["calls"]:
        o, low, high = (probe.decode(a) for a in call["args"])
        x = o.clone().requires_grad_(True)
        y = scale_to_range(x, low, high)
        (g,) = torch.autograd.grad(y.sum(), x)
        table[repr((o.tolist(), low, high))] = (y.tolist(), g.tolist(), str(o.dtype))
    return f"""\
TABLE = {table!r}
def to_range(o, low, high):
    hit = TABLE.get(repr((o.tolist(), low, high)))
    if hit is None:
        return o
    dtype = o.dtype
    y, g = torch.tensor(hit[0], dtype=dtype), torch.tensor(hit[1], dtype=dtype)
    return y + (o - o.detach()) * g"""


def chapter2_answers() -> list:
    return ["def ste_threshold(o):\n    hard = (o > 0).to(o.dtype)\n    soft = torch.sigmoid(o)\n"
            "    return hard + (soft - soft.detach())",
            "def prob_above(o, at=0.0, temperature=1.0):\n    return torch.sigmoid((o - at) / temperature)",
            'check("trainability.ste_threshold", ste_threshold)\ncheck("trainability.prob_above", prob_above)']


def build(folder: Path) -> dict:
    """The attack folder: file name -> notebook text (also written), plus the obfuscated ones' exercise ids."""
    honest = notebook(HEADER, GOOD, GOOD_MSE, CHECKS)
    files = {
        "honest.ipynb": honest,
        "honest_2.ipynb": honest,
        "forged_record.ipynb": notebook(HEADER, STUB, GOOD_MSE.replace("fixed_mse", "unused"), CHECKS, FORGED_RECORD),
        "forged_pipe.ipynb": notebook(HEADER, GOOD, FORGED_PIPE, CHECKS),
        "seed0_table.ipynb": notebook(HEADER, seed0_table(), GOOD_MSE, CHECKS),
        "probe_detection.ipynb": notebook(HEADER, PROBE_DETECTION, GOOD_MSE, CHECKS),
        "in_place_off.ipynb": notebook(HEADER, GOOD, IN_PLACE_SWITCHED_OFF, CHECKS),
        "two_chapters.ipynb": notebook(HEADER, GOOD, GOOD_MSE, CHECKS, *chapter2_answers(), chapter=None),
        "deep_tree.ipynb": notebook(HEADER, GOOD, DEEP_TREE, CHECKS),
        "fifos.ipynb": notebook(HEADER, GOOD, FIFOS, CHECKS),
        "surrogate.ipynb": notebook(HEADER, GOOD, SURROGATE, CHECKS),
        "shadow.ipynb": notebook(HEADER, GOOD, SHADOW, CHECKS),
        "kill_runner.ipynb": notebook(HEADER, GOOD, KILL_RUNNER, CHECKS),
        "bob": honest, "bob.ipynb": honest, "bob (2).ipynb": honest,   # three files, three rows
    }
    for name, (chapter, _, cells) in OBFUSCATED.items():
        files[f"obf_{name}.ipynb"] = notebook(*cells, chapter=chapter)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    os.mkfifo(folder / "a_fifo.ipynb")   # a FIFO among the submissions: a row, never an open() that blocks
    return files


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    works, why = sandbox.status()
    if not works:
        pytest.fail(f"the grading sandbox cannot run here: {why}")
    root = tmp_path_factory.mktemp("attacks")
    folder = root / "submissions"
    folder.mkdir()
    build(folder)
    out = root / "out" / "grades.csv"
    private = root / "tmp"   # the grader's temporary folder for this run: must be empty afterwards
    private.mkdir()
    saved, tempfile.tempdir = tempfile.tempdir, str(private)
    try:
        code = grading.main([str(folder), "--out", str(out), "--jobs", "2", "--timeout", "20",
                             "--total-timeout", "120"])
    finally:
        tempfile.tempdir = saved
    with out.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header, rows = reader.fieldnames, {r["student"]: r for r in reader}
    details = {}
    with out.with_name("grades_details.csv").open(newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            details.setdefault(r["student"], {})[r["exercise"]] = r
    return {"code": code, "header": header, "rows": rows, "details": details, "left": set(os.listdir(private)),
            "raw": out.with_name("grades_details.csv").read_bytes()}


def status(attacked, student, exercise):
    return attacked["details"][student][exercise]["status"]


def test_the_class_gets_its_csv_with_a_row_per_file(attacked):
    assert attacked["code"] == 0
    expected = {name[: -len(".ipynb")] if name.endswith(".ipynb") else name for name in
                ["honest", "honest_2", "forged_record", "forged_pipe", "seed0_table", "probe_detection",
                 "in_place_off", "two_chapters", "deep_tree", "fifos", "surrogate", "shadow", "kill_runner",
                 "a_fifo"] + [f"obf_{n}" for n in OBFUSCATED]}
    assert expected <= set(attacked["rows"]), sorted(attacked["rows"])
    assert "not a regular file" in attacked["rows"]["a_fifo"]["reason"]


@pytest.mark.parametrize("student", ["honest", "honest_2", "bob", "bob (2)", "bob (3)"])
def test_honest_notebooks_get_full_marks(attacked, student):
    row = attacked["rows"][student]
    assert row["total"] == "2" and row["reason"] == "", row


def test_colliding_file_names_get_distinct_rows():
    rows = [grading.Row(n) for n in ("bob", "bob", "bob (2)", "bob (2)")]
    grading.unique_names(rows)
    names = [r.student for r in rows]
    assert len(set(names)) == 4 and names[0] == "bob" and names[2] == "bob (2)", names


def test_a_forged_probe_record_is_never_read(attacked):
    assert status(attacked, "forged_record", REG1) == "NOT ATTEMPTED"
    assert status(attacked, "forged_record", REG2) == "NOT ATTEMPTED"
    assert attacked["rows"]["forged_record"]["total"] == "0"


def test_a_record_written_to_the_runners_pipe_is_rejected(attacked):
    assert status(attacked, "forged_pipe", REG2) == "ERROR"
    assert "wrote to the grader's channel" in attacked["rows"]["forged_pipe"]["reason"]
    assert status(attacked, "forged_pipe", REG1) == "PASSED"


def test_a_table_of_the_notebooks_seed0_outputs_fails(attacked):
    assert status(attacked, "seed0_table", REG1) == "FAILED", attacked["details"]["seed0_table"]


def test_the_seed_table_passes_in_the_notebook_so_the_fresh_seed_is_what_stops_it():
    namespace = {}
    exec("import torch\n" + seed0_table(), namespace)
    from course_pkg.homework import check_quietly
    assert check_quietly(REG1, namespace["to_range"]).passed


def test_a_fresh_seed_reaches_the_checker_in_a_worker_thread():
    import json
    from concurrent.futures import ThreadPoolExecutor

    from course_pkg.homework import replay
    from course_pkg.homework.registry import load_all
    ex = load_all()[REG1]
    with ThreadPoolExecutor(1) as pool:
        fresh = pool.submit(replay.plan_exercise, ex, 12345).result()
    notebook_inputs = replay.plan_exercise(ex, seed=0)
    # some call's inputs differ (the exercise's fixed cases, such as an o = 0 diagnosis, stay the same)
    assert [json.dumps(c["args"]) for c in fresh["calls"]] != [json.dumps(c["args"]) for c in notebook_inputs["calls"]]


@pytest.mark.parametrize("name", sorted(OBFUSCATED))
def test_obfuscated_forbidden_functions_do_not_pass(attacked, name):
    _, exercise_id, _ = OBFUSCATED[name]
    row = attacked["rows"][f"obf_{name}"]
    assert status(attacked, f"obf_{name}", exercise_id) != "PASSED", (row, attacked["details"][f"obf_{name}"])
    assert row["total"] == "0"


@pytest.mark.parametrize("name, words", [
    ("def_in_if", "course_pkg.transforms.scale_to_range"), ("bound_by_call", "course_pkg.transforms.scale_to_range"),
    ("sys_modules", "course_pkg.transforms"), ("pickle", "course_pkg.transforms"),
    ("module_dict", "log_softmax (as aten::_log_softmax)"), ("package_dict", "course_pkg"),
    ("computed_getattr", "torch.nn.functional.gaussian_nll_loss"),
    ("aten_cross_entropy", "torch.nn.functional.cross_entropy"),
    ("aten_bce", "binary_cross_entropy_with_logits (as aten::binary_cross_entropy_with_logits)"),
    ("private_log_softmax", "log_softmax (as aten::_log_softmax)"),
], ids=lambda value: value if value in OBFUSCATED else "")   # no "::" in test ids: xdist's loadscope splits on it
def test_the_forbidden_function_is_named_however_it_was_reached(attacked, name, words):
    _, exercise_id, _ = OBFUSCATED[name]
    assert status(attacked, f"obf_{name}", exercise_id) == "FLAGGED"
    assert words in attacked["rows"][f"obf_{name}"]["reason"], attacked["rows"][f"obf_{name}"]


def test_the_student_check_cannot_detect_the_probe(attacked):
    assert status(attacked, "probe_detection", REG1) == "FAILED"
    assert "sys (the sys module)" in attacked["rows"]["probe_detection"]["reason"]


def test_the_in_place_detector_cannot_be_switched_off(attacked):
    detail = attacked["details"]["in_place_off"][REG2]
    assert detail["status"] == "FAILED" and "in place" in detail["message"], detail


def test_a_submission_is_graded_only_against_its_own_chapter(attacked):
    row = attacked["rows"]["two_chapters"]
    assert row["total"] == "2", row
    assert not any(column.startswith("trainability.") for column in attacked["header"]), attacked["header"]


@pytest.mark.parametrize("student", ["deep_tree", "fifos"])
def test_trees_and_fifos_in_the_sandbox_cost_nothing(attacked, student):
    """The class gets its CSV; the notebook's other answer is graded; the one whose code made them is FLAGGED (os)."""
    assert status(attacked, student, REG1) == "PASSED"
    assert status(attacked, student, REG2) == "FLAGGED" and "os (the os module)" in attacked["rows"][student]["reason"]


def test_no_folder_is_left_in_tmp(attacked):
    assert attacked["left"] == set()


def test_a_lone_surrogate_is_escaped_in_the_details(attacked):
    detail = attacked["details"]["surrogate"][REG2]
    assert detail["status"] == "ERROR" and "\\ud800" in detail["message"], detail
    attacked["raw"].decode("utf-8")   # the whole file is valid UTF-8


def test_csv_escapes_surrogates_controls_and_formulas(tmp_path):
    row = grading.Row("=cmd\ud800", {REG1: ("FAILED", "-1 \udcff\x1b[31m")}, ["03_regression"], ["\ud800 reason"])
    details = grading.write_csv(tmp_path / "g.csv", [REG1], [row])
    text = (tmp_path / "g.csv").read_text(encoding="utf-8") + details.read_text(encoding="utf-8")
    assert "'=cmd\\ud800" in text and "'-1 \\udcff\\x1b[31m" in text and "\\ud800 reason" in text


def test_root_only_files_stay_unreadable(attacked):
    detail = attacked["details"]["shadow"][REG2]
    assert "unreadable (PermissionError)" in detail["message"] and "root:" not in detail["message"], detail


def test_a_killed_runner_says_so(attacked):
    row = attacked["rows"]["kill_runner"]
    assert status(attacked, "kill_runner", REG1) == "PASSED"
    assert status(attacked, "kill_runner", REG2) == "ERROR"
    assert "sandbox was killed" in attacked["details"]["kill_runner"][REG2]["message"]
    assert "stopped: the sandbox was killed" in row["reason"], row


def test_the_sandbox_runs_as_an_unprivileged_user():
    result = sandbox.run(["/bin/sh", "-c", "id -u; head -c 5 /etc/shadow && echo READ-IT"], timeout=60)
    uid = int(result["stdout"].split()[0])
    assert uid != 0 and "READ-IT" not in result["stdout"], result


def test_in_memory_folders_are_bounded_by_the_memory_limit():
    limits = sandbox.Limits(memory_bytes=1 << 30)
    script = ("for d in /tmp /dev/shm /run /home /var/tmp; do dd if=/dev/zero of=$d/fill bs=1M count=1200 "
              "2>/dev/null; done; du -cks /tmp/fill /dev/shm/fill /run/fill /home/fill /var/tmp/fill "
              "2>/dev/null | tail -1")
    result = sandbox.run(["/bin/sh", "-c", script], timeout=120, limits=limits)
    written_kib = int(result["stdout"].split()[0])
    assert written_kib * 1024 <= limits.memory_bytes // 4 + (8 << 20), result
    assert sum(sandbox.tmpfs_bytes(limits).values()) <= limits.memory_bytes // 4


def test_one_notebook_entry_point(tmp_path):
    path = tmp_path / "alice.ipynb"
    path.write_text(notebook(HEADER, GOOD, "def fixed_mse(pred, target):\n    return pred", CHECKS), encoding="utf-8")
    result = grading.grade_notebook(path)
    assert result["chapter"] == "03_regression" and result["total"] == 1 and result["max"] == 2
    assert result["exercises"][REG1]["status"] == "PASSED"
    assert result["exercises"][REG2]["status"] == "FAILED" and result["exercises"][REG2]["message"]


if __name__ == "__main__":  # write the attack folder, e.g. to grade it with another version of the grader
    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    build(target)
