"""MyST roles in the student notebooks (plain Jupyter, no Sphinx): a ``{term}`` role becomes a Markdown link to the
glossary entry on the published site, at the anchor Sphinx gives that entry, and no role is left raw."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_pkg.homework.student import (ROOT, convert_roles, glossary_terms, glossary_url, render, site_url,
                                         term_anchor)

BOOK = ROOT / "book"
RAW_ROLE = re.compile(r"\{[\w:.-]+\}`")


def test_term_roles_become_links_to_the_glossary_entry():
    terms = glossary_terms()
    assert len(terms) >= 20 and "logit" in terms, sorted(terms)[:5]
    site = site_url()
    assert re.fullmatch(r"https://[\w-]+\.github\.io/[\w.-]+/", site), site
    out = convert_roles("a {term}`logit`, {term}`the STE <Straight-through estimator>` and {term}`Softmax`.", {})
    assert out == (f"a [logit]({site}book/glossary.html#term-Logit), "
                   f"[the STE]({site}book/glossary.html#term-Straight-through-estimator) and "
                   f"[Softmax]({site}book/glossary.html#term-Softmax).")
    assert glossary_url("bce  with LOGITS").endswith("#term-BCE-with-logits")   # case and spaces as Sphinx matches


def test_the_links_point_at_the_anchors_sphinx_builds(tmp_path):
    """Build the glossary page with Sphinx and look up every entry's anchor."""
    src = tmp_path / "src"
    (src / "book").mkdir(parents=True)
    (src / "book" / "glossary.md").write_text((BOOK / "glossary.md").read_text(encoding="utf-8"), encoding="utf-8")
    (src / "conf.py").write_text("extensions = ['myst_parser']\nmyst_enable_extensions = ['dollarmath', 'amsmath']\n"
                                 "root_doc = 'book/glossary'\n")
    run = subprocess.run([sys.executable, "-m", "sphinx", "-q", "-b", "html", str(src), str(tmp_path / "html")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    page = (tmp_path / "html" / "book" / "glossary.html").read_text(encoding="utf-8")
    built = set(re.findall(r'<dt id="(term-[^"]+)"', page))
    assert len(built) == len(glossary_terms()), (len(built), len(glossary_terms()))
    for term in glossary_terms().values():
        assert term_anchor(term) in built, (term, term_anchor(term))


@pytest.mark.parametrize("master", sorted(BOOK.glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_no_myst_role_left_in_a_student_notebook(master):
    nb = nbformat.reads(render(master), as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            found = RAW_ROLE.search(cell.source)
            assert found is None, f"{master.name}, student cell {i}: raw role {cell.source[found.start():found.end() + 30]!r}"


def test_references_to_an_exercise_name_its_number():
    assert convert_roles("{ref}`ex-binary-fixed-loss` and {numref}`Ex. %s <ex-binary-fixed-loss>`", {}) == \
        "Exercise 5.2 and Ex. 5.2"
    assert convert_roles("{ref}`the start <trainability-confident-start>`", {}) == "the start"
