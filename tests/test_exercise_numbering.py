"""One exercise numbering everywhere: "Exercise 5.2" is chapter 5's second exercise on the site (and so in the
PDF, printed from the site's single page), in the student notebook, in the check's verdict line and in
``course_pkg.homework.registry.exercise_label`` (which the slides, the grader and Gradescope use)."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_pkg.homework import check_quietly
from course_pkg.homework.registry import (chapter_exercises, chapter_number, exercise_label, exercise_numbers,
                                          numbers_module_source)
from course_pkg.homework.student import render

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTER = "05_binary_classification"
EXERCISE_ID = "binary.fixed_loss"      # checked in chapter 5's second exercise
LABEL = "ex-binary-fixed-loss"         # its MyST label


def md(text):
    return nbformat.v4.new_markdown_cell(text)


def test_the_numbers_come_from_the_file_prefix_and_the_order_of_exercise_directives():
    nb = nbformat.v4.new_notebook(cells=[
        md("```{exercise}\n:label: ex-a\nFirst.\n```"),
        nbformat.v4.new_code_cell('check("t.first", f)'),
        md(":::{note}\n```{exercise}\n:label: ex-b\nNested in a note, still counted.\n```\n:::"),
        md("```{exercise-start}\n:label: ex-c\n```\nGated.\n```{exercise-end}\n```"),
        nbformat.v4.new_code_cell('check("t.third", g)\ncheck_quietly("t.third_again", h)'),
    ])
    found = chapter_exercises(nb, "book/07_x.ipynb")
    assert [(e["number"], e["label"], e["ids"]) for e in found] == [
        ("7.1", "ex-a", ["t.first"]), ("7.2", "ex-b", []), ("7.3", "ex-c", ["t.third", "t.third_again"])]
    assert chapter_number("book/00_pytorch_essentials.ipynb") == 0
    with pytest.raises(ValueError, match="name"):
        chapter_number("book/glossary.md")
    with pytest.raises(ValueError, match="exercise_id"):
        exercise_label("")


def test_every_checked_exercise_of_the_book_has_one_number():
    numbers = exercise_numbers(refresh=True)
    for stem, exercises in numbers.items():
        n = chapter_number(stem)
        assert [e["number"] for e in exercises] == [f"{n}.{k}" for k in range(1, len(exercises) + 1)], stem
        for e in exercises:
            for ident in e["ids"]:
                assert exercise_label(ident) == f"Exercise {e['number']}", (stem, ident)
    shipped = (ROOT / "course_pkg" / "homework" / "exercise_numbers.py").read_text(encoding="utf-8")
    assert shipped == numbers_module_source(numbers), "exercise_numbers.py is out of date: run `make students`"


@pytest.fixture(scope="module")
def site_page(tmp_path_factory):
    """Chapter 5 built by Sphinx with the book's extensions (stored outputs, nothing executed), next to
    chapter 3 (so a count across the book would give other numbers) and a page that cross-references it."""
    tmp = tmp_path_factory.mktemp("numbering")
    src = tmp / "src"
    src.mkdir()
    for name in ("03_regression", CHAPTER):
        shutil.copy(BOOK / f"{name}.ipynb", src)
    shutil.copy(BOOK / "references.bib", src)
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(BOOK / '_ext')!r})\n"
        "extensions = ['myst_nb', 'sphinx_exercise', 'sphinxcontrib.bibtex', 'exercise_numbers']\n"
        "nb_execution_mode = 'off'\nbibtex_bibfiles = ['references.bib']\n"
        "myst_enable_extensions = ['amsmath', 'colon_fence', 'deflist', 'dollarmath', 'html_image', 'substitution']\n"
        "suppress_warnings = ['mystnb.unknown_mime_type', 'bibtex']\n")
    (src / "index.md").write_text(f"# Index\n\n```{{toctree}}\n03_regression\n{CHAPTER}\nrefs\n```\n")
    (src / "refs.md").write_text(f"# Refs\n\nSee {{ref}}`{LABEL}` and {{numref}}`{LABEL}`.\n")
    pages, doctrees = {}, tmp / "doctrees"
    # The site, then the single page the PDF is printed from, from the site's parsed pages (as the instructor
    # kit builds it): the second build must find them current and not save the environment again.
    for builder in ("html", "singlehtml"):
        out = tmp / builder
        saved = (doctrees / "environment.pickle").stat().st_mtime_ns if builder == "singlehtml" else None
        run = subprocess.run([sys.executable, "-m", "sphinx", "-q", "-b", builder, "-d", str(doctrees), str(src),
                              str(out)], capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        if builder == "html":
            pages.update({name: (out / f"{name}.html").read_text(encoding="utf-8") for name in (CHAPTER, "refs")})
        else:
            pages["single"] = (out / "index.html").read_text(encoding="utf-8")
            pages["environment saved again"] = (doctrees / "environment.pickle").stat().st_mtime_ns != saved
    return pages


def test_a_second_build_from_the_same_parsed_pages_does_not_save_the_environment(site_page):
    """Renumbering must not make every build look changed to Sphinx: the kit's PDF and term-site builds run
    side by side from the site's _build/.doctrees and refuse to go on when the environment was saved again."""
    assert site_page["environment saved again"] is False


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_same_exercise_has_the_same_number_everywhere(site_page):
    label = exercise_label(EXERCISE_ID)
    assert label == "Exercise 5.2"
    # The site: the exercise's title, and both kinds of cross-reference to it.
    page = site_page[CHAPTER]
    titles = re.findall(r'<div class="exercise admonition" id="([\w-]+)">\s*<p class="admonition-title">'
                        r'<span class="caption-number">Exercise (\d+\.\d+) ', page)
    assert [number for _, number in titles] == ["5.1", "5.2", "5.3", "5.4"], titles
    assert (LABEL, "5.2") in titles
    assert f"Solution to {label}" in text(page)
    refs = text(site_page["refs"])
    assert refs.count(label) == 2, refs
    # The PDF's single page: every exercise of both chapters numbered by its own chapter, and the references.
    single = site_page["single"]
    assert re.findall(r'caption-number">Exercise ([\d.]+) ', single) == ["3.1", "3.2", "3.3", "3.4",
                                                                          "5.1", "5.2", "5.3", "5.4"]
    assert f"See {label} and {label}" in text(single)
    # The student notebook.
    student = nbformat.reads(render(BOOK / f"{CHAPTER}.ipynb"), as_version=4)
    heads = [m for c in student.cells if c.cell_type == "markdown"
             for m in re.findall(r"\*\*Exercise (\d+\.\d+)", c.source)]
    assert heads == ["5.1", "5.2", "5.3", "5.4"], heads
    assert any(c.source.startswith(f"**{label}**") for c in student.cells)    # as the site titles it
    # The check's verdict line.
    assert str(check_quietly(EXERCISE_ID, None)).startswith(f"[NOT ATTEMPTED] {EXERCISE_ID} ({label}):")
