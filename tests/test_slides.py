"""The lecture decks (``make slides``: ``tools/instructor_kit.py slides`` into ``_build/slides``), in Chromium.

One deck per numbered chapter of ``_toc.yml``. Each deck, opened headless from a local server: reveal.js starts
(``Reveal.isReady()``), MathJax typesets its math and no raw TeX is left on a slide, no console error, no request to
another host, a plausible number of slides, none taller than the slide, a speaker note on every slide, every figure of
the chapter's executed notebook loaded, every misconception box and every section heading and display equation of
the chapter there, and no solution text (the pieces ``instructor_kit.solution_snippets`` finds in the master; the
same pieces are found on the chapter page, so the search works). Without a browser: the decks together follow the
seed deck's outline, the seeds' errors appear only inside the misconception boxes that correct them, and the
published site links each deck and the PDF. ``make test`` builds the decks before this runs.
"""
from __future__ import annotations

import copy
import functools
import re
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import browser_setup  # noqa: E402
import instructor_kit as kit  # noqa: E402

DECKS = kit.SLIDES
CHAPTERS = kit.chapters()
WAIT_MS = 120_000

# The seed deck's outline (seeds/003: motivation and notation, regression, positive-only regression, binary
# classification, multi-class classification, best practices, summary): a word of each topic, in the decks' titles
# in this order.
SEED_OUTLINE = ["notation", "regression", "positive", "binary", "multi-class", "best practices", "summary"]
# The seed deck's errors (REFERENCE.md, "Errors in the seeds"). A deck may name one only inside a misconception box,
# which corrects it.
SEED_ERRORS = {
    "psi = f_theta o g (the wrong order)": r"f_\\theta\s*(\(\\mathbf\{?x\}?\))?\s*\\circ\s*g\b",
    "any continuous function (no compact set)": r"any continuous function",
    "outputs that are not continuous": r"not continuous",
    "a binary psi into [0, 1]": r"\\psi\s*:\s*\\mathbb\{?R\}?\^\{?n\}?\s*\\(rightarrow|to)\s*\[0,\s*1\]",
    "labels [1, ..., C]": r"\[\s*1\s*,\s*(2\s*,\s*)?\\dots\s*,\s*C\s*\]",
    "one-hot that indicates ties": r"indicate ties",
    "ties broken arbitrarily": r"ties (are )?broken arbitrarily|breaks ties arbitrarily",
    "always transform outside the model": r"always apply (output )?transformations outside",
    "softplus never exactly zero": r"never exactly zero",
    "a T(o) next to g": r"\bT\(o\)",
}


def deck_path(docname: str) -> Path:
    return DECKS / f"{Path(docname).name}.html"


@functools.lru_cache(maxsize=None)
def chapter_page(docname: str) -> BeautifulSoup:
    return BeautifulSoup((kit.SITE / f"{docname}.html").read_text(), "html.parser")


def article(soup: BeautifulSoup):
    return soup.select_one("article.bd-article") or soup


@functools.lru_cache(maxsize=None)
def deck(docname: str) -> BeautifulSoup:
    """The parsed deck (shared: callers that change it work on ``slides_only``'s copy)."""
    return BeautifulSoup(deck_path(docname).read_text(), "html.parser")


def slides_only(soup: BeautifulSoup) -> BeautifulSoup:
    """The deck without its speaker notes and scripts (what the audience sees)."""
    soup = BeautifulSoup(str(soup), "html.parser")
    for tag in soup.select("aside.notes, script, style"):
        tag.decompose()
    return soup


# ----------------------------------------------------------------------------------------------- without a browser

def test_one_deck_per_chapter():
    assert len(CHAPTERS) >= 9, CHAPTERS
    missing = [d for d in CHAPTERS if not deck_path(d).exists()]
    assert not missing, f"no deck for {missing}: run `make slides`"
    assert (DECKS / "lib" / "reveal" / "reveal.js").exists() and (DECKS / "lib" / "mathjax" / "tex-chtml.js").exists()


def test_decks_follow_the_seed_outline():
    titles = [deck(d).find("title").get_text().lower() for d in CHAPTERS]
    positions = []
    for word in SEED_OUTLINE:
        hits = [i for i, t in enumerate(titles) if word in t]
        assert hits, f"no deck about {word!r} (titles: {titles})"
        positions.append(hits[0])
    assert positions == sorted(positions), f"the decks do not follow the seed deck's order: {dict(zip(SEED_OUTLINE, positions))}"


@pytest.mark.parametrize("docname", CHAPTERS)
def test_seed_errors_only_inside_misconception_boxes(docname):
    soup = slides_only(deck(docname))
    for box in soup.select(".misconception"):
        box.decompose()
    text = soup.get_text(" ")
    for what, pattern in SEED_ERRORS.items():
        found = re.search(pattern, text, flags=re.IGNORECASE)
        assert not found, f"{what}: {found.group(0)!r} on a slide outside a misconception box"


@pytest.mark.parametrize("docname", CHAPTERS)
def test_deck_carries_the_chapter(docname):
    """Headings, display equations and misconception boxes of the chapter page are all in the deck."""
    page, slides = article(chapter_page(docname)), deck(docname)
    text = kit.squash(slides_only(slides).get_text())
    top = page.find("section")
    for section in top.find_all("section", recursive=False):
        heading = section.find(re.compile("^h[2-6]$")).get_text().rstrip("#").strip()
        assert kit.squash(heading) in text, f"section {heading!r} has no slide"
    for math in page.select("div.math"):
        if math.find_parent(class_=["solution", "exercise"]):
            continue
        math = copy.copy(math)  # the parsed page is shared
        for link in math.select("a.headerlink"):
            link.decompose()
        assert kit.squash(math.get_text()) in text, f"display equation missing: {math.get_text()[:80]!r}"
    boxes = [b for b in page.select("div.admonition.warning") if not b.find_parent(class_=["solution", "exercise"])]
    assert len(slides.select(".misconception")) == len(boxes)
    for box in boxes:
        title = box.find(class_="admonition-title").get_text()
        assert kit.squash(title) in text, f"misconception box {title!r} missing"


@pytest.mark.parametrize("docname", CHAPTERS)
def test_no_solution_in_the_deck(docname):
    snippets = kit.solution_snippets(docname)
    if not kit.exercise_labels(docname):
        assert not snippets
        return
    assert snippets, f"{docname}: no solution pieces to look for"
    page_text = chapter_page(docname).get_text(" ")
    assert len(kit.leaked(snippets, page_text)) == len(snippets), "the chapter page lacks pieces the test looks for"
    whole = deck(docname)  # the notes included
    assert not whole.select(".solution"), "a solution element in the deck"
    found = kit.leaked(snippets, whole.get_text(" "))
    assert not found, f"solution text in the deck (slides or notes): {found[:5]}"


def test_published_site_links_the_decks_and_the_pdf():
    site = kit.SITE
    assert (site / "book.pdf").read_bytes() == (kit.PDF_DIR / "book.pdf").read_bytes(), "make site publishes the PDF"
    index = BeautifulSoup((site / "book" / "index.html").read_text(), "html.parser")
    assert index.select_one('a[href="../book.pdf"]') is not None, "the welcome page does not link the PDF"
    for docname in CHAPTERS:
        page = BeautifulSoup((site / f"{docname}.html").read_text(), "html.parser")
        link = page.select_one("a.slides-deck-link")
        assert link is not None, f"{docname} links no slides"
        target = (site / docname).parent / link["href"]
        assert target.resolve() == (site / "slides" / deck_path(docname).name).resolve()
        assert target.read_bytes() == deck_path(docname).read_bytes(), f"{target} is not the current deck"


# ----------------------------------------------------------------------------------------------- in the browser

@pytest.fixture(scope="module")
def server():
    with browser_setup.serve(DECKS) as url:
        yield url


MEASURE = """() => {
  const height = Reveal.getConfig().height, out = [];
  Reveal.getHorizontalSlides().forEach((stack, h) => {
    const inner = stack.querySelectorAll(':scope > section');
    (inner.length ? Array.from(inner) : [stack]).forEach((slide, v) => {
      Reveal.slide(h, v);
      const notes = slide.querySelector(':scope > aside.notes');
      out.push({h, v, height: slide.scrollHeight, limit: height, scale: Number(slide.dataset.scale),
                notes: notes ? notes.textContent.trim().length : 0});
    });
  });
  Reveal.slide(0, 0);
  return out;
}"""


@pytest.mark.parametrize("docname", CHAPTERS)
def test_deck_in_the_browser(server, browser, docname):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    problems, local = [], urlparse(server).netloc

    def route(r):
        if urlparse(r.request.url).netloc not in (local, "") and not r.request.url.startswith("data:"):
            problems.append(f"off-site request: {r.request.url}")
            return r.abort()
        return r.continue_()

    page.route("**/*", route)
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url} ({r.failure})"))
    try:
        response = page.goto(server + deck_path(docname).name, wait_until="load")
        assert response is not None and response.status == 200
        page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=WAIT_MS)
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("() => MathJax.startup.promise")
        assert page.evaluate("() => Reveal.isReady()")
        source = deck(docname)
        visible = slides_only(source).get_text()
        if "\\(" in visible or "\\[" in visible:
            assert page.locator(".slides mjx-container").count() > 0, "math on the slides, but none typeset"
        shown = page.evaluate("""() => { const c = document.querySelector('.reveal .slides').cloneNode(true);
                                         c.querySelectorAll('aside.notes, mjx-assistive-mml').forEach(n => n.remove());
                                         return c.textContent; }""")
        for tex in ("$$", "\\(", "\\[", "\\frac", "\\mathbf"):
            assert tex not in shown, f"raw TeX {tex!r} left on a slide"
        slides = page.evaluate(MEASURE)
        total = page.evaluate("() => Reveal.getTotalSlides()")
        sections = len(article(chapter_page(docname)).find("section").find_all("section", recursive=False))
        assert total == len(slides) and sections + 1 <= total <= 8 * (sections + 2), \
            f"{total} slides for {sections} sections"
        tall = [(s["h"], s["v"], s["height"]) for s in slides if s["height"] > s["limit"]]
        assert not tall, f"slides taller than the {slides[0]['limit']} px slide (h, v, height): {tall}"
        # the deck's fit script ran on every slide, and shrank none below 0.7 (at 0.7 an overflow stays, see above)
        assert all(0.7 <= s["scale"] <= 1 for s in slides), [(s["h"], s["v"], s["scale"]) for s in slides]
        silent = [(s["h"], s["v"]) for s in slides if s["notes"] < 20]
        assert not silent, f"slides without speaker notes: {silent}"
        images = page.evaluate("() => Array.from(document.images).map(i => [i.complete && i.naturalWidth > 0, i.alt])")
        assert all(ok for ok, _ in images), "an image did not load"
        assert all(alt for _, alt in images), "an image without alt text"
        assert len(images) == kit.figures(docname, solutions=False), \
            "not every figure of the notebook (outside its solutions) is in the deck"
        assert page.evaluate("() => typeof RevealNotes === 'function' || typeof RevealNotes === 'object'")
        assert not problems, "\n".join(problems)
    finally:
        context.close()
