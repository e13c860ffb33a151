"""Floating-point limits of output transformations, found by running them.

Mathematically softplus is positive and exp is finite everywhere; in a given
floating-point format both statements fail beyond some input. The helper here
locates such a switch point by bisection on the representable numbers of a
dtype, so a chapter can *print* the limit instead of quoting it.
"""
from __future__ import annotations

import math

import torch

from course_pkg._validation import check_number

__all__ = ["float_boundary"]

_FLOATING = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def float_boundary(predicate, true_at: float, false_at: float, dtype: torch.dtype = torch.float32,
                   max_steps: int = 2000) -> float:
    r"""The input closest to ``false_at`` at which a monotone test on ``dtype`` numbers still holds.

    ``predicate`` maps a 0-dim tensor of ``dtype`` to ``True``/``False`` (a
    Python bool or a bool tensor) and must switch exactly once between
    ``true_at`` (where it holds) and ``false_at`` (where it does not). The
    bracket is halved, with the midpoint rounded to ``dtype``, until its two
    ends are neighbouring ``dtype`` numbers; the end where ``predicate`` holds
    is returned as a Python float. So for every ``dtype`` number :math:`t`
    between ``true_at`` and the result the test holds, and for the next number
    towards ``false_at`` it fails.

    Args:
        predicate: callable ``0-dim tensor -> bool``, e.g. ``lambda o: softplus(o) == 0``.
        true_at, false_at: finite ends of the bracket, in either order.
        dtype: the floating-point format to search in.
        max_steps: bisection steps allowed before giving up (``RuntimeError``).

    Raises ``ValueError`` if ``predicate`` does not hold at ``true_at`` or
    holds at ``false_at``; ``TypeError`` for a non-callable predicate or a
    non-floating dtype.

    Example:
        >>> float_boundary(lambda o: torch.isinf(torch.exp(o)), true_at=1000.0, false_at=0.0) > 88.7
        True
        >>> round(float_boundary(lambda o: o >= 2.5, true_at=10.0, false_at=0.0, dtype=torch.float64), 6)
        2.5
    """
    if not callable(predicate):
        raise TypeError(f"predicate must be callable as predicate(o) -> bool, got {type(predicate).__name__}")
    if dtype not in _FLOATING:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    true_at, false_at = check_number(true_at, "true_at"), check_number(false_at, "false_at")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")

    def holds(value: torch.Tensor) -> bool:
        return bool(predicate(value))

    t = torch.tensor(true_at, dtype=dtype)
    f = torch.tensor(false_at, dtype=dtype)
    if not math.isfinite(t.item()) or not math.isfinite(f.item()):
        raise ValueError(f"true_at={true_at} and false_at={false_at} must be finite in {dtype}")
    if t.item() == f.item():
        raise ValueError(f"true_at and false_at must differ in {dtype}, both are {t.item()}")
    if not holds(t):
        raise ValueError(f"predicate must hold at true_at={true_at}, but it is False there")
    if holds(f):
        raise ValueError(f"predicate must fail at false_at={false_at}, but it is True there")
    for _ in range(max_steps):
        mid = t / 2 + f / 2  # halves first, so that the sum cannot overflow
        if mid.item() == t.item() or mid.item() == f.item():
            return t.item()
        if holds(mid):
            t = mid
        else:
            f = mid
    raise RuntimeError(f"no boundary found within max_steps={max_steps} bisection steps")
