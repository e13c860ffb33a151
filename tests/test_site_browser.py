"""Browser test of the built site: Debian's Chromium, headless, driven by Playwright.

Serves the built site (``_build/html``, or ``$COURSE_SITE_DIR``) on localhost
under ``/<repo>/``, as GitHub Pages does, and visits every page. Run
``make book`` first; ``make test`` does. Screenshots and per-page request
counts (``*.requests.json``) are written to ``_build/screenshots/`` for a person to look at.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import re
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("COURSE_SITE_DIR", ROOT / "_build" / "html"))
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO_URL = CONFIG["repository"]["url"].rstrip("/")
BRANCH = CONFIG["repository"].get("branch", "main")
OWNER_REPO = REPO_URL.removeprefix("https://github.com/")
PREFIX = "/" + OWNER_REPO.split("/")[1] + "/"


def site_pages():
    if not (SITE / "index.html").exists():
        return []
    skip = ("_static", "_sources", "_images", "_sphinx_design_static")
    return sorted(str(p.relative_to(SITE)) for p in SITE.rglob("*.html") if not p.relative_to(SITE).parts[0] in skip)


PAGES = site_pages()
CHAPTERS = [p for p in PAGES if re.match(r"book/\d\d_.*\.html$", p) and (ROOT / p).with_suffix(".ipynb").exists()]


class _Handler(http.server.SimpleHTTPRequestHandler):
    def translate_path(self, path):
        path = urlparse(path).path
        if path.startswith(PREFIX):
            path = "/" + path[len(PREFIX):]
        return super().translate_path(path)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    if not PAGES:
        pytest.fail(f"no built site at {SITE}: run `make book` first")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(SITE)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}{PREFIX}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium); .ci/run does")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def shot_name(path: str) -> str:
    return path.replace("/", "__").removesuffix(".html")


def visit(browser, url, *, color_scheme="light"):
    """Load ``url``; return (page, context, problems, request count)."""
    context = browser.new_context(color_scheme=color_scheme, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems, requests = [], []
    local = urlparse(url).netloc

    def on_request(req):
        requests.append(req.url)

    def route(r):
        if urlparse(r.request.url).netloc not in (local, "") and not r.request.url.startswith("data:"):
            problems.append(f"off-site request: {r.request.url}")
            return r.abort()
        return r.continue_()

    page.on("request", on_request)
    page.route("**/*", route)
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url} ({r.failure})"))
    response = page.goto(url, wait_until="load")
    if response is None or response.status >= 400:
        problems.append(f"HTTP {response.status if response else 'no response'} for {url}")
    page.wait_for_load_state("networkidle")
    return page, context, problems, requests


def test_site_has_every_chapter():
    assert len(CHAPTERS) >= 9, f"expected chapter pages 01..09 in {SITE}, found {CHAPTERS}"
    assert "404.html" in PAGES and "search.html" in PAGES


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_cleanly(server, browser, path):
    page, context, problems, requests = visit(browser, server + path)
    try:
        has_math = page.evaluate("document.querySelector('.math, .MathJax, mjx-container') !== null")
        if has_math:
            page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.document", timeout=20000)
            page.evaluate("MathJax.startup.promise")
            assert page.locator("mjx-container").count() > 0, "math present but not typeset by MathJax"
            text = page.inner_text("main") if page.locator("main").count() else page.inner_text("body")
            assert "$$" not in text, "raw $$ left in the page text"
        broken = page.evaluate(
            "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        assert not broken, f"images that did not load: {broken}"
        no_alt = page.evaluate(
            "Array.from(document.querySelectorAll('.cell_output img')).filter(i => !i.alt).map(i => i.src)")
        assert not no_alt, f"figures without alt text: {no_alt}"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / (shot_name(path) + ".png")), full_page=path == "book/03_regression.html")
        # One small file per page (tests run in parallel workers): what the page requested, for the record.
        (SHOTS / (shot_name(path) + ".requests.json")).write_text(json.dumps(
            {"page": path, "requests": len(requests), "off_site": [p for p in problems if "off-site" in p]}))
        if path in CHAPTERS:
            check_chapter_links(page, path)
        assert not problems, "\n".join(problems)
    finally:
        context.close()


def check_chapter_links(page, path):
    """The rocket button opens this notebook on Colab; the homework link opens the student version; .ipynb download."""
    hrefs = page.eval_on_selector_all("a[href*='colab.research.google.com']", "els => els.map(e => e.href)")
    notebook = path.removesuffix(".html") + ".ipynb"
    expected = f"https://colab.research.google.com/github/{OWNER_REPO}/blob/{BRANCH}/{notebook}"
    assert expected in hrefs, f"no Colab launch link {expected}; found {hrefs}"
    student = ROOT / "student" / Path(notebook).name
    if student.exists():
        homework = f"https://colab.research.google.com/github/{OWNER_REPO}/blob/{BRANCH}/student/{student.name}"
        assert homework in hrefs, f"no homework Colab link {homework}"
    downloads = page.eval_on_selector_all("a[href$='.ipynb']", "els => els.map(e => e.href)")
    assert any(h.endswith(Path(notebook).name) for h in downloads), "no .ipynb download link"


def test_search_finds_a_chapter_term(server, browser):
    page, context, problems, _ = visit(browser, server + "search.html?q=softplus")
    try:
        page.wait_for_selector("ul.search li", timeout=20000)
        results = page.inner_text("ul.search")
        assert "Positive-only regression" in results or "softplus" in results.lower()
        assert not problems, "\n".join(problems)
    finally:
        context.close()


def test_dark_mode_keeps_figures_readable(server, browser):
    page, context, problems, _ = visit(browser, server + "book/03_regression.html")
    try:
        page.evaluate("document.documentElement.dataset.theme = 'dark'; document.documentElement.dataset.mode = 'dark'")
        page.wait_for_timeout(300)
        bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
        rgb = [int(v) for v in re.findall(r"\d+", bg)[:3]]
        assert sum(rgb) < 3 * 100, f"dark mode did not darken the page (body background {bg})"
        # Each figure must keep its own opaque light background, so black text on it stays legible.
        corners = page.evaluate("""
            Array.from(document.querySelectorAll('.cell_output img')).map(img => {
              const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
              const g = c.getContext('2d'); g.drawImage(img, 0, 0);
              return Array.from(g.getImageData(1, 1, 1, 1).data);
            })""")
        assert corners, "no figures found on the regression page"
        for r, g, b, a in corners:
            assert a == 255 and min(r, g, b) > 200, f"figure background not opaque light: {(r, g, b, a)}"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "dark_mode__03_regression.png"))
    finally:
        context.close()
