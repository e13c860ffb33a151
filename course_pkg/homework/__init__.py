"""Homework: automatic checks for the book's exercises.

In a notebook::

    from course_pkg.homework import check
    check("positive.softplus", my_softplus)

prints ``[PASSED] ...``, ``[FAILED] ...``, ``[NOT ATTEMPTED] ...`` or
``[ERROR] ...`` with one line of feedback, and returns the
:class:`CheckResult`. A check never raises and never shows the expected answer.
"""
from __future__ import annotations

from course_pkg.homework.checking import CheckResult, Feedback, Status, run_checker
from course_pkg.homework.registry import exercise, load_all

__all__ = ["check", "check_quietly", "CheckResult", "Status", "Feedback", "exercise", "load_all"]


def check_quietly(exercise_id: str, answer) -> CheckResult:
    """Like :func:`check` but prints nothing."""
    registry = load_all()
    if exercise_id not in registry:
        known = ", ".join(sorted(registry)) or "none"
        return CheckResult(str(exercise_id), Status.ERROR, f"unknown exercise id; known ids: {known}")
    ex = registry[exercise_id]
    return run_checker(exercise_id, ex.checker, answer, time_limit=ex.time_limit)


def check(exercise_id: str, answer) -> None:
    """Check ``answer`` for exercise ``exercise_id`` and print the one-line verdict.

    Returns nothing, so a notebook cell ending with ``check(...)`` shows the
    verdict once; use :func:`check_quietly` to get the :class:`CheckResult`.

    Example:
        >>> check("regression.scale_to_range", None)
        [NOT ATTEMPTED] regression.scale_to_range: no answer yet (replace the stub)
    """
    print(check_quietly(exercise_id, answer))
