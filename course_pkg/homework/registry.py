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
