"""No chapter binds an exercise's answer name outside that exercise's solution.

The grader checks the function a student defines under the answer name (``check("practices.predict_multiclass",
predict_multiclass)``). If a cell outside the solution already binds that name, by importing the package's reference
(``from course_pkg.inference import predict_multiclass``) or by any assignment, a student who deletes the stub still
scores. Every name passed to ``check`` must be bound only inside solution cells.
"""
import ast
import re
from pathlib import Path

import nbformat
import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
CHECK = re.compile(r"""^\s*check\(\s*["'][\w.]+["']\s*,\s*(?P<name>\w+)\s*\)""", re.M)


def _bound_names(tree) -> set:
    """Names bound at the top level of a cell, or anywhere in it by an import, def, class, assignment or loop."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _outside_solutions(nb):
    """(index, cell) of the code cells that are not inside a solution-start ... solution-end block."""
    inside = False
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if "{solution-start}" in line:
                    inside = True
                elif "{solution-end}" in line:
                    inside = False
        elif not inside:
            yield i, cell


@pytest.mark.parametrize("path", sorted(BOOK.glob("*.ipynb")), ids=lambda p: p.name)
def test_answer_names_are_bound_only_in_solutions(path):
    nb = nbformat.read(path, as_version=4)
    answers = {m.group("name") for c in nb.cells if c.cell_type == "code" for m in CHECK.finditer(c.source)}
    offenders = []
    for i, cell in _outside_solutions(nb):
        if CHECK.search(cell.source):
            continue
        clash = _bound_names(ast.parse(cell.source)) & answers
        offenders += [f"cell {i} binds {name!r}" for name in sorted(clash)]
    assert not offenders, f"{path.name}: exercise answer names bound outside their solutions: {offenders}"


def test_the_check_catches_an_import_of_the_reference():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from course_pkg.inference import predict_multiclass"),
                nbformat.v4.new_markdown_cell("```{solution-start} ex-x\n```"),
                nbformat.v4.new_code_cell("def predict_multiclass(logits):\n    return logits"),
                nbformat.v4.new_markdown_cell("```{solution-end}\n```"),
                nbformat.v4.new_code_cell('check("practices.predict_multiclass", predict_multiclass)')]
    bound = [(i, _bound_names(ast.parse(c.source))) for i, c in _outside_solutions(nb) if not CHECK.search(c.source)]
    assert bound == [(0, {"predict_multiclass"})]
