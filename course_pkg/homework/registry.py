"""The exercise registry: each exercise id maps to a checker, a reference answer and its forbidden shortcuts.

Chapters register their exercises in ``course_pkg/homework/exercises/<chapter>.py``::

    @exercise("binary.bce_with_logits", reference=bce_with_logits, time_limit=5,
              forbidden=("course_pkg", "torch.nn.functional.binary_cross_entropy_with_logits"))
    def _(answer):
        ...                      # raise Feedback("...") to fail; return a message or None to pass

A checker receives the student's answer (usually a function), calls it on
inputs drawn from ``case_generator(n)``, and compares with a reference from
``course_pkg``. ``reference`` is a correct answer: the checker runs against
it first to record the plan of calls (:mod:`course_pkg.homework.replay`), so
it must pass its own check. ``forbidden`` lists what the exercise text forbids,
as dotted names (a module prefix such as ``"course_pkg"``, a function such as
``"torch.nn.functional.softplus"``, or ``".log_softmax"`` for a method of any
object); the grader flags answers whose code uses one
(:mod:`course_pkg.homework.scan`).

A check registered without ``reference`` (the earlier style) still works in a notebook, run in
the student's process as before, but the grader cannot judge it outside the kernel and reports
ERROR for it; ``exercises/__init__.py`` says how to convert it.

A chapter module that fails to import does not break the others: its error is
kept in :func:`load_errors`, and checking one of its ids reports ERROR.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

_EXERCISES: dict = {}
_LOAD_ERRORS: dict = {}


@dataclass(frozen=True)
class Exercise:
    id: str
    checker: object
    time_limit: float
    description: str
    reference: object = None
    forbidden: tuple = ()
    answer: str = "answer"


def exercise(exercise_id: str, *, reference=None, time_limit: float = 10.0, description: str = "",
             forbidden=(), answer: str = "answer"):
    """Decorator registering ``checker`` under ``exercise_id`` (``"chapter.name"``).

    Registering the same id again from the same module (a reload) replaces the
    entry; registering it from a different module is an error.
    """
    if not isinstance(exercise_id, str) or "." not in exercise_id:
        raise ValueError(f"exercise_id must look like 'chapter.name', got {exercise_id!r}")
    if not (isinstance(time_limit, (int, float)) and time_limit > 0):
        raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    if reference is not None and not callable(reference):
        raise ValueError(f"reference must be a correct answer (a function), got {reference!r}")
    if isinstance(forbidden, str) or not all(isinstance(f, str) and f for f in forbidden):
        raise ValueError(f"forbidden must be a tuple of dotted names, got {forbidden!r}")

    def register(checker):
        old = _EXERCISES.get(exercise_id)
        if old is not None and old.checker is not checker and (
                getattr(old.checker, "__module__", None) != getattr(checker, "__module__", None)):
            raise ValueError(f"exercise {exercise_id!r} is registered twice")
        _EXERCISES[exercise_id] = Exercise(exercise_id, checker, float(time_limit),
                                           description or (checker.__doc__ or "").strip(), reference,
                                           tuple(forbidden), answer)
        return checker

    return register


def load_all() -> dict:
    """Import every module in ``course_pkg.homework.exercises`` and return the registry (id -> Exercise).

    A module that raises on import is skipped; see :func:`load_errors`.
    """
    from course_pkg.homework import exercises

    for info in pkgutil.iter_modules(exercises.__path__):
        name = f"{exercises.__name__}.{info.name}"
        try:
            importlib.import_module(name)
            _LOAD_ERRORS.pop(info.name, None)
        except Exception as err:  # a broken chapter module must not break every other check
            _LOAD_ERRORS[info.name] = f"{type(err).__name__}: {err}"
    return dict(_EXERCISES)


def load_errors() -> dict:
    """Chapter module name -> import error message, for the modules :func:`load_all` could not import."""
    load_all()
    return dict(_LOAD_ERRORS)


# ----------------------------------------------------------------------------------- one exercise numbering

_NUMBERS_CACHE: dict = {}


def chapter_number(name: str) -> int:
    """The chapter number of a chapter file: the int of its two-digit prefix.

    Example:
        >>> chapter_number("book/05_binary_classification.ipynb")
        5
        >>> chapter_number("00_pytorch_essentials")
        0
    """
    import re
    from pathlib import PurePath

    stem = PurePath(str(name)).name
    m = re.match(r"^(\d+)_", stem)
    if m is None:
        raise ValueError(f"name must start with a chapter number such as '05_', got {name!r}")
    return int(m.group(1))


def chapter_exercises(nb, name: str) -> list:
    """The exercises of one master notebook, in order: a list of dicts ``{"number": "5.2", "label": ...,
    "ids": [check ids], "title": ...}``.

    ``name`` is the notebook's file name (its prefix gives the chapter number N). The k-th ``{exercise}``
    (or ``{exercise-start}``) directive of the notebook, checked or not, is Exercise N.k; a ``check("id", ...)``
    call belongs to the last exercise directive before its cell.
    """
    from course_pkg.homework.student import find_checks, split_blocks

    number = chapter_number(name)
    found: list = []

    def scan(blocks):
        for block in blocks:
            if block.kind != "directive":
                continue
            if block.name in ("exercise", "exercise-start"):
                found.append({"number": f"{number}.{len(found) + 1}", "label": block.options.get("label", ""),
                              "title": block.arg.strip(), "ids": []})
            else:
                scan(split_blocks("\n".join(block.lines), name))

    for cell in nb.cells:
        if cell.cell_type == "markdown":
            scan(split_blocks(cell.source, name))
        elif cell.cell_type == "code" and found:
            for call in find_checks(cell.source):
                if call.exercise_id not in found[-1]["ids"]:
                    found[-1]["ids"].append(call.exercise_id)
    return found


def _book_dir():
    from pathlib import Path

    return Path(__file__).resolve().parents[2] / "book"


def exercise_numbers(book=None, *, refresh: bool = False) -> dict:
    """Chapter file stem -> :func:`chapter_exercises` for every master notebook ``book/NN_*.ipynb`` (cached).

    Without a ``book/`` folder (course_pkg installed alone, as on Colab) the numbering comes from
    :mod:`course_pkg.homework.exercise_numbers`, which ``python -m course_pkg.homework.student`` writes
    (:func:`numbers_module_source`).
    """
    from pathlib import Path

    book = Path(book) if book is not None else _book_dir()
    key = str(book)
    if key in _NUMBERS_CACHE and not refresh:
        return _NUMBERS_CACHE[key]
    masters = sorted(book.glob("[0-9][0-9]_*.ipynb")) if book.is_dir() else []
    if masters:
        import nbformat

        numbers = {m.stem: chapter_exercises(nbformat.read(m, as_version=4), m.name) for m in masters}
    else:
        from course_pkg.homework.exercise_numbers import NUMBERS as numbers
    _NUMBERS_CACHE[key] = numbers
    return numbers


def numbers_module_source(numbers: dict) -> str:
    """The text of ``course_pkg/homework/exercise_numbers.py``: :func:`exercise_numbers` as a literal."""
    import pprint

    return ('"""Exercise numbers of the book (generated by `python -m course_pkg.homework.student` from book/*.ipynb;\n'
            'do not edit): the numbering course_pkg.homework.registry.exercise_label uses where book/ is absent."""\n\n'
            f"NUMBERS = {pprint.pformat(numbers, width=110, sort_dicts=True)}\n")


def exercise_number(exercise_id: str) -> str | None:
    """``"5.2"`` for a check id or an exercise's MyST label in chapter 5's second exercise; None if unknown."""
    for exercises in exercise_numbers().values():
        for ex in exercises:
            if exercise_id in ex["ids"] or (ex["label"] and exercise_id == ex["label"]):
                return ex["number"]
    return None


def exercise_label(exercise_id: str) -> str:
    """The one name of an exercise everywhere (site, PDF, slides, student notebooks, checks, grades):
    ``"Exercise N.k"``, the k-th exercise of chapter N (the chapter file's prefix).

    ``exercise_id`` is a check id (``"binary.fixed_loss"``) or the exercise's MyST label. An id that no master
    notebook checks gives ``"Exercise <id>"``, so a label is always printable.

    Example:
        >>> exercise_label("regression.scale_to_range")
        'Exercise 3.1'
    """
    if not isinstance(exercise_id, str) or not exercise_id:
        raise ValueError(f"exercise_id must be a non-empty string, got {exercise_id!r}")
    number = exercise_number(exercise_id)
    return f"Exercise {number}" if number else f"Exercise {exercise_id}"
