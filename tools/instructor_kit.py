"""The instructor's kit: the book as one PDF, a lecture deck per chapter, and the site without solutions.

    python tools/instructor_kit.py pdf [--solutions hide]   # _build/pdf/book.pdf (book-term.pdf: no solutions)
    python tools/instructor_kit.py slides                   # slides/NN_name.ipynb -> _build/slides/NN_name.html
    python tools/instructor_kit.py term                     # _build/html-term: the site with every solution removed
    python tools/instructor_kit.py publish [--solutions hide]   # copy the PDF and the decks into the site folder

(``make pdf``, ``make slides``, ``make book SOLUTIONS=hide`` and ``make site`` run these after the site build; ``make
test`` runs them side by side, then tests/test_pdf.py, test_slides.py and test_term_site.py.)

Nothing here executes a notebook. Every build takes the outputs of the site build (``make book``): the
Sphinx builds below (single page for the PDF, the term site) load the site build's parsed pages from
``_build/.doctrees``, whose outputs came from the execution cache that ``tools/execute_book.py`` fills from the
current code (the extension ``fresh_outputs`` refuses any other cache), and only write them out again; the decks
are made from the built chapter pages in ``_build/html``. Chapters are the numbered entries of ``_toc.yml``
(``book/NN_name``), so a new chapter gets its deck, its pages in the PDF and its term page on the next build.

* ``pdf``: the single-page HTML build (``_build/singlehtml``), printed by Chromium (Debian's
  ``/usr/bin/chromium`` where it exists, see ``tools/browser_setup.py``) once MathJax has typeset every formula,
  with print styles that wrap code and outputs, start each chapter on a new page, and put the book's title in the
  header and the page number in the footer. It is printed twice: in the first print, the named destination of each
  chapter's anchor (the contents link it) gives the chapter's page, which the second print writes into the table of contents. No TeX.
* ``slides``: the authored decks, one per chapter: ``slides/NN_name.ipynb`` (a markdown-only notebook with Jupyter's
  slideshow metadata, edited in Jupyter; the format is in ``slides/README.md``) into ``_build/slides/NN_name.html``.
  Each figure a deck references by a chapter cell id is taken from the executed chapter ``book/NN_name.ipynb``
  (also into ``slides/figures/``, so the source shows it in Jupyter); a reference without an image stops the build
  naming the deck, the slide and the cell id. The decks load reveal.js (npm, ``node_modules``) and MathJax
  (``book/_static/mathjax``) from ``_build/slides/lib``: offline. No site build is needed.
* ``term``: the site with ``hide_solutions`` (``book/_ext/editions.py`` removes gated solutions, their code
  cells and outputs), into ``_build/html-term``; its notebook downloads and Colab buttons are the student notebooks.
* ``publish``: ``book.pdf`` (the term PDF for the term site) and ``slides/`` into ``_build/html`` or
  ``_build/html-term``, where the welcome page and the chapter pages link them.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import shutil
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
DOCTREES = BUILD / ".doctrees"  # the site build's (jupyter-book's default for _build/html)
SITE = BUILD / "html"
TERM_SITE = BUILD / "html-term"
SLIDES = BUILD / "slides"
PDF_DIR = BUILD / "pdf"
MATHJAX = ROOT / "book" / "_static" / "mathjax"
REVEAL = ROOT / "node_modules" / "reveal.js" / "dist"
CHAPTER = re.compile(r"^\d\d_")

sys.path.insert(0, str(ROOT / "tools"))


# ----------------------------------------------------------------------------------------------- the book's chapters

def toc_files() -> list[str]:
    """Every file of ``_toc.yml`` in reading order (``book/index``, ``book/01_...``, ...)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("parts"))
    walk(toc.get("chapters"))
    walk(toc.get("sections"))
    return [f.removesuffix(".ipynb").removesuffix(".md") for f in files]


def chapters() -> list[str]:
    """The numbered chapters of ``_toc.yml``, as docnames (``book/03_regression``)."""
    return [f for f in toc_files() if CHAPTER.match(Path(f).name)]


def toc_parts() -> list[tuple[str, list[str]]]:
    """(part caption, docnames) in reading order; the root page is not listed."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    parts = []
    for part in toc.get("parts", []) or [{"caption": "", "chapters": toc.get("chapters", [])}]:
        names = []

        def walk(entries):
            for entry in entries or []:
                if "file" in entry:
                    names.append(entry["file"].removesuffix(".ipynb").removesuffix(".md"))
                walk(entry.get("sections"))

        walk(part.get("chapters"))
        parts.append((part.get("caption", ""), names))
    return parts


# ----------------------------------------------------------------------------------------------- solutions

# Plain prose of a solution, as it survives rendering: letters, spaces, commas and semicolons only (markup, math,
# code, quotes and dashes, which Sphinx may turn typographic, break a run).
_PROSE_RUN = re.compile(r"[A-Za-z][A-Za-z ,;]{38,}[A-Za-z]")


def squash(text: str) -> str:
    """Text without any whitespace: how page text and notebook text are compared (rendered code has its tokens in
    separate elements, so spaces come and go)."""
    return re.sub(r"\s+", "", text)


def _cell_text(cell) -> str:
    parts = [cell.source]
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif "text/plain" in out.get("data", {}) and "image/png" not in out["data"]:
            parts.append(out["data"]["text/plain"])  # (a figure's text form is its alt text, not page text)
    return "\n".join(parts)


@functools.lru_cache(maxsize=1)
def _student_text() -> str:
    """Every cell of every student notebook, squashed: what the course hands out anyway."""
    import nbformat
    return squash("\n".join(c.source for path in sorted((ROOT / "student").glob("*.ipynb"))
                             for c in nbformat.read(path, as_version=4).cells))


@functools.lru_cache(maxsize=None)
def solution_snippets(docname: str) -> tuple[str, ...]:
    """Distinctive pieces of a chapter's solutions (``course_pkg.homework.student.parse_master``): every line of
    solution code and its printed output with 20 or more characters, and every run of 40 or more characters of plain
    prose in solution markdown; minus whatever also appears outside the solutions (the rest of the master, and the
    student notebooks of every chapter, which keep each solution's ``def`` line and docstring). Empty for a page without a notebook."""
    import nbformat
    from course_pkg.homework.student import parse_master

    master = ROOT / f"{docname}.ipynb"
    if not master.exists():
        return []
    nb = nbformat.read(master, as_version=4)
    parsed = parse_master(nb, docname)
    inside, outside = [], []
    for i, segments in enumerate(parsed.segments):
        for segment in segments:
            kind, item = segment[0], (segment[1] if len(segment) > 1 else None)
            if kind == "solcode":
                inside += [line.strip() for line in _cell_text(item).split("\n")]
            elif kind in ("drop", "solution") and hasattr(item, "lines"):
                inside += _PROSE_RUN.findall("\n".join(item.lines))
            elif kind == "drop":  # a raw cell inside a solution
                inside += _PROSE_RUN.findall(item.source)
            elif kind in ("code", "raw"):
                outside.append(_cell_text(item))
            elif kind == "keep":
                outside.append("\n".join(item.lines))
    seen = squash("\n".join(outside)) + _student_text()
    snippets = []
    for piece in inside:
        key = squash(piece)
        if len(key) >= 20 and key not in seen and piece not in snippets:
            snippets.append(piece)
    return tuple(snippets)


def leaked(snippets, text: str, *, squashed: bool = False) -> list[str]:
    """The snippets that occur in ``text`` (whitespace ignored; ``squashed``: ``text`` is squashed already)."""
    flat = text if squashed else squash(text)
    return [s for s in snippets if squash(s) in flat]


def figures(docname: str, *, solutions: bool = True) -> int:
    """How many figures (PNG outputs) a chapter's master notebook holds; ``solutions=False``: outside its solutions
    (what the slides show)."""
    import nbformat
    from course_pkg.homework.student import parse_master

    master = ROOT / f"{docname}.ipynb"
    if not master.exists():
        return 0
    nb = nbformat.read(master, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    if not solutions:
        inside = {id(seg[1]) for segs in parse_master(nb, docname).segments for seg in segs
                  if seg[0] == "solcode" and len(seg) > 1}
        cells = [c for c in cells if id(c) not in inside]
    return sum(1 for c in cells for o in c.get("outputs", []) if "image/png" in o.get("data", {}))


def exercise_labels(docname: str) -> list[str]:
    """The ``:label:`` of every exercise of a chapter's master notebook, in order."""
    import nbformat
    from course_pkg.homework.student import split_blocks

    master = ROOT / f"{docname}.ipynb"
    if not master.exists():
        return []
    labels = []
    for cell in nbformat.read(master, as_version=4).cells:
        if cell.cell_type == "markdown":
            labels += [b.options.get("label", "") for b in split_blocks(cell.source)
                       if b.kind == "directive" and b.name in ("exercise", "exercise-start")]
    return labels


# ----------------------------------------------------------------------------------------------- Sphinx builds

def sphinx_build(builder: str, outdir: Path, *, hide_solutions: bool = False) -> None:
    """One more build from the site build's parsed pages (``_build/.doctrees``), with the site's strict settings."""
    from jupyter_book.sphinx import build_sphinx

    if not (DOCTREES / "environment.pickle").exists():
        sys.exit(f"instructor kit: no site build in {DOCTREES.relative_to(ROOT)}: run `make book` first")
    # The same configuration as `jupyter-book build . -W -n --keep-going` (Makefile), so Sphinx finds the pages it
    # parsed current and reads none again (a different configuration would make it re-read all of them).
    overrides = {"external_toc_path": (ROOT / "_toc.yml").as_posix(), "latex_individualpages": False,
                 "nitpicky": True}
    if hide_solutions:
        overrides["hide_solutions"] = True
    env = DOCTREES / "environment.pickle"
    before = env.stat().st_mtime_ns
    start = time.perf_counter()
    result = build_sphinx(ROOT, outdir, use_external_toc=True, noconfig=True, path_config=str(ROOT / "_config.yml"),
                          confoverrides=overrides, doctreedir=DOCTREES, builder=builder, freshenv=False, force_all=True,
                          warningiserror=True, keep_going=True, quiet=True)
    if isinstance(result, Exception) or result:
        sys.exit(f"instructor kit: the {builder} build into {outdir.relative_to(ROOT)} failed ({result!r}); see above")
    # Sphinx saves its environment only when it has read a page again, which could have executed a notebook: the
    # site build must be current (make runs it first), and then the kit's builds only write (several may run at once).
    if env.stat().st_mtime_ns != before:
        sys.exit(f"instructor kit: the {builder} build read pages again: the site build in {DOCTREES.relative_to(ROOT)} "
                 "was not current; run `make book`")
    print(f"instructor kit: {builder} build into {outdir.relative_to(ROOT)} in {time.perf_counter() - start:.1f} s",
          flush=True)


def term() -> Path:
    sphinx_build("html", TERM_SITE, hide_solutions=True)
    return TERM_SITE


# ----------------------------------------------------------------------------------------------- a local web server

class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextmanager
def serve(folder: Path):
    """Serve ``folder`` on localhost (MathJax loads its fonts and extensions by URL; file:// would refuse some)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()


# Bootstrap's scroll spy (the theme's "on this page" list) cannot select the single-page build's own anchors
# (#document-book/NN_name: a "/" is not valid in a CSS selector) and throws once on load; printing is unaffected.
KNOWN_PAGE_ERROR = re.compile(r"^Failed to execute 'querySelector' on 'Element': '#document-[^']*' is not a valid selector")


@contextmanager
def chromium_page():
    """A headless Chromium page that may load nothing from another host."""
    import browser_setup
    from playwright.sync_api import sync_playwright

    if browser_setup.find_chromium() is None:
        sys.exit("instructor kit: " + browser_setup.HOW)
    with sync_playwright() as pw:
        browser = browser_setup.launch(pw)
        try:
            page = browser.new_page()
            page.set_default_timeout(180_000)
            problems = []

            def route(r):
                if urlparse(r.request.url).hostname not in ("127.0.0.1", None) and not r.request.url.startswith("data:"):
                    problems.append(f"off-site request refused: {r.request.url}")
                    return r.abort()
                return r.continue_()

            page.route("**/*", route)
            page.on("pageerror", lambda e: None if KNOWN_PAGE_ERROR.search(str(e)) else problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url} ({r.failure})"))
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            yield page, problems
        finally:
            browser.close()


# ----------------------------------------------------------------------------------------------- the PDF

PRINT_CSS = r"""
@page { size: A4; margin: 16mm 14mm 16mm 14mm; }
html, body { background: #fff !important; color: #000 !important; font-size: 10.5pt; }
/* the page chrome of the site */
.bd-header, .bd-header-article, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer, .bd-footer-article,
.bd-footer-content, .prev-next-area, .header-article, .skip-link, #pst-skip-link, .search-button-field,
.theme-switch-button, .headerlink, .copybtn, .toggle-button, button.toggle-button, .homework-link,
.slides-link, .pst-scrollable-table-container::-webkit-scrollbar, .sidebar-toggle, .back-to-top,
#pst-back-to-top, .bd-search, .search-button
  { display: none !important; }
.bd-container, .bd-container__inner, .bd-main, .bd-content, .bd-article-container, .bd-article, .bd-page-width
  { max-width: none !important; width: auto !important; margin: 0 !important; padding: 0 !important;
    display: block !important; overflow: visible !important; }
/* code and outputs wrap instead of running off the page */
pre, .highlight pre, div.highlight, .cell_output pre, .output pre, code
  { white-space: pre-wrap !important; overflow-wrap: anywhere !important; word-break: break-word;
    overflow: visible !important; max-height: none !important; }
pre { font-size: 8.5pt !important; line-height: 1.3 !important; }
/* A code cell's frame (its border and grey background) stays with its code: a cell short enough for a page is
   never split, so one that starts near the bottom of a page moves to the next one whole, frame and all; a longer
   one breaks between lines, each part in a full frame of its own (clone), with at least three lines on either side.
   Only the outermost frame avoids a break: a nested one (the pre inside an output box) would move on alone and
   leave its box's background behind, empty, when the box is taller than a page. */
div.cell > div.cell_input, .cell_output .output, div[class^="highlight-"]:not(.cell div) { break-inside: avoid; }
pre, div.cell > div.cell_input, .cell_output .output
  { box-decoration-break: clone; -webkit-box-decoration-break: clone; orphans: 3; widows: 3; }
/* A wrapped line of code or output keeps its indentation, plus two more characters (a hanging indent): PREPARE_JS
   puts each line of a pre in its own span.course-line, with its indentation in --indent. */
pre span.course-line { display: block; white-space: pre-wrap; overflow-wrap: anywhere;
  padding-left: calc((var(--indent, 0) + 2) * 1ch); text-indent: calc((var(--indent, 0) + 2) * -1ch); }
.cell_output, .output, .cell, .cell_input, div.highlight, .pst-scrollable-table-container
  { overflow: visible !important; max-height: none !important; }
table { font-size: 9pt; }
img { max-width: 100% !important; height: auto !important; break-inside: avoid; }
mjx-container[display="true"] { overflow: visible !important; max-width: 100%; }
/* solutions print open */
.toggle-hidden, .dropdown > :not(.admonition-title), details > * { display: block !important;
  visibility: visible !important; opacity: 1 !important; height: auto !important; max-height: none !important; }
.admonition, figure, .cell_output img, mjx-container[display="true"] { break-inside: avoid; }
h1, h2, h3 { break-after: avoid; }
/* the theme's print styles hide a page's first h1 (its own print header repeats it): here each chapter keeps it */
.bd-main .bd-content .bd-article h1, .bd-article h1 { display: block !important; }
/* each chapter starts a page */
.course-chapter { break-before: page; }
#course-cover { break-after: page; text-align: center; padding-top: 30vh; }
#course-cover h1 { break-before: auto; font-size: 26pt; }
#course-contents { break-after: page; }
#course-contents h2 { font-size: 16pt; }
#course-contents ol { list-style: none; padding-left: 0; }
#course-contents li.part { font-weight: 600; margin-top: 0.8em; }
#course-contents li.entry { display: flex; margin: 0.15em 0 0.15em 1.2em; }
#course-contents li.entry .title { flex: 0 1 auto; }
#course-contents li.entry .dots { flex: 1 1 auto; border-bottom: 1px dotted #666; margin: 0 0.4em 0.3em; }
#course-contents li.entry .page { flex: 0 0 auto; }
a { color: #000 !important; text-decoration: none !important; }
"""

# Opens every dropdown, and puts a cover and a table of contents before the first page of the book.
PREPARE_JS = r"""
([title, author, parts]) => {
  // Only the book itself is printed: the site's header, sidebars, footers and buttons go (the theme's own print
  // styles would keep some of them, such as the "on this page" list).
  document.querySelectorAll(['.bd-header', '.bd-header-article', '.header-article', '.bd-sidebar-primary',
    '.bd-sidebar-secondary', '.bd-footer', '.bd-footer-content', '.bd-footer-article', '.prev-next-area',
    '#pst-skip-link', '#pst-back-to-top', '.search-button__wrapper', '.pst-async-banner-revealer',
    'label.overlay', 'input.sidebar-toggle', '.homework-link', '.slides-link', '.onlyprint'].join(', ')).forEach(e => e.remove());
  document.querySelectorAll('details').forEach(d => d.open = true);
  // The welcome page says what the site has; the PDF has no solution toggle (its solutions print open, or not at
  // all in the term PDF), no link to itself and no slides: those sentences go, one for the PDF comes instead.
  for (const box of document.querySelectorAll('.only-with-solutions, .only-without-solutions')) {
    const p = document.createElement('p');
    p.textContent = box.classList.contains('only-with-solutions')
      ? 'In this PDF each exercise is followed by its solution: cover it and try the exercise first.'
      : 'This edition, made for a course in progress, shows every exercise without its solution.';
    box.replaceWith(p);
  }
  for (const a of Array.from(document.querySelectorAll('a[href$="book.pdf"], a[href*="slides/"]'))) {
    const p = a.closest('p');
    if (p) p.remove(); else a.remove();
  }
  // Each line of code or output in its own span (its indentation in --indent), so a line too long for the page
  // wraps with a hanging indent (PRINT_CSS). Pygments' token spans are split at the line ends they contain.
  for (const pre of document.querySelectorAll('pre')) {
    const lines = [[]];
    const walk = (node, wrap) => {
      if (node.nodeType === Node.TEXT_NODE) {
        node.textContent.split('\n').forEach((piece, i) => {
          if (i > 0) lines.push([]);
          if (piece) lines[lines.length - 1].push(wrap(document.createTextNode(piece)));
        });
      } else if (node.nodeType === Node.ELEMENT_NODE) {
        for (const child of Array.from(node.childNodes))
          walk(child, inner => { const copy = node.cloneNode(false); copy.append(wrap(inner)); return copy; });
      }
    };
    for (const child of Array.from(pre.childNodes)) walk(child, x => x);
    if (lines.length > 1 && lines[lines.length - 1].length === 0) lines.pop();
    pre.replaceChildren(...lines.map(parts => {
      const line = document.createElement('span');
      line.className = 'course-line';
      line.append(...parts);
      if (!parts.length) line.append(document.createTextNode('\u200b'));  // an empty line keeps its height
      line.style.setProperty('--indent', String(line.textContent.match(/^ */)[0].length));
      return line;
    }));
  }
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  // The single page nests every document inside the welcome page's table of contents (chapter titles become h3,
  // and the welcome page's last sections come after the book). Each document becomes a top-level chapter, in order,
  // after the whole welcome page, with its headings raised two levels (so the PDF's bookmarks nest properly).
  const welcome = article.querySelector(':scope > section');
  const wrappers = Array.from(welcome.querySelectorAll('.toctree-wrapper'));
  const moved = [];
  for (const wrapper of wrappers) {
    let anchor = null;  // <span id="document-book/NN_name">, which Sphinx puts before each document
    for (const child of Array.from(wrapper.children)) {
      if (child.tagName !== 'SECTION') { anchor = child; continue; }
      child.classList.add('course-chapter');
      if (anchor) {  // on the chapter's first page, not at the end of the page before; and a plain id to link to
        const mark = document.createElement('span');
        mark.id = 'course-' + anchor.id.replace(/^document-/, '').replace(/[^A-Za-z0-9_-]/g, '-');
        child.prepend(anchor, mark);
      }
      anchor = null;
      article.append(child);
      moved.push(child);
    }
    wrapper.remove();
  }
  // Links to the local server would be dead in the PDF: only links within the book and to other sites stay.
  for (const a of Array.from(document.querySelectorAll('a[href]'))) {
    const href = a.getAttribute('href');
    if (!href.startsWith('#') && !/^(https?:|mailto:)/.test(href)) a.removeAttribute('href');
  }
  document.querySelectorAll('a.headerlink').forEach(a => a.remove());
  for (const chapter of moved) {
    for (const h of Array.from(chapter.querySelectorAll('h1, h2, h3, h4, h5, h6'))) {
      const level = Math.max(1, Number(h.tagName[1]) - 2);
      const raised = document.createElement('h' + level);
      for (const a of Array.from(h.attributes)) raised.setAttribute(a.name, a.value);
      raised.append(...h.childNodes);
      h.replaceWith(raised);
    }
  }
  const cover = document.createElement('div');
  cover.id = 'course-cover';
  cover.innerHTML = '<h1></h1><p class="author"></p>';
  cover.querySelector('h1').textContent = title;
  cover.querySelector('.author').textContent = author;
  const contents = document.createElement('nav');
  contents.id = 'course-contents';
  contents.innerHTML = '<h2>Contents</h2><ol></ol>';
  const list = contents.querySelector('ol');
  for (const [caption, entries] of parts) {
    if (caption) { const li = document.createElement('li'); li.className = 'part'; li.textContent = caption; list.append(li); }
    for (const [docname, text] of entries) {
      const li = document.createElement('li');
      li.className = 'entry';
      li.dataset.docname = docname;
      li.innerHTML = '<a class="title"></a><span class="dots"></span><span class="page">000</span>';
      li.querySelector('.title').textContent = text;
      li.querySelector('.title').href = '#course-' + docname.replace(/[^A-Za-z0-9_-]/g, '-');
      list.append(li);
    }
  }
  article.prepend(cover, contents);
}
"""

# A4 (210 mm) less the 14 mm margins, in CSS pixels (96 per inch)
PRINT_WIDTH_PX = int((210 - 2 * 14) / 25.4 * 96)

FIT_MATH_JS = r"""
() => {
  let shrunk = 0;
  for (const box of document.querySelectorAll('mjx-container[display="true"]')) {
    const math = box.querySelector(':scope > mjx-math') || box.firstElementChild;
    if (!math) continue;
    const room = box.clientWidth, need = math.getBoundingClientRect().width;
    if (room > 0 && need > room) {
      const size = parseFloat(getComputedStyle(box).fontSize);
      box.style.fontSize = (size * room / need * 0.98) + 'px';
      shrunk += 1;
    }
  }
  return shrunk;
}
"""

HEADER = ('<div style="font-size:7.5pt;width:100%;padding:0 14mm;color:#555;font-family:sans-serif;">'
          '<span class="title"></span></div>')
FOOTER = ('<div style="font-size:7.5pt;width:100%;padding:0 14mm;color:#555;font-family:sans-serif;text-align:right">'
          'page <span class="pageNumber"></span> of <span class="totalPages"></span></div>')


def chapter_titles(html_dir: Path) -> dict[str, str]:
    """docname -> the title of its page, from the single-page build's own navigation (the toctree titles)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup((html_dir / "book" / "index.html").read_text(), "html.parser")
    titles = {}
    for a in soup.select("nav a[href*='#document-'], .bd-sidebar a[href*='#document-'], a.reference.internal"):
        href = a.get("href", "")
        if "#document-" in href:
            titles.setdefault(href.split("#document-", 1)[1], a.get_text(" ", strip=True))
    return titles


def destination_pages(pdf: bytes, names: list[str]) -> dict[str, int]:
    """The 1-based page of each named destination (an anchor id the page links to) of a printed PDF."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    doc = pdfium.PdfDocument(pdf)
    try:
        found = {}
        for name in names:
            dest = raw.FPDF_GetNamedDestByName(doc.raw, name.encode())
            if dest:
                found[name] = raw.FPDFDest_GetDestPageIndex(doc.raw, dest) + 1
        return found
    finally:
        doc.close()


def page_count(pdf: Path) -> int:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        return len(doc)
    finally:
        doc.close()


def anchor_id(docname: str) -> str:
    """The id the PDF's contents link for a document (PREPARE_JS puts it at the document's start)."""
    return "course-" + re.sub(r"[^A-Za-z0-9_-]", "-", docname)


def norm(text: str) -> str:
    """A heading as it compares across page texts: no header-link sign, no whitespace, lower case."""
    return squash(text.replace("#", "")).lower()


def print_pdf(html_dir: Path, target: Path) -> dict:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    titles = chapter_titles(html_dir)
    parts = [(caption, [(d, titles.get(d, Path(d).name)) for d in names]) for caption, names in toc_parts()]
    missing = [d for _, names in toc_parts() for d in names if d not in titles]
    if missing:
        sys.exit(f"instructor kit: the single-page build has no title for {missing}")
    anchors = [anchor_id(d) for _, entries in parts for d, _ in entries]
    # Sphinx writes the single page at the root document's path (book/index.html) with every link and asset relative
    # to the folder's root: a copy at the root, whose links to its own anchors stay in the page (and so in the PDF).
    single = (html_dir / "book" / "index.html").read_text()
    (html_dir / "print.html").write_text(single.replace('href="book/index.html#', 'href="#'))
    with serve(html_dir) as url, chromium_page() as (page, problems):
        start = time.perf_counter()
        page.goto(url + "print.html", wait_until="load")
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("() => MathJax.startup.promise")
        page.add_style_tag(content=PRINT_CSS)
        page.evaluate(PREPARE_JS, [config["title"], config.get("author", ""), parts])
        page.evaluate("() => document.fonts.ready.then(() => true)")
        # Laid out as printed (print styles, the width of an A4 page inside its margins), a display formula wider
        # than the page is set smaller until it fits (MathJax 3 does not break lines); code and outputs wrap.
        page.emulate_media(media="print")
        page.set_viewport_size({"width": PRINT_WIDTH_PX, "height": 1100})
        shrunk = page.evaluate(FIT_MATH_JS)
        raw = page.evaluate("() => (document.querySelector('article') || document.body).innerText")
        if "$$" in raw:
            sys.exit("instructor kit: raw $$ left in the single page after MathJax: a formula was not typeset")
        options = dict(format="A4", print_background=True, display_header_footer=True, header_template=HEADER,
                       footer_template=FOOTER, margin={"top": "16mm", "bottom": "16mm", "left": "14mm",
                                                       "right": "14mm"}, outline=True, tagged=True)
        # (Chromium makes the outline, one bookmark per heading, from the tags of a tagged print only)
        # First print: where each chapter starts (the contents link each chapter's anchor, which Chromium keeps as a
        # named destination); second print: the same pages with those numbers written into the contents.
        # The first print is untagged: the same pages (tags change no layout) in about half the time.
        first = page.pdf(**{**options, "tagged": False, "outline": False})
        at = destination_pages(first, anchors)
        if set(at) != set(anchors):
            sys.exit(f"instructor kit: no destination in the PDF for {sorted(set(anchors) - set(at))}")
        pages = {d: at[anchor_id(d)] for _, entries in parts for d, _ in entries}
        page.evaluate("""(pages) => document.querySelectorAll('#course-contents li.entry').forEach(li => {
                           li.querySelector('.page').textContent = String(pages[li.dataset.docname]); })""", pages)
        final = page.pdf(**options)
        again = {d: p for d, p in zip(pages, (destination_pages(final, anchors)[a] for a in anchors))}
        if again != pages:
            sys.exit(f"instructor kit: filling in the page numbers moved the chapters ({pages} -> {again})")
        if problems:
            sys.exit("instructor kit: the single page had problems:\n" + "\n".join(problems))
        took = time.perf_counter() - start
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(final)
    (target.with_suffix(".json")).write_text(json.dumps({"chapters": {d: {"title": t, "page": pages[d]}
                                                                     for _, e in parts for d, t in e},
                                                        "formulas_set_smaller": shrunk,
                                                        "print_seconds": round(took, 1)}, indent=1) + "\n")
    print(f"instructor kit: {target.relative_to(ROOT)} ({len(final) / 1e6:.1f} MB, "
          f"{page_count(target)} pages) printed in {took:.1f} s", flush=True)
    return pages


def pdf(hide_solutions: bool = False) -> Path:
    html_dir = BUILD / ("singlehtml-term" if hide_solutions else "singlehtml")
    sphinx_build("singlehtml", html_dir, hide_solutions=hide_solutions)
    target = PDF_DIR / ("book-term.pdf" if hide_solutions else "book.pdf")
    print_pdf(html_dir, target)
    return target


# ----------------------------------------------------------------------------------------------- the slides

DECK_SOURCES = ROOT / "slides"
SLIDE_WIDTH, SLIDE_HEIGHT = 1280, 720
FIGURE_REF = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<path>figures/(?P<deck>[^/)\s]+)/(?P<cell>[\w-]+?)(?:-(?P<n>\d+))?\.png)\)")
MISCONCEPTION_HEADING = "A common misconception"


class DeckError(ValueError):
    """A deck source that cannot be built (names the deck, the slide and the problem)."""


def deck_sources(folder: Path = DECK_SOURCES) -> list[Path]:
    """The deck sources, ``slides/NN_name.ipynb``, in chapter order."""
    return sorted(p for p in folder.glob("*.ipynb") if CHAPTER.match(p.name))


def slide_type(cell) -> str:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-") or "-"


def parse_deck(path: Path) -> list[dict]:
    """The slides of a deck source: ``[{"kind": "slide"|"subslide", "parts": [(fragment?, markdown)],
    "notes": [markdown], "heading": str, "index": n}]`` (Jupyter's slideshow metadata, see slides/README.md)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    slides: list[dict] = []
    for i, cell in enumerate(nb.cells):
        kind = slide_type(cell)
        if cell.cell_type != "markdown":
            raise DeckError(f"{path.name}, cell {i}: a deck holds markdown cells only (found a {cell.cell_type} cell)")
        if kind == "skip":
            continue
        if kind not in ("slide", "subslide", "fragment", "notes", "-"):
            raise DeckError(f"{path.name}, cell {i}: unknown slide_type {kind!r}")
        if kind in ("slide", "subslide"):
            heading = re.match(r"^#{1,2} +(.+)$", cell.source.lstrip().split("\n", 1)[0])
            slides.append({"kind": kind, "parts": [], "notes": [], "index": len(slides) + 1,
                           "heading": heading.group(1).strip() if heading else ""})
        elif not slides:
            raise DeckError(f"{path.name}, cell {i}: the first cell must start a slide (slide_type 'slide')")
        if kind == "notes":
            slides[-1]["notes"].append(cell.source)
        else:
            slides[-1]["parts"].append((kind == "fragment", cell.source))
    return slides


def figure_refs(path: Path) -> list[dict]:
    """Every figure reference of a deck: ``{"slide": n, "heading", "path", "deck", "cell", "n", "alt"}``."""
    refs = []
    for slide in parse_deck(path):
        for _, text in slide["parts"]:
            for m in FIGURE_REF.finditer(text):
                refs.append({"slide": slide["index"], "heading": slide["heading"], "path": m["path"],
                             "deck": m["deck"], "cell": m["cell"], "n": int(m["n"] or 1), "alt": m["alt"]})
    return refs


def chapter_images(chapter: Path) -> dict:
    """Cell id -> the PNG images of that code cell's outputs (bytes, in order), from an executed chapter notebook."""
    import base64

    import nbformat

    images = {}
    for cell in nbformat.read(chapter, as_version=4).cells:
        if cell.cell_type == "code":
            pngs = [base64.b64decode(o["data"]["image/png"]) for o in cell.get("outputs", [])
                    if "image/png" in o.get("data", {})]
            if pngs:
                images[cell.get("id")] = pngs
    return images


def extract_figures(path: Path, targets: list[Path], book: Path = ROOT / "book") -> int:
    """Write every figure a deck references into ``<target>/figures/<deck>/`` for each target folder; raise
    :class:`DeckError` naming the deck, the slide and the cell id when a reference has no image."""
    stem, count = path.stem, 0
    cache: dict = {}
    for ref in figure_refs(path):
        where = f"{path.name}, slide {ref['slide']} ({ref['heading']!r})"
        if ref["deck"] != stem:
            raise DeckError(f"{where}: figure {ref['path']} is not under figures/{stem}/")
        chapter = book / f"{stem}.ipynb"
        if not chapter.exists():
            raise DeckError(f"{where}: figure {ref['path']}: no chapter notebook {chapter.relative_to(ROOT)}")
        if stem not in cache:
            cache[stem] = chapter_images(chapter)
        pngs = cache[stem].get(ref["cell"], [])
        if len(pngs) < ref["n"]:
            have = f"it has {len(pngs)} image(s)" if ref["cell"] in cache[stem] or pngs else "no code cell with that id has an image"
            raise DeckError(f"{where}: figure {ref['path']}: cell id {ref['cell']!r} of {chapter.name}: {have}")
        for target in targets:
            out = target / ref["path"]
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(pngs[ref["n"] - 1])
        count += 1
    return count


def _markdown(math: bool = True):
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("table")
    if math:
        from html import escape

        def render(content, options):
            if options.get("display_mode"):
                return f'<div class="equation">\\[{escape(content)}\\]</div>\n'
            return f"\\({escape(content)}\\)"

        md.use(dollarmath_plugin, double_inline=True, renderer=render)
    return md


def render_markdown(text: str, *, math: bool = True) -> str:
    """Deck markdown to HTML: ``$`` math for MathJax (``\\(...\\)``), a paragraph that is only a figure becomes
    a full-width figure."""
    html = _markdown(math).render(text)
    return re.sub(r"<p>(<img [^>]+>)</p>", r'<div class="figure">\1</div>', html)


def render_slide(slide: dict) -> str:
    parts = []
    for fragment, text in slide["parts"]:
        body = render_markdown(text)
        parts.append(f'<div class="fragment">{body}</div>' if fragment else body)
    body = "\n".join(parts)
    classes = ["deck-slide"]
    if slide["heading"].startswith(MISCONCEPTION_HEADING):
        classes.append("misconception-slide")
        head, _, rest = body.partition("</h2>")
        body = f'{head}</h2>\n<div class="misconception">{rest}</div>' if rest else body
    if slide["index"] == 1:
        classes.append("deck-title")
    notes = "\n".join(render_markdown(n, math=False) for n in slide["notes"])
    aside = f'\n<aside class="notes">{notes}</aside>' if notes else ""
    return f'<section class="{" ".join(classes)}">\n{body}{aside}\n</section>'


def render_deck(path: Path) -> tuple[str, str, int]:
    """(html, title, number of slides) of one deck source."""
    from html import escape

    slides = parse_deck(path)
    if not slides:
        raise DeckError(f"{path.name}: no slides")
    stacks: list[list[str]] = []
    for slide in slides:
        if slide["kind"] == "subslide" and stacks:
            stacks[-1].append(render_slide(slide))
        else:
            stacks.append([render_slide(slide)])
    body = "\n".join(stack[0] if len(stack) == 1 else "<section>\n" + "\n".join(stack) + "\n</section>"
                     for stack in stacks)
    title = slides[0]["heading"] or path.stem
    return DECK.format(title=escape(title), slides=body, width=SLIDE_WIDTH, height=SLIDE_HEIGHT), title, len(slides)


DECK = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="lib/reveal/reveal.css">
<link rel="stylesheet" href="lib/reveal/theme/white.css">
<link rel="stylesheet" href="lib/slides.css">
<script>
// A figure takes the slide's full width unless the slide would then be taller than the slide: its width is then
// what keeps the slide within its height (at the figure's own aspect ratio). Run on every slide once fonts and
// MathJax are ready.
window.fitSlide = function (slide) {{
  if (!slide || !window.Reveal) return;
  const limit = Reveal.getConfig().height;
  const images = Array.from(slide.querySelectorAll(".figure img"));
  images.forEach(img => {{ img.style.width = ""; }});
  const over = slide.scrollHeight - limit;
  if (over > 0) images.forEach(img => {{
    const aspect = img.naturalWidth / img.naturalHeight || img.offsetWidth / img.offsetHeight;
    img.style.width = Math.floor((img.offsetHeight - over / images.length - 2) * aspect) + "px";
  }});
}};
window.fitAll = function () {{ document.querySelectorAll(".reveal .slides section.deck-slide").forEach(fitSlide); }};
window.MathJax = {{
  tex: {{inlineMath: [["\\\\(", "\\\\)"]], displayMath: [["\\\\[", "\\\\]"]], processEscapes: false}},
  options: {{ignoreHtmlClass: "notes"}},
  startup: {{pageReady: () => MathJax.startup.defaultPageReady().then(() => {{
    if (window.Reveal && Reveal.isReady()) {{ fitAll(); Reveal.layout(); }}
  }})}}
}};
</script>
<script defer id="MathJax-script" src="lib/mathjax/tex-chtml.js"></script>
</head>
<body>
<div class="reveal"><div class="slides">
{slides}
</div></div>
<script src="lib/reveal/reveal.js"></script>
<script src="lib/reveal/plugin/notes.js"></script>
<script>
Reveal.initialize({{hash: true, width: {width}, height: {height}, margin: 0.04, center: false, slideNumber: "c/t",
                    transition: "none", plugins: [RevealNotes]}});
Reveal.on("ready", () => {{ fitAll(); }});
Reveal.on("slidechanged", (event) => fitSlide(event.currentSlide));
document.querySelectorAll(".figure img").forEach(img => img.addEventListener("load", () => fitSlide(img.closest("section"))));
</script>
</body>
</html>
"""

SLIDES_CSS = """
.reveal { font-size: 30px; }
.reveal .slides section { text-align: left; height: 100%; }
.reveal h1 { font-size: 1.8em; text-transform: none; line-height: 1.15; }
.reveal h2 { font-size: 1.25em; text-transform: none; margin: 0 0 0.4em; line-height: 1.15; }
.reveal h3 { font-size: 1.05em; text-transform: none; color: #555; }
.reveal .deck-title h1 { margin-top: 1.6em; }
.reveal p { margin: 0.35em 0; line-height: 1.35; }
.reveal ul, .reveal ol { display: block; margin-left: 1.1em; }
.reveal li { margin: 0.2em 0; line-height: 1.3; }
.reveal .equation { font-size: 0.95em; margin: 0.35em 0; text-align: center; }
.reveal .figure { text-align: center; margin: 0.2em 0 0; }
.reveal .figure img { width: 100%; height: auto; margin: 0; border: 0; box-shadow: none; background: #fff; }
.reveal pre { width: 100%; box-shadow: none; margin: 0.4em 0; font-size: 0.72em; }
.reveal pre code { font-family: "DejaVu Sans Mono", Menlo, Consolas, "Liberation Mono", monospace;
                   max-height: none; padding: 0.5em 0.7em; background: #f4f5f7; color: #1f2328; line-height: 1.35; }
.reveal code { font-family: "DejaVu Sans Mono", Menlo, Consolas, "Liberation Mono", monospace; font-size: 0.88em;
               color: #1d3f73; }
.reveal pre code { color: #1f2328; font-size: 1em; }  /* 0.72 x 30 px: code at about 21 px on a 1280x720 slide */
.reveal .misconception { border-left: 8px solid #c0392b; background: #fdf2f0; padding: 0.3em 0.9em; }
.reveal .misconception-slide h2 { color: #8e2a1f; }
.reveal blockquote { width: auto; margin: 0.4em 0; padding: 0.3em 0.8em; box-shadow: none; font-style: normal;
                     border-left: 6px solid #2a6db0; background: #f1f6fc; }
.reveal table { font-size: 0.8em; border-collapse: collapse; margin: 0.3em 0; }
.reveal table th, .reveal table td { border-bottom: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; }
/* contrast of at least 4.5:1: links, and the slide number on a solid background */
.reveal a { color: #1a4f8a; }
.reveal .slide-number { background-color: #333; color: #fff; }
.reveal .slide-number a { color: #fff; }
"""


def slides(out: Path = SLIDES, sources: Path = DECK_SOURCES, book: Path = ROOT / "book") -> list[Path]:
    """One reveal.js deck per source ``slides/NN_name.ipynb`` (see slides/README.md), into ``out``; the figures the
    decks reference are extracted from the executed chapters into ``out/figures`` and ``slides/figures``."""
    if not (REVEAL / "reveal.js").exists():
        sys.exit(f"instructor kit: {REVEAL.relative_to(ROOT)} missing: run `python tools/browser_setup.py` (npm ci)")
    if out.exists():
        shutil.rmtree(out)
    lib = out / "lib"
    (lib / "reveal" / "theme").mkdir(parents=True)
    (lib / "reveal" / "plugin").mkdir(parents=True)
    for name in ("reveal.js", "reveal.css", "reset.css"):
        shutil.copyfile(REVEAL / name, lib / "reveal" / name)
    shutil.copyfile(REVEAL / "theme" / "white.css", lib / "reveal" / "theme" / "white.css")
    if (REVEAL / "theme" / "fonts").exists():
        shutil.copytree(REVEAL / "theme" / "fonts", lib / "reveal" / "theme" / "fonts")
    shutil.copyfile(REVEAL / "plugin" / "notes.js", lib / "reveal" / "plugin" / "notes.js")
    shutil.copyfile(REVEAL.parent / "LICENSE", lib / "reveal" / "LICENSE")
    shutil.copytree(MATHJAX, lib / "mathjax")
    (lib / "slides.css").write_text(SLIDES_CSS)
    decks, summary = [], {}
    for source in deck_sources(sources):
        try:
            figures_count = extract_figures(source, [out, sources], book)
            html, title, count = render_deck(source)
        except DeckError as err:
            sys.exit(f"instructor kit: {err}")
        target = out / f"{source.stem}.html"
        target.write_text(html, encoding="utf-8")
        decks.append(target)
        summary[target.name] = {"title": title, "slides": count, "figures": figures_count}
    (out / "decks.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"instructor kit: {len(decks)} decks in {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} "
          f"({sum(d['slides'] for d in summary.values())} slides)", flush=True)
    return decks


# ----------------------------------------------------------------------------------------------- publish

def publish(hide_solutions: bool = False) -> Path:
    site = TERM_SITE if hide_solutions else SITE
    book = PDF_DIR / ("book-term.pdf" if hide_solutions else "book.pdf")
    for need in (site / "index.html", book, SLIDES / "decks.json"):
        if not need.exists():
            sys.exit(f"instructor kit: {need.relative_to(ROOT)} missing (make book, make pdf, make slides"
                     f"{' with SOLUTIONS=hide' if hide_solutions else ''})")
    shutil.copyfile(book, site / "book.pdf")
    if (site / "slides").exists():
        shutil.rmtree(site / "slides")
    shutil.copytree(SLIDES, site / "slides")
    print(f"instructor kit: {site.relative_to(ROOT)} has book.pdf and slides/", flush=True)
    return site


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["pdf", "slides", "term", "publish"])
    ap.add_argument("--solutions", choices=["show", "hide"], default="show")
    args = ap.parse_args(argv)
    hide = args.solutions == "hide"
    if args.what == "pdf":
        pdf(hide)
    elif args.what == "slides":
        slides()
    elif args.what == "term":
        term()
    else:
        publish(hide)
    return 0


if __name__ == "__main__":
    sys.exit(main())
