"""The book as one PDF (``make pdf``: ``tools/instructor_kit.py pdf`` into ``_build/pdf/book.pdf``).

Read back with PDFium (pypdfium2): a plausible page count for the chapters of ``_toc.yml``; every chapter's title on the page
the table of contents gives for it (and that page is where the PDF's bookmark for the chapter points); every page
numbered in its footer; as many embedded images as the chapters' notebooks have figures; no TeX left unrendered;
the longest lines of code and printed output present in full (wrapped, not cut off at the margin), and no
text in the side margins (where a formula or line too wide for the page would run off it).
``make test`` prints the PDF before this runs.
"""
from __future__ import annotations

import json
import re
import sys
import unicodedata
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import instructor_kit as kit  # noqa: E402

PDF = kit.PDF_DIR / "book.pdf"
# TeX that MathJax should have turned into typeset math; none of it may reach the page text.
RAW_TEX = [r"$$", r"\frac", r"\mathbf", r"\mathbb", r"\begin{", r"\sigma", r"\(", r"\[", r"\operatorname"]


@pytest.fixture(scope="module")
def reader():
    if not PDF.exists():
        pytest.fail(f"{PDF} missing: run `make pdf` (make test does)")
    import pypdfium2 as pdfium
    doc = pdfium.PdfDocument(PDF)
    yield doc
    doc.close()


@pytest.fixture(scope="module")
def texts(reader):
    # PDFium marks a hyphen at the end of a line (a wrapped "9.9e-12") as "\x02": it is the printed hyphen
    return [reader[i].get_textpage().get_text_bounded().replace("\x02", "-") for i in range(len(reader))]


@pytest.fixture(scope="module")
def record():
    return json.loads(PDF.with_suffix(".json").read_text())["chapters"]


def chapter_notebooks():
    return [ROOT / f"{d}.ipynb" for d in kit.chapters() if (ROOT / f"{d}.ipynb").exists()]


def flat(text: str) -> str:
    """Text as it compares with the PDF's text layer: ligatures (the "fi" of "classification") split, no whitespace,
    lower case."""
    return kit.squash(unicodedata.normalize("NFKC", text)).lower()


def test_page_count_is_plausible(reader):
    chapters = kit.chapters()
    assert 3 * len(chapters) <= len(reader) <= 40 * len(chapters), len(reader)


def test_every_entry_of_the_toc_is_on_its_page(reader, texts, record):
    entries = [d for _, names in kit.toc_parts() for d in names]
    assert set(record) == set(entries), "the PDF was printed from another table of contents: run `make pdf`"
    contents = texts[1] if len(texts) > 1 else ""
    assert "Contents" in texts[1], "page 2 should be the table of contents"
    pages = []
    for docname in entries:
        title, number = record[docname]["title"], record[docname]["page"]
        assert flat(title) in flat(texts[number - 1]), f"{title!r} is not on page {number}, where the contents say"
        # the contents line: the title, then its page number
        assert re.search(re.escape(flat(title)) + r"\.*" + str(number), flat(contents)), \
            f"the table of contents does not list {title!r} with page {number}"
        pages.append(number)
    assert pages == sorted(pages) and len(set(pages)) == len(pages), f"chapters out of order or sharing a page: {pages}"
    bookmarks = {}
    for item in reader.get_toc():
        if item.level == 0:
            bookmarks.setdefault(kit.norm(unicodedata.normalize("NFKC", item.get_title())), item.get_dest().get_index() + 1)
    for docname in entries:
        title = kit.norm(record[docname]["title"])
        assert bookmarks.get(title) == record[docname]["page"], f"the bookmark of {title!r} points elsewhere"


def test_every_chapter_title_is_in_the_text(texts):
    from bs4 import BeautifulSoup
    everything = flat("\n".join(texts))
    for docname in kit.chapters():
        page = kit.SITE / f"{docname}.html"
        title = BeautifulSoup(page.read_text(), "html.parser").find("h1").get_text(" ", strip=True).rstrip("#")
        assert flat(title) in everything, f"chapter title {title!r} not in the PDF"


def test_every_page_is_numbered(texts):
    total = len(texts)
    for number, text in enumerate(texts, start=1):
        assert f"page {number} of {total}" in text, f"page {number} has no page number in its footer"


def test_every_figure_is_embedded(reader):
    figures = sum(kit.figures(docname) for docname in kit.chapters())  # solutions included: the PDF shows them
    assert figures >= 20, figures
    import pypdfium2.raw as raw
    images = sum(1 for i in range(len(reader)) for _ in reader[i].get_objects(filter=[raw.FPDF_PAGEOBJ_IMAGE]))
    assert images >= figures, f"{images} images embedded for {figures} figures in the chapters"


def test_no_raw_tex_in_the_text(texts):
    everything = "\n".join(texts)
    code = "\n".join(cell.source for path in chapter_notebooks()
                     for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
    for tex in RAW_TEX:
        if tex in code:
            continue  # the chapters' own code prints it (a figure label, say): not a formula left unrendered
        assert tex not in everything, f"raw TeX {tex!r} in the PDF text: a formula was not typeset"


def test_long_code_and_output_lines_are_not_cut_off(texts):
    """The longest lines of code and of printed output must be in the text in full: wrapped, not clipped."""
    everything = flat("\n".join(texts))
    lines = []
    for path in chapter_notebooks():
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code" or "remove-cell" in cell.metadata.get("tags", []):
                continue
            lines += cell.source.split("\n")
            for out in cell.get("outputs", []):
                lines += (out.get("text") or out.get("data", {}).get("text/plain", "") if
                          "image/png" not in out.get("data", {}) else "").split("\n")
    longest = sorted({line for line in lines if line.isascii()}, key=len, reverse=True)[:40]
    assert len(longest[-1]) > 60, "expected long lines to test the wrapping with"
    clipped = [line for line in longest if flat(line) not in everything]
    assert not clipped, f"lines cut off (or missing) in the PDF: {clipped[:5]}"


def test_nothing_runs_into_the_side_margins(reader):
    """Text that is cut off at the page's edge (a formula or a line of code too wide) first crosses the 14 mm side
    margin, where nothing else is printed (header and footer end at the margin)."""
    margin = 14 * 72 / 25.4 - 1  # points
    crossing = []
    for i in range(len(reader)):
        page = reader[i]
        width, height = page.get_size()
        text = reader[i].get_textpage()
        side = (text.get_text_bounded(left=width - margin, bottom=0, right=width + 10_000, top=height)
                + text.get_text_bounded(left=-10_000, bottom=0, right=margin, top=height))
        # private-use characters are icon glyphs of the theme's font (hidden buttons), not text
        visible = "".join(c for c in side if not c.isspace() and not "\ue000" <= c <= "\uf8ff")
        if visible:
            crossing.append((i + 1, visible[:40]))
    assert not crossing, f"text in the side margins (cut off at the edge?), (page, text): {crossing[:10]}"



def bounds(obj) -> tuple:
    """(left, bottom, right, top) of a PDF page object, in points."""
    import ctypes

    import pypdfium2.raw as raw
    box = [ctypes.c_float() for _ in range(4)]
    raw.FPDFPageObj_GetBounds(obj.raw, *box)
    return tuple(v.value for v in box)


def overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_no_code_frame_is_left_empty(reader):
    """A code cell's grey frame (pre: background and border) holds its code: no filled frame on any page is empty of
    text, as happens when a cell starting near a page's bottom leaves its frame there and moves its lines on."""
    import ctypes

    import pypdfium2.raw as raw
    empty = []
    for i in range(len(reader)):
        page = reader[i]
        text = page.get_textpage()
        width, _ = page.get_size()
        images = [bounds(obj) for obj in page.get_objects(filter=[raw.FPDF_PAGEOBJ_IMAGE])]
        for obj in page.get_objects(filter=[raw.FPDF_PAGEOBJ_PATH]):
            left, bottom, right, top = bounds(obj)
            r, g, b, a = (ctypes.c_uint() for _ in range(4))
            if not raw.FPDFPageObj_GetFillColor(obj.raw, r, g, b, a) or a.value == 0:
                continue
            grey = 200 <= min(r.value, g.value, b.value) and max(r.value, g.value, b.value) < 255
            if not grey or right - left < 0.5 * width or top - bottom < 8:
                continue  # not a frame: a rule, a bar, a small mark
            inside = text.get_text_bounded(left=left + 1, bottom=bottom + 1, right=right - 1, top=top - 1)
            if not inside.strip() and not any(overlaps(image, (left, bottom, right, top)) for image in images):
                empty.append((i + 1, round(top - bottom)))
    assert not empty, f"empty grey frames, (page, height in pt): {empty[:10]}"


def test_the_pdf_promises_only_what_it_has(texts, record):
    """No solution toggle, no link to itself, no lecture slides; the maintainers' execution report is not in it."""
    everything = flat("\n".join(texts))
    for promise in ("Solutions are hidden behind a toggle", "lecture slides", "book.pdf", "press S for the speaker"):
        assert flat(promise) not in everything, f"the PDF says {promise!r}"
    assert flat("each exercise is followed by its solution") in everything
    assert "book/execution_status" not in record and flat("Execution status") not in everything


def test_wrapped_code_keeps_its_indentation(reader):
    """A line of code too long for the page wraps with a hanging indent: its continuation starts to the right of
    where the line itself starts (PDFium's character boxes, on the page that holds the longest indented line)."""
    lines = []
    for path in chapter_notebooks():
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and "remove-cell" not in cell.metadata.get("tags", []):
                lines += [line for line in cell.source.split("\n") if line.startswith("    ") and line.isascii()]
    long_lines = sorted((ln for ln in lines if len(ln) > 95), key=len, reverse=True)
    assert long_lines, "expected an indented line long enough to wrap"
    # the longest such line that the PDF holds on one page (a line can straddle a page break)
    for longest in long_lines[:10]:
        start, tail = longest.strip()[:12], longest.strip()[-12:]
        for i in range(len(reader)):
            page = reader[i].get_textpage()
            text = page.get_text_range()  # one character per character index, so positions are char boxes
            at, end = text.find(start), text.find(tail)
            if at < 0 or end < 0 or end < at or text.count("\n", at, end) == 0:
                continue
            x_start = page.get_charbox(at)[0]
            x_tail_line = min(page.get_charbox(j)[0] for j in range(text.rfind("\n", 0, end) + 1, end + 1)
                              if not text[j].isspace())
            assert x_tail_line > x_start, f"page {i + 1}: the wrapped part starts at {x_tail_line:.0f} pt, " \
                                          f"left of its line's start at {x_start:.0f} pt"
            return
    pytest.fail(f"none of the ten longest indented code lines is wrapped on one page of the PDF: {long_lines[:3]!r}")
