"""Homework: automatic checks for the book's exercises.

In a notebook::

    from course_pkg.homework import check
    check("positive.softplus", my_softplus)

prints ``[PASSED] ...``, ``[FAILED] ...``, ``[NOT ATTEMPTED] ...`` or
``[ERROR] ...`` with one line of feedback, or ``[FLAGGED] ...`` for an answer that matches the reference
but uses what the exercise forbids (the grader scores it 0). A check never raises and never shows
the expected answer. :func:`check_quietly` returns the :class:`CheckResult`
instead of printing it.

A check runs in three steps, the same in a notebook and in the grader
(:mod:`course_pkg.homework.replay`): the checker's *plan* (the inputs of every
call, recorded against the reference), the *probe* (the answer called on those
inputs with a fresh torch state, the outcome recorded as plain data), and the
*judge* (the checker run again on the recorded outcomes). In the grader the
probe runs in the sandbox, in a fresh process where only the answer's own code has
run, and the plan and the judge in the
trusted process.

For teachers: ``python -m course_pkg.homework.student`` writes the student
notebooks (``student/``), ``python -m course_pkg.homework.grading DIR`` grades
a folder of submitted notebooks.
"""
from __future__ import annotations

from course_pkg.homework.checking import (
    CheckerBug,
    CheckResult,
    Feedback,
    Status,
    call_with_time_limit,
    case_generator,
    check_function,
    compare_tensors,
    is_unanswered,
    one_line,
)
from course_pkg.homework.registry import exercise, load_all, load_errors

__all__ = ["check", "check_quietly", "CheckResult", "Status", "Feedback", "exercise", "load_all",
           "load_errors", "check_function", "compare_tensors", "case_generator"]


_PLANS: dict = {}


def check_quietly(exercise_id: str, answer) -> CheckResult:
    """Like :func:`check` but prints nothing and returns the :class:`CheckResult`.

    Example:
        >>> check_quietly("regression.scale_to_range", "a string").status.value
        'FAILED'
    """
    exercise_id = str(exercise_id)
    registry = load_all()
    if exercise_id not in registry:
        chapter = exercise_id.split(".")[0]
        broken = load_errors().get(chapter)
        if broken:
            return CheckResult(exercise_id, Status.ERROR, f"the checks of chapter {chapter!r} failed to load: {broken}")
        known = ", ".join(sorted(registry)) or "none"
        return CheckResult(exercise_id, Status.ERROR, f"unknown exercise id; known ids: {known}")
    ex = registry[exercise_id]
    if is_unanswered(answer):
        return CheckResult(exercise_id, Status.NOT_ATTEMPTED, "no answer yet (replace the stub)")
    from course_pkg.homework import replay

    if ex.reference is None:  # a check in the earlier style, not converted yet: judged in this process
        from course_pkg.homework.checking import run_checker
        return run_checker(exercise_id, ex.checker, answer, time_limit=ex.time_limit)
    try:
        spec = _PLANS.get(ex)
        if spec is None:
            spec = _PLANS[ex] = replay.plan_exercise(ex, seed=0)  # seed 0: the same inputs every time
    except Exception as err:
        return CheckResult(exercise_id, Status.ERROR, one_line(f"the checker itself failed (please report): {err}"))
    return replay.check_answer(ex, answer, spec, call=call_with_time_limit)


def check(exercise_id: str, answer) -> None:
    """Check ``answer`` for exercise ``exercise_id`` and print the one-line verdict.

    Returns nothing, so a notebook cell ending with ``check(...)`` shows the
    verdict once; use :func:`check_quietly` to get the :class:`CheckResult`.

    Example:
        >>> check("regression.scale_to_range", None)
        [NOT ATTEMPTED] regression.scale_to_range (Exercise 3.1): no answer yet (replace the stub)
    """
    print(check_quietly(exercise_id, answer))
