"""Checking a student's answer: statuses, results, and safe comparison against a reference.

A check never crashes and never reveals the expected values: whatever the
student hands in (None, ``...``, a string, a function that raises or loops),
the result is one of four statuses with one helpful line.
"""
from __future__ import annotations

import enum
import signal
import threading
from dataclasses import dataclass

import torch


class Status(str, enum.Enum):
    PASSED = "PASSED"
    FAILED = "FAILED"
    NOT_ATTEMPTED = "NOT ATTEMPTED"
    ERROR = "ERROR"


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one check: the exercise id, a status and one line of feedback."""

    exercise: str
    status: Status
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    def __str__(self) -> str:
        return f"[{self.status.value}] {self.exercise}" + (f": {self.message}" if self.message else "")

    __repr__ = __str__


class Feedback(Exception):
    """Raised inside a checker to stop with FAILED and this message."""


class _TimeLimit(Exception):
    pass


def call_with_time_limit(fn, args=(), kwargs=None, seconds: float = 5.0):
    """Call ``fn(*args, **kwargs)``; raise ``TimeoutError`` if it runs longer than ``seconds``.

    Uses SIGALRM in the main thread (which a Jupyter kernel is), so a function
    that never returns is actually interrupted.
    """
    kwargs = kwargs or {}
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        return fn(*args, **kwargs)

    def on_alarm(signum, frame):
        raise _TimeLimit()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args, **kwargs)
    except _TimeLimit:
        raise TimeoutError(f"did not return within {seconds:g} s") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _fmt_shape(t) -> str:
    return str(tuple(t.shape))


def compare_tensors(got, expected: torch.Tensor, *, what: str, atol: float, rtol: float = 0.0) -> None:
    """Raise :class:`Feedback` describing how ``got`` differs from ``expected``, without showing ``expected``."""
    if not isinstance(got, torch.Tensor):
        raise Feedback(f"{what}: expected a torch.Tensor, got {type(got).__name__}")
    if got.shape != expected.shape:
        raise Feedback(f"{what}: wrong shape {_fmt_shape(got)}; check which dimension you reduce or keep")
    if got.dtype != expected.dtype:
        raise Feedback(f"{what}: wrong dtype {got.dtype}; the result should keep the input's dtype")
    got_d, exp_d = got.detach().cpu().double(), expected.detach().cpu().double()
    bad_nan = torch.isnan(got_d) & ~torch.isnan(exp_d)
    if bool(bad_nan.any()):
        raise Feedback(f"{what}: NaN where a number was expected ({int(bad_nan.sum())} of {got.numel()} entries)")
    same_inf = torch.isinf(exp_d) & (got_d == exp_d)
    close = torch.isclose(got_d, exp_d, atol=atol, rtol=rtol, equal_nan=True) | same_inf
    if not bool(close.all()):
        n_bad = int((~close).sum())
        if bool(torch.isinf(got_d[~close]).any()):
            raise Feedback(f"{what}: overflow to ±inf in {n_bad} of {got.numel()} entries; is it numerically stable?")
        raise Feedback(f"{what}: {n_bad} of {got.numel()} entries differ from the reference by more than atol={atol:g}")


def is_unanswered(answer) -> bool:
    """None and ``...`` (Ellipsis) count as not attempted."""
    return answer is None or answer is Ellipsis


def run_checker(exercise_id: str, checker, answer, *, time_limit: float) -> CheckResult:
    """Run ``checker(answer)``, turning every outcome into a :class:`CheckResult`."""
    if is_unanswered(answer):
        return CheckResult(exercise_id, Status.NOT_ATTEMPTED, "no answer yet (replace the stub)")
    try:
        message = call_with_time_limit(checker, (answer,), seconds=time_limit)
    except NotImplementedError:
        return CheckResult(exercise_id, Status.NOT_ATTEMPTED, "the stub still raises NotImplementedError")
    except Feedback as fb:
        return CheckResult(exercise_id, Status.FAILED, str(fb))
    except TimeoutError as err:
        return CheckResult(exercise_id, Status.ERROR, f"your answer {err}; is there an endless loop?")
    except Exception as err:  # the student's code raised: report it, never crash
        text = str(err).splitlines()[0][:200] if str(err) else ""
        return CheckResult(exercise_id, Status.ERROR, f"your code raised {type(err).__name__}: {text}".rstrip(": "))
    return CheckResult(exercise_id, Status.PASSED, message or "all tests passed")


def check_function(answer, reference, cases, *, atol: float, rtol: float = 0.0, grad: bool = False) -> str:
    """Compare ``answer(*args)`` with ``reference(*args)`` on each case; raise :class:`Feedback` on the first miss.

    ``cases`` is a list of ``(label, args)`` where ``label`` describes the inputs
    in words ("logits ±100", "a zero vector") for the feedback line. With
    ``grad=True`` the gradients with respect to the first argument are
    compared too. Returns a pass message.
    """
    if not callable(answer):
        raise Feedback(f"expected a function, got {type(answer).__name__}")
    for label, args in cases:
        args_a = [a.detach().clone().requires_grad_(grad and i == 0) if isinstance(a, torch.Tensor) else a
                  for i, a in enumerate(args)]
        args_r = [a.detach().clone().requires_grad_(grad and i == 0) if isinstance(a, torch.Tensor) else a
                  for i, a in enumerate(args)]
        got = answer(*args_a)
        expected = reference(*args_r)
        compare_tensors(got, expected, what=f"on {label}", atol=atol, rtol=rtol)
        if grad:
            if not got.requires_grad:
                raise Feedback(f"on {label}: the result is detached from the graph (no gradient flows back)")
            (g_got,) = torch.autograd.grad(got.sum(), args_a[0], allow_unused=True)
            (g_exp,) = torch.autograd.grad(expected.sum(), args_r[0])
            if g_got is None:
                raise Feedback(f"on {label}: the result does not depend on the input (no gradient)")
            compare_tensors(g_got, g_exp, what=f"gradient on {label}", atol=atol, rtol=rtol)
    return f"matches the reference on {len(cases)} input sets"
