"""Grade a folder of submitted notebooks into a table.

    python -m course_pkg.homework.grading SUBMISSIONS_DIR --out grades.csv [--timeout 60] [--total-timeout 600]

One row per submission (the file name without ``.ipynb`` is the student), one
column per auto-checked exercise (1 = PASSED, 0 otherwise, empty = not part of
that notebook's chapter), ``total``, and ``reason`` (why something could not be
graded, cells that raised or timed out, a checker that was tampered with).
``grades_details.csv`` next to it has each check's status and feedback line.

How a submission is graded:

1. its bytes are copied into a fresh temporary folder (the submission itself
   is never modified); a file that is not a notebook gets zeros and a reason;
2. the chapter comes from the notebook's metadata (``course_pkg.chapter``,
   written by the student-notebook generator) or from the ``check("id", ...)``
   calls in its code, or from ``--chapter``; the exercises and the answer
   names (``to_range``) come from the master notebook in ``book/``;
3. the copy runs top to bottom in its own fresh kernel (nbclient), errors
   allowed, each cell limited to ``--timeout`` seconds (then interrupted) and
   the whole notebook to ``--total-timeout`` seconds (then the kernel is killed
   and the notebook scores 0 with a reason);
4. in the same kernel the grader then drops every ``course_pkg`` module the
   notebook may have redefined or monkeypatched, imports a fresh checker from
   this package's own files (not from ``sys.path``), checks each answer, and
   writes the results to a file whose name holds a random nonce; a notebook
   that prints fake ``[PASSED]`` lines or replaces ``check`` gains nothing.

Limits: the answers run in the student's kernel, so a notebook that sets out
to patch torch or the interpreter itself could still mislead the checker; the
``reason`` column flags code that touches ``check``, ``course_pkg.homework``,
``sys.modules`` or ``builtins`` so that such submissions can be read by a person.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import secrets
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_pkg.homework.student import BOOK, METADATA_KEY, MarkupError, parse_master

PACKAGE_ROOT = Path(__file__).resolve().parents[2]   # the folder that contains course_pkg/
SHORT = {"PASSED": "P", "FAILED": "F", "NOT ATTEMPTED": "N", "ERROR": "E"}
SUSPICIOUS = re.compile(
    r"(^|\n)\s*def\s+check(_quietly)?\s*\(|(^|[^.\w])check(_quietly)?\s*=[^=]|course_pkg\.homework[\w.]*\s*=[^=]"
    r"|\bdel\s+sys\.modules|sys\.modules\s*\[[^]]*\]\s*=[^=]|\bimport\s+builtins|get_ipython\(\)\.events"
    r"|\bsetattr\s*\(\s*(hw|homework|checking|course_pkg)"
    r"|\.\s*(check|check_quietly|run_checker|check_function|compare_tensors|load_all|call_with_time_limit)\s*=[^=]")


@dataclass
class Chapter:
    name: str                                   # "03_regression"
    exercises: list                             # [(exercise id, answer expression)]


@dataclass
class Row:
    student: str
    results: dict = field(default_factory=dict)  # exercise id -> (status, message)
    chapters: list = field(default_factory=list)
    reasons: list = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(status == "PASSED" for status, _ in self.results.values())


def master_chapters(book: Path = BOOK) -> dict:
    """Chapter name -> :class:`Chapter`, for every master notebook with at least one check."""
    chapters = {}
    for path in sorted(book.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        try:
            parsed = parse_master(nb, path.name)
        except MarkupError as err:
            print(f"warning: {err}", file=sys.stderr)
            continue
        seen, exercises = set(), []
        for call in parsed.checks:
            if call.exercise_id not in seen:
                seen.add(call.exercise_id)
                exercises.append((call.exercise_id, call.answer))
        if exercises:
            chapters[path.stem] = Chapter(path.stem, exercises)
    return chapters


def detect_chapters(nb, chapters: dict) -> list:
    """The chapters a submission belongs to: from its metadata, else from the exercise ids it mentions."""
    meta = nb.get("metadata", {}).get(METADATA_KEY, {})
    if isinstance(meta, dict) and meta.get("chapter") in chapters:
        return [meta["chapter"]]
    code = "\n".join(c.get("source", "") for c in nb.get("cells", []) if c.get("cell_type") == "code")
    mentioned = set(re.findall(r"""check(?:_quietly)?\s*\(\s*["']([\w.]+)["']""", code))
    return [name for name, ch in chapters.items() if mentioned & {ex for ex, _ in ch.exercises}]


_GRADER = '''\
def __course_pkg_grade(exercises, root, out_path, nonce):
    import importlib, importlib.machinery, importlib.util, json, sys
    from IPython import get_ipython
    for name in [m for m in list(sys.modules) if m == "course_pkg" or m.startswith("course_pkg.")]:
        del sys.modules[name]
    spec = importlib.machinery.PathFinder.find_spec("course_pkg", [root])
    package = importlib.util.module_from_spec(spec)
    sys.modules["course_pkg"] = package
    spec.loader.exec_module(package)
    homework = importlib.import_module("course_pkg.homework")
    assert homework.__file__.startswith(root), homework.__file__
    namespace = get_ipython().user_ns
    results = {}
    for exercise_id, expression in exercises:
        try:
            answer = eval(expression, namespace)
        except NameError:
            results[exercise_id] = ["NOT ATTEMPTED", "`%s` is not defined in the notebook" % expression]
            continue
        except BaseException as err:
            results[exercise_id] = ["ERROR", "evaluating `%s` raised %s" % (expression, type(err).__name__)]
            continue
        result = homework.check_quietly(exercise_id, answer)
        results[exercise_id] = [result.status.value, result.message]
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"nonce": nonce, "results": results}, f)
__course_pkg_grade(__EXERCISES__, __ROOT__, __OUT__, __NONCE__)
del __course_pkg_grade
'''


def _short(err: BaseException, limit: int = 160) -> str:
    text = " ".join(f"{type(err).__name__}: {err}".split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _kill_kernel(client) -> None:
    try:
        pid = client.km.provisioner.process.pid
    except Exception:
        return
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
            return
        except Exception:
            continue


def grade_one(path: Path, chapters: dict, *, forced: str | None = None, cell_timeout: float = 60,
              total_timeout: float = 600, kernel_name: str = "python3") -> Row:
    """Execute one submission in a fresh kernel and check its answers with a fresh checker."""
    import nbclient
    from nbclient.exceptions import DeadKernelError

    row = Row(path.stem)
    try:
        raw = path.read_bytes()
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("no list of cells")
    except Exception as err:
        row.reasons.append(f"not a readable notebook ({_short(err, 100)})")
        return row
    row.chapters = [forced] if forced else detect_chapters(nb, chapters)
    if not row.chapters:
        row.reasons.append("could not tell which chapter this is (no check(...) call found; use --chapter)")
        return row
    exercises = [ex for name in row.chapters for ex in chapters[name].exercises]
    for exercise_id, _ in exercises:
        row.results[exercise_id] = ("ERROR", "not graded")
    code_cells = [c for c in nb.cells if c.get("cell_type") == "code"
                  and "colab-setup" not in c.get("metadata", {}).get("tags", [])]
    if any(SUSPICIOUS.search(c.get("source", "")) for c in code_cells):
        row.reasons.append("code redefines or patches the checker (graded with a fresh one; worth a look)")

    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        work = Path(tmp)
        (work / path.name).write_bytes(raw)  # grade a copy, never the submission
        nb = nbformat.read(work / path.name, as_version=4)
        nb.cells = [c for c in nb.cells if c.get("cell_type") in ("code", "markdown", "raw")]
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nonce = secrets.token_hex(16)
        out = work / f"results-{nonce}.json"
        source = (_GRADER.replace("__EXERCISES__", repr(exercises)).replace("__ROOT__", repr(str(PACKAGE_ROOT)))
                  .replace("__OUT__", repr(str(out))).replace("__NONCE__", repr(nonce)))
        grader = nbformat.v4.new_code_cell(source)
        grader_timeout = int(30 + 15 * len(exercises))
        client = nbclient.NotebookClient(
            nb, timeout=int(cell_timeout), kernel_name=kernel_name, allow_errors=True,
            interrupt_on_timeout=True, record_timing=False, startup_timeout=120,
            error_on_timeout={"ename": "TimeoutError", "evalue": f"cell ran longer than {cell_timeout:g} s",
                              "traceback": []},
            timeout_func=lambda cell: grader_timeout if cell is grader else int(cell_timeout),
            resources={"metadata": {"path": str(work)}})
        expired = threading.Event()

        def on_total_timeout():
            expired.set()
            _kill_kernel(client)

        timer = threading.Timer(total_timeout, on_total_timeout)
        errors = []
        try:
            with client.setup_kernel():
                timer.start()
                for index, cell in enumerate(list(nb.cells)):
                    if cell.cell_type != "code":
                        continue
                    started = time.monotonic()
                    client.execute_cell(cell, index)
                    if time.monotonic() - started >= cell_timeout:
                        errors.append(f"cell {index} timed out after {cell_timeout:g} s")
                        continue
                    for output in cell.outputs:
                        if output.get("output_type") == "error":
                            errors.append(f"cell {index} {output.get('ename', 'error')}")
                            break
                nb.cells.append(grader)
                client.execute_cell(grader, len(nb.cells) - 1)
        except DeadKernelError:
            row.reasons.append(f"stopped: ran longer than {total_timeout:g} s in total" if expired.is_set()
                               else "the kernel died (crash or out of memory)")
        except Exception as err:  # nbclient or kernel trouble: this submission only
            row.reasons.append("stopped: " + (f"ran longer than {total_timeout:g} s in total" if expired.is_set()
                                              else _short(err)))
        finally:
            timer.cancel()
            _kill_kernel(client)
        if errors:
            row.reasons.append("errors in " + ", ".join(errors[:5]) + (" …" if len(errors) > 5 else ""))
        try:
            data = json.loads(out.read_text(encoding="utf-8"))
            if data.get("nonce") != nonce:
                raise ValueError("nonce mismatch")
            for exercise_id, _ in exercises:
                status, message = data["results"][exercise_id]
                row.results[exercise_id] = (str(status), str(message))
        except Exception as err:
            if not any(r.startswith("stopped") or r.startswith("the kernel") for r in row.reasons):
                grader_errors = [o for o in grader.get("outputs", []) if o.get("output_type") == "error"]
                detail = (f"{grader_errors[0].get('ename')}: {grader_errors[0].get('evalue')}" if grader_errors
                          else _short(err, 80))
                row.reasons.append(f"answers could not be checked ({detail[:120]})")
            for exercise_id in row.results:
                if row.results[exercise_id] == ("ERROR", "not graded"):
                    row.results[exercise_id] = ("ERROR", "not graded: " + "; ".join(row.reasons)[:150])
    return row


def grade_folder(folder: Path, *, book: Path = BOOK, chapter: str | None = None, cell_timeout: float = 60,
                 total_timeout: float = 600, jobs: int = 1, progress=None) -> tuple:
    """Grade every ``*.ipynb`` (and any other file) in ``folder``; return (exercise ids, rows sorted by student)."""
    chapters = master_chapters(book)
    if chapter is not None:
        matches = [name for name in chapters if name == chapter or name.split("_", 1)[-1] == chapter
                   or any(ex.split(".")[0] == chapter for ex, _ in chapters[name].exercises)]
        if not matches:
            raise SystemExit(f"unknown chapter {chapter!r}; chapters with checks: {', '.join(chapters)}")
        chapter = matches[0]
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))

    def one(path):
        started = time.monotonic()
        row = grade_one(path, chapters, forced=chapter, cell_timeout=cell_timeout, total_timeout=total_timeout)
        if progress:
            progress(f"{path.name}: {row.total} passed ({time.monotonic() - started:.0f} s)")
        return row

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        rows = list(pool.map(one, files))
    used = [name for name in chapters if any(name in r.chapters for r in rows)]
    ids = [ex for name in used for ex, _ in chapters[name].exercises]
    return ids, sorted(rows, key=lambda r: r.student)


def write_csv(path: Path, ids: list, rows: list) -> Path:
    """Write the grades table and, next to it, ``<stem>_details.csv``; return the details path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", *ids, "total", "reason"])
        for r in rows:
            cells = [("1" if r.results[ex][0] == "PASSED" else "0") if ex in r.results else
                     ("0" if not r.chapters else "") for ex in ids]
            w.writerow([r.student, *cells, r.total, "; ".join(r.reasons)])
    details = path.with_name(path.stem + "_details.csv")
    with details.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "exercise", "status", "message"])
        for r in rows:
            for ex in ids:
                if ex in r.results:
                    w.writerow([r.student, ex, *r.results[ex]])
    return details


def summary(ids: list, rows: list) -> str:
    """A printable table: P/F/N/E per exercise (PASSED, FAILED, NOT ATTEMPTED, ERROR), total and reason."""
    width = max([len("student")] + [len(r.student) for r in rows])
    lines = [f"{'student':<{width}}  " + "  ".join(f"ex{i + 1}" for i in range(len(ids))) + "  total  reason"]
    for r in rows:
        marks = "  ".join(f"{SHORT.get(r.results[ex][0], '?') if ex in r.results else '-':>3}" for ex in ids)
        lines.append(f"{r.student:<{width}}  {marks}  {r.total:>5}  {'; '.join(r.reasons)[:90]}")
    lines.append("")
    for i, ex in enumerate(ids):
        passed = sum(1 for r in rows if r.results.get(ex, ("",))[0] == "PASSED")
        lines.append(f"ex{i + 1} = {ex}: passed by {passed} of {len(rows)}")
    lines.append("P = PASSED, F = FAILED, N = NOT ATTEMPTED, E = ERROR, - = not in that notebook")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Grade a folder of submitted notebooks into a CSV table.")
    ap.add_argument("submissions", type=Path, help="folder of submitted .ipynb files (never modified)")
    ap.add_argument("--out", type=Path, default=Path("grades.csv"), help="CSV to write (default grades.csv)")
    ap.add_argument("--timeout", type=float, default=60, help="seconds per cell (default 60)")
    ap.add_argument("--total-timeout", type=float, default=600, help="seconds per notebook (default 600)")
    ap.add_argument("--chapter", help="grade every submission as this chapter (e.g. 03_regression or regression)")
    ap.add_argument("--book", type=Path, default=BOOK, help="folder of master notebooks (default book/)")
    ap.add_argument("--jobs", type=int, default=1, help="submissions graded at the same time (default 1)")
    args = ap.parse_args(argv)
    if not args.submissions.is_dir():
        print(f"error: {args.submissions} is not a folder", file=sys.stderr)
        return 2
    ids, rows = grade_folder(args.submissions, book=args.book, chapter=args.chapter, cell_timeout=args.timeout,
                             total_timeout=args.total_timeout, jobs=args.jobs,
                             progress=lambda line: print(line, file=sys.stderr, flush=True))
    details = write_csv(args.out, ids, rows)
    print(summary(ids, rows))
    print(f"\nwrote {args.out} and {details}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
