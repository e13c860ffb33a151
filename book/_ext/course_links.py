"""Sphinx extension: on each chapter with exercises, link the homework version on Colab; on each chapter, its slides.

Also writes a 404 page for GitHub Pages, loads ``search_math.js`` (search results show formulas as text, not TeX), fixes two console errors of the theme stack, and marks bibliography
entries up as list items (accessibility). The link is derived from ``_config.yml``'s repository url and branch (exposed
by jupyter-book as ``html_theme_options``), so a fork retargets it by editing
that one line. A chapter has a homework version when ``student/<name>.ipynb``
exists.
"""
from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from sphinx.writers.html5 import HTML5Translator


def colab_url(repository_url: str, branch: str, path: str) -> str:
    owner_repo = repository_url.rstrip("/").removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/{path}"


def add_slides_link(app, doctree, docname):
    """Each numbered chapter (``book/NN_name``) links its lecture deck, ``slides/NN_name.html`` next to the site's
    pages (made by ``tools/instructor_kit.py slides``, copied into the site by ``make site``)."""
    name = docname.rsplit("/", 1)[-1]
    if not re.match(r"^\d\d_", name) or getattr(app.config, "course_solutions_hidden", False):
        return  # (the term site is built without the decks: book/_ext/editions.py)
    para = nodes.paragraph(classes=["slides-link"])
    para += nodes.reference("", "Lecture slides for this chapter", classes=["slides-deck-link"],
                            refuri="../" * docname.count("/") + f"slides/{name}.html")
    para += nodes.Text(" (reveal.js: press S for the speaker notes).")
    sections = list(doctree.findall(nodes.section))
    if sections:
        title = sections[0].next_node(nodes.title)
        at = sections[0].index(title) + 1
        while (at < len(sections[0]) and isinstance(sections[0][at], nodes.Element)
               and "homework-link" in sections[0][at].get("classes", [])):
            at += 1
        sections[0].insert(at, para)


def add_homework_link(app, doctree, docname):
    source = Path(app.env.doc2path(docname))
    student = Path(app.srcdir) / "student" / f"{source.stem}.ipynb"
    if source.suffix != ".ipynb" or not student.exists():
        return
    options = app.config.html_theme_options
    url = colab_url(options.get("repository_url", ""), options.get("repository_branch", "main"),
                    f"student/{student.name}")
    para = nodes.paragraph(classes=["homework-link"])
    para += nodes.reference("", "Open the homework version of this chapter in Colab", refuri=url,
                            classes=["homework-colab-link"])
    para += nodes.Text(" (exercises without solutions, with automatic checks).")
    sections = list(doctree.findall(nodes.section))
    if sections:
        title = sections[0].next_node(nodes.title)
        sections[0].insert(sections[0].index(title) + 1, para)


PAGE_404 = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Page not found | {title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;line-height:1.5;
color:#222;background:#fff}}@media (prefers-color-scheme:dark){{body{{color:#ddd;background:#121212}}a{{color:#8ab4f8}}}}</style>
</head><body><h1>Page not found</h1>
<p>This page does not exist in <em>{title}</em>. Chapters are named <code>book/NN_topic.html</code>;
the numbering may have changed since the link was made.</p>
<p><a href="{prefix}index.html">Go to the start of the book</a></p></body></html>
"""


def write_404(app, exception):
    """A self-contained 404 page (no scripts) whose link works under GitHub Pages' /<repo>/ prefix."""
    if exception is not None or app.builder.format != "html":
        return
    repo = app.config.html_theme_options.get("repository_url", "").rstrip("/").rsplit("/", 1)[-1]
    prefix = f"/{repo}/" if repo else "/"
    (Path(app.outdir) / "404.html").write_text(PAGE_404.format(title=app.config.html_title or app.config.project,
                                                               prefix=prefix))


def fix_theme_page_context(app, pagename, templatename, context, doctree):
    """Two console errors of the theme stack: sphinx-thebe and togglebutton register their inline scripts twice
    (declaring a const twice is a page error), and the colour mode defaults to an invalid empty string."""
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # Same file (or inline body: filename None or "") and attributes: the same script.
        key = (getattr(script, "filename", str(script)) or None, tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique
    # The theme's empty default colour mode makes it log an error on every first visit; "auto" is valid.
    context.setdefault("default_mode", "auto")
    if not context["default_mode"]:
        context["default_mode"] = "auto"


class CourseHTMLTranslator(HTML5Translator):
    """Sphinx's HTML5 translator, with bibliography entries that are list items.

    docutils wraps the references in ``<div role="list">`` and gives each entry ``role="doc-biblioentry"``,
    a role that DPUB-ARIA 1.1 deprecates, so a list with no list items is what assistive technology (and
    axe-core's aria-required-children) sees. Each entry becomes ``role="listitem"``. pydata-sphinx-theme adds
    its Bootstrap rules on top of whichever translator is registered, so nothing else changes.
    """

    def visit_citation(self, node):
        super().visit_citation(node)
        self.body[-1] = self.body[-1].replace('role="doc-biblioentry"', 'role="listitem"')


def setup(app):
    # Search results show formulas as plain text, not TeX (book/_static/search_math.js; the site's static folder)
    app.add_js_file("search_math.js")
    for builder in ("html", "dirhtml", "singlehtml"):
        app.set_translator(builder, CourseHTMLTranslator, override=True)
    app.connect("html-page-context", fix_theme_page_context, priority=900)
    app.connect("build-finished", write_404)
    app.connect("doctree-resolved", add_homework_link)
    app.connect("doctree-resolved", add_slides_link, priority=600)  # after the homework link
    return {"parallel_read_safe": True, "parallel_write_safe": True}
