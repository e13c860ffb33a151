"""Grade a folder of submitted notebooks into a table, each submission in its own sandbox.

    python -m course_pkg.homework.grading SUBMISSIONS_DIR --out grades.csv [--jobs 2] [--timeout 60]
        [--total-timeout 600] [--memory 6] [--chapter regression] [--no-sandbox]

One row per file in the folder, whatever it is (hidden files, folders, links and files that are
not notebooks included, with the reason), one column per auto-checked exercise (1 = PASSED,
0 otherwise, empty = not part of that notebook's chapter), ``total`` and ``reason``.
``grades_details.csv`` next to it has each check's status and feedback line.

How a submission is graded (:mod:`course_pkg.homework.replay` has the checking design):

1. the trusted grader (this process) reads the file as JSON, without trusting its structure
   (no link followed, no FIFO opened, size-capped), finds its one chapter (metadata
   ``course_pkg.chapter``, its ``check("id", ...)`` calls, the class's chapter, or ``--chapter``),
   takes the exercises and answer names from the master notebooks in ``book/``, and extracts, for
   each answer, the statements that define it and what they use
   (:func:`course_pkg.homework.extract.answer_program`): nothing else of the notebook ever runs;
2. it reads that code: forbidden names and introspection (:func:`course_pkg.homework.extract.findings`);
3. in a sandbox (:mod:`course_pkg.homework.sandbox`: bubblewrap, read-only system, ``nobody``,
   memory-bounded private ``/tmp``, no network, own PID namespace, limits) the runner
   (:mod:`course_pkg.homework.runner`) defines each answer in a fresh process; only then does the
   grader draw a seed, plan the checker's calls and send their inputs; the probe's record comes back
   over the runner's pipe (size-capped, with a deadline), with every function and PyTorch operator
   the calls reached;
4. the grader judges each record with its own checker, and flags forbidden functions however they
   were reached. Only then, with every sandbox gone, are the CSV files written, every text escaped.

:func:`grade_notebook` grades one notebook (for one container per submission).

Statuses: PASSED, FAILED, NOT ATTEMPTED, ERROR as in a notebook, and FLAGGED: the check passed
but the answer's code uses what the exercise forbids (named in ``reason``), 0 points until a
person decides. A time-out while the machine was overloaded is retried once, then reported
as "timed out under load, regrade" instead of counting as the student's error.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import secrets
import stat
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_pkg.homework import extract, probe, replay, runner, sandbox, scan
from course_pkg.homework.checking import CheckerBug
from course_pkg.homework.registry import exercise_label, load_all
from course_pkg.homework.student import BOOK, COLAB_TAG, METADATA_KEY, MarkupError, parse_master

PACKAGE_ROOT = Path(__file__).resolve().parents[2]   # the folder that contains course_pkg/
SHORT = {"PASSED": "P", "FAILED": "F", "NOT ATTEMPTED": "N", "ERROR": "E", "FLAGGED": "X"}
MAX_FILE_BYTES = 32 << 20          # a submission larger than this is not graded
MAX_RESULT_BYTES = 64 << 20        # cap on one message read back from a sandbox
UNDER_LOAD = "timed out under load, regrade"


@dataclass
class Chapter:
    name: str                                   # "03_regression"
    exercises: list                             # [(exercise id, answer expression)]
    colab: str = ""                             # the master's Colab set-up cell (trusted as is)


@dataclass
class Row:
    student: str
    results: dict = field(default_factory=dict)  # exercise id -> (status, message)
    chapters: list = field(default_factory=list)
    reasons: list = field(default_factory=list)
    under_load: bool = False
    seconds: dict = field(default_factory=dict)

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
        colab = next((c.source for c in nb.cells if COLAB_TAG in c.get("metadata", {}).get("tags", [])), "")
        if exercises:
            chapters[path.stem] = Chapter(path.stem, exercises, colab)
    return chapters


# --------------------------------------------------------------------------- reading a submission safely

def readable_name(name: str) -> str:
    """A file name as printable text: undecodable bytes and control characters escaped, no CSV formula.

    Example:
        >>> readable_name(os.fsdecode(b"caf\\xe9"))
        'caf\\\\xe9'
        >>> readable_name("=HYPERLINK(1)")
        "'=HYPERLINK(1)"
    """
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    text = "".join(c if c.isprintable() else (f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}")
                   for c in text)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _source(cell) -> tuple:
    """(source text, problem) of a cell whose ``source`` may be a string, a list of strings, or junk."""
    source = cell.get("source", "")
    if isinstance(source, str):
        return source, None
    if isinstance(source, list) and all(isinstance(s, str) for s in source):
        return "".join(source), None
    return "", f"a source of type {type(source).__name__}"


def read_submission(raw: bytes) -> dict:
    """The parts of a notebook the grader needs, from untrusted bytes: cells (type, source, tags), metadata.

    Raises ValueError (with a short reason) for anything that is not a notebook.
    """
    try:
        nb = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except (json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"not JSON ({type(err).__name__})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError("no list of cells")
    cells, problems = [], []
    for i, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict):
            problems.append(f"cell {i} is not an object")
            continue
        kind = cell.get("cell_type")
        source, problem = _source(cell)
        if problem:
            problems.append(f"cell {i} has {problem} (ignored)")
        meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        tags = meta.get("tags") if isinstance(meta.get("tags"), list) else []
        cells.append({"index": i, "type": kind if isinstance(kind, str) else "", "source": source,
                      "tags": [t for t in tags if isinstance(t, str)]})
    metadata = nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {}
    return {"cells": cells, "metadata": metadata, "problems": problems}


def detect_chapters(nb, chapters: dict) -> list:
    """The chapters a submission belongs to: from its metadata, else from the exercise ids it mentions."""
    if not isinstance(nb, dict):
        return []
    meta = nb.get("metadata", {}) if isinstance(nb.get("metadata", {}), dict) else {}
    own = meta.get(METADATA_KEY, {})
    chapter = own.get("chapter") if isinstance(own, dict) else None
    if isinstance(chapter, str) and chapter in chapters:
        return [chapter]
    code = "\n".join(_source(c)[0] for c in nb.get("cells", []) if isinstance(c, dict) and c.get("cell_type") == "code")
    mentioned = set(re.findall(r"""check(?:_quietly)?\s*\(\s*["']([\w.]+)["']""", code))
    return [name for name, ch in chapters.items() if mentioned & {ex for ex, _ in ch.exercises}]


# --------------------------------------------------------------------------- grading one file

@dataclass
class Options:
    cell_cpu_s: float = 60.0
    total_s: float = 600.0
    sandboxed: bool = True
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    hide: tuple = ()
    start: object = None          # how the runner is started: sandbox.start unless given (platforms.container_start)

    @property
    def cell_wall_s(self) -> float:
        return 3 * self.cell_cpu_s + 30


class Channel:
    """The grader's end of the runner's pipes: JSON lines in and out, each read with a deadline and a size cap."""

    def __init__(self, proc):
        self.proc, self.buffer = proc, bytearray()

    def send(self, data: dict) -> bool:
        try:
            self.proc.stdin.write(json.dumps(data).encode("utf-8") + b"\n")
            self.proc.stdin.flush()
            return True
        except (OSError, ValueError):
            return False

    def read(self, deadline: float):
        """The next message (a dict), or ``"eof"``, ``"timeout"``, ``"too large"``, ``"garbled"``."""
        line = runner.read_line(self.proc.stdout.fileno(), deadline, MAX_RESULT_BYTES, self.buffer)
        if not isinstance(line, bytes):
            return line
        try:
            data = json.loads(line.decode("utf-8"))
        except (ValueError, RecursionError):
            return "garbled"
        return data if isinstance(data, dict) else "garbled"


def _completed(record, spec: dict, child: dict) -> dict:
    """The probe record with the runner's view added: a child killed at its deadline or crashed ends its calls."""
    if not isinstance(record, dict):
        record = {"format": probe.FORMAT, "answer": {"kind": "callable"}, "calls": []}
    calls = record.get("calls") if isinstance(record.get("calls"), list) else []
    answer = record.get("answer") if isinstance(record.get("answer"), dict) else {}
    last = calls[-1] if calls and isinstance(calls[-1], dict) else {}
    finished = answer.get("kind") != "callable" or len(calls) >= len(spec["calls"]) or last.get("status") == "timeout"
    if not finished:
        timed_out = child.get("status") == "timeout"
        entry = {"status": "timeout" if timed_out else "crashed", "limit_s": spec["time_limit"],
                 "cpu_s": child.get("cpu_s", 0.0), "wall_s": child.get("probe_wall_s", child.get("wall_s", 0.0)),
                 "how": "killed at its deadline" if timed_out else f"the process ended ({child.get('status')})"}
        if child.get("waited_s") is not None:
            entry["waited_s"] = child["waited_s"]
        calls = [*calls, entry]
    return {**record, "calls": calls}


def _judge(row: Row, ex, spec: dict, record: dict, static: tuple) -> None:
    result, notes = replay.judge(ex, spec, record)
    status, message = result.status.value, result.message
    if "timed out under load" in message:
        row.under_load = True
    uses = sorted(set(static[0]) | set(extract.runtime_uses(record.get("used"), ex.forbidden)))
    odd = static[1]
    if uses and status == "PASSED":
        status, message = "FLAGGED", f"passed, but uses {', '.join(uses[:3])}, which the exercise forbids"
    elif odd and status == "PASSED":
        status, message = "FLAGGED", (f"passed, but its code uses {', '.join(odd[:3])}, which a person must read "
                                      "before it counts")
    if uses:
        row.reasons.append(f"{spec['id']}: uses {', '.join(uses[:3])} (forbidden by the exercise)")
    if odd:
        row.reasons.append(f"{spec['id']}: its code uses {', '.join(odd[:4])}{' …' if len(odd) > 4 else ''} "
                           "(worth a look)")
    if notes:
        row.reasons.append(f"{spec['id']}: {'; '.join(sorted(set(notes)))} (worth a look)")
    row.results[spec["id"]] = (status, message)


def _read_file(path: Path, cap: int) -> bytes:
    """A submission's bytes: no link followed, no FIFO or device waited on, at most ``cap`` bytes."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        chunks, size = [], 0
        while size <= cap:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > cap:
            raise ValueError("too large")
        return b"".join(chunks)
    finally:
        os.close(fd)


def grade_file(path: Path, chapters: dict, registry: dict, options: Options, *, forced: str | None = None,
               class_chapter: str | None = None) -> Row:
    """Grade one entry of the submissions folder; never raises for anything the file contains.

    ``forced`` is the chapter to grade it as (``--chapter``); ``class_chapter``, the chapter most of the
    class hands in, settles a notebook without metadata that calls the checks of several chapters.
    """
    name = path.name
    row = Row(readable_name(name[: -len(".ipynb")] if name.endswith(".ipynb") and len(name) > 6 else name))
    started = time.monotonic()
    if name.startswith("."):
        row.reasons.append("hidden file")
    try:
        info = os.lstat(path)
    except OSError as err:
        row.reasons.append(f"cannot be read ({type(err).__name__})")
        return row
    if stat.S_ISLNK(info.st_mode):
        row.reasons.append("a symbolic link (not followed, not graded)")
        return row
    if stat.S_ISDIR(info.st_mode):
        row.reasons.append("a folder (not graded)")
        return row
    if not stat.S_ISREG(info.st_mode):
        row.reasons.append("not a regular file (not graded)")
        return row
    if info.st_size > MAX_FILE_BYTES:
        row.reasons.append(f"too large to grade ({info.st_size / 2**20:.0f} MiB)")
        return row
    try:
        nb = read_submission(_read_file(path, MAX_FILE_BYTES))
    except (ValueError, OSError) as err:
        row.reasons.append(f"not a readable notebook ({err})")
        return row
    row.reasons += nb["problems"][:3]
    if forced:
        row.chapters = [forced]
    else:
        found = detect_chapters({"metadata": nb["metadata"], "cells": [
            {"cell_type": c["type"], "source": c["source"]} for c in nb["cells"]]}, chapters)
        if len(found) > 1:
            if class_chapter in found:
                row.reasons.append(f"calls the checks of several chapters ({', '.join(found)}); graded as "
                                   f"{class_chapter}, the class's chapter")
                found = [class_chapter]
            else:
                row.reasons.append(f"calls the checks of several chapters ({', '.join(found)}) and has no chapter "
                                   "in its metadata; not graded (use --chapter)")
                return row
        row.chapters = found
    if not row.chapters:
        row.reasons.append("could not tell which chapter this is (no check(...) call found; use --chapter)")
        return row
    exercises = list(chapters[row.chapters[0]].exercises)
    for exercise_id, _ in exercises:
        row.results[exercise_id] = ("ERROR", "not graded")
    code = [c for c in nb["cells"] if c["type"] == "code" and c["source"].strip()]
    trusted = {chapters[ch].colab for ch in row.chapters if chapters[ch].colab}
    suspicious = scan.tampering([c["source"] for c in code], trusted=trusted, indices=[c["index"] for c in code])
    if suspicious:
        row.reasons.append("code worth a look (it runs only where an answer uses it): "
                           + "; ".join(suspicious[:8]) + (" …" if len(suspicious) > 8 else ""))
    pairs = [(c["index"], c["source"]) for c in code]
    live = []
    for exercise_id, answer in exercises:
        ex = registry.get(exercise_id)
        if getattr(ex, "reference", None) is None:
            continue
        program = extract.answer_program(pairs, answer)
        live.append((ex, answer, program, extract.findings(program, ex.forbidden)))
    if live:
        _run_answers(row, live, options)
    for exercise_id, (status, message) in row.results.items():
        if (status, message) == ("ERROR", "not graded"):
            row.results[exercise_id] = ("ERROR", "not graded: no checker for this exercise, or one without a "
                                        "reference (not converted to plan and judge yet)")
    row.seconds["total"] = time.monotonic() - started
    return row


def _run_answers(row: Row, live: list, options: Options) -> None:
    """One sandbox for the submission; in it, each answer defined and probed in a fresh process of its own."""
    started = time.monotonic()
    deadline = started + options.total_s
    job = {"exercises": [{"answer": answer, "statements": program.statements, "time_limit": ex.time_limit,
                          "define_s": min(options.cell_wall_s, options.total_s)} for ex, answer, program, _ in live]}
    proc = (options.start or sandbox.start)([sys.executable, "-m", "course_pkg.homework.runner"],
                                            sandboxed=options.sandboxed, limits=options.limits, hide=options.hide)
    channel, stopped = Channel(proc), None
    try:
        hello = channel.read(min(deadline, time.monotonic() + 180))
        if not (isinstance(hello, dict) and hello.get("ready")) or not channel.send(job):
            stopped = hello if isinstance(hello, str) else "garbled"
        for n, (ex, answer, program, static) in enumerate(live):
            if stopped:
                break
            define_s = job["exercises"][n]["define_s"]   # a runner that stops answering costs this much at most
            msg = channel.read(min(deadline, time.monotonic() + define_s + 30))
            if not isinstance(msg, dict) or msg.get("n") != n:
                stopped = msg if isinstance(msg, str) else "garbled"
                break
            if "defined" not in msg:  # the child never finished defining the answer
                child = msg.get("child") if isinstance(msg.get("child"), dict) else {}
                why = ("did not finish within its time limit" if "timeout" in str(child.get("status")) else
                       "ended before the answer was defined (a crash, os._exit or out of memory)")
                row.results[ex.id] = ("ERROR", f"not checked: the code defining `{answer}` {why}")
                row.reasons.append(f"{ex.id}: the code defining `{answer}` {why}")
                continue
            defined = msg["defined"] if isinstance(msg["defined"], dict) else {"bad": True}
            errors = defined.get("errors") if isinstance(defined.get("errors"), list) else []
            cells = [f"cell {e.get('cell')} {str(e.get('type'))[:60]}" for e in errors[:3] if isinstance(e, dict)]
            if cells:
                row.reasons.append(f"{ex.id}: errors while defining `{answer}` in " + ", ".join(cells))
            spec = None
            if defined.get("bad") or defined.get("extra"):
                row.reasons.append(f"{ex.id}: the answer's code wrote to the grader's channel (worth a look)")
                row.results[ex.id] = ("ERROR", "not checked: the answer's code wrote to the grader's channel")
            else:
                try:  # the seed is drawn now, after the answer's code has run, and never leaves this process
                    spec = replay.plan_exercise(ex, seed=secrets.randbits(62) + 1, answer_name=answer)
                except CheckerBug as err:
                    row.reasons.append(f"the checker itself failed (please report): {err}")
            if not channel.send({"plan": None if spec is None else {k: v for k, v in spec.items() if k != "seed"}}):
                stopped = "eof"
                break
            msg = channel.read(min(deadline, time.monotonic()) + (spec["time_limit"] if spec else 0) + 30)
            if not isinstance(msg, dict) or msg.get("n") != n:
                stopped = msg if isinstance(msg, str) else "garbled"
                break
            if spec is not None:
                child = msg.get("child") if isinstance(msg.get("child"), dict) else {}
                _judge(row, ex, spec, _completed(msg.get("record"), spec, child), static)
        if not stopped:  # the runner's own CPU time and its children's (for tools/bench_grading.py)
            done = channel.read(min(deadline, time.monotonic() + 10))
            if isinstance(done, dict) and isinstance(done.get("cpu_s"), (int, float)):
                row.seconds["sandbox_cpu"] = float(done["cpu_s"])
    finally:
        sandbox.stop(proc)
        row.seconds["sandbox"] = time.monotonic() - started
    if stopped:
        if stopped == "timeout" and time.monotonic() >= deadline:
            why = f"ran longer than {options.total_s:g} s in total; the sandbox was killed"
        elif stopped == "eof":
            why = (f"the sandbox was killed or crashed (exit status {proc.returncode}: out of memory, a limit, "
                   "or a signal)")
        else:
            why = f"the sandbox stopped answering the grader ({stopped})"
        row.reasons.append(f"stopped: {why}")
        for ex, answer, _, _ in live:
            if row.results.get(ex.id) == ("ERROR", "not graded"):
                row.results[ex.id] = ("ERROR", f"not checked: {why}")


# --------------------------------------------------------------------------- the folder

def _resolve_chapter(chapter, chapters):
    matches = [name for name in chapters if name == chapter or name.split("_", 1)[-1] == chapter
               or any(ex.split(".")[0] == chapter for ex, _ in chapters[name].exercises)]
    if not matches:
        raise SystemExit(f"unknown chapter {chapter!r}; chapters with checks: {', '.join(chapters)}")
    return matches[0]


def grade_folder(folder: Path, *, book: Path = BOOK, chapter: str | None = None, cell_timeout: float = 60,
                 total_timeout: float = 600, jobs: int = 1, progress=None, sandboxed: bool = True,
                 memory_gib: float = 6, hide=()) -> tuple:
    """Grade every entry of ``folder``; return (exercise ids, rows sorted by student). No sandbox outlives it."""
    chapters = master_chapters(book)
    registry = load_all()
    if chapter is not None:
        chapter = _resolve_chapter(chapter, chapters)
    options = Options(cell_cpu_s=cell_timeout, total_s=total_timeout, sandboxed=sandboxed,
                      limits=sandbox.Limits(memory_bytes=int(memory_gib * (1 << 30))),
                      hide=(folder, *hide))
    entries = sorted((folder / n for n in os.listdir(folder)), key=lambda p: os.fsencode(p.name))
    class_chapter = chapter or _class_chapter(entries, chapters)

    def one(path):
        row = grade_file(path, chapters, registry, options, forced=chapter, class_chapter=class_chapter)
        if progress:
            progress(f"{_csv_text(row.student)}: {row.total} passed ({row.seconds.get('total', 0):.0f} s)")
        return row

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        rows = list(pool.map(one, entries))
    for i, (path, row) in enumerate(zip(entries, rows)):  # a time-out under load: once more, alone
        if row.under_load:
            again = one(path)
            if again.under_load:
                again.reasons.append(UNDER_LOAD)
            rows[i] = again
    unique_names(rows)
    used = [name for name in chapters if any(name in r.chapters for r in rows)]
    ids = [ex for name in used for ex, _ in chapters[name].exercises]
    return ids, sorted(rows, key=lambda r: r.student)


def _class_chapter(entries, chapters: dict):
    """The chapter most submissions name in their metadata (or, failing that, call the checks of alone)."""
    votes = {}
    for path in entries:
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            nb = read_submission(_read_file(path, MAX_FILE_BYTES))
        except (ValueError, OSError):
            continue
        found = detect_chapters({"metadata": nb["metadata"], "cells": [
            {"cell_type": c["type"], "source": c["source"]} for c in nb["cells"]]}, chapters)
        if len(found) == 1:
            votes[found[0]] = votes.get(found[0], 0) + 1
    return max(sorted(votes), key=votes.get) if votes else None


def unique_names(rows: list) -> None:
    """Give rows with the same name distinct ones: ``bob``, ``bob (2)``, ... never a name another row has."""
    taken = {r.student for r in rows}
    seen = set()
    for row in rows:
        if row.student in seen:
            k = 2
            while f"{row.student} ({k})" in taken:
                k += 1
            row.student = f"{row.student} ({k})"
            taken.add(row.student)
        seen.add(row.student)


def _csv_text(value) -> str:
    """Text safe for a CSV cell and a terminal: lone surrogates and control characters escaped, no formula."""
    text = value if isinstance(value, str) else str(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = "".join(c if c.isprintable() or c == " " else (f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}")
                   for c in text)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def write_csv(path: Path, ids: list, rows: list) -> Path:
    """Write the grades table and, next to it, ``<stem>_details.csv``; return the details path.

    Every text is escaped (:func:`_csv_text`), so nothing a submission put in a name, an exception
    message or a record stops the writing or becomes a spreadsheet formula.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", *ids, "total", "reason"])
        for r in rows:
            cells = [("1" if r.results[ex][0] == "PASSED" else "0") if ex in r.results else
                     ("0" if not r.chapters else "") for ex in ids]
            w.writerow([_csv_text(r.student), *cells, r.total, _csv_text("; ".join(map(str, r.reasons)))])
    details = path.with_name(path.stem + "_details.csv")
    with details.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "exercise", "label", "status", "message"])
        for r in rows:
            for ex in ids:
                if ex in r.results:
                    w.writerow([_csv_text(r.student), ex, exercise_label(ex), *map(_csv_text, r.results[ex])])
    return details


GRADEBOOKS = ("canvas", "moodle")


def write_gradebook(path: Path, rows: list, chapters: dict, *, platform: str, names: dict | None = None) -> list:
    """Write the gradebook CSV Canvas or Moodle imports: one row per student, one column per assignment.

    ``chapters`` maps each chapter graded to the assignment's column title (and so its order); ``names``
    optionally maps a file's student name to the id the platform knows the student by (default: the name
    itself, so name each submission ``<login>.ipynb``). A student's score in a column is the number of
    PASSED exercises of that chapter. The cell is left EMPTY (Canvas and Moodle then leave the grade as it
    was) for a submission that needs a person: a FLAGGED exercise, a time-out under load, or no chapter.

    * ``canvas``: ``Student, ID, SIS User ID, SIS Login ID, Section, <assignment>...`` and a
      ``Points Possible`` row, as Canvas's own export; the id goes in ``SIS Login ID``;
    * ``moodle``: ``ID number, <assignment>...`` (map ``ID number`` to the user field that holds it).

    Returns the student names left empty. Every text is escaped (no formula, no control character).

    Example:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "canvas.csv"
        >>> write_gradebook(out, [Row("s1001", {"x.a": ("PASSED", ""), "x.b": ("FAILED", "")}, chapters=["05_x"])],
        ...                 {"05_x": "Homework 5"}, platform="canvas")
        []
        >>> print(out.read_text().splitlines()[2])
        s1001,,,s1001,,1
    """
    if platform not in GRADEBOOKS:
        raise ValueError(f"platform must be one of {', '.join(GRADEBOOKS)}, not {platform!r}")
    names = names or {}
    points = {}  # points possible: the chapter's exercise count, from the rows graded as that chapter
    for ch in chapters:
        counts = [len(r.results) for r in rows if r.chapters[:1] == [ch]]
        points[ch] = max(counts) if counts else 0
    empty = []
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        titles = [_csv_text(chapters[ch]) for ch in chapters]
        if platform == "canvas":
            w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *titles])
            w.writerow(["Points Possible", "", "", "", "", *[points[ch] for ch in chapters]])
        else:
            w.writerow(["ID number", *titles])
        for r in rows:
            review = (not r.chapters or r.under_load or UNDER_LOAD in r.reasons
                      or any(status == "FLAGGED" for status, _ in r.results.values()))
            if review:
                empty.append(r.student)
            cells = ["" if review or r.chapters[:1] != [ch] else r.total for ch in chapters]
            student = _csv_text(names.get(r.student, r.student))
            w.writerow([student, "", "", student, "", *cells] if platform == "canvas" else [student, *cells])
    return empty


def grade_notebook(path, *, chapter: str | None = None, sandboxed: bool = True, cell_timeout: float = 60,
                   total_timeout: float = 600, memory_gib: float = 6, book: Path = BOOK, hide=(),
                   start=None) -> dict:
    """Grade ONE notebook (the entry point for one container per submission, e.g. an autograder).

    Returns ``{"student", "chapter", "total", "max", "reasons", "exercises": {id: {"status", "message"}}}``,
    the message being the feedback line the student would see. ``hide``: folders and files the sandbox must
    not see; ``start``: how to start the runner (:func:`course_pkg.homework.sandbox.start` unless given).
    """
    chapters = master_chapters(book)
    forced = _resolve_chapter(chapter, chapters) if chapter else None
    options = Options(cell_cpu_s=cell_timeout, total_s=total_timeout, sandboxed=sandboxed,
                      limits=sandbox.Limits(memory_bytes=int(memory_gib * (1 << 30))), hide=tuple(hide),
                      start=start)
    row = grade_file(Path(path), chapters, load_all(), options, forced=forced)
    return {"student": _csv_text(row.student), "chapter": row.chapters[0] if row.chapters else None,
            "total": row.total, "max": len(row.results), "reasons": [_csv_text(r) for r in row.reasons],
            "exercises": {ex: {"status": status, "message": _csv_text(message)}
                          for ex, (status, message) in row.results.items()}}


def summary(ids: list, rows: list) -> str:
    """A printable table: P/F/N/E/X per exercise (PASSED, FAILED, NOT ATTEMPTED, ERROR, FLAGGED), total, reason."""
    width = max([len("student")] + [len(r.student) for r in rows])
    heads = [exercise_label(ex).removeprefix("Exercise ") for ex in ids]   # the book's numbers, "5.2"
    lines = [f"{'student':<{width}}  " + "  ".join(f"{h:>3}" for h in heads) + "  total  reason"]
    for r in rows:
        marks = "  ".join(f"{SHORT.get(r.results[ex][0], '?') if ex in r.results else '-':>{len(h)}}"
                          for ex, h in zip(ids, heads))
        lines.append(f"{_csv_text(r.student):<{width}}  {marks}  {r.total:>5}  {_csv_text('; '.join(r.reasons))[:90]}")
    lines.append("")
    for ex in ids:
        passed = sum(1 for r in rows if r.results.get(ex, ("",))[0] == "PASSED")
        lines.append(f"{exercise_label(ex)} = {ex}: passed by {passed} of {len(rows)}")
    lines.append("P = PASSED, F = FAILED, N = NOT ATTEMPTED, E = ERROR, X = FLAGGED (0 points: uses what the "
                 "exercise forbids), - = not in that notebook")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Grade a folder of submitted notebooks into a CSV table.")
    ap.add_argument("submissions", type=Path, help="folder of submitted .ipynb files (never modified)")
    ap.add_argument("--out", type=Path, default=Path("grades.csv"), help="CSV to write (default grades.csv)")
    ap.add_argument("--timeout", type=float, default=60,
                    help="CPU seconds per cell (default 60; a cell is also stopped after 3x that + 30 s of wall time)")
    ap.add_argument("--total-timeout", type=float, default=600, help="seconds per notebook (default 600)")
    ap.add_argument("--memory", type=float, default=6, help="GiB of address space per process (default 6)")
    ap.add_argument("--chapter", help="grade every submission as this chapter (e.g. 03_regression or regression)")
    ap.add_argument("--book", type=Path, default=BOOK, help="folder of master notebooks (default book/)")
    ap.add_argument("--jobs", type=int, default=1, help="submissions graded at the same time (default 1)")
    ap.add_argument("--no-sandbox", action="store_true",
                    help="run submissions without isolation (prints what is then unprotected)")
    ap.add_argument("--gradebook", choices=GRADEBOOKS,
                    help="also write the gradebook CSV Canvas or Moodle imports (one column per assignment)")
    ap.add_argument("--gradebook-out", type=Path,
                    help="where to write it (default: <out stem>_<canvas|moodle>.csv next to --out)")
    ap.add_argument("--assignment", action="append", default=[], metavar="CHAPTER=TITLE",
                    help="the gradebook column title of a chapter (default: the chapter's name); repeatable")
    args = ap.parse_args(argv)
    if not args.submissions.is_dir():
        print(f"error: {args.submissions} is not a folder", file=sys.stderr)
        return 2
    if args.no_sandbox:
        print(sandbox.UNPROTECTED, file=sys.stderr)
    else:
        works, why = sandbox.status()
        if not works:
            print(f"error: {why}\nRefusing to run untrusted notebooks without a sandbox; pass --no-sandbox to "
                  "do it anyway (see --help).", file=sys.stderr)
            return 3
    out = args.out.resolve()
    book_path = args.gradebook_out or args.out.with_name(f"{args.out.stem}_{args.gradebook}.csv")
    hide = (out, out.with_name(out.stem + "_details.csv"), *([book_path.resolve()] if args.gradebook else []))
    ids, rows = grade_folder(args.submissions, book=args.book, chapter=args.chapter, cell_timeout=args.timeout,
                             total_timeout=args.total_timeout, jobs=args.jobs, sandboxed=not args.no_sandbox,
                             memory_gib=args.memory, hide=hide,
                             progress=lambda line: print(line, file=sys.stderr, flush=True))
    details = write_csv(args.out, ids, rows)
    print(summary(ids, rows))
    print(f"\nwrote {args.out} and {details}")
    if args.gradebook:
        chapters = master_chapters(args.book)
        titles = dict(a.split("=", 1) for a in args.assignment if "=" in a)
        titles = {_resolve_chapter(k, chapters): v for k, v in titles.items()}
        graded = [name for name in chapters if any(r.chapters[:1] == [name] for r in rows)]
        empty = write_gradebook(book_path, rows, {ch: titles.get(ch, ch) for ch in graded}, platform=args.gradebook)
        print(f"wrote {book_path} ({args.gradebook}; left empty for a person to decide: "
              f"{', '.join(map(_csv_text, empty)) or 'none'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
