"""Sphinx extension: never build the site from outputs of older code.

The book is built with ``execute_notebooks: cache``: myst-nb takes each
notebook's outputs from the jupyter-cache, which ``tools/execute_book.py`` fills
from the current sources (``make book`` runs it whenever a source changed). The
cache matches a notebook by its code cells only, so after a change to
``course_pkg`` (or to the environment) it would still hand out the old outputs.
This extension makes every build current first: unless the cache's fingerprint
equals the current sources' fingerprint, it runs the project's own executor,
``tools/execute_book.py`` (every chapter in a fresh kernel, in the book's
numerical environment), before Sphinx reads a page. So ``jupyter-book build .``,
the command every Jupyter Book user knows, builds the same site as ``make book``.
Only if the executor fails does the build stop. Every builder (html,
singlehtml, pdfhtml, latex) passes through it.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sphinx.errors import ConfigError
from sphinx.util import logging

logger = logging.getLogger(__name__)


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
    if execute_book.is_fresh():
        return
    what = execute_book.stale_items()
    logger.info(f"fresh_outputs: the outputs in {cache} are not from the current sources ({len(what)} changed: "
                f"{', '.join(what[:8])}{' ...' if len(what) > 8 else ''}); executing the chapters with "
                "tools/execute_book.py", color="yellow")
    # A separate process: the executor sets the numerical environment for its kernels, not for this build.
    jobs = os.environ.get("JOBS") or str(min(2, os.cpu_count() or 1))
    done = subprocess.run([sys.executable, str(tools / "execute_book.py"), "--if-stale", "--jobs", jobs])
    if done.returncode != 0 or not execute_book.is_fresh():
        raise ConfigError(f"fresh_outputs: executing the chapters failed (tools/execute_book.py exit status "
                          f"{done.returncode}): see above. The site is never built from older outputs.")


def setup(app):
    app.connect("config-inited", check_cache, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
