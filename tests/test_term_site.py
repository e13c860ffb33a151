"""The term site (``make book SOLUTIONS=hide``: ``tools/instructor_kit.py term`` into ``_build/html-term``).

Every exercise of every chapter is there and no solution is: no solution element, and none of the distinctive
pieces of the masters' solutions (``instructor_kit.solution_snippets``: lines of solution code and their output,
runs of solution prose, found with ``course_pkg.homework.student.parse_master``) in any page's text, the search
index or the downloadable notebooks. Each check is first made on the full site (``_build/html``), where the same
pieces must be found: a search that could not find a solution would prove nothing. ``make test`` builds both
sites before this runs.
"""
from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import instructor_kit as kit  # noqa: E402

FULL, TERM = kit.SITE, kit.TERM_SITE
CHAPTERS = kit.chapters()
WITH_EXERCISES = [d for d in CHAPTERS if kit.exercise_labels(d)]


@functools.lru_cache(maxsize=None)
def parsed(path: Path):
    from bs4 import BeautifulSoup
    return BeautifulSoup(path.read_text(), "html.parser")


@functools.lru_cache(maxsize=None)
def page_text(path: Path) -> str:
    """A page's text, without its scripts and styles."""
    return " ".join(t for t in parsed(path).find_all(string=True) if t.parent.name not in ("script", "style"))


@pytest.fixture(scope="module", autouse=True)
def built():
    for site in (FULL, TERM):
        if not (site / "index.html").exists():
            pytest.fail(f"no site in {site}: run `make book` and `make book SOLUTIONS=hide` (make test does)")


def test_every_chapter_with_exercises_has_solution_snippets():
    assert len(WITH_EXERCISES) >= 8, WITH_EXERCISES
    for docname in WITH_EXERCISES:
        assert len(kit.solution_snippets(docname)) >= 3, f"{docname}: too few distinctive solution pieces to test"


@pytest.mark.parametrize("docname", WITH_EXERCISES)
def test_chapter_page_has_every_exercise_and_no_solution(docname):
    snippets = kit.solution_snippets(docname)
    full_page, term_page = FULL / f"{docname}.html", TERM / f"{docname}.html"
    full_text = page_text(full_page)
    # The positive control: on the full site every piece is found, so finding none on the term site means something.
    missing = [s for s in snippets if s not in kit.leaked(snippets, full_text)]
    assert not missing, f"the full site's {docname} page lacks solution pieces the test looks for: {missing[:5]}"
    soup = parsed(term_page)
    assert not soup.select(".solution, .solution-start, .solution-end"), "a solution element is on the term page"
    found = kit.leaked(snippets, page_text(term_page))
    assert not found, f"solution text on the term site's {docname} page: {found[:5]}"
    labels = kit.exercise_labels(docname)
    full_soup = parsed(full_page)
    for label in labels:
        exercise = soup.find(id=label)
        assert exercise is not None and "exercise" in exercise.get("class", []), f"exercise {label} missing"
        original = full_soup.find(id=label)
        assert kit.squash(exercise.get_text()) == kit.squash(original.get_text()), f"exercise {label} changed"
    assert soup.select("div.exercise") and len(soup.select("div.exercise")) == len(labels)


@pytest.mark.parametrize("docname", WITH_EXERCISES)
def test_check_cells_keep_their_code_but_no_stale_result(docname):
    """A check cell's stored "[PASSED]" came from the master's solution: on the term site, whose solutions are gone,
    the cell keeps its code and a note to run it in the homework notebook, and shows no result."""
    full, term = page_text(FULL / f"{docname}.html"), page_text(TERM / f"{docname}.html")
    assert "[PASSED]" in full, f"the full site's {docname} page shows no check result: nothing to test here"
    assert "[PASSED]" not in term and "[FAILED]" not in term, f"a stale check result on the term site's {docname}"
    checks = [cell for cell in parsed(TERM / f"{docname}.html").select("div.cell")
              if "check(" in cell.get_text() and cell.select(".check-note")]
    assert checks, f"the term site's {docname} page lost its check cells or their note"
    assert not any(cell.select(".cell_output") for cell in checks)


def local_links(site: Path):
    """(page, href, target path) of every link from a page of ``site`` to a file of the same site."""
    from urllib.parse import unquote, urlparse
    for page in sorted(site.rglob("*.html")):
        if page.relative_to(site).parts[0] in ("_static", "_sources", "slides"):
            continue
        for a in parsed(page).select("a[href]"):
            href = a["href"]
            url = urlparse(href)
            if url.scheme or url.netloc or href.startswith(("#", "mailto:")) or not url.path:
                continue
            if url.path.startswith("/"):  # (the 404 page links the site's root under GitHub Pages' /<repo>/ prefix)
                repo = kit.yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")
                yield page, href, (site / unquote(url.path).removeprefix("/" + repo.rsplit("/", 1)[-1] + "/")).resolve()
            else:
                yield page, href, (page.parent / unquote(url.path)).resolve()


def test_the_term_site_links_only_files_it_has():
    """The term build has no PDF and no decks: no page may link them (or anything else it does not hold). The same
    check on the full site finds its links to book.pdf and the decks, which `make site` copies in."""
    dead = [(str(page.relative_to(TERM)), href) for page, href, target in local_links(TERM) if not target.exists()]
    assert not dead, f"links to files the term site does not have: {dead[:10]}"
    full = [href for _, href, _ in local_links(FULL)]
    assert any(h.endswith("book.pdf") for h in full) and any("slides/" in h for h in full), \
        "the full site should link the PDF and the decks (else this test proves nothing)"


def test_no_solution_text_anywhere_in_the_term_site():
    """Every file of the term site: pages, search index, downloadable sources."""
    snippets = {d: kit.solution_snippets(d) for d in WITH_EXERCISES}
    everything = []
    for path in sorted(TERM.rglob("*")):
        if path.is_file() and path.suffix in (".html", ".js", ".txt", ".ipynb", ".md", ".json"):
            text = path.read_text(errors="replace")
            if path.suffix == ".html":
                text = page_text(path)
            elif path.suffix == ".ipynb":
                text = "\n".join(c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                                 for c in json.loads(text)["cells"])
            everything.append((path, kit.squash(text)))
    assert len(everything) > 20
    for docname, pieces in snippets.items():
        for path, text in everything:
            found = kit.leaked(pieces, text, squashed=True)
            assert not found, f"{path.relative_to(ROOT)} holds solution text of {docname}: {found[:3]}"


@pytest.mark.parametrize("docname", WITH_EXERCISES)
def test_term_site_hands_out_the_student_notebook(docname):
    name = Path(docname).name
    assert (TERM / "_sources" / f"{docname}.ipynb").read_bytes() == (ROOT / "student" / f"{name}.ipynb").read_bytes()
    html = (TERM / f"{docname}.html").read_text()
    repository = kit.yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    colab = f"https://colab.research.google.com/github/{repository['url'].removeprefix('https://github.com/')}/blob/"
    master = f"{colab}{repository.get('branch', 'main')}/{docname}.ipynb"
    assert master in (FULL / f"{docname}.html").read_text(), "the full site's launch button is not where expected"
    assert master not in html, "a launch button of the term site opens the master notebook (with solutions)"
    assert f"{colab}{repository.get('branch', 'main')}/student/{name}.ipynb" in html


def test_each_edition_says_what_it_holds():
    full, term = page_text(FULL / "book" / "index.html"), page_text(TERM / "book" / "index.html")
    assert "Solutions are hidden behind a toggle" in full and "without its solution" not in full
    assert "without its solution" in term and "Solutions are hidden behind a toggle" not in term


def test_full_site_is_unchanged_by_the_term_build():
    """The term build writes only into its own folder: the full site still shows its solutions."""
    import nbformat
    from course_pkg.homework.student import parse_master
    for docname in WITH_EXERCISES:
        soup = parsed(FULL / f"{docname}.html")
        solutions = parse_master(nbformat.read(ROOT / f"{docname}.ipynb", as_version=4), docname).solutions
        assert len(soup.select("div.solution")) == len(solutions) > 0, docname
