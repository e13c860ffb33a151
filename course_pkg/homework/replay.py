"""Plan and judge: a check split so that the student's code computes and the trusted process decides.

A checker (``@exercise`` in ``exercises/<chapter>.py``) is ordinary code that
calls the answer on inputs and raises :class:`~course_pkg.homework.checking.Feedback`
when something is wrong. It runs twice, never in the student's process:

1. **plan** (:func:`plan_exercise`): the checker runs against the exercise's
   ``reference`` (a correct answer), and every call it makes is recorded: the
   inputs as plain data, and the backward passes it takes through the result
   (which output, which cotangent). The inputs are drawn from a seed
   (:func:`~course_pkg.homework.checking.case_generator`), a fresh one for
   every grading run, so nothing can be precomputed.
2. the **probe** (:mod:`course_pkg.homework.probe`) calls the student's answer
   on exactly those inputs, in a fresh process where only the answer's own code
   has run (:mod:`course_pkg.homework.runner`), and records what came back;
3. **judge** (:func:`judge`): the checker runs again on the same seed, against
   a *replay* of the answer: a stand-in that, for each call, returns the
   recorded output (a plain tensor rebuilt from its bytes, connected to the
   inputs so that ``torch.autograd.grad`` returns the recorded gradients),
   raises the recorded exception, or reports the recorded time-out. The
   comparisons, tolerances and statuses are the checker's own, computed in
   the trusted process with the reference, so nothing the student patched
   (``torch.isclose``, ``json``, the checker module, a Tensor subclass) takes part.

A call that modified one of its inputs in place fails the exercise whatever the
checker says, and a call that timed out while the machine was busy (the process
waited for a CPU for much of the time) is reported as such, not as the student's
error.

The checker's inputs must not depend on the answer's earlier outputs (they are
fixed by the plan); a call the plan does not know raises ``CheckerBug``.

Example:
    >>> from course_pkg.homework.registry import load_all
    >>> ex = load_all()["regression.scale_to_range"]
    >>> spec = plan_exercise(ex, seed=7)
    >>> len(spec["calls"]) >= 3, spec["answer"]
    (True, 'to_range')
"""
from __future__ import annotations

import ast
import builtins
import inspect
import json
import sys

import torch

from course_pkg.homework import probe
from course_pkg.homework.checking import (CheckerBug, CheckResult, Status, UnderLoad, Verdict, run_checker,
                                          seed_scope)

JUDGE_TIME_LIMIT = 120.0
LOAD_WAIT_SHARE = 0.25     # waited for a CPU for more than this share of the wall time: the machine was loaded


# --------------------------------------------------------------------------- plan

class _Tap(torch.autograd.Function):
    """Identity on the reference's output that records each cotangent a backward pass brings to it."""

    @staticmethod
    def forward(ctx, t, sink, path):
        ctx.sink, ctx.path, ctx.shape = sink, path, t.shape
        return t.clone()

    @staticmethod
    def backward(ctx, g):
        cot = "ones" if g.shape == ctx.shape and bool((g == 1).all()) else probe.encode_tensor(g)
        entry = {"path": ctx.path, "cotangent": cot}
        if entry not in ctx.sink:
            ctx.sink.append(entry)
        return g, None, None


def _tap(out, sink, path):
    if isinstance(out, torch.Tensor) and out.requires_grad:
        return _Tap.apply(out, sink, list(path))
    if isinstance(out, (tuple, list)):
        return type(out)(_tap(o, sink, [*path, i]) for i, o in enumerate(out))
    return out


def _encode_call(args, kwargs) -> dict:
    return {"args": [probe.encode(a) for a in args], "kwargs": {str(k): probe.encode(v) for k, v in kwargs.items()}}


def arg_names(fn) -> list:
    try:
        return [p.name for p in inspect.signature(fn).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return []


def plan_exercise(ex, seed: int = 0, answer_name: str | None = None) -> dict:
    """The plan of exercise ``ex`` for ``seed``: every call its checker makes when the answer is correct.

    Runs the checker against ``ex.reference`` with torch's global state reset (float32
    default dtype, gradients on) and restored afterwards. Raises ``CheckerBug`` if the
    reference does not pass its own check.
    """
    calls = []

    def recorder(*args, **kwargs):
        spec = {**_encode_call(args, kwargs), "backward": []}
        calls.append(spec)
        return _tap(ex.reference(*args, **kwargs), spec["backward"], [])

    saved = torch.get_default_dtype(), torch.is_grad_enabled()
    try:
        probe.reset_torch_state()
        with seed_scope(seed):
            result = run_checker(ex.id, ex.checker, recorder, time_limit=JUDGE_TIME_LIMIT)
    finally:
        torch.set_default_dtype(saved[0])
        torch.set_grad_enabled(saved[1])
    if result.status is not Status.PASSED:
        raise CheckerBug(f"the reference of {ex.id} does not pass its own check: {result}")
    return {"id": ex.id, "answer": answer_name or ex.answer, "time_limit": ex.time_limit, "seed": seed,
            "arg_names": arg_names(ex.reference), "calls": calls}


# --------------------------------------------------------------------------- judge

class _ReplayFn(torch.autograd.Function):
    """The recorded output, connected to the call's inputs: its backward returns the recorded gradients."""

    @staticmethod
    def forward(ctx, box, *wrt):
        ctx.box = box
        ctx.shapes = [(t.shape, t.dtype) for t in wrt]
        return box["value"].clone()

    @staticmethod
    def backward(ctx, g):
        box = ctx.box
        for planned, recorded in box["backward"]:
            if list(planned.get("path", [])) != box["path"]:
                continue
            cot = planned.get("cotangent", "ones")
            if cot == "ones":
                match = bool((g == 1).all())
            else:
                want = probe.decode(cot)
                match = want.shape == g.shape and torch.equal(want.to(g.dtype), g)
            if not match:
                continue
            if not isinstance(recorded, dict) or "error" in recorded:
                error = recorded.get("error", {}) if isinstance(recorded, dict) else {}
                raise RuntimeError(str(error.get("message", "backward failed")))
            grads = [None if x is None else probe.decode(x) for x in recorded.get("grads", [])]
            if len(grads) != len(ctx.shapes):
                raise RuntimeError("the recorded gradients do not match the inputs")
            for grad, (shape, dtype) in zip(grads, ctx.shapes):
                if grad is not None and (grad.shape != shape or grad.dtype != dtype):
                    raise RuntimeError("the recorded gradients do not match the inputs")
            return (None, *grads)
        raise CheckerBug("the checker took a backward pass that is not in its plan")


def _exception(error: dict) -> BaseException:
    """A stand-in for the exception the answer raised: the builtin type when it is one, else a look-alike."""
    name = str(error.get("type", "Exception"))
    message = str(error.get("message", ""))
    base = Exception
    for candidate in error.get("mro", []) or [name]:
        found = getattr(builtins, str(candidate), None)
        if isinstance(found, type) and issubclass(found, Exception):
            base = found
            break
    cls = base if base.__name__ == name else type(name, (base,), {"__module__": "student"})
    try:
        return cls(message)
    except Exception:
        return type(name, (Exception,), {"__module__": "student"})(message)


def _stand_in_value(data):
    """A value of the recorded kind, for feedback such as 'got a NumPy array' (the student's object never comes back)."""
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind in ("tensor", "none", "ellipsis", "bool", "int", "float", "str", "dtype"):
        return probe.decode(data)
    if kind in ("tuple", "list"):
        items = [_stand_in_value(v) for v in data.get("items", [])]
        items += [None] * max(0, min(int(data.get("len", len(items))), 10_000) - len(items))
        return tuple(items) if kind == "tuple" else items
    if kind == "dict":
        return {str(k): _stand_in_value(v) for k, v in dict(data.get("items", {})).items()}
    name = str(data.get("type", "object")) if isinstance(data, dict) else "object"
    module = str(data.get("module", "")) if isinstance(data, dict) else ""
    if module.startswith("numpy"):
        import numpy as np
        if name == "ndarray":
            return np.zeros(0)
        scalar = getattr(np, name, None)
        if isinstance(scalar, type) and issubclass(scalar, np.generic):
            try:
                return scalar(0)
            except Exception:
                pass
    safe = "".join(c for c in name if c.isalnum() or c == "_") or "object"
    return type(safe, (), {"__module__": module or "student"})()


IN_PLACE = ("your function changes an input in place (for example `o -= ...`, `o[...] = ...` or a method ending in "
            "`_` such as `o.sigmoid_()`), which autograd refuses on an input that needs a gradient; the caller's "
            "tensor must stay as it was: compute on a new tensor")
_IN_PLACE_ERRORS = ("a leaf Variable that requires grad is being used in an in-place operation",
                    "modified by an inplace operation", "is being used in an in-place operation")


def _in_place_error(error: dict) -> bool:
    """Is a recorded exception autograd refusing an in-place change (of an input that requires grad)?"""
    return str(error.get("type")) == "RuntimeError" and any(m in str(error.get("message", "")) for m in _IN_PLACE_ERRORS)


class Replay:
    """Stands in for the student's function: each call returns (or raises) what the probe recorded for it."""

    def __init__(self, spec: dict, record: dict, notes: list):
        self.spec, self.notes = spec, notes
        planned, recorded = spec["calls"], record.get("calls") or []
        self.pairs = [(p, recorded[i] if i < len(recorded) else None) for i, p in enumerate(planned)]
        self.used = set()
        self.names = spec.get("arg_names", [])

    def __call__(self, *args, **kwargs):
        wanted = _encode_call(args, kwargs)
        for i, (planned, recorded) in enumerate(self.pairs):
            if i not in self.used and planned["args"] == wanted["args"] and planned["kwargs"] == wanted["kwargs"]:
                self.used.add(i)
                return self._outcome(planned, recorded, args, kwargs)
        raise CheckerBug("the checker made a call that is not in its plan")

    def _input_names(self, args, kwargs):
        names = [self.names[i] if i < len(self.names) else f"argument {i + 1}"
                 for i, a in enumerate(args) if isinstance(a, torch.Tensor)]
        return names + [k for k, v in kwargs.items() if isinstance(v, torch.Tensor)]

    def _ended(self, recorded):
        """The exception for a call on which the probe's process ended (time-out or crash), else None."""
        status = recorded.get("status") if isinstance(recorded, dict) else None
        if status == "timeout":
            limit = float(recorded.get("limit_s", self.spec.get("time_limit", 10)))
            wall, waited = float(recorded.get("wall_s", 0) or 0), recorded.get("waited_s")
            if waited is not None and wall > 0 and float(waited) > LOAD_WAIT_SHARE * wall:
                return UnderLoad(f"timed out under load (the answer waited {float(waited):.1f} s of {wall:.1f} s "
                                 "for a CPU): not scored as the student's error; regrade")
            return TimeoutError(f"did not return within {limit:g} s")
        if status == "crashed":
            return SystemError(f"the process running your answer died ({recorded.get('how', 'crashed')})")
        return None

    def _outcome(self, planned, recorded, args, kwargs):
        if not isinstance(recorded, dict):
            # The probe stops at a time-out or a crash. A checker that called the answer again after catching that
            # (a diagnosis that swallows errors) must still report why, not "stopped before this call".
            for _, earlier in self.pairs:
                ended = self._ended(earlier)
                if ended is not None:
                    raise ended if isinstance(ended, UnderLoad) else Verdict(Status.ERROR, f"your function {ended}")
            raise Verdict(Status.ERROR, "the answer was not checked: the probe stopped before this call")
        status = recorded.get("status")
        ended = self._ended(recorded)
        if ended is not None:
            raise ended
        if status == "raised":
            error = recorded.get("error") or {}
            if _in_place_error(error):
                raise Verdict(Status.FAILED, IN_PLACE)
            raise _exception(error)
        if status != "returned":
            raise Verdict(Status.ERROR, "the answer was not checked: the probe stopped before this call")
        modified = recorded.get("modified") or []
        if modified:
            names = self._input_names(args, kwargs)
            which = ", ".join(f"`{names[i]}`" if isinstance(i, int) and 0 <= i < len(names) else "an input"
                              for i in modified[:3])
            raise Verdict(Status.FAILED, f"your function changes its input {which} in place (for example with "
                                         "`x[...] = ...`, `x += ...` or a method ending in `_`); the caller's "
                                         "tensor must stay as it was: compute on a copy")
        wrt = [a for a in list(args) + list(kwargs.values()) if isinstance(a, torch.Tensor) and a.requires_grad]
        backward = list(zip(planned.get("backward", []), recorded.get("backward") or []))
        return self._rebuild(recorded.get("output"), wrt, backward, [])

    def _rebuild(self, data, wrt, backward, path):
        if isinstance(data, dict) and data.get("kind") == "tensor":
            if data.get("subclass"):
                self.notes.append(f"returns a torch.Tensor subclass ({data['subclass']})")
            value = probe.decode(data)
            if not data.get("requires_grad"):
                return value
            if not wrt:
                return value.requires_grad_(True)
            return _ReplayFn.apply({"value": value, "backward": backward, "path": path}, *wrt)
        if isinstance(data, dict) and data.get("kind") in ("tuple", "list"):
            items = [self._rebuild(v, wrt, backward, [*path, i]) for i, v in enumerate(data.get("items", []))]
            items += [None] * max(0, min(int(data.get("len", len(items))), 10_000) - len(items))
            return tuple(items) if data["kind"] == "tuple" else items
        return _stand_in_value(data)


def answer_stand_in(spec: dict, record: dict, notes: list):
    """What the checker receives in place of the student's answer."""
    answer = record.get("answer") if isinstance(record, dict) else None
    kind = answer.get("kind") if isinstance(answer, dict) else None
    if kind == "none":
        return None
    if kind == "ellipsis":
        return Ellipsis
    if kind == "value":
        return _stand_in_value(answer.get("value"))
    replay = Replay(spec, record, notes)
    if kind == "class":
        name = "".join(c for c in str(answer.get("name", "Answer")) if c.isalnum() or c == "_") or "Answer"
        return type(name, (), {"__new__": staticmethod(lambda cls, *a, **k: replay(*a, **k))})
    return replay


def judge(ex, spec: dict, record: dict) -> tuple:
    """The verdict on a probe ``record`` for the plan ``spec``: ``(CheckResult, notes)``.

    ``notes`` lists things worth a person's look (a Tensor subclass returned). Malformed
    records (a tampered or truncated probe) give ERROR, never an exception.
    """
    notes: list = []
    if not isinstance(record, dict) or record.get("format") != probe.FORMAT:
        return CheckResult(ex.id, Status.ERROR, "the answer could not be checked (no readable probe record)"), notes
    answer = record.get("answer") if isinstance(record.get("answer"), dict) else {}
    if answer.get("kind") == "missing":
        return CheckResult(ex.id, Status.NOT_ATTEMPTED, f"`{spec['answer']}` is not defined in the notebook"), notes
    if answer.get("kind") == "broken":
        error = answer.get("error") or {}
        return CheckResult(ex.id, Status.ERROR, f"evaluating `{spec['answer']}` raised {error.get('type', 'an error')}"
                           ), notes
    saved = torch.get_default_dtype(), torch.is_grad_enabled()
    try:
        probe.reset_torch_state()
        stand_in = answer_stand_in(spec, record, notes)
        with seed_scope(spec["seed"]):
            result = run_checker(ex.id, ex.checker, stand_in, time_limit=JUDGE_TIME_LIMIT)
    except Exception as err:  # a malformed record: never crash the grader
        result = CheckResult(ex.id, Status.ERROR, f"the answer could not be checked ({type(err).__name__})")
    finally:
        torch.set_default_dtype(saved[0])
        torch.set_grad_enabled(saved[1])
    return result, notes


def roundtrip(data):
    """``data`` through JSON and back: what the grader reads is exactly what the notebook check used."""
    return json.loads(json.dumps(data))


# --------------------------------------------------------------------------- forbidden shortcuts, as the grader sees them

def forbidden_uses(ex, record: dict) -> list:
    """The forbidden names the answer's calls reached, as feedback names them: ``["torch.logsumexp"]``.

    The same recorder as the grader's (``probe_exercise(watch=True)``) and the same matching
    (:func:`course_pkg.homework.extract.runtime_uses`). A forbidden module (``course_pkg.transforms``) is
    shown by the function of it that the answer called (``course_pkg.transforms.scale_to_range``), a
    method as ``Tensor.name``, and one PyTorch operator reached under several names only once.
    """
    from course_pkg.homework import extract

    used = record.get("used") if isinstance(record, dict) else None
    if not isinstance(used, dict):
        return []
    hits = [h.split(" (as aten::", 1)[0] for h in extract.runtime_uses(used, ex.forbidden)]
    reached = [p for p in used.get("python", []) if isinstance(p, str) and not p.startswith("__main__.")]
    direct = [p for p in used.get("direct", []) if isinstance(p, str)]
    def matches(hit, names):
        canonical = extract._canonical(hit) if not hit.startswith(".") else set()
        return [p for p in names if (p.rsplit(".", 1)[-1] == hit[1:] if hit.startswith(".") else
                                     any(p == n or p.startswith(n + ".") for n in canonical))]

    called = [h for h in hits if matches(h, direct)]   # what the answer's own code called, if the record says
    names, shown = [], []
    for hit in sorted(set(called or hits), key=lambda h: (h.startswith("."), hits.index(h))):
        twins = {t for group in extract.ATEN_TWINS.values() if hit in group for t in group}
        if twins & set(shown):
            continue
        shown.append(hit)
        if hit.startswith("."):
            name = f"Tensor{hit}"
        else:
            inside = matches(hit, reached)
            exact = hit in inside or any(p in extract._canonical(hit) for p in inside)
            first = [p for p in direct if p in inside] or sorted(inside, key=len)
            name = hit if exact or not first else first[0]
        if name not in names:
            names.append(name)
    return names


def flag(result: CheckResult, uses: list) -> CheckResult:
    """A PASSED result becomes FLAGGED when the answer used what the exercise forbids (as the grader scores it).

    Example:
        >>> flag(CheckResult("multiclass.log_softmax", Status.PASSED, "ok"), ["torch.logsumexp"])
        [FLAGGED] multiclass.log_softmax (Exercise 6.1): matches the reference, but uses torch.logsumexp, which this exercise forbids: 0 points when graded
    """
    if result.status is not Status.PASSED or not uses:
        return result
    return CheckResult(result.exercise, Status.FLAGGED,
                       f"matches the reference, but uses {', '.join(uses[:3])}, which this exercise forbids: "
                       "0 points when graded")


def static_findings(ex, sources) -> tuple:
    """``(forbidden names, introspection)`` in the code that defines ``ex.answer`` among the cells ``sources``.

    The grader's own reading of a submission (:func:`course_pkg.homework.extract.answer_program` and
    :func:`~course_pkg.homework.extract.findings`): it names what the recorder cannot see at run time, such as
    ``F.one_hot`` (a C function PyTorch files under ``torch._C._nn``) where ``torch.nn`` is forbidden.
    """
    from course_pkg.homework import extract

    if not sources:
        return [], []
    program = extract.answer_program([(i, s) for i, s in enumerate(sources) if isinstance(s, str)], ex.answer)
    hits, odd = extract.findings(program, ex.forbidden)
    hits = [h for h in hits if not any(o != h and o.startswith(h + ".") for o in hits)]  # the most specific names
    return hits, odd


def notebook_sources() -> list:
    """The code this IPython kernel has run (``In``), each name's latest definition only; [] outside IPython.

    A cell edited and run again stays in the history with its old text, which the saved notebook (what the
    grader reads) no longer has: a statement is dropped when every name it binds is bound again later.
    """
    from course_pkg.homework import extract

    main = sys.modules.get("__main__")
    history = getattr(main, "In", None) if main is not None else None
    if not isinstance(history, list):
        return []
    statements = extract._statements(list(enumerate(s for s in history if isinstance(s, str))))
    bound = [extract.binds(node) for _, node in statements]
    last = {name: i for i, names in enumerate(bound) for name in names}
    return [ast.unparse(node) for i, (_, node) in enumerate(statements)
            if not (bound[i] and all(last[name] > i for name in bound[i]))]


def check_answer(ex, answer, spec: dict, *, call=None, sources=None) -> CheckResult:
    """The notebook's check of ``answer`` on the plan ``spec``: probe (watched, as in the grader), judge, flag.

    ``sources`` are the notebook's code cells (default: the kernel's history): the answer's code is read as
    the grader reads it, so an answer the grader flags is flagged here too. A time-out while the machine was
    too busy to run the answer is tried again with a longer limit.
    """
    for _ in range(3):
        record = roundtrip(probe.probe_exercise(answer, spec, call=call, watch=True))
        result, _notes = judge(ex, spec, record)
        if "timed out under load" not in result.message:
            break
        spec = {**spec, "time_limit": spec["time_limit"] * 4}
    try:
        hits, odd = static_findings(ex, notebook_sources() if sources is None else sources)
    except Exception:  # unparsable history: the run-time record still counts
        hits, odd = [], []
    uses = forbidden_uses(ex, record)
    if not uses and hits and result.status is Status.PASSED:   # seen only in the code, not reached at run time
        return CheckResult(result.exercise, Status.FLAGGED,
                           f"matches the reference, but the code of `{ex.answer}` (with the cells it uses) "
                           f"uses {', '.join(hits[:3])}, which this exercise forbids: 0 points when graded")
    result = flag(result, uses)
    if result.status is Status.PASSED and odd:
        result = CheckResult(result.exercise, Status.FLAGGED,
                             f"matches the reference, but its code uses {', '.join(odd[:3])}, which a person must "
                             "read before it counts: 0 points when graded until then")
    return result
