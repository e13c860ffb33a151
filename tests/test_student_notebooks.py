"""Student notebooks: generated from the masters, up to date, without solutions, and runnable as handed out.

Also: every master notebook passes all of its own checks (stored outputs of the check cells)."""
import json
import re
from pathlib import Path

import nbformat
import pytest

from course_pkg.homework import student
from course_pkg.homework.student import MarkupError, make_student_notebook, parse_master, render

ROOT = Path(__file__).resolve().parents[1]
MASTERS = sorted((ROOT / "book").glob("*.ipynb"))
IDS = [p.name for p in MASTERS]


def read(path):
    return nbformat.read(path, as_version=4)


# ----------------------------------------------------------------------------- (a) masters pass their checks

@pytest.mark.parametrize("path", MASTERS, ids=IDS)
def test_master_check_cells_all_passed(path):
    nb = read(path)
    parsed = parse_master(nb, path.name)
    for cell_index in sorted({c.cell for c in parsed.checks}):
        cell = nb.cells[cell_index]
        text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        lines = [line for line in text.splitlines() if line.startswith("[")]
        n_calls = len([c for c in parsed.checks if c.cell == cell_index])
        assert lines, f"{path.name}, cell {cell_index}: the check cell has no stored output (run make refresh)"
        assert len(lines) >= n_calls, f"{path.name}, cell {cell_index}: {n_calls} checks but {len(lines)} verdicts"
        for line in lines:
            assert line.startswith("[PASSED]"), f"{path.name}, cell {cell_index}: {line}"


# ----------------------------------------------------------------------------- generation

@pytest.mark.parametrize("path", MASTERS, ids=IDS)
def test_student_notebook_is_committed_and_up_to_date(path):
    target = ROOT / "student" / path.name
    assert target.exists(), f"student/{path.name} is missing: run `make students`"
    assert target.read_text(encoding="utf-8") == render(path), f"student/{path.name} is out of date: run `make students`"


def test_no_stale_student_notebooks():
    assert sorted(p.name for p in (ROOT / "student").glob("*.ipynb")) == IDS


@pytest.mark.parametrize("path", MASTERS, ids=IDS)
def test_generation_is_deterministic_and_leaves_the_master_alone(path):
    before = path.read_bytes()
    first, second = render(path), render(path)
    assert first == second
    assert path.read_bytes() == before
    nb = json.loads(first)
    assert [c["id"] for c in nb["cells"]] == [f"cell-{i:03d}" for i in range(len(nb["cells"]))]


def _solution_lines(nb, parsed):
    """Distinctive lines of the solutions: function bodies (not def lines or docstrings) and explanation text."""
    lines = []
    for sol in parsed.solutions:
        for index in range(sol.start_cell, sol.end_cell + 1):
            cell = nb.cells[index]
            if cell.cell_type == "code":
                for line in cell.source.splitlines():
                    s = line.strip()
                    if line.startswith((" ", "\t")) and len(s) > 12 and not s.startswith(('"', "'", "def ", "return ")):
                        lines.append(s)
                    elif not line.startswith((" ", "\t", "def ", "class ", "import ", "from ", "@")) and len(s) > 12:
                        lines.append(s)
    return lines


def _solution_markdown(nb, parsed):
    texts = []
    for i, segs in enumerate(parsed.segments):
        for seg in segs:
            if seg[0] == "drop" and hasattr(seg[1], "lines"):
                texts += [line.strip() for line in seg[1].lines if len(line.strip()) > 30]
    return texts


@pytest.mark.parametrize("path", MASTERS, ids=IDS)
def test_no_solution_text_survives(path):
    nb = read(path)
    parsed = parse_master(nb, path.name)
    text = render(path)
    sources = "\n".join(c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                        for c in json.loads(text)["cells"])
    kept = []  # what the master shows outside solutions (exercise texts may quote a line of code)
    for segs in parsed.segments:
        for seg in segs:
            if seg[0] == "keep":
                kept += seg[1].lines
            elif seg[0] == "code":
                kept.append(seg[1].source)
    elsewhere = "\n".join(kept)
    distinctive = [line for line in _solution_lines(nb, parsed) + _solution_markdown(nb, parsed) if line not in elsewhere]
    for line in distinctive:
        assert line not in sources, f"{path.name}: solution text survives: {line!r}"


@pytest.mark.parametrize("path", MASTERS, ids=IDS)
def test_student_notebook_shape(path):
    nb = json.loads(render(path))
    first = nb["cells"][0]
    assert first["cell_type"] == "code" and "google.colab" in "".join(first["source"])
    assert "remove-cell" not in first["metadata"].get("tags", [])
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
        else:
            for myst in ("```{", ":::{", "{cite}", "{solution", "{exercise}", "{ref}", "{numref}"):
                assert myst not in source, f"{path.name}: MyST syntax {myst!r} left in {source[:80]!r}"
    parsed = parse_master(read(path), path.name)
    for sol in parsed.solutions:
        if sol.has_defs:
            assert f"NotImplementedError('Exercise {sol.exercise_id or sol.label}" in "".join(
                "".join(c["source"]) for c in nb["cells"])


# ----------------------------------------------------------------------------- markup on small notebooks

def md(text):
    return nbformat.v4.new_markdown_cell(text)


def code(text):
    return nbformat.v4.new_code_cell(text)


EXERCISE = "```{exercise}\n:label: ex-t-one\n\n**Implement it.** Write `f`.\n```"
START = "```{solution-start} ex-t-one\n:class: dropdown\n```"
END = "```{solution-end}\n```"
SOLUTION = 'def f(x, k=2):\n    """Return k x."""\n    secret_product = k * x\n    return secret_product'


def build(*cells):
    return nbformat.v4.new_notebook(cells=list(cells))


def sources(nb):
    return [(c.cell_type, c.source) for c in nb.cells]


def test_markers_sharing_cells_with_text():
    nb = build(md("# T\n\nText {cite}`goodfellow2016deep` and {math}`x^2`.\n\n:::{admonition} Careful\n:class: warning\nBody.\n:::"),
               md(f"## Exercises\n\n{EXERCISE}\n\n{START}"),
               code(SOLUTION),
               md(f"Why it works: secret explanation.\n\n{END}\n\n```{{exercise}}\n:label: ex-t-two\n\nPredict.\n```\n\n"
                  "```{solution-start} ex-t-two\n```\nThe secret prediction.\n\n```{solution-end}\n```"),
               code('check("t.one", f)'))
    out = make_student_notebook(nb, "t.ipynb", bib={"goodfellow2016deep": ("Goodfellow, Ian and Bengio, Yoshua and Courville, Aaron", "2016")})
    cells = sources(out)
    text = "\n".join(s for _, s in cells)
    assert "(Goodfellow et al., 2016)" in text and "$x^2$" in text
    assert "> **Careful**\n>\n> Body." in text
    assert "**Exercise 1**\n\n**Implement it.** Write `f`." in text
    assert "**Exercise 2**\n\nPredict." in text
    assert "secret" not in text and "{solution" not in text
    stub = [s for k, s in cells if k == "code" and "def f" in s]
    assert stub == ["def f(x, k=2):\n    \"\"\"Return k x.\"\"\"\n    raise NotImplementedError("
                    "'Exercise t.one: replace this line with your implementation of f')"]
    assert cells[-1] == ("code", 'check("t.one", f)')
    assert sum(s == student.MARKDOWN_PLACEHOLDER for _, s in cells) == 1
    assert nb.cells[2].source == SOLUTION  # the master is not modified


def test_predict_then_verify_code_becomes_a_placeholder():
    nb = build(md(f"{EXERCISE}\n\n{START}"), code("x = 1\nprint(x)"), md(f"Because.\n{END}"))
    cells = sources(make_student_notebook(nb, "t.ipynb", bib={}))
    assert ("code", student.CODE_PLACEHOLDER) in cells and ("markdown", student.MARKDOWN_PLACEHOLDER) in cells
    assert not any("print(x)" in s for _, s in cells)


@pytest.mark.parametrize("cells, cell_index, words", [
    ([md(EXERCISE), md(START), code(SOLUTION)], 1, "never closed"),
    ([md(EXERCISE), md(END)], 1, "without a solution-start"),
    ([md(EXERCISE), md(START), md(START)], 2, "solution-end is missing"),
    ([md(START)], 0, "does not follow an exercise"),
    ([md(EXERCISE), md(f"{START}\n{EXERCISE}")], 1, "inside the solution"),
    ([md("::::{note}\n" + START + "\n::::")], 0, "nested"),
])
def test_broken_markup_names_notebook_and_cell(cells, cell_index, words):
    with pytest.raises(MarkupError, match=rf"broken\.ipynb, cell {cell_index}: .*{words}"):
        make_student_notebook(build(*cells), "broken.ipynb", bib={})


def test_cli_check_mode_reports_up_to_date(capsys):
    assert student.main(["--check"]) == 0, capsys.readouterr().out


# ----------------------------------------------------------------------------- (b) student notebooks run

@pytest.mark.parametrize("path", MASTERS, ids=IDS)
def test_student_notebook_runs_and_reports_not_attempted(path):
    import nbclient

    nb = nbformat.reads(render(path), as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(ROOT / "student")}}).execute()
    expected = [c.exercise_id for c in parse_master(read(path), path.name).checks]
    verdicts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", f"{path.name}: {out.get('ename')}: {out.get('evalue')}"
            if out.get("output_type") == "stream":
                verdicts += re.findall(r"^\[([A-Z ]+)\] ([\w.]+)", out.get("text", ""), re.M)
    assert sorted(v[1] for v in verdicts) == sorted(expected)
    assert all(v[0] == "NOT ATTEMPTED" for v in verdicts), verdicts


def test_every_relative_link_of_a_student_notebook_resolves_next_to_it():
    """Student notebooks are handed out on their own (make lab's work/, Colab): a link to a page that is not a
    notebook (the glossary, the references) goes to the published site; a relative link must name a student
    notebook."""
    folder = Path(__file__).resolve().parents[1] / "student"
    link = re.compile(r"\]\((?!\w+:)([^)#\s]+)(#[^)\s]*)?\)")
    checked = 0
    for path in sorted(folder.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "markdown":
                continue
            for target, _ in link.findall(cell.source):
                checked += 1
                assert (folder / target).is_file(), f"{path.name}: a link to {target}, which student/ does not have"
    assert checked > 10   # the chapters do link each other
