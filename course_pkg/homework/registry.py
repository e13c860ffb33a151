"""The exercise registry: each exercise id maps to a checker.

Chapters register their exercises in ``course_pkg/homework/exercises/<chapter>.py``::

    @exercise("binary.bce_with_logits", time_limit=5)
    def _(answer):
        ...                      # raise Feedback("...") to fail; return a message or None to pass

A checker receives the student's answer (usually a function), calls it on
fresh seeded inputs, and compares with a reference from ``course_pkg``.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

_EXERCISES: dict = {}


@dataclass(frozen=True)
class Exercise:
    id: str
    checker: object
    time_limit: float
    description: str


def exercise(exercise_id: str, *, time_limit: float = 10.0, description: str = ""):
    """Decorator registering ``checker`` under ``exercise_id`` (``"chapter.name"``)."""
    if not isinstance(exercise_id, str) or "." not in exercise_id:
        raise ValueError(f"exercise_id must look like 'chapter.name', got {exercise_id!r}")

    def register(checker):
        if exercise_id in _EXERCISES and _EXERCISES[exercise_id].checker is not checker:
            raise ValueError(f"exercise {exercise_id!r} is registered twice")
        _EXERCISES[exercise_id] = Exercise(exercise_id, checker, time_limit, description or (checker.__doc__ or ""))
        return checker

    return register


def load_all() -> dict:
    """Import every module in ``course_pkg.homework.exercises`` and return the registry (id -> Exercise)."""
    from course_pkg.homework import exercises

    for info in pkgutil.iter_modules(exercises.__path__):
        importlib.import_module(f"{exercises.__name__}.{info.name}")
    return dict(_EXERCISES)
