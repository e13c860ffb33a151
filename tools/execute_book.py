"""Execute every chapter notebook from the current code, side by side, into the site build's execution cache.

    python tools/execute_book.py [--jobs N]     # (re-)execute every notebook into the cache
    python tools/execute_book.py --if-stale     # the same, unless the cache already matches every source (make book)
    python tools/execute_book.py --check        # exit 1 unless the cache was made from the current sources
    python tools/execute_book.py --from-record _build/nbval   # make test: use nbval's run (tests/nbval_record.py)

The site is built with ``execute_notebooks: cache`` (``_config.yml``): Sphinx
executes nothing itself, it takes each notebook's outputs from the jupyter-cache
in ``_build/.jupyter_cache``. This script is the only thing that fills that
cache, and it never adds to an old one: it deletes the cache, runs every
``book/*.ipynb`` in a fresh kernel (``JOBS`` at a time, longest first, each
kernel started in ``book/`` with the numerical environment of
``tools/refresh_notebooks.py``), stores the executed copies, and last writes
``fingerprint.json``: a hash of every source the outputs depend on (book/,
course_pkg/, the configuration, the lock, the numerical environment, the
installed packages). The local extension ``book/_ext/fresh_outputs.py`` stops
any build whose cache fingerprint differs from the current sources, so a site
never shows outputs of older code, whichever builder (html, singlehtml, pdf)
and however it is started. Every build after one execution (a PDF, a build with
solutions hidden) reuses these outputs and executes nothing.

``make test`` does not execute the chapters twice: nbval's run of every chapter
(fresh kernel, same numerical environment, every output compared with the
stored notebook) is recorded by the pytest plugin ``tests/nbval_record.py``,
and ``--from-record`` fills the cache from that record instead of executing,
provided the record is complete, made from exactly the current sources, and
holds the current notebooks' code. If any of that does not hold (a notebook
failed under nbval, a file changed meanwhile) it says why and executes.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import sysconfig
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from importlib import metadata
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "_build" / ".jupyter_cache"
FINGERPRINT = CACHE / "fingerprint.json"
# Everything a notebook's outputs can depend on. A change anywhere here re-executes every notebook.
SOURCE_DIRS = ("book", "course_pkg")
SOURCE_FILES = ("_config.yml", "requirements.txt", "pyproject.toml")
SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints"}
# The site's look and build extensions: they change how outputs are shown, never what a notebook prints.
NOT_EXECUTED = ("book/_static/", "book/_templates/", "book/_ext/")

sys.path.insert(0, str(ROOT / "tools"))
from refresh_notebooks import NUMERICS_ENV  # noqa: E402  (one definition of the numerical environment)


def notebooks() -> list[Path]:
    return sorted((ROOT / "book").glob("*.ipynb"))


def source_files() -> list[Path]:
    files = [ROOT / f for f in SOURCE_FILES if (ROOT / f).exists()]
    for folder in SOURCE_DIRS:
        files += [p for p in (ROOT / folder).rglob("*") if p.is_file() and not SKIP_PARTS & set(p.parts)
                  and not str(p.relative_to(ROOT)).startswith(NOT_EXECUTED)]
    return sorted(files)


def digests() -> dict[str, str]:
    """What the outputs depend on, item by item: each source file's sha256, the numerical environment, Python
    and the installed distributions."""
    items = {str(p.relative_to(ROOT)): hashlib.sha256(p.read_bytes()).hexdigest() for p in source_files()}
    items["(numerical environment)"] = json.dumps(NUMERICS_ENV, sort_keys=True)  # what every kernel below runs with
    items["(python)"] = sys.version
    # The environment's own packages, wherever this runs from (sys.path differs between a script and pytest).
    site = sorted({sysconfig.get_path("purelib"), sysconfig.get_path("platlib")})
    items["(installed packages)"] = hashlib.sha256("\n".join(sorted(
        f"{d.metadata.get('Name')}=={d.version}" for d in metadata.distributions(path=site))).encode()).hexdigest()
    return items


def fingerprint(items: dict[str, str] | None = None) -> str:
    """One sha256 over ``digests()``."""
    return hashlib.sha256(json.dumps(items or digests(), sort_keys=True).encode()).hexdigest()


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def stored_fingerprint() -> dict:
    try:
        return json.loads(FINGERPRINT.read_text())
    except (OSError, ValueError):
        return {}


def is_fresh() -> bool:
    return stored_fingerprint().get("fingerprint") == fingerprint()


def stale_items() -> list[str]:
    """What changed since the cache was filled (everything, if there is no cache)."""
    return changed(stored_fingerprint().get("digests", {}), digests())


# The kernel's own log (not the notebook's output): ipykernel 7 warns on every start that its local TCP sockets are
# unencrypted, nine lines of noise per build.
QUIET_KERNEL = ["--IPKernelApp.log_level=ERROR"]


def code_sources(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def fill_cache(executed: dict[str, tuple[nbformat.NotebookNode, float]], items: dict[str, str], jobs: int,
               wall: float):
    """Replace the cache by these executed notebooks (path -> (notebook, seconds)) and write the fingerprint."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    shutil.rmtree(CACHE, ignore_errors=True)  # never mix new outputs with old ones
    cache = get_cache(str(CACHE))
    for path, (nb, took) in executed.items():
        cache.cache_notebook_bundle(CacheBundleIn(nb, path, data={"execution_seconds": took}),
                                    check_validity=False, overwrite=True)
    FINGERPRINT.write_text(json.dumps({"fingerprint": fingerprint(items), "digests": items, "jobs": jobs,
                                       "wall_seconds": round(wall, 2),
                                       "seconds": {Path(p).name: round(s, 2) for p, (_, s) in executed.items()}},
                                      indent=1, sort_keys=True) + "\n")


def from_record(folder: Path) -> str | None:
    """Fill the cache from nbval's recorded run; return None on success, else why the record cannot be used."""
    try:
        record = json.loads((folder / "fingerprint.json").read_text())
        recorded, environment = record["digests"], record["environment"]
    except (OSError, ValueError, KeyError):
        return f"no record in {folder}"
    if environment != NUMERICS_ENV:
        return f"nbval ran with {environment}, not the numerical environment {NUMERICS_ENV}"
    now = fingerprint()
    if fingerprint(recorded) != now:
        return "these changed after nbval started: " + ", ".join(changed(recorded, digests()))
    executed = {}
    for path in notebooks():
        copy = folder / path.name
        if not copy.exists():
            return f"nbval did not run {path.name} completely and without failure"
        nb = nbformat.read(copy, as_version=4)
        if code_sources(nb) != code_sources(nbformat.read(path, as_version=4)):
            return f"the record of {path.name} holds other code than book/{path.name}"
        seconds = json.loads((folder / f"{path.stem}.json").read_text())["seconds"]
        executed[str(path)] = (nb, seconds)
    fill_cache(executed, recorded, jobs=0, wall=0.0)
    return None


def _execute(path: str, timeout: int, allow_errors: bool):
    """Worker: run one notebook in a fresh kernel in its folder; return (path, executed json, seconds, error)."""
    from jupyter_cache.executors.utils import single_nb_execution

    nb = nbformat.read(path, as_version=4)
    result = single_nb_execution(nb, cwd=str(Path(path).parent), timeout=timeout, allow_errors=allow_errors,
                                 extra_arguments=QUIET_KERNEL)
    return path, nbformat.writes(nb), result.time, result.exc_string


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("JOBS", os.cpu_count() or 1)))
    ap.add_argument("--check", action="store_true", help="only report whether the cache is current")
    ap.add_argument("--if-stale", action="store_true", help="execute only when the cache is not current")
    ap.add_argument("--from-record", type=Path, metavar="DIR",
                    help="fill the cache from nbval's recorded run in DIR (tests/nbval_record.py) when it is "
                         "complete and current; else execute (implies --if-stale)")
    args = ap.parse_args(argv)
    if (args.if_stale or args.from_record) and is_fresh():
        print(f"execution cache {CACHE.relative_to(ROOT)}: current, nothing to execute", flush=True)
        return 0
    if args.check:
        fresh = is_fresh()
        print(f"execution cache {CACHE.relative_to(ROOT)}: {'current' if fresh else 'stale or missing'}")
        return 0 if fresh else 1

    if args.from_record:
        why = from_record(args.from_record)
        if why is None:
            print(f"execution cache {CACHE.relative_to(ROOT)}: filled from nbval's run ({args.from_record})", flush=True)
            return 0
        print(f"cannot use nbval's run for the site ({why}): executing", flush=True)

    os.environ.update(NUMERICS_ENV)  # inherited by every kernel started below
    execute = yaml.safe_load((ROOT / "_config.yml").read_text()).get("execute", {})
    assert execute.get("execute_notebooks") == "cache", "_config.yml must build from the cache (execute_notebooks: cache)"
    assert not execute.get("run_in_temp"), "notebooks run in book/ (run_in_temp: false)"
    timeout, allow_errors = execute.get("timeout", 120), bool(execute.get("allow_errors", False))

    previous = stored_fingerprint().get("seconds", {})
    paths = sorted(notebooks(), key=lambda p: -previous.get(p.name, p.stat().st_size / 1e5))  # longest first
    items = digests()
    before = fingerprint(items)
    executed, failed = {}, []
    start = time.perf_counter()
    print(f"executing {len(paths)} notebooks, {args.jobs} at a time", flush=True)
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(_execute, str(p), timeout, allow_errors) for p in paths]
        for future in as_completed(futures):
            path, text, took, error = future.result()
            name = Path(path).name
            if error:
                failed.append(name)
                print(f"{name}: FAILED after {took:.1f} s\n{error}", file=sys.stderr, flush=True)
                continue
            executed[path] = (nbformat.reads(text, as_version=4), took)
            print(f"{name}: {took:.1f} s", flush=True)
    wall = time.perf_counter() - start
    if failed:
        shutil.rmtree(CACHE, ignore_errors=True)
        print(f"{len(failed)} notebook(s) failed: {', '.join(sorted(failed))}", file=sys.stderr)
        return 1
    if fingerprint() != before:
        shutil.rmtree(CACHE, ignore_errors=True)
        print("these changed while the notebooks ran (a notebook must not write into book/ or course_pkg/): "
              + ", ".join(changed(items, digests())), file=sys.stderr)
        return 1
    fill_cache(dict(sorted(executed.items())), items, args.jobs, wall)
    print(f"executed {len(paths)} notebooks in {wall:.1f} s "
          f"(serial sum {sum(s for _, s in executed.values()):.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
