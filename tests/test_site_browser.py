"""Browser test of the built site: Chromium, headless, driven by Playwright, as a reader on a laptop and a phone.

Serves the built site (``_build/html``, or ``$COURSE_SITE_DIR``) on localhost
under ``/<repo>/``, as GitHub Pages does, and visits every page: no off-site
request, no console error, math typeset by MathJax, figures loaded with alt
text, Colab links, and an axe-core accessibility audit in light and dark mode.
Then it does what a reader does: at desktop width it hides and restores the
sidebar and uses the one search control; on a phone (390 x 844, touch) it opens
the chapter list, taps a chapter, and searches. ``make test`` builds the site
and runs ``tools/browser_setup.py`` first, which finds or installs Chromium
(Debian's ``/usr/bin/chromium``, else Playwright's own) and axe-core (npm, into
``node_modules``). Screenshots and per-page request counts
(``*.requests.json``) are written to ``_build/screenshots/`` for a person to look at.

Nothing cut off, on any screen (``test_layout_on_laptop_and_phone``): every page at 1280 x 800 and on a 390 x 844
phone, in light and dark mode, is no wider than the window (it never pans sideways); no display equation, table,
code line or paragraph is clipped unless it scrolls in a box of its own (``LAYOUT_JS``); every figure's PNG has at
least twice the pixels it is shown with (crisp on high-density screens and zoomed in), or is vector. Screenshots of
every page on both screens go to ``_build/screenshots/layout/`` (the CI uploads them).
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import browser_setup  # noqa: E402

SITE = Path(os.environ.get("COURSE_SITE_DIR", ROOT / "_build" / "html"))
SHOTS = ROOT / "_build" / "screenshots"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO_URL = CONFIG["repository"]["url"].rstrip("/")
BRANCH = CONFIG["repository"].get("branch", "main")
OWNER_REPO = REPO_URL.removeprefix("https://github.com/")
PREFIX = "/" + OWNER_REPO.split("/")[1] + "/"
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
LAPTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}
# Generous waits: the machine may be busy running notebooks next to this test.
WAIT_MS = 60_000
# Every control a reader could take for a search box: the theme's search buttons and any search input.
SEARCH_CONTROLS = "button.search-button__button, .bd-search input, input[type=search]"
# axe-core impacts that fail the audit. Minor and moderate findings are reported in the screenshots folder.
FAILING_IMPACTS = ("serious", "critical")
# No axe rule is disabled: every serious or critical finding fails the test.


def site_pages():
    if not (SITE / "index.html").exists():
        return []
    skip = ("_static", "_sources", "_images", "_sphinx_design_static")
    return sorted(str(p.relative_to(SITE)) for p in SITE.rglob("*.html") if not p.relative_to(SITE).parts[0] in skip)


PAGES = site_pages()
CHAPTERS = [p for p in PAGES if re.match(r"book/\d\d_.*\.html$", p) and (ROOT / p).with_suffix(".ipynb").exists()]


@pytest.fixture(scope="module")
def server():
    if not PAGES:
        pytest.fail(f"no built site at {SITE}: run `make book` first")
    with browser_setup.serve(SITE, PREFIX) as url:
        yield url


@pytest.fixture(scope="module")
def axe_source():
    if not browser_setup.AXE.exists():
        pytest.fail(f"{browser_setup.AXE} missing: run `python tools/browser_setup.py` (make test does)")
    return browser_setup.AXE.read_text()


def shot_name(path: str) -> str:
    return path.replace("/", "__").removesuffix(".html")


def visit(browser, url, *, color_scheme="light", device=DESKTOP):
    """Load ``url``; return (page, context, problems, requests). Off-site requests are blocked and reported."""
    context = browser.new_context(color_scheme=color_scheme, **device)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    problems, requests = [], []
    local = urlparse(url).netloc

    def route(r):
        if urlparse(r.request.url).netloc not in (local, "") and not r.request.url.startswith("data:"):
            problems.append(f"off-site request: {r.request.url}")
            return r.abort()
        return r.continue_()

    page.on("request", lambda req: requests.append(req.url))
    page.route("**/*", route)
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url} ({r.failure})"))
    response = page.goto(url, wait_until="load")  # every script, style sheet and image of the page is in
    if response is None or response.status >= 400:
        problems.append(f"HTTP {response.status if response else 'no response'} for {url}")
    served = SITE / urlparse(url).path.removeprefix(PREFIX)
    redirect = served.is_file() and re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', served.read_text())
    if redirect:  # the site's root index.html forwards to book/index.html
        page.wait_for_url(re.compile(re.escape(redirect.group(1)) + "$"), wait_until="load")
    page.evaluate("document.fonts.ready.then(() => true)")
    return page, context, problems, requests


def axe_violations(page, axe_source):
    """Run axe-core on the page as it is now; return the serious and critical violations, one line each."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_source)
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.map(n => n.target.join(' '))}));
    }""")
    return [f"axe {v['impact']} {v['id']} ({v['help']}): {len(v['nodes'])} element(s), e.g. {v['nodes'][:3]}"
            for v in found if v["impact"] in FAILING_IMPACTS]


def switch_to_dark(page):
    """What a reader whose system is in dark mode sees: the theme follows prefers-color-scheme ("auto" mode)."""
    page.emulate_media(color_scheme="dark")
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    if page.evaluate("document.documentElement.hasAttribute('data-theme')"):  # a theme page (404.html: plain CSS)
        page.wait_for_function("document.documentElement.dataset.theme === 'dark'", timeout=WAIT_MS)
    # The theme's colour transitions must end before colours are measured (mid-way, contrast is neither mode's).
    page.evaluate("Promise.all(document.getAnimations().filter(a => a instanceof CSSTransition).map(a => a.finished))")


def wait_until(page, condition, element, failure, timeout=15_000):
    """Wait until the JavaScript ``condition(element)`` holds; fail with ``failure`` if it does not in time."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    try:
        page.wait_for_function(condition, arg=element.element_handle(), timeout=timeout)
    except PlaywrightTimeout:
        pytest.fail(f"{failure} (waited {timeout / 1000:.0f} s)")


def box(locator):
    b = locator.bounding_box()
    return None if b is None else {k: round(v) for k, v in b.items()}


def on_screen(b, width):
    """A bounding box that a reader sees: it has an area and lies inside the viewport's width."""
    return b is not None and b["width"] > 0 and b["height"] > 0 and b["x"] >= 0 and b["x"] + b["width"] <= width


def visible_search_controls(page):
    return [c for c in page.locator(SEARCH_CONTROLS).all() if c.is_visible()]


def test_site_has_every_chapter():
    assert len(CHAPTERS) >= 9, f"expected chapter pages 01..09 in {SITE}, found {CHAPTERS}"
    assert "404.html" in PAGES and "search.html" in PAGES


def test_execution_report_is_built_but_in_no_menu():
    """book/execution_status.html is for maintainers: built (an orphan page), linked from no page's navigation."""
    from bs4 import BeautifulSoup
    assert "book/execution_status.html" in PAGES
    for path in ("book/index.html", CHAPTERS[0]):
        nav = BeautifulSoup((SITE / path).read_text(), "html.parser").select("nav, .bd-sidebar-primary")
        assert nav and not any(n.select("a[href*='execution_status']") for n in nav), f"{path} links the report"


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_cleanly_and_passes_axe(server, browser, axe_source, path):
    page, context, problems, requests = visit(browser, server + path)
    try:
        has_math = page.evaluate("document.querySelector('.math, .MathJax, mjx-container') !== null")
        if has_math:
            page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.document", timeout=WAIT_MS)
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
        if path in CHAPTERS:
            check_chapter_links(page, path)
        # The accessibility audit, in the light mode the page opened in and in dark mode.
        audit = {"light": axe_violations(page, axe_source)}
        switch_to_dark(page)
        audit["dark"] = axe_violations(page, axe_source)
        # One small file per page (tests run in parallel workers): what the page requested, for the record.
        (SHOTS / (shot_name(path) + ".requests.json")).write_text(json.dumps(
            {"page": path, "requests": len(requests), "off_site": [p for p in problems if "off-site" in p],
             "axe": audit}))
        problems += [f"{mode} mode: {v}" for mode, found in audit.items() for v in found]
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


def test_search_page_finds_a_chapter_term(server, browser):
    page, context, problems, _ = visit(browser, server + "search.html?q=softplus")
    try:
        page.wait_for_selector("ul.search li", timeout=WAIT_MS)
        results = page.inner_text("ul.search")
        assert "Positive-only regression" in results or "softplus" in results.lower()
        assert not problems, "\n".join(problems)
    finally:
        context.close()


def test_dark_mode_keeps_figures_readable(server, browser):
    page, context, problems, _ = visit(browser, server + "book/03_regression.html", color_scheme="dark")
    try:
        assert page.evaluate("document.documentElement.dataset.theme") == "dark", "the site ignores the dark system mode"
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
        assert not problems, "\n".join(problems)
    finally:
        context.close()


# ----------------------------------------------------------------------------- what a reader does


def test_desktop_sidebar_toggle_hides_and_restores_the_sidebar(server, browser):
    page, context, problems, _ = visit(browser, server + "book/03_regression.html")
    try:
        width = DESKTOP["viewport"]["width"]
        sidebar, article = page.locator(".bd-sidebar-primary"), page.locator(".bd-article-container")
        shown, article_shown = box(sidebar), box(article)
        assert on_screen(shown, width) and shown["width"] >= 150, f"the chapter list is not shown at {width} px: {shown}"
        toggles = [t for t in page.locator("button.primary-toggle").all() if t.is_visible()]
        assert len(toggles) == 1, f"expected one visible sidebar toggle, found {len(toggles)}"
        toggles[0].click()
        wait_until(page, "el => el.getBoundingClientRect().width === 0 || el.getBoundingClientRect().right <= 0",
                   sidebar, "the sidebar toggle did not hide the sidebar")
        assert box(article)["x"] < article_shown["x"], "the article did not take the sidebar's room"
        page.screenshot(path=str(SHOTS / "desktop__sidebar_hidden.png"))
        toggles[0].click()
        wait_until(page, "el => el.getBoundingClientRect().width > 0 && el.getBoundingClientRect().left >= 0",
                   sidebar, "the sidebar toggle did not bring the sidebar back")
        page.wait_for_timeout(500)  # let the theme's transition finish before measuring
        assert box(sidebar) == shown, f"the sidebar came back elsewhere: {box(sidebar)} instead of {shown}"
        assert box(article) == article_shown
        assert not problems, "\n".join(problems)
    finally:
        context.close()


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_one_search_control_that_finds_a_chapter(server, browser, device):
    """The header shows exactly one search control; using it lists results, and a result opens its chapter."""
    dev = DESKTOP if device == "desktop" else PHONE
    page, context, problems, _ = visit(browser, server + "book/03_regression.html", device=dev)
    try:
        controls = visible_search_controls(page)
        assert len(controls) == 1, f"{device}: expected one visible search control, found {len(controls)}: " + \
            str([c.evaluate("e => e.outerHTML.slice(0, 120)") for c in controls])
        control = controls[0]
        assert on_screen(box(control), dev["viewport"]["width"]), f"{device}: the search control is off screen"
        control.tap() if device == "phone" else control.click()
        field = page.locator(".search-button__search-container input[name=q]")
        wait_until(page, "el => el.getBoundingClientRect().width > 0 && document.activeElement === el", field,
                   f"{device}: the search control did not open a focused search field")
        assert on_screen(box(field), dev["viewport"]["width"]), f"{device}: the search field is off screen: {box(field)}"
        field.press_sequentially("softplus")
        field.press("Enter")
        page.wait_for_url(re.compile(r"/search\.html\?q=softplus"), timeout=WAIT_MS)
        page.locator("ul.search li a").first.wait_for(state="visible", timeout=WAIT_MS)
        # Sphinx's search fetches every result page for its summary; a reader clicks once the list is complete
        # (a click during those fetches aborts them, and the request log would report them as failures).
        page.locator("p.search-summary", has_text="Search finished").wait_for(timeout=WAIT_MS)
        page.wait_for_load_state("networkidle", timeout=WAIT_MS)
        result = page.locator("ul.search li a[href*='book/0']").first  # a chapter among the results
        assert result.is_visible(), f"{device}: no chapter among the results: {page.inner_text('ul.search')[:300]}"
        result.tap() if device == "phone" else result.click()
        page.wait_for_url(re.compile(r"/book/\d\d_\w+\.html"), timeout=WAIT_MS)
        assert "softplus" in page.inner_text("main").lower(), f"{device}: the chapter opened does not mention it"
        page.screenshot(path=str(SHOTS / f"{device}__search_result.png"))
        assert not problems, "\n".join(problems)
    finally:
        context.close()


def test_phone_toggle_opens_the_chapter_list_and_a_tap_opens_a_chapter(server, browser):
    page, context, problems, _ = visit(browser, server + "book/03_regression.html", device=PHONE)
    try:
        width = PHONE["viewport"]["width"]
        sidebar = page.locator(".bd-sidebar-primary")
        assert not on_screen(box(sidebar), width), "on a phone the chapter list should start closed"
        toggles = [t for t in page.locator("button.primary-toggle").all() if t.is_visible()]
        assert len(toggles) == 1, f"expected one visible navigation toggle on a phone, found {len(toggles)}"
        toggles[0].tap()
        wait_until(page, "el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.left >= 0; }",
                   sidebar, "on a phone the navigation toggle did not open the chapter list")
        page.wait_for_timeout(500)  # the drawer slides in
        opened = box(sidebar)
        assert on_screen(opened, width), f"the toggle did not open the chapter list on screen: {opened}"
        link = sidebar.locator("a.reference.internal[href$='05_binary_classification.html']").first
        assert link.is_visible() and on_screen(box(link), width), "the chapter link is not visible in the opened list"
        title = link.inner_text().strip()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "phone__chapter_list.png"))
        link.tap()
        page.wait_for_url(re.compile(r"/book/05_binary_classification\.html$"), timeout=WAIT_MS)
        assert page.locator("h1").first.inner_text().strip().rstrip("#").strip() == title
        assert not on_screen(box(page.locator(".bd-sidebar-primary")), width), "the new chapter opened with the list open"
        assert not problems, "\n".join(problems)
    finally:
        context.close()


# ----------------------------------------------------------------------------- nothing cut off, figures crisp

# Measures a page as laid out now: its width against the window, every display equation, table and block of the
# article that is clipped (by an ancestor that hides overflow, or by the window) without scrolling in a box of its
# own (one holding no other equation, table or code block), and each figure's pixels against its displayed size.
LAYOUT_JS = """() => {
  const vw = document.documentElement.clientWidth;
  const overflowX = el => getComputedStyle(el).overflowX;
  const blocks = 'mjx-container[display="true"], table, pre';
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/).slice(0, 2).join('.') : '');
  const where = el => { const s = el.closest('section[id]'); return s ? ' in #' + s.id : ''; };
  const countIn = (box, el) => box.querySelectorAll(blocks).length - el.querySelectorAll(blocks).length
                               - (el.matches(blocks) ? 1 : 0);
  function cut(el) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return null;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const ar = a.getBoundingClientRect();
      if (r.right <= ar.right + 1 && r.left >= ar.left - 1) continue;
      const o = overflowX(a);
      if (o === 'auto' || o === 'scroll')
        return countIn(a, el) === 0 ? cut(a) : `scrolls only with ${name(a)}, which holds other blocks too`;
      if (o === 'hidden' || o === 'clip') return `clipped by ${name(a)} (${Math.round(r.width)} px in ${Math.round(ar.width)} px)`;
    }
    if (r.right > vw + 1 || r.left < -1) return `runs past the window (${Math.round(r.left)}..${Math.round(r.right)} px of ${vw})`;
    return null;
  }
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const problems = [];
  for (const m of article.querySelectorAll('mjx-container[display="true"]')) {
    const why = cut(m.querySelector(':scope > mjx-math') || m);
    if (why) problems.push(`display equation${where(m)}: ${why}`);
  }
  for (const t of article.querySelectorAll('table')) {
    const why = cut(t);
    if (why) problems.push(`table${where(t)}: ${why}`);
  }
  for (const e of article.querySelectorAll('p, li, dt, dd, h1, h2, h3, h4, code, img, .cell_output, div.highlight')) {
    if (e.closest('table, pre, mjx-container')) continue;
    const why = cut(e);
    if (why) problems.push(`${name(e)}${where(e)}: ${why}`);
  }
  // (the content box: in dark mode the theme pads each figure's light background)
  const figures = Array.from(article.querySelectorAll('.cell_output img, figure img, img.align-center')).map(i => ({
    src: i.currentSrc.split('/').pop(), natural: [i.naturalWidth, i.naturalHeight],
    shown: (s => [Math.round(i.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight)),
                  Math.round(i.clientHeight - parseFloat(s.paddingTop) - parseFloat(s.paddingBottom))])(getComputedStyle(i))}));
  const scrollBoxes = Array.from(article.querySelectorAll('mjx-container[display="true"], .pst-scrollable-table-container'))
    .filter(b => b.scrollWidth > b.clientWidth + 1).length;
  return {width: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth), viewport: vw,
          problems, figures, scrollBoxes};
}"""
SCREENS = {"laptop": LAPTOP, "phone": PHONE}
LAYOUT_SHOTS = SHOTS / "layout"


def typeset(page):
    if page.evaluate("document.querySelector('.math, mjx-container') !== null"):
        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.document", timeout=WAIT_MS)
        page.evaluate("MathJax.startup.promise")


def layout_problems(page, where: str) -> tuple[list[str], dict]:
    found = page.evaluate(LAYOUT_JS)
    problems = [f"{where}: {p}" for p in found["problems"]]
    if found["width"] > found["viewport"]:
        problems.append(f"{where}: the page is {found['width']} px wide in a {found['viewport']} px window (it pans)")
    for fig in found["figures"]:
        (nw, nh), (w, h) = fig["natural"], fig["shown"]
        if not fig["src"].endswith(".svg") and w > 0 and (nw < 2 * w - 1 or nh < 2 * h - 1):
            problems.append(f"{where}: figure {fig['src']} has {nw}x{nh} pixels for {w}x{h} shown (under 2x)")
        if w > 0 and h > 0 and abs((w / h) / (nw / nh) - 1) > 0.03:
            problems.append(f"{where}: figure {fig['src']} is distorted: shown {w}x{h}, its pixels {nw}x{nh}")
    return problems, found


@pytest.mark.parametrize("screen", list(SCREENS))
@pytest.mark.parametrize("path", [p for p in PAGES if p.startswith("book/")])
def test_layout_on_laptop_and_phone(server, browser, path, screen):
    """Light, then dark: nothing clipped, no sideways panning, figures with 2x pixels; screenshots of both."""
    device = SCREENS[screen]
    if screen == "phone":  # the layout is the same at any pixel density; screenshots at 1x stay small
        device = {**device, "device_scale_factor": 1}
    page, context, problems, _ = visit(browser, server + path, device=device)
    try:
        typeset(page)
        LAYOUT_SHOTS.mkdir(parents=True, exist_ok=True)
        found, record = layout_problems(page, f"{screen}, light")
        page.screenshot(path=str(LAYOUT_SHOTS / f"{shot_name(path)}__{screen}.jpg"), full_page=True, type="jpeg",
                        quality=70)
        switch_to_dark(page)
        dark, _ = layout_problems(page, f"{screen}, dark")
        page.screenshot(path=str(LAYOUT_SHOTS / f"{shot_name(path)}__{screen}__dark.png"))
        (LAYOUT_SHOTS / f"{shot_name(path)}__{screen}.json").write_text(json.dumps(
            {"page": path, "screen": screen, "width": record["width"], "scroll_boxes": record["scrollBoxes"],
             "figures": record["figures"]}))
        problems += found + dark
        assert not problems, "\n".join(problems[:30])
    finally:
        context.close()


def test_layout_check_finds_what_it_looks_for(server, browser):
    """The measurement itself, on one chapter made wrong on purpose: a clipped equation, a table that makes the
    page pan, a figure shown at its own pixel size; each must be reported (a check that finds nothing proves nothing)."""
    chapter = next(p for p in CHAPTERS if "05_" in p)
    page, context, _, _ = visit(browser, server + chapter, device={**PHONE, "device_scale_factor": 1})
    try:
        typeset(page)
        page.add_style_tag(content="div.math, div.math mjx-container { overflow: hidden !important; }")
        page.evaluate("""() => {
            const t = document.createElement('table'); t.innerHTML = '<tr><td>' + 'x'.repeat(400) + '</td></tr>';
            t.style.whiteSpace = 'nowrap'; document.querySelector('article.bd-article section').append(t);
            const img = document.querySelector('.cell_output img');
            img.removeAttribute('width'); img.removeAttribute('height');
            img.style.width = img.naturalWidth + 'px'; img.style.maxWidth = 'none'; }""")
        problems, _ = layout_problems(page, "phone")
        text = "\n".join(problems)
        assert "display equation" in text and "clipped by" in text, text[:500]
        assert any(line.startswith("phone: table") for line in problems), text[:500]
        assert "under 2x" in text, text[:500]
    finally:
        context.close()


RAW_TEX = re.compile(r"\\[A-Za-z]+|\\[()\[\]]|\$\$")


def test_search_summaries_show_formulas_as_text(server, browser):
    """Sphinx cuts each result's summary from the page's text, where a formula is still TeX: search_math.js turns
    the formulas into plain text first. The query hits sentences full of formulas; their symbols must show."""
    page, context, problems, _ = visit(browser, server + "search.html?q=logit")
    try:
        page.locator("p.search-summary", has_text="Search finished").wait_for(timeout=WAIT_MS)
        page.wait_for_load_state("networkidle", timeout=WAIT_MS)
        summaries = page.eval_on_selector_all("ul.search p.context", "els => els.map(e => e.textContent)")
        assert len(summaries) >= 5, summaries
        raw = [s for s in summaries if RAW_TEX.search(s)]
        assert not raw, f"raw TeX in search summaries: {raw[:3]}"
        assert any(re.search("[α-ωℓ∈ℝ→≤≥·∘]", s) for s in summaries), "no formula among the summaries: test proves nothing"
        # the conversion itself, on TeX the book uses
        plain = page.evaluate(r"courseSearchMath.plain('\\(\\mathbf o = f_\\theta(\\mathbf x) \\in \\mathbb R^m\\)')")
        assert plain == "o = f_θ(x) ∈ ℝ^m", plain
        assert not problems, "\n".join(problems)
    finally:
        context.close()
