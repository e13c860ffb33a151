"""The lecture decks: the authored sources ``slides/NN_name.ipynb`` (format: slides/README.md) and the decks
``make slides`` builds from them (``tools/instructor_kit.py slides`` into ``_build/slides``), measured in Chromium.

Every deck present in ``slides/`` is tested, and every chapter of ``_toc.yml`` must have one. Without a browser:
12-20 slides, every slide a heading and at least 5 words outside headings, code and math; speaker notes in plain
words (no TeX); every figure reference resolves to an image of the chapter's executed notebook; one slide per
exercise with the book's number (``exercise_label``) and no solution text (``instructor_kit.solution_snippets``);
a slide for each of the chapter's misconception boxes; every number on a slide or in a note is one the chapter prints
or writes; the seeds' errors (REFERENCE.md) only on a misconception
slide, which corrects them; the built deck is the current rendering of its source. In Chromium, at the deck's
1280x720 slide size: reveal.js and MathJax run offline with no error, no raw TeX is left on a slide, nothing
overflows a slide, each figure is at least 60% of the slide width, code is set in a monospace font; screenshots of
three slides per deck go to ``_build/screenshots/slides/``. ``make test`` builds the decks and the site before this.
"""
from __future__ import annotations

import functools
import re
import sys
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest
from bs4 import BeautifulSoup

from course_pkg.homework.registry import exercise_numbers
from course_pkg.homework.student import split_blocks

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import browser_setup  # noqa: E402
import instructor_kit as kit  # noqa: E402

SOURCES = kit.deck_sources()
NAMES = [p.stem for p in SOURCES]
CHAPTERS = kit.chapters()
DECKS = kit.SLIDES
SHOTS = ROOT / "_build" / "screenshots" / "slides"
WAIT_MS = 120_000
MIN_SLIDES, MAX_SLIDES, MIN_WORDS, MIN_FIGURE_SHARE = 12, 20, 5, 0.60

# The seed deck's errors (REFERENCE.md, "Errors in the seeds"). A deck may name one only on a misconception slide,
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
# TeX in speaker notes (shown as text in the notes window): $ math, \commands, \( \[ delimiters, ^{ and _{.
NOTES_TEX = re.compile(r"\$|\\[A-Za-z]+|\\[()\[\]]|[_^]\{")
MYST = re.compile(r"^\s*(```|~~~|:::)\s*\{[\w:-]+\}|\{[\w:-]+\}`", re.M)
HTML_TAG = re.compile(r"<(/?)(div|span|img|br|p|table|iframe|script|style|a)\b", re.I)


@functools.lru_cache(maxsize=None)
def parsed(name: str) -> list:
    return kit.parse_deck(kit.DECK_SOURCES / f"{name}.ipynb")


def visible(text: str) -> str:
    """Deck markdown without fenced code, inline code, math, images and headings: the words of a slide."""
    text = re.sub(r"^(```|~~~).*?^\1\s*$", " ", text, flags=re.M | re.S)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\$[^$\n]+\$", " ", text)
    text = re.sub(r"`[^`\n]+`", " ", text)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", text)
    return "\n".join(line for line in text.split("\n") if not line.lstrip().startswith("#"))


def words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z][A-Za-z'-]*", visible(text))


def slide_text(slide: dict) -> str:
    return "\n\n".join(text for _, text in slide["parts"])


def chapter_master(name: str) -> Path:
    return ROOT / "book" / f"{name}.ipynb"


def misconception_titles(name: str) -> list[str]:
    """The titles of a chapter's misconception boxes ("A common misconception: ...", class warning)."""
    master = chapter_master(name)
    if master.exists():
        sources = [c.source for c in nbformat.read(master, as_version=4).cells if c.cell_type == "markdown"]
    elif (ROOT / "book" / f"{name}.md").exists():
        sources = [(ROOT / "book" / f"{name}.md").read_text(encoding="utf-8")]
    else:
        return []
    titles = []

    def scan(blocks):
        for b in blocks:
            if b.kind == "directive":
                if b.name == "admonition" and b.arg.startswith(kit.MISCONCEPTION_HEADING):
                    titles.append(b.arg)
                scan(split_blocks("\n".join(b.lines)))

    for source in sources:
        scan(split_blocks(source))
    return titles


def norm(text: str) -> str:
    text = text.replace("“", '"').replace("”", '"').replace("’", "'").replace("‘", "'")
    return re.sub(r"[^a-z0-9]+", "", text.lower())


# ----------------------------------------------------------------------------------------------- the sources

def test_every_chapter_of_the_toc_has_a_deck():
    assert len(CHAPTERS) >= 9, CHAPTERS
    missing = [f"slides/{Path(d).name}.ipynb" for d in CHAPTERS if Path(d).name not in NAMES]
    assert not missing, f"no deck for {len(missing)} chapter(s) of _toc.yml: {', '.join(missing)} (see slides/README.md)"


@pytest.mark.parametrize("name", NAMES)
def test_deck_format(name):
    slides = parsed(name)
    assert MIN_SLIDES <= len(slides) <= MAX_SLIDES, f"{name}: {len(slides)} slides, want {MIN_SLIDES}-{MAX_SLIDES}"
    assert slide_text(slides[0]).lstrip().startswith("# "), f"{name}: the first slide is the title slide, '# ...'"
    for slide in slides:
        where = f"{name}, slide {slide['index']} ({slide['heading']!r})"
        text = slide_text(slide)
        assert slide["heading"], f"{where}: a slide starts with a heading"
        if slide["index"] > 1:
            assert text.lstrip().startswith("## "), f"{where}: a slide starts with a '## ' heading"
        found = words(text)
        assert len(found) >= MIN_WORDS, f"{where}: {len(found)} words outside headings, code and math: {found}"
        assert slide["notes"], f"{where}: no speaker notes"
        for note in slide["notes"]:
            tex = NOTES_TEX.search(note)
            assert tex is None, f"{where}: TeX in the speaker notes: {note[max(0, tex.start() - 30):tex.end() + 30]!r}"
        for piece in (text, *slide["notes"]):
            assert not MYST.search(piece), f"{where}: a MyST directive or role (plain Markdown only)"
            assert not HTML_TAG.search(piece), f"{where}: raw HTML (plain Markdown only)"


@pytest.mark.parametrize("name", NAMES)
def test_every_figure_reference_resolves(name, tmp_path):
    source = kit.DECK_SOURCES / f"{name}.ipynb"
    refs = kit.figure_refs(source)
    assert kit.extract_figures(source, [tmp_path]) == len(refs)
    for ref in refs:
        image = tmp_path / ref["path"]
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", ref
        assert ref["alt"].strip(), f"{name}, slide {ref['slide']}: a figure without alt text"
    if chapter_master(name).exists() and kit.figures(f"book/{name}", solutions=False):
        assert refs, f"{name}: the chapter has figures and the deck shows none"


def test_a_reference_without_an_image_fails_loudly(tmp_path):
    deck = tmp_path / "03_regression.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "## A figure that is not there\n\n![missing](figures/03_regression/541b7ad3.png)",
        metadata={"slideshow": {"slide_type": "slide"}})])
    nbformat.write(nb, deck)
    with pytest.raises(kit.DeckError, match=r"03_regression.ipynb, slide 1 .*'541b7ad3'"):
        kit.extract_figures(deck, [tmp_path / "out"])


@pytest.mark.parametrize("name", NAMES)
def test_one_slide_per_exercise_with_the_books_number(name):
    expected = [e["number"] for e in exercise_numbers().get(name, [])]
    headings = [s["heading"] for s in parsed(name)]
    numbers = [m.group(1) for h in headings for m in [re.match(r"^Exercise (\d+\.\d+)\b", h)] if m]
    assert numbers == expected, f"{name}: exercise slides {numbers}, the chapter's exercises {expected}"


@pytest.mark.parametrize("name", NAMES)
def test_no_solution_in_the_deck(name):
    snippets = kit.solution_snippets(f"book/{name}")
    if exercise_numbers().get(name):
        assert snippets, f"{name}: no solution pieces to look for"
    nb = nbformat.read(kit.DECK_SOURCES / f"{name}.ipynb", as_version=4)
    found = kit.leaked(snippets, "\n".join(c.source for c in nb.cells))
    assert not found, f"{name}: solution text in the deck (slides or notes): {found[:5]}"


@pytest.mark.parametrize("name", NAMES)
def test_a_slide_for_each_misconception_box(name):
    boxes = misconception_titles(name)
    slides = [s["heading"] for s in parsed(name) if s["heading"].startswith(kit.MISCONCEPTION_HEADING)]
    for title in boxes:
        assert any(norm(title) in norm(h) or norm(h) in norm(title) for h in slides), \
            f"{name}: no misconception slide for the chapter's box {title!r} (slides: {slides})"
    assert len(slides) >= len(boxes)


@pytest.mark.parametrize("name", NAMES)
def test_seed_errors_only_on_misconception_slides(name):
    for slide in parsed(name):
        if slide["heading"].startswith(kit.MISCONCEPTION_HEADING):
            continue
        text = slide_text(slide)
        for what, pattern in SEED_ERRORS.items():
            found = re.search(pattern, text, flags=re.IGNORECASE)
            assert not found, f"{name}, slide {slide['index']}: {what}: {found.group(0)!r} outside a misconception slide"


def test_the_word_and_tex_checks_can_fail():
    assert len(words("## A heading with many words\n\n```python\nx = 1 + 2 + 3 + 4\n```\n$a + b$ and")) == 1
    assert NOTES_TEX.search("the slope \\sigma'(o)") and NOTES_TEX.search("where $o > 0$")
    assert NOTES_TEX.search("σ(z) − y, ∂L/∂z ≤ 1/4") is None


# ----------------------------------------------------------------------------------------------- the built decks

@pytest.mark.parametrize("name", NAMES)
def test_built_deck_is_current(name):
    built = DECKS / f"{name}.html"
    assert built.exists(), f"{built.relative_to(ROOT)} missing: run `make slides`"
    html, _, count = kit.render_deck(kit.DECK_SOURCES / f"{name}.ipynb")
    assert built.read_text(encoding="utf-8") == html, f"{built.name} is older than its source: run `make slides`"
    soup = BeautifulSoup(html, "html.parser")
    assert len(soup.select("section.deck-slide")) == count
    assert len(soup.select("section.deck-slide > aside.notes")) == count


def test_published_site_links_the_decks():
    site = kit.SITE
    for docname in CHAPTERS:
        page = BeautifulSoup((site / f"{docname}.html").read_text(), "html.parser")
        link = page.select_one("a.slides-deck-link")
        assert link is not None, f"{docname} links no slides"
        target = (site / docname).parent / link["href"]
        assert target.resolve() == (site / "slides" / f"{Path(docname).name}.html").resolve()
        assert target.read_bytes() == (DECKS / f"{Path(docname).name}.html").read_bytes(), f"{target} is not the current deck"


@pytest.fixture(scope="module")
def server():
    with browser_setup.serve(DECKS) as url:
        yield url


MEASURE = """() => {
  const width = Reveal.getConfig().width, height = Reveal.getConfig().height, out = [];
  Reveal.getSlides().forEach((slide) => {
    const index = Reveal.getIndices(slide);
    Reveal.slide(index.h, index.v);
    fitSlide(slide);
    // the width the figure is drawn at: its box, at the image's own aspect ratio (no letterboxing)
    const figures = Array.from(slide.querySelectorAll('.figure img')).map(img =>
      Math.min(img.offsetWidth, img.offsetHeight * img.naturalWidth / img.naturalHeight) / width);
    const code = Array.from(slide.querySelectorAll('pre code')).map(c => getComputedStyle(c).fontFamily);
    const wide = Array.from(slide.querySelectorAll('pre, table, .equation'))
      .filter(e => e.scrollWidth > e.clientWidth + 1 || e.offsetWidth > width).length;
    // the right edge of everything drawn (MathJax's invisible, clipped copy for screen readers left out)
    const box = slide.getBoundingClientRect(), scale = box.width / slide.offsetWidth;
    const right = Math.max(0, ...Array.from(slide.querySelectorAll('*'))
      .filter(e => !e.closest('mjx-assistive-mml, aside.notes'))
      .map(e => (e.getBoundingClientRect().right - box.left) / scale));
    out.push({h: index.h, v: index.v, heading: (slide.querySelector('h1, h2') || {}).textContent || '',
              height: slide.scrollHeight, width: Math.round(right), limit: height, limitWidth: width,
              figures, code, wide});
  });
  Reveal.slide(0, 0);
  return out;
}"""


@pytest.mark.parametrize("name", NAMES)
def test_deck_in_the_browser(server, browser, name):
    context = browser.new_context(viewport={"width": kit.SLIDE_WIDTH, "height": kit.SLIDE_HEIGHT})
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
        response = page.goto(server + f"{name}.html", wait_until="load")
        assert response is not None and response.status == 200
        page.wait_for_function("() => window.Reveal && Reveal.isReady()")
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("() => MathJax.startup.promise")
        page.evaluate("() => document.fonts.ready.then(() => true)")
        shown = page.evaluate("""() => { const c = document.querySelector('.reveal .slides').cloneNode(true);
                                         c.querySelectorAll('aside.notes, mjx-assistive-mml').forEach(n => n.remove());
                                         return c.textContent; }""")
        for tex in ("$", "\\(", "\\[", "\\frac", "\\mathbf", "\\sigma", "\\theta"):
            assert tex not in shown, f"raw TeX {tex!r} left on a slide"
        images = page.evaluate("() => Array.from(document.images).map(i => [i.complete && i.naturalWidth > 0, i.alt])")
        assert all(ok for ok, _ in images), "an image did not load"
        slides = page.evaluate(MEASURE)
        assert len(slides) == len(parsed(name)) == page.evaluate("() => Reveal.getTotalSlides()")
        where = lambda s: f"slide {s['h'] + 1} ({s['heading'].strip()[:60]!r})"  # noqa: E731
        tall = [f"{where(s)}: {s['height']} px" for s in slides if s["height"] > s["limit"]]
        assert not tall, f"slides taller than the {slides[0]['limit']} px slide: {tall}"
        wide = [where(s) for s in slides if s["width"] > s["limitWidth"] or s["wide"]]
        assert not wide, f"content wider than the slide or its box: {wide}"
        small = [f"{where(s)}: {share:.0%}" for s in slides for share in s["figures"] if share < MIN_FIGURE_SHARE]
        assert not small, f"figures narrower than {MIN_FIGURE_SHARE:.0%} of the slide width: {small}"
        fonts = {font for s in slides for font in s["code"]}
        assert all("mono" in f.lower() for f in fonts), f"code not in a monospace font: {fonts}"
        assert page.evaluate("() => typeof RevealNotes === 'function' || typeof RevealNotes === 'object'")
        # Screenshots for a person to look at: the title slide, the first figure (or the middle) and the last slide.
        SHOTS.mkdir(parents=True, exist_ok=True)
        with_figure = [s for s in slides if s["figures"]]
        picks = [slides[0], (with_figure or [slides[len(slides) // 2]])[0], slides[-1]]
        for k, s in enumerate(picks, start=1):
            page.evaluate(f"() => Reveal.slide({s['h']}, {s['v'] or 0})")
            page.wait_for_timeout(100)
            page.screenshot(path=str(SHOTS / f"{name}-{k}-slide{s['h'] + 1}.png"))
        assert not problems, "\n".join(problems)
    finally:
        context.close()


# ----------------------------------------------------------------------------------------------- the numbers

# A number as written on a slide or in a chapter: an optional sign (ASCII or Unicode minus, not after a letter,
# digit or closing bracket, so that "3-5" and "x-1" are not negative), digits with optional thousands commas, a
# decimal part, and an exponent written "e+04", "e-3" or "× 10^{4}" / "× 10⁴" / "\times 10^{-4}".
_SUPER = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
NUMBER = re.compile(
    r"(?<![\w.)\]}])(?P<sign>[-−])?(?<![\w.])"
    r"(?P<mant>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+|\d+)(?![\w.]*\d)?"
    r"(?P<exp>[eE][-+−]?\d+|\s*(?:×|\\times|\\cdot|·)\s*10\s*(?:\^\{?[-−+]?\d+\}?|[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+))?"
    r"(?P<pct>\s*(?:%|\\%))?")
# Numbers that are not measurements: exercise, chapter and section numbers, and years.
NOT_A_MEASUREMENT = re.compile(r"(Exercises?|Chapters?|chapters?|Sections?|sections?|§|Figure|figure)\s*$")


def _number_value(m: re.Match) -> float:
    mant = float(m["mant"].replace(",", ""))
    exp = m["exp"] or ""
    if exp:
        if exp[0] in "eE":
            mant *= 10.0 ** int(exp[1:].replace("−", "-"))
        else:
            power = re.search(r"[-−+]?\d+\}?$|[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+$", exp.strip()).group(0).rstrip("}")
            mant *= 10.0 ** int(power.translate(_SUPER).replace("−", "-"))
    return -mant if m["sign"] else mant


def numbers_in(text: str) -> set[float]:
    """Every number written in a text, as values (so ``1.19e+04``, ``11,900`` and ``1.19 × 10⁴`` are one number,
    and ``−0.5`` equals ``-0.5``)."""
    found = set()
    for m in NUMBER.finditer(text):
        value = _number_value(m)
        found.add(round(value, 12))
        if m["pct"]:  # 87.5% is also the fraction 0.875
            found.add(round(value / 100, 12))
    return found


def stated_numbers(text: str) -> list[tuple[str, float]]:
    """The numbers a slide or note states, as (as written, value): decimals, numbers in scientific form and
    integers of 3+ digits, outside fenced code blocks; exercise/chapter/section numbers and years left out."""
    text = re.sub(r"^(```|~~~).*?^\1\s*$", " ", text, flags=re.M | re.S)
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a figure's file name is no number
    out = []
    for m in NUMBER.finditer(text):
        mant = m["mant"].replace(",", "")
        if "." not in mant and not m["exp"] and len(mant) < 3:
            continue
        if NOT_A_MEASUREMENT.search(text[:m.start()]):
            continue
        if "." not in mant and not m["exp"] and len(mant) == 4 and 1900 <= int(mant) <= 2099:
            continue
        out.append((m.group(0).strip(), _number_value(m)))
    return out


def chapter_text(path: Path) -> str:
    """Everything a chapter writes or prints: its markdown and code sources and its stored outputs (stream text,
    plain-text and HTML results, error messages); for the summary page (``.md``) its text."""
    if path.suffix == ".md":
        return path.read_text(encoding="utf-8")
    pieces = []
    for cell in nbformat.read(path, as_version=4).cells:
        pieces.append(cell.source)
        for out in cell.get("outputs", []):
            if "text" in out:
                pieces.append(out["text"])
            for mime in ("text/plain", "text/html", "text/markdown", "text/latex"):
                if mime in out.get("data", {}):
                    pieces.append(out["data"][mime])
            if "traceback" in out:
                pieces.append("\n".join(out["traceback"]))
    return "\n".join(pieces)


def numbers_not_in_chapter(deck: Path, chapter: Path) -> list[str]:
    """Every number a deck states (slides and notes) that its chapter neither prints nor writes: 'slide n: 0.87'."""
    known = numbers_in(chapter_text(chapter))
    missing = []
    for slide in kit.parse_deck(deck):
        for text in (*[t for _, t in slide["parts"]], *slide["notes"]):
            for written, value in stated_numbers(text):
                if round(value, 12) not in known:
                    missing.append(f"slide {slide['index']}: {written}")
    return missing


def chapter_of(name: str) -> Path:
    return next(p for p in (chapter_master(name), ROOT / "book" / f"{name}.md") if p.exists())


@pytest.mark.parametrize("name", NAMES)
def test_every_number_on_a_deck_is_the_chapters(name):
    missing = numbers_not_in_chapter(kit.DECK_SOURCES / f"{name}.ipynb", chapter_of(name))
    assert not missing, f"{name}: numbers the chapter neither prints nor writes: {missing}"


def test_the_number_check_reads_numbers_as_values_and_fails_on_a_changed_output(tmp_path):
    same = numbers_in("1.19e+04 and 11,900 and 1.19 × 10⁴ and $1.19 \\times 10^{4}$")
    assert same == {11900.0}
    assert numbers_in("−0.25") == numbers_in("-0.25") == {-0.25} and numbers_in("x-1 and 3-5") == {1.0, 3.0, 5.0}
    assert numbers_in("87.5%") == {87.5, 0.875}
    assert [v for _, v in stated_numbers("Exercise 5.2, chapter 11, 2024, 0.5, 12, 512, 1e-3\n```\nx = 0.25\n```")] \
        == [0.5, 512.0, 0.001]
    # A scratch copy of chapter 5 with one printed number changed (one that its deck states and that the chapter
    # writes nowhere else): the check must then report the deck's copy of that number.
    name = "05_binary_classification"
    deck, chapter = kit.DECK_SOURCES / f"{name}.ipynb", chapter_master(name)
    assert numbers_not_in_chapter(deck, chapter) == []
    stated = {v for s in kit.parse_deck(deck) for t in (*[t for _, t in s["parts"]], *s["notes"])
              for _, v in stated_numbers(t)}
    counts: dict = {}
    for m in NUMBER.finditer(chapter_text(chapter)):
        counts[round(_number_value(m), 12)] = counts.get(round(_number_value(m), 12), 0) + 1
    nb = nbformat.read(chapter, as_version=4)
    changed = None
    for out in (o for c in nb.cells for o in c.get("outputs", []) if "text" in o):
        for m in NUMBER.finditer(out["text"]):
            value = round(_number_value(m), 12)
            if "." in m["mant"] and value in stated and counts[value] == 1:
                digit = "1" if m["mant"][-1] != "1" else "2"
                out["text"] = out["text"][:m.end("mant") - 1] + digit + out["text"][m.end("mant"):]
                changed = m.group(0).strip()
                break
        if changed:
            break
    assert changed, "no printed decimal of chapter 5 that its deck states is printed only once"
    scratch = tmp_path / chapter.name
    nbformat.write(nb, scratch)
    missing = numbers_not_in_chapter(deck, scratch)
    assert [m.split(": ", 1)[1] for m in missing] == [changed] * len(missing) and missing, (changed, missing)
