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

import re


def chapter_of(docname: str) -> int | None:
    m = re.match(r"^(\d+)_", docname.rsplit("/", 1)[-1])
    return int(m.group(1)) if m else None


def renumber(app, env) -> list:
    changed = []
    for docname, numbers in env.toc_fignumbers.items():
        exercises = numbers.get("exercise")
        chapter = chapter_of(docname)
        if not exercises or chapter is None:
            continue
        in_order = sorted(exercises, key=lambda ident: exercises[ident])   # page order, as Sphinx counted them
        renumbered = {ident: (chapter, k) for k, ident in enumerate(in_order, start=1)}
        if renumbered != exercises:
            numbers["exercise"] = renumbered
            changed.append(docname)
    return changed


def setup(app):
    app.connect("env-get-updated", renumber, priority=900)   # after Sphinx's TocTreeCollector (priority 500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
