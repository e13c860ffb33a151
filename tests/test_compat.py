"""The Colab-like compatibility job (tools/compat.py, `make compat`, .github/workflows/compat.yml), kept honest
without running it: the lower bounds it tests are pyproject's, it installs what the Colab cell installs, and its
comparison flags a changed value, an error and a wrong verdict on small synthetic notebooks."""
import copy
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import compat  # noqa: E402
from refresh_notebooks import repository  # noqa: E402

WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "compat.yml").read_text())
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb")) + sorted((ROOT / "student").glob("*.ipynb"))
PATTERNS = compat.sanitize_patterns()


# ----------------------------------------------------------------------------- the job tests what pyproject says

def matrix():
    return WORKFLOW["jobs"]["compat"]["strategy"]["matrix"]["include"]


def test_pyproject_lower_bounds_are_the_versions_the_oldest_job_pins():
    bounds = compat.lower_bounds()
    for package in ("torch", "numpy", "matplotlib"):
        assert re.fullmatch(r"\d+\.\d+\.\d+", bounds.get(package, "")), \
            f"pyproject.toml needs an exact tested lower bound for {package}, e.g. {package}>=1.2.3: {bounds}"
    oldest = [entry for entry in matrix() if entry["config"] == "oldest"]
    assert len(oldest) == 1, "the compat workflow needs one 'oldest' matrix entry"
    assert sorted(oldest[0]["pins"].split()) == sorted(f"{p}=={bounds[p]}" for p in ("torch", "numpy", "matplotlib"))
    assert compat.config_pins("oldest") == [f"{p}=={bounds[p]}" for p in ("torch", "numpy", "matplotlib")]


def test_workflow_runs_both_configurations_on_python_312_with_the_make_target():
    assert sorted(e["config"] for e in matrix()) == ["newest", "oldest"]
    assert [e["pins"] for e in matrix() if e["config"] == "newest"] == [""]
    steps = WORKFLOW["jobs"]["compat"]["steps"]
    assert any(s.get("with", {}).get("python-version") == "3.12" for s in steps)
    runs = " ".join(s.get("run", "") for s in steps)
    assert 'make compat COMPAT=${{ matrix.config }} COMPAT_PINS="${{ matrix.pins }}"' in runs
    assert "GITHUB_STEP_SUMMARY" in runs
    triggers = WORKFLOW[True] if True in WORKFLOW else WORKFLOW["on"]   # YAML 1.1 reads the key `on` as True
    assert {"schedule", "workflow_dispatch", "push"} <= set(triggers)
    assert {"course_pkg/**", "book/**", "pyproject.toml"} <= set(triggers["push"]["paths"])
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^compat:\n\t\$\(PYTHON\) tools/compat.py --config \$\(COMPAT\)", makefile, re.M)


def test_oldest_config_refuses_pins_that_are_not_the_lower_bounds(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["torch>=2.2.0", "matplotlib>=3.8.0,<4", '
                         '"numpy >=1.26.0", "tqdm"]\n')
    assert compat.lower_bounds(pyproject) == {"torch": "2.2.0", "matplotlib": "3.8.0", "numpy": "1.26.0"}
    assert compat.config_pins("oldest", pyproject=pyproject) == ["torch==2.2.0", "numpy==1.26.0", "matplotlib==3.8.0"]
    with pytest.raises(SystemExit, match="lower bounds"):
        compat.config_pins("oldest", "torch==2.3.0 numpy==1.26.0 matplotlib==3.8.0", pyproject=pyproject)
    assert compat.config_pins("newest") == ["torch"]
    with pytest.raises(SystemExit, match="needs --pins"):
        compat.config_pins("other")
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["torch", "numpy>=1.26.0", "matplotlib>=3.8.0"]\n')
    with pytest.raises(SystemExit, match="no lower bound .* torch"):
        compat.config_pins("oldest", pyproject=pyproject)


# ----------------------------------------------------------------------------- it installs what Colab installs

@pytest.mark.parametrize("path", NOTEBOOKS, ids=[f"{p.parent.name}/{p.name}" for p in NOTEBOOKS])
def test_colab_cell_installs_from_the_configured_repository(path):
    url, branch = repository()
    args = compat.colab_pip_args(compat.json.loads(path.read_text()))
    assert args == ["install", "-q", f"git+{url}@{branch}"]
    assert compat.git_requirement(args) == (url, branch)
    assert compat.local_pip_args(args, "file:///repo", "abc123") == ["install", "-q", "git+file:///repo@abc123"]


def test_colab_cell_must_come_first():
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": "print(1)"}]}
    with pytest.raises(ValueError, match="colab-setup"):
        compat.colab_pip_args(nb)


def test_notebooks_run_without_the_numerical_environment():
    env = compat.colab_env({"OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE",
                            "PATH": "/bin"})
    assert env == {"PATH": "/bin"}


# ----------------------------------------------------------------------------- comparison on synthetic notebooks

def cell(src, *outputs, count=1):
    return {"cell_type": "code", "execution_count": count, "metadata": {}, "source": src, "outputs": list(outputs)}


def stream(text, name="stdout"):
    return {"output_type": "stream", "name": name, "text": text}


def result(plain, png="iVBORw0KGgo="):
    return {"output_type": "execute_result", "execution_count": 1, "metadata": {},
            "data": {"text/plain": plain, "image/png": png}}


def error(ename="RuntimeError", evalue="boom"):
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": ["\x1b[31mTraceback\x1b[0m", "line"]}


def chapter():
    return {"cells": [
        {"cell_type": "markdown", "metadata": {}, "source": "# T"},
        cell("print(loss)", stream("loss 0.1234\nf at 0x7f3a2c1b5e40\n")),
        cell("fig", result("Figure: a line from 0 to 1."), count=2),
        cell('check("t.one", f)', stream("[PASSED] t.one: ok\n"), count=3),
    ]}


def test_identical_run_reports_nothing():
    assert compat.compare_chapter(chapter(), chapter(), PATTERNS) == {"errors": [], "diffs": []}


def test_what_nbval_ignores_is_ignored():
    new = chapter()
    new["cells"][1]["outputs"] = [stream("loss 0.1234\n"), stream("f at 0x55d0c0ffee00\n")]   # split, new address
    new["cells"][2]["outputs"][0]["data"]["image/png"] = "AAAA"                             # pixels
    new["cells"][2]["outputs"][0]["execution_count"] = 7
    assert compat.compare_chapter(chapter(), new, PATTERNS) == {"errors": [], "diffs": []}


def test_changed_value_is_flagged_with_its_size():
    new = chapter()
    new["cells"][1]["outputs"] = [stream("loss 0.1236\nf at 0x7f3a2c1b5e40\n")]
    out = compat.compare_chapter(chapter(), new, PATTERNS)
    assert out["errors"] == []
    [d] = out["diffs"]
    assert d["cell"] == 1 and d["key"] == "stdout"
    assert "-loss 0.1234" in d["diff"] and "+loss 0.1236" in d["diff"]
    n, absolute, relative = d["delta"]
    assert n == 1 and absolute == pytest.approx(2e-4) and relative == pytest.approx(2e-4 / 0.1236)
    assert "max abs diff 0.0002" in compat.describe_delta(d["delta"])


def test_changed_text_and_new_stderr_are_flagged():
    new = chapter()
    new["cells"][2]["outputs"][0]["data"]["text/plain"] = "Figure: a curve from 0 to 1."
    new["cells"][1]["outputs"].append(stream("DeprecationWarning: x\n", name="stderr"))
    diffs = compat.compare_chapter(chapter(), new, PATTERNS)["diffs"]
    assert [(d["cell"], d["key"], d["delta"]) for d in diffs] == [
        (1, "stderr (new in this run)", None), (2, "text/plain", None)]
    assert compat.describe_delta(None) == "text differs"


def test_error_and_failed_check_are_errors():
    new = chapter()
    new["cells"][1]["outputs"] = [error("AttributeError", "module 'torch' has no attribute 'x'")]
    new["cells"][3]["outputs"] = [stream("[FAILED] t.one: wrong shape\n")]
    out = compat.compare_chapter(chapter(), new, PATTERNS)
    assert out["errors"][0].startswith("cell 1: AttributeError: module 'torch' has no attribute 'x'")
    assert "\x1b" not in out["errors"][0]
    assert out["errors"][1] == "check t.one: [FAILED], expected [PASSED]: wrong shape"
    assert {d["cell"] for d in out["diffs"]} == {1, 3}


def test_changed_cells_are_an_error_not_a_comparison():
    new = chapter()
    new["cells"][1]["source"] = "print(other)"
    assert "not those of the stored notebook" in compat.compare_chapter(chapter(), new, PATTERNS)["errors"][0]


def student(*outputs):
    return {"cells": [cell("def f(x):\n    raise NotImplementedError", count=None),
                      cell('check("t.one", f)', *outputs, count=None),
                      cell("check('t.two', g)", stream("[NOT ATTEMPTED] t.two: no answer yet\n"), count=None)]}


def test_student_notebook_as_handed_out():
    ok = compat.check_student(student(stream("[NOT ATTEMPTED] t.one: no answer yet (replace the stub)\n")))
    assert ok == {"errors": [], "diffs": [], "checks": 2}
    assert compat.summarize(ok) == "ok (2 checks NOT ATTEMPTED)"


@pytest.mark.parametrize("outputs, message", [
    ([], "expected one per check call"),
    ([stream("[PASSED] t.one: ok\n")], "check t.one: [PASSED], expected [NOT ATTEMPTED]: ok"),
    ([error("NameError", "name 'check' is not defined")], "cell 1: NameError"),
])
def test_student_notebook_problems_are_errors(outputs, message):
    out = compat.check_student(student(*outputs))
    assert any(message in e for e in out["errors"]), out["errors"]


def test_report_counts_and_exit_inputs():
    new = chapter()
    new["cells"][1]["outputs"] = [stream("loss 0.1236\nf at 0x7f3a2c1b5e40\n")]
    results = {"book/01.ipynb": compat.compare_chapter(chapter(), chapter(), PATTERNS),
               "book/02.ipynb": compat.compare_chapter(chapter(), new, PATTERNS),
               "student/02.ipynb": compat.check_student(student(error()))}
    text, n_err, n_cells = compat.report(["# run"], copy.deepcopy(results))
    assert (n_err, n_cells) == (1, 1)
    assert "| `book/01.ipynb` | ok |" in text and "| `book/02.ipynb` | 1 cell differ |" in text
    assert "| `student/02.ipynb` | **error** (2) |" in text
    assert "3 notebooks: 1 with errors, 1 cells with printed values that differ" in text
    assert "### Differences in `book/02.ipynb`" in text and "+loss 0.1236" in text


def test_numeric_delta():
    assert compat.numeric_delta("a 1.5 b -2", "a 1.5 b -2") == (0, 0.0, 0.0)
    assert compat.numeric_delta("x=1e-05 y=3", "x=2e-05 y=3") == (1, pytest.approx(1e-5), pytest.approx(0.5))
    assert compat.numeric_delta("loss nan", "loss 0.5") is None      # a word became a number
    assert compat.numeric_delta("epoch 1", "step 1") is None


def test_comparison_uses_nbvals_rules():
    """The keys compat skips are nbval's (without --nbdime), and its merged streams equal nbval's on every stored
    chapter output."""
    import nbformat
    from nbval import plugin

    src = Path(plugin.__file__).read_text()
    block = re.search(r"self\.skip_compare = \((.*?)\)\n", src, re.S).group(1)
    skipped = set(re.findall(r"^\s*'([^']+)'", block, re.M))
    images = set(re.findall(r"self\.skip_compare \+ \(([^)]*)\)", src)[0].replace("'", "").replace(" ", "").split(","))
    assert compat.SKIP_COMPARE == skipped | images
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        for c in nbformat.read(path, as_version=4).cells:
            if c.cell_type != "code":
                continue
            theirs = {o["name"]: o["text"] for o in plugin.coalesce_streams(copy.deepcopy(c.outputs))
                      if o["output_type"] == "stream"}
            ours = compat.comparable(c.outputs, [])
            assert {k: v[0] for k, v in ours.items() if k in ("stdout", "stderr")} == theirs
