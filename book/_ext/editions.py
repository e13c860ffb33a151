"""Sphinx extension for the instructor's kit (``tools/instructor_kit.py``): a term site without solutions, and the
single-page build the PDF is printed from.

**Solutions hidden.** ``hide_solutions = True`` (sphinx-exercise's own switch; ``make book SOLUTIONS=hide`` sets it)
removes every solution from the pages. sphinx-exercise alone cannot do it for *gated* solutions
(``solution-start`` ... ``solution-end``, what every chapter uses): its ``solution-start`` directive returns nothing
while the ``solution-end`` marker and everything between them (the solution's markdown, code cells and outputs)
stay, and the HTML writer then stops on the unknown ``solution_end_node``. So this extension takes the switch over:
sphinx-exercise builds its solution nodes as usual (``hide_solutions`` is set back to False before any page is
read, so the term build shares the site build's parsed pages and executes nothing), and each page drops every
solution node, with all it contains, when it is written (``doctree-resolved``: before the HTML, the search index
and the single-page assembly see it). The term site also hands out the student notebooks: each chapter's
``.ipynb`` download is replaced by ``student/<name>.ipynb`` and the Colab launch button opens that notebook.

**Single page.** Sphinx looks up the handlers of extension nodes by builder name and falls back to the format
("html") only for a builder that has none of its own. sphinx-exercise registers handlers for ``singlehtml``, so the
html-only handlers of other extensions (sphinx-jupyterbook-latex's ``HiddenCellNode``, which the welcome page's
table of contents holds) are lost and the single-page build stops. Every html handler missing for ``singlehtml`` is
copied over.

A page can hold text for one edition only: a ``{container}`` of class ``only-with-solutions`` appears only on the
full site, one of class ``only-without-solutions`` only on the term site.

**What the term site leaves out besides the solutions.** Its ``check(...)`` cells keep their code (students run
them in the homework notebook) but not their stored outputs: a "[PASSED]" printed by the master's solution, under
an exercise whose solution is gone, would be stale; a note says where the check runs instead. And it links neither
the book's PDF nor the lecture decks, which are not part of its build (``make book SOLUTIONS=hide``): every
paragraph that links ``book.pdf`` or ``slides/`` is left out (``course_links`` adds no deck link to its chapters).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)


def take_over_hide_solutions(app, config):
    """Move sphinx-exercise's ``hide_solutions`` into ``course_solutions_hidden`` (applied when pages are written)."""
    if config.hide_solutions:
        config.course_solutions_hidden = True
        config.hide_solutions = False  # sphinx-exercise builds the gated solution nodes; they are dropped below


def drop_solutions(app, doctree, docname):
    """Keep the text meant for this edition (containers of class ``only-with-solutions`` / ``only-without-solutions``);
    with solutions hidden, remove every solution node and all it holds."""
    from docutils import nodes
    from sphinx_exercise.nodes import solution_end_node, solution_node, solution_start_node

    hidden = app.config.course_solutions_hidden
    other = "only-with-solutions" if hidden else "only-without-solutions"
    for node in list(doctree.findall(nodes.container)):
        if other in node["classes"]:
            node.parent.remove(node)
    if not hidden:
        return

    drop_check_outputs(doctree)
    drop_links_to_the_kit(doctree)
    unmerged = list(doctree.findall(lambda n: isinstance(n, (solution_start_node, solution_end_node))))
    if unmerged:
        raise ExtensionError(f"editions: {docname} has a solution-start or solution-end that sphinx-exercise "
                             "did not pair; cannot hide its solution")
    for node in list(doctree.findall(solution_node)):
        node.parent.remove(node)


def drop_check_outputs(doctree) -> int:
    """Remove the stored outputs of every code cell that calls ``check(...)``/``check_quietly(...)``; put a note in
    their place. Returns how many cells lost their outputs."""
    from docutils import nodes
    from course_pkg.homework.student import find_checks

    dropped = 0
    for cell in list(doctree.findall(lambda n: isinstance(n, nodes.container) and n.get("nb_element") == "cell_code")):
        source = [c for c in cell.children if c.get("nb_element") == "cell_code_source"]
        outputs = [c for c in cell.children if c.get("nb_element") == "cell_code_output"]
        if not source or not outputs or not find_checks(source[0].astext()):
            continue
        for output in outputs:
            cell.remove(output)
        note = nodes.paragraph(classes=["check-note"])
        note += nodes.emphasis(text="Run this check in the homework notebook: it tests your answer.")
        cell += note
        dropped += 1
    return dropped


# Links to what the term build does not make: the book's PDF and the lecture decks.
KIT_LINK = re.compile(r'href="[^"]*(?:book\.pdf|slides/)[^"]*"')


def drop_links_to_the_kit(doctree) -> int:
    """Remove each paragraph that links the PDF or a deck (a raw HTML link or a reference). Returns how many."""
    from docutils import nodes

    dropped = 0
    for para in list(doctree.findall(nodes.paragraph)):
        raw = any(KIT_LINK.search(n.astext()) for n in para.findall(nodes.raw))
        refs = any(str(r.get("refuri", "")).endswith(".pdf") or "slides/" in str(r.get("refuri", ""))
                   for r in para.findall(nodes.reference))
        if (raw or refs) and para.parent is not None:
            para.parent.remove(para)
            dropped += 1
    return dropped


def student_notebook(app, docname: str) -> Path | None:
    source = Path(app.env.doc2path(docname))
    student = Path(app.srcdir) / "student" / f"{source.stem}.ipynb"
    return student if source.suffix == ".ipynb" and student.exists() else None


def launch_student_notebooks(app, pagename, templatename, context, doctree):
    """Term site: the launch buttons (Colab) open the student notebook instead of the master."""
    if not app.config.course_solutions_hidden or pagename not in app.env.all_docs:
        return
    student = student_notebook(app, pagename)
    if student is None:
        return
    master = f"/{pagename}.ipynb"

    def retarget(buttons):
        for button in buttons or []:
            if isinstance(button, dict):
                url = button.get("url")
                if isinstance(url, str) and "colab.research.google.com" in url and url.endswith(master):
                    button["url"] = url[: -len(master)] + f"/student/{student.name}"
                retarget(button.get("buttons"))

    retarget(context.get("header_buttons"))


def hand_out_student_notebooks(app, exception):
    """Term site: each chapter's downloadable source (``_sources/<page>.ipynb``) becomes its student notebook."""
    if exception is not None or not app.config.course_solutions_hidden or app.builder.format != "html":
        return
    sources = Path(app.outdir) / "_sources"
    for docname in app.env.all_docs:
        student = student_notebook(app, docname)
        target = sources / f"{docname}.ipynb"
        if target.exists():
            if student is None:
                raise ExtensionError(f"editions: {docname}.ipynb has no student notebook to hand out "
                                     "instead (run `make students`)")
            shutil.copyfile(student, target)


def singlehtml_handlers(app):
    if app.builder.name != "singlehtml":
        return
    handlers = app.registry.translation_handlers
    own = handlers.setdefault("singlehtml", {})
    for name, pair in handlers.get("html", {}).items():
        own.setdefault(name, pair)


def setup(app):
    app.add_config_value("course_solutions_hidden", False, "")
    app.setup_extension("sphinx_exercise")  # hide_solutions must exist before config-inited
    app.connect("config-inited", take_over_hide_solutions, priority=100)
    app.connect("builder-inited", singlehtml_handlers)
    app.connect("doctree-resolved", drop_solutions, priority=100)
    app.connect("html-page-context", launch_student_notebooks, priority=950)
    app.connect("build-finished", hand_out_student_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
