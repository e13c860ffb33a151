"""Sphinx extension: one exercise numbering for the whole course, "Exercise 5.2" = chapter 5's second exercise.

sphinx-exercise numbers exercises with Sphinx's figure numbering (numfig): without a numbered table of contents
the count runs across the book (chapter 5 held Exercises 12-15), and a numbered one would number chapters by their
place in the menu (a primer before chapter 1 would shift every chapter). Here the chapter number is the chapter
file's prefix (``book/05_binary_classification`` -> 5) and an exercise's number within the chapter is its
position among the page's exercises, as ``course_pkg.homework.registry.exercise_label`` counts them in the
master notebooks, so the site, the PDF, the slides, the student notebooks and the checks agree.

The numbers are rewritten in ``env.toc_fignumbers`` right after Sphinx assigns them (``env-get-updated``), so the
exercise titles, ``{ref}``/``{numref}`` references and the solutions' "Solution to Exercise 5.2" all read the
same numbers. A page without a number prefix (the welcome page, the summary) keeps no exercise numbers of its own.
"""
from __future__ import annotations

import copy
import re


def chapter_of(docname: str) -> int | None:
    m = re.match(r"^(\d+)_", docname.rsplit("/", 1)[-1])
    return int(m.group(1)) if m else None


def restore(app, env) -> list:
    """Before Sphinx assigns figure numbers again: put back the numbers it assigned last time, so that its
    comparison (which pages need writing again) sees only its own numbers, not the renumbered ones. Otherwise
    every build would find every chapter "changed" and save the environment again, which the instructor kit's
    builds (run side by side from the site build) must never do."""
    original = getattr(env, "course_sphinx_fignumbers", None)
    if original is not None:
        env.toc_fignumbers = original
    return []


def renumber(app, env) -> list:
    """Rewrite each chapter's exercise numbers; return the pages whose numbers differ from the last build's."""
    env.course_sphinx_fignumbers = copy.deepcopy(env.toc_fignumbers)
    previous = getattr(env, "course_exercise_numbers", {})
    current, changed = {}, []
    for docname, numbers in env.toc_fignumbers.items():
        exercises = numbers.get("exercise")
        chapter = chapter_of(docname)
        if not exercises or chapter is None:
            continue
        in_order = sorted(exercises, key=lambda ident: exercises[ident])   # page order, as Sphinx counted them
        numbers["exercise"] = current[docname] = {ident: (chapter, k) for k, ident in enumerate(in_order, start=1)}
        if previous.get(docname) != current[docname]:
            changed.append(docname)
    env.course_exercise_numbers = current
    return changed


def setup(app):
    app.connect("env-get-updated", restore, priority=100)    # before Sphinx's TocTreeCollector (priority 500)
    app.connect("env-get-updated", renumber, priority=900)   # after it
    return {"parallel_read_safe": True, "parallel_write_safe": True}
