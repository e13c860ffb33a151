"""Sphinx extension: never build the site from outputs of older code.

The book is built with ``execute_notebooks: cache``: myst-nb takes each
notebook's outputs from the jupyter-cache, which ``tools/execute_book.py`` fills
from the current sources (``make book`` runs it whenever a source changed). The
cache matches a notebook by its code cells only, so after a change to
``course_pkg`` (or to the environment) it would still hand out the old outputs.
This extension stops such a build: unless the cache's fingerprint equals the
current sources' fingerprint, the build fails and says how to re-execute. Every
builder (html, singlehtml, pdfhtml, latex) passes through it.
"""
from __future__ import annotations

import sys
from pathlib import Path

from sphinx.errors import ConfigError


def check_cache(app, config):
    if config["nb_execution_mode"] != "cache":
        return  # myst-nb executes (force) or shows the stored outputs (off): nothing cached to go stale
    tools = Path(app.srcdir) / "tools"
    sys.path.insert(0, str(tools))
    try:
        import execute_book
    finally:
        sys.path.remove(str(tools))
    cache = Path(config["nb_execution_cache_path"] or Path(app.outdir).parent / ".jupyter_cache").resolve()
    if cache != execute_book.CACHE.resolve():
        raise ConfigError(f"fresh_outputs: the execution cache is {cache}, but tools/execute_book.py fills "
                          f"{execute_book.CACHE}")
    if not execute_book.is_fresh():
        what = execute_book.stale_items()
        raise ConfigError(f"fresh_outputs: the notebook outputs in {cache} were not executed from the current "
                          f"sources ({len(what)} changed: {', '.join(what[:8])}{' ...' if len(what) > 8 else ''}). "
                          "Run `make book`, or `python tools/execute_book.py` before jupyter-book.")


def setup(app):
    app.connect("config-inited", check_cache, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
