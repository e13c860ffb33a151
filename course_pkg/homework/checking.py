"""Checking a student's answer: statuses, results, and safe comparison against a reference.

A check never crashes and never reveals the expected values: whatever the
student hands in (None, ``...``, a string, a NumPy array, a function that
raises, returns junk or never returns), the result is one of four statuses
with one helpful line:

* ``PASSED``: the answer matches the reference on every test input;
* ``FAILED``: it runs but gives a wrong result (the line says what is wrong:
  type, shape, dtype, NaN, which inputs; never the expected values);
* ``NOT ATTEMPTED``: ``None``, ``...``, or the stub still raising ``NotImplementedError``;
* ``ERROR``: the student's code raised, or did not return within the time limit;
* ``FLAGGED``: it matches the reference but its calls reached a function the exercise forbids
  (recorded at run time by the grader's own recorder, :class:`course_pkg.homework.probe._Watch`):
  0 points when graded, so the notebook says so too.

Time limits use ``SIGALRM`` in the main thread (where a Jupyter kernel runs
cells). After the limit the alarm repeats every 50 ms, so even a loop that
swallows the timeout with a bare ``except:`` is stopped as soon as the alarm
lands outside its ``try`` (in practice at the next loop iteration). Code
stuck inside one long C call (a huge matrix product) is only stopped when that
call returns; the grader's per-cell and per-notebook limits cover that case.
"""
from __future__ import annotations

import contextlib
import contextvars
import enum
import signal
import sys
import threading
import time
from dataclasses import dataclass

import torch

MAX_MESSAGE = 300
# Why a formula built on |x| or clamp gets the wrong gradient at its kink (true of every torch release we run).
KINK_SLOPES = ("autograd gives abs the slope 0 at 0, and clamp at its bound the slope of one side only, not the "
               "slope of the smooth function")
_REARM_SECONDS = 0.05


class Status(str, enum.Enum):
    PASSED = "PASSED"
    FAILED = "FAILED"
    NOT_ATTEMPTED = "NOT ATTEMPTED"
    ERROR = "ERROR"
    FLAGGED = "FLAGGED"        # matches the reference but uses what the exercise forbids: 0 points when graded


def feedback_line(exercise_id: str, status: str, message: str = "") -> str:
    """The one line a check prints, in the notebook and in every grade report: ``[STATUS] id (Exercise N.k): message``
    (the book's numbering, :func:`course_pkg.homework.registry.exercise_number`; an unknown id shows alone).

    Example:
        >>> feedback_line("regression.scale_to_range", "PASSED", "matches the reference")
        '[PASSED] regression.scale_to_range (Exercise 3.1): matches the reference'
    """
    from course_pkg.homework.registry import exercise_number

    number = exercise_number(exercise_id)
    name = f"{exercise_id} (Exercise {number})" if number else exercise_id
    return f"[{status}] {name}" + (f": {message}" if message else "")


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
        return feedback_line(self.exercise, self.status.value, self.message)

    __repr__ = __str__


class Feedback(Exception):
    """Raised inside a checker to stop with FAILED and this message."""


class _TimeLimit(BaseException):
    """Raised by the alarm; a BaseException so that ``except Exception`` in student code does not swallow it."""


class CheckerBug(Exception):
    """The reference or the checker itself failed (not the student's fault)."""


class Verdict(BaseException):
    """Raised by the replayed answer to end a check with this status and message, whatever the checker catches."""

    def __init__(self, status, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class UnderLoad(BaseException):
    """An answer timed out while the machine was too busy to run it: not the student's error."""


_SEED = contextvars.ContextVar("course_pkg_check_seed", default=0)


@contextlib.contextmanager
def seed_scope(seed: int):
    """Within the block, :func:`case_generator` draws its inputs from ``seed`` (0 = the fixed in-notebook inputs)."""
    token = _SEED.set(int(seed))
    try:
        yield
    finally:
        _SEED.reset(token)


def case_generator(n: int) -> torch.Generator:
    """The generator a checker draws its random inputs from: stream ``n`` of the current run's seed.

    In a notebook the seed is 0 and ``case_generator(n)`` is ``torch.Generator().manual_seed(n)``; the
    grader sets a fresh random seed for every run (:func:`seed_scope`), so inputs cannot be precomputed.

    Example:
        >>> with seed_scope(0):
        ...     torch.equal(torch.randn(3, generator=case_generator(5)),
        ...                 torch.randn(3, generator=torch.Generator().manual_seed(5)))
        True
    """
    base = _SEED.get()
    seed = n if base == 0 else (base * 1_000_003 + n) % (2 ** 63 - 1)
    return torch.Generator().manual_seed(seed)


def one_line(text, limit: int = MAX_MESSAGE) -> str:
    """``text`` as a single stripped line of at most ``limit`` characters."""
    try:
        text = str(text)
    except Exception:  # a broken __str__ must not crash the check
        text = "<unprintable>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe_exception(err: BaseException) -> str:
    return f"{type(err).__name__}: {one_line(err, 200)}".rstrip(": ")


def call_with_time_limit(fn, args=(), kwargs=None, seconds: float = 5.0):
    """Call ``fn(*args, **kwargs)``; raise ``TimeoutError`` if it runs longer than ``seconds``.

    In the main thread (a Jupyter kernel's cells run there) ``SIGALRM`` interrupts
    the call. Once the limit has passed, the alarm repeats every 50 ms and a
    trace function raises again at the next line the student's code executes,
    so a bare ``except:`` inside a loop does not keep it alive (the exception
    raised inside the handler escapes it), and a function that swallows the
    alarm and returns late still counts as too slow. Limit: two nested
    catch-all handlers around a blocking call (``time.sleep``) can still keep
    a loop alive; the grader's per-cell time limit stops those. Outside the main thread
    the call runs in a daemon thread that is abandoned (not stopped) after
    ``seconds``.

    Example:
        >>> call_with_time_limit(sum, ([1, 2, 3],), seconds=1)
        6
    """
    kwargs = kwargs or {}
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        return _call_in_thread(fn, args, kwargs, seconds)

    state = {"armed": True, "fired": 0, "tracing": False}
    own_frame = sys._getframe()

    def tracer(frame, event, arg):
        if not state["armed"] or frame is own_frame:
            return None
        if event == "line":
            raise _TimeLimit()
        return tracer

    def on_alarm(signum, frame):
        if not state["armed"]:
            return
        state["fired"] += 1
        # The next line the student's code executes raises again, even inside an ``except:`` handler.
        # (A trace function that raises is switched off by Python, so it is installed anew at every alarm.)
        state["tracing"] = True
        sys.settrace(tracer)
        f = frame
        while f is not None and f is not own_frame:
            f.f_trace = tracer
            f = f.f_back
        raise _TimeLimit()

    started = time.monotonic()
    previous_trace = sys.gettrace()
    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    previous_timer = (0.0, 0.0)
    try:
        try:
            previous_timer = signal.setitimer(signal.ITIMER_REAL, seconds, _REARM_SECONDS)
            result = fn(*args, **kwargs)
        finally:
            state["armed"] = False
        if state["fired"]:  # the student caught the alarm and returned anyway
            raise _TimeLimit()
        return result
    except _TimeLimit:
        raise TimeoutError(f"did not return within {seconds:g} s") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if state["tracing"]:
            sys.settrace(previous_trace)
        if previous_timer[0] > 0:  # someone else (e.g. pytest-timeout) had an alarm pending: put it back
            remaining = previous_timer[0] - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(remaining, 1e-3), previous_timer[1])


def _call_in_thread(fn, args, kwargs, seconds):
    box = {}
    context = contextvars.copy_context()  # the caller's seed (seed_scope) must reach the checker in the thread

    def target():
        try:
            box["result"] = context.run(fn, *args, **kwargs)
        except BaseException as err:  # re-raised in the caller's thread
            box["error"] = err

    worker = threading.Thread(target=target, daemon=True, name="course_pkg-check")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(f"did not return within {seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box.get("result")


def _fmt_shape(t) -> str:
    return str(tuple(t.shape))


def describe_type(value) -> str:
    """A short description of what a value is, for feedback ("a NumPy array", "None", "a list")."""
    if value is None:
        return "None"
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {_fmt_shape(value)} and dtype {value.dtype}"
    module = type(value).__module__ or ""
    if module.startswith("numpy"):
        return "a NumPy array" if type(value).__name__ == "ndarray" else f"a NumPy {type(value).__name__}"
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, (int, float)):
        return f"a Python {type(value).__name__}"
    return f"a {type(value).__name__}"


def _hint_for_type(got) -> str:
    if got is None:
        return " (did you forget `return`?)"
    module = type(got).__module__ or ""
    if module.startswith("numpy"):
        return " (stay in torch: do not convert to NumPy)"
    if isinstance(got, (list, tuple)):
        return " (return one tensor, not a sequence)"
    if isinstance(got, (int, float)):
        return " (return a tensor; do not call .item() or float())"
    return ""


def compare_tensors(got, expected: torch.Tensor, *, what: str, atol: float, rtol: float = 0.0) -> None:
    """Raise :class:`Feedback` describing how ``got`` differs from ``expected``, without showing ``expected``.

    The feedback names the first problem found: not a tensor, wrong shape, wrong
    dtype, NaN, overflow, or how many entries differ (and where the first one
    is, with the student's own value there).

    Example:
        >>> compare_tensors(torch.zeros(2), torch.zeros(2), what="on zeros", atol=1e-6)
        >>> compare_tensors(torch.zeros(3), torch.zeros(2), what="on zeros", atol=1e-6)
        Traceback (most recent call last):
        ...
        course_pkg.homework.checking.Feedback: on zeros: wrong shape (3,); check which dimension you reduce or keep
    """
    if not isinstance(got, torch.Tensor):
        raise Feedback(f"{what}: expected a torch.Tensor, got {describe_type(got)}{_hint_for_type(got)}")
    if got.shape != expected.shape:
        raise Feedback(f"{what}: wrong shape {_fmt_shape(got)}; check which dimension you reduce or keep")
    if got.dtype != expected.dtype:
        raise Feedback(f"{what}: wrong dtype {got.dtype}; the result should keep the input's dtype")
    if got.is_complex() or expected.is_complex() or got.dtype == torch.bool:
        equal = bool((got.detach().cpu() == expected.detach().cpu()).all())
        if not equal:
            raise Feedback(f"{what}: some entries differ from the reference")
        return
    got_d, exp_d = got.detach().cpu().double(), expected.detach().cpu().double()
    bad_nan = torch.isnan(got_d) & ~torch.isnan(exp_d)
    if bool(bad_nan.any()):
        raise Feedback(f"{what}: NaN where a number was expected ({int(bad_nan.sum())} of {got.numel()} entries,"
                       f" first at index {_first_index(bad_nan)})")
    same_inf = torch.isinf(exp_d) & (got_d == exp_d)
    close = torch.isclose(got_d, exp_d, atol=atol, rtol=rtol, equal_nan=True) | same_inf
    if not bool(close.all()):
        n_bad = int((~close).sum())
        where = _first_index(~close)
        if bool(torch.isinf(got_d[~close]).any()):
            raise Feedback(f"{what}: overflow to ±inf in {n_bad} of {got.numel()} entries; is it numerically stable?")
        yours = got_d[~close].flatten()[0].item()
        raise Feedback(f"{what}: {n_bad} of {got.numel()} entries differ from the reference by more than"
                       f" atol={atol:g}, rtol={rtol:g} (first at index {where}, where yours is {yours:.6g})")


def _first_index(mask: torch.Tensor) -> tuple:
    return tuple(torch.nonzero(mask)[0].tolist()) if mask.dim() else ()


_ERROR_HINTS = (
    ("must match the size of tensor", "two shapes do not line up. A sum, max or logsumexp over a dimension drops it "
     "unless you pass keepdim=True, and a target of shape (N,) needs target.unsqueeze(1) to line up with the rows "
     "of an (N, K) tensor"),
    ("Index tensor must have the same number of dimensions", "gather needs an index with as many dimensions as the "
     "tensor it reads: keep the reduced dimension (keepdim=True) or unsqueeze the index"),
    ("out of bounds for dimension", "an index is out of range. x[index] picks whole rows; to pick one entry per row "
     "use x.gather(1, index.unsqueeze(1)) or x[torch.arange(N), index]"),
    ("too many indices for tensor", "the tensor has fewer dimensions than the indexing assumes: does the code work "
     "for a batch (N, K) and not only for one sample?"),
)


def error_hint(err: BaseException) -> str:
    """What usually causes this PyTorch error in an exercise answer ("" when it is not a known one).

    Example:
        >>> error_hint(RuntimeError("The size of tensor a (4) must match the size of tensor b (6)"))[:30]
        'two shapes do not line up. A s'
    """
    if not isinstance(err, (RuntimeError, IndexError, ValueError)):
        return ""
    text = str(err)
    return next((hint for marker, hint in _ERROR_HINTS if marker in text), "")


def is_unanswered(answer) -> bool:
    """None and ``...`` (Ellipsis) count as not attempted."""
    return answer is None or answer is Ellipsis


def run_checker(exercise_id: str, checker, answer, *, time_limit: float) -> CheckResult:
    """Run ``checker(answer)``, turning every outcome into a :class:`CheckResult`.

    Gradients are enabled during the check (even inside ``torch.no_grad()``), and
    torch's grad mode and default dtype are restored afterwards, whatever the
    student's code did to them. ``KeyboardInterrupt`` (the notebook's stop
    button) is the one exception that is not turned into a result.
    """
    if is_unanswered(answer):
        return CheckResult(exercise_id, Status.NOT_ATTEMPTED, "no answer yet (replace the stub)")
    grad_mode, default_dtype = torch.is_grad_enabled(), torch.get_default_dtype()
    try:
        torch.set_grad_enabled(True)
        message = call_with_time_limit(checker, (answer,), seconds=time_limit)
    except Verdict as verdict:
        return CheckResult(exercise_id, verdict.status, one_line(verdict.message))
    except UnderLoad as err:
        return CheckResult(exercise_id, Status.ERROR, one_line(f"your answer {err}"))
    except KeyboardInterrupt:
        raise
    except NotImplementedError:
        return CheckResult(exercise_id, Status.NOT_ATTEMPTED, "the stub still raises NotImplementedError")
    except Feedback as fb:
        return CheckResult(exercise_id, Status.FAILED, one_line(fb))
    except CheckerBug as err:
        return CheckResult(exercise_id, Status.ERROR, one_line(f"the checker itself failed (please report): {err}"))
    except TimeoutError as err:
        return CheckResult(exercise_id, Status.ERROR, f"your answer {err}; is there an endless loop?")
    except RecursionError:
        return CheckResult(exercise_id, Status.ERROR, "your code raised RecursionError: does a function call itself forever?")
    except BaseException as err:  # the student's code raised (even SystemExit): report it, never crash
        hint = error_hint(err)
        if hint:
            return CheckResult(exercise_id, Status.ERROR, one_line(
                f"your code raised {type(err).__name__}: {hint} (PyTorch says: {one_line(err, 120)})"))
        return CheckResult(exercise_id, Status.ERROR, one_line(f"your code raised {_describe_exception(err)}"))
    finally:
        torch.set_grad_enabled(grad_mode)
        torch.set_default_dtype(default_dtype)
    return CheckResult(exercise_id, Status.PASSED, one_line(message) if message else "all tests passed")


def _clone_args(args, requires_grad_first: bool):
    return [a.detach().clone().requires_grad_(requires_grad_first and i == 0 and a.is_floating_point())
            if isinstance(a, torch.Tensor) else a for i, a in enumerate(args)]


def check_function(answer, reference, cases, *, atol: float, rtol: float = 0.0, grad: bool = False) -> str:
    """Compare ``answer(*args)`` with ``reference(*args)`` on each case; raise :class:`Feedback` on the first miss.

    ``cases`` is a list of ``(label, args)`` where ``label`` describes the inputs
    in words ("logits ±100", "a zero vector") for the feedback line. Each call
    gets its own clone of the inputs, so an answer that modifies its input in
    place cannot change the reference's. With ``grad=True`` the gradients with
    respect to the first argument are compared too. Returns a pass message.

    Example:
        >>> cases = [("a small vector", (torch.tensor([1.0, -2.0]),))]
        >>> check_function(torch.abs, torch.abs, cases, atol=0.0)
        'matches the reference on 1 input sets'
        >>> check_function(torch.neg, torch.abs, cases, atol=0.0)
        Traceback (most recent call last):
        ...
        course_pkg.homework.checking.Feedback: on a small vector: 1 of 2 entries differ from the reference by more than atol=0, rtol=0 (first at index (0,), where yours is -1)
    """
    if not callable(answer):
        raise Feedback(f"expected a function, got {describe_type(answer)}")
    if isinstance(answer, type):
        raise Feedback(f"expected a function, got the class {answer.__name__}")
    for label, args in cases:
        args_r = _clone_args(args, grad)
        try:
            expected = reference(*args_r)
        except Exception as err:
            raise CheckerBug(f"reference failed on {label}: {_describe_exception(err)}") from None
        args_a = _clone_args(args, grad)
        got = answer(*args_a)
        compare_tensors(got, expected, what=f"on {label}", atol=atol, rtol=rtol)
        if grad:
            if not got.requires_grad:
                raise Feedback(f"on {label}: the result is detached from the graph (no gradient flows back);"
                               " avoid .detach(), .item(), NumPy and torch.tensor(...) on intermediate results")
            try:
                (g_got,) = torch.autograd.grad(got.sum(), args_a[0], allow_unused=True)
            except RuntimeError as err:
                raise Feedback(f"on {label}: backpropagating through your result failed ({one_line(err, 120)})") from None
            (g_exp,) = torch.autograd.grad(expected.sum(), args_r[0])
            if g_got is None:
                raise Feedback(f"on {label}: the result does not depend on the input (no gradient)")
            compare_tensors(g_got, g_exp, what=f"gradient on {label}", atol=atol, rtol=rtol)
    return f"matches the reference on {len(cases)} input sets"

