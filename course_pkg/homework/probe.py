"""The probe: call a student's answer on a plan's inputs and record what happened, as plain data.

The probe is the only part of checking that runs the student's code. It knows
nothing about the exercise: it receives a *plan* (the calls to make, with their
inputs as plain data), calls the answer with a fresh torch state, and records
for every call what came back (the output, the gradients the plan asks for,
the exception raised, whether an input was modified in place, the CPU and
wall time). The verdict is made elsewhere, by the judge
(:mod:`course_pkg.homework.replay`), from these records only.

Everything crosses as JSON. A tensor is ``{"kind": "tensor", "dtype":
"float32", "shape": [2, 3], "data": <base64 of the little-endian bytes>}``, so
NaN, ±inf, -0.0 and every bit of a float come back exactly; a Python float is
its ``float.hex()``. Nothing is ever pickled.

In a notebook, :func:`course_pkg.homework.check` runs the probe in the same
process. For grading, the sandboxed runner (:mod:`course_pkg.homework.runner`)
imports this module and calls :func:`arm` before any student code runs, then
probes each answer in a fresh forked process with ``watch=True``: the record
then also lists every function and PyTorch operator the calls reached, and the
runner kills the process at the exercise's deadline, so an answer that disarms
its own time limit, blocks in C code or crashes the interpreter loses that
exercise only.

Example:
    >>> import torch
    >>> plan = {"answer": "f", "time_limit": 5, "calls": [
    ...     {"args": [encode(torch.tensor([1.0, -2.0]))], "kwargs": {}, "backward": []}]}
    >>> record = probe_exercise(torch.abs, plan)
    >>> record["calls"][0]["status"], decode(record["calls"][0]["output"]).tolist()
    ('returned', [1.0, 2.0])
"""
from __future__ import annotations

import base64
import math
import signal
import sys
import time

FORMAT = 1
DTYPES = ("float16", "bfloat16", "float32", "float64", "complex64", "complex128",
          "int8", "int16", "int32", "int64", "uint8", "bool")
MAX_NUMEL = 1 << 21          # tensors larger than this are described, not copied
MAX_ITEMS = 16               # items of a returned tuple/list that are recorded
MAX_TEXT = 300


def _torch():
    import torch
    return torch


def _np_dtype(name):
    import numpy as np
    return {"bfloat16": np.dtype("<i2"), "bool": np.dtype("u1")}.get(name) or np.dtype(name).newbyteorder("<")


# --------------------------------------------------------------------------- plain data

def _text(value, limit=MAX_TEXT):
    try:
        text = str(value)
    except BaseException:
        text = "<unprintable>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def encode_tensor(t) -> dict:
    """A tensor as plain data: dtype, shape and base64 of its little-endian bytes (exact, NaN and inf included)."""
    torch = _torch()
    subclass = None if type(t) is torch.Tensor else type(t).__name__
    with torch._C.DisableTorchFunctionSubclass():
        t = torch.Tensor.detach(t)
        requires_grad = False
        name = str(t.dtype).replace("torch.", "")
        shape = [int(n) for n in t.shape]
        if name not in DTYPES or t.is_sparse or t.is_quantized:
            return {"kind": "other", "type": f"tensor of dtype {name}", "module": "torch"}
        if t.numel() > MAX_NUMEL:
            return {"kind": "other", "type": f"tensor too large to record, shape {tuple(shape)}", "module": "torch"}
        t = t.cpu().contiguous()
        if name == "bfloat16":
            t = t.view(torch.int16)
        elif name == "bool":
            t = t.to(torch.uint8)
        raw = t.numpy().astype(_np_dtype(name), copy=False).tobytes()
    out = {"kind": "tensor", "dtype": name, "shape": shape, "data": base64.b64encode(raw).decode("ascii"),
           "requires_grad": requires_grad}
    if subclass:
        out["subclass"] = _text(subclass, 80)
    return out


def encode(value, depth: int = 0) -> dict:
    """Any value as plain data: tensors exactly, numbers exactly, containers item by item, the rest by type name."""
    torch = _torch()
    if isinstance(value, torch.Tensor):
        out = encode_tensor(value)
        if out["kind"] == "tensor":
            with torch._C.DisableTorchFunctionSubclass():
                out["requires_grad"] = bool(torch.Tensor.requires_grad.__get__(value))
        return out
    if value is None:
        return {"kind": "none"}
    if value is Ellipsis:
        return {"kind": "ellipsis"}
    kind = type(value)
    if kind is bool:
        return {"kind": "bool", "value": value}
    if kind is int:
        return {"kind": "int", "value": str(value)}
    if kind is float:
        return {"kind": "float", "value": value.hex()}
    if kind is str:
        return {"kind": "str", "value": value[:MAX_TEXT]}
    if kind in (tuple, list) and depth < 3:
        return {"kind": kind.__name__, "len": len(value),
                "items": [encode(v, depth + 1) for v in list(value)[:MAX_ITEMS]]}
    if kind is dict and depth < 3 and all(type(k) is str for k in value):
        return {"kind": "dict", "items": {k[:80]: encode(v, depth + 1) for k, v in list(value.items())[:MAX_ITEMS]}}
    if isinstance(value, torch.dtype):
        return {"kind": "dtype", "value": str(value).replace("torch.", "")}
    module = getattr(kind, "__module__", "") or ""
    return {"kind": "other", "type": _text(getattr(kind, "__name__", "object"), 80), "module": _text(module, 80)}


def decode(data):
    """The value :func:`encode` described (a fresh CPU tensor for a tensor). Raises ValueError on malformed data."""
    if not isinstance(data, dict):
        raise ValueError("not an encoded value")
    kind = data.get("kind")
    if kind == "tensor":
        return decode_tensor(data)
    if kind == "none":
        return None
    if kind == "ellipsis":
        return Ellipsis
    if kind == "bool":
        return bool(data["value"])
    if kind == "int":
        return int(str(data["value"])[:400])
    if kind == "float":
        return float.fromhex(str(data["value"]))
    if kind == "str":
        return str(data["value"])
    if kind in ("tuple", "list"):
        items = [decode(v) for v in data["items"]]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict":
        return {str(k): decode(v) for k, v in dict(data["items"]).items()}
    if kind == "dtype":
        name = str(data["value"])
        if name not in DTYPES:
            raise ValueError(f"unknown dtype {name!r}")
        return getattr(_torch(), name)
    raise ValueError(f"cannot decode a value of kind {kind!r}")


def decode_tensor(data):
    torch = _torch()
    import numpy as np
    name = data.get("dtype")
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}")
    shape = [int(n) for n in data["shape"]]
    if any(n < 0 for n in shape) or math.prod(shape) > MAX_NUMEL:
        raise ValueError("bad tensor shape")
    raw = base64.b64decode(str(data["data"]), validate=True)
    np_dtype = _np_dtype(name)
    if len(raw) != math.prod(shape) * np_dtype.itemsize:
        raise ValueError("tensor bytes do not match its shape and dtype")
    array = np.frombuffer(raw, dtype=np_dtype).astype(np_dtype.newbyteorder("="))
    t = torch.from_numpy(array.copy())
    if name == "bfloat16":
        t = t.view(torch.bfloat16)
    elif name == "bool":
        t = t.to(torch.bool)
    return t.reshape(shape)


def decode_arg(data):
    """A plan argument: like :func:`decode`, with ``requires_grad`` set as planned (a fresh leaf)."""
    value = decode(data)
    if data.get("kind") == "tensor" and data.get("requires_grad"):
        value.requires_grad_(True)
    if data.get("kind") in ("tuple", "list"):
        items = [decode_arg(v) for v in data["items"]]
        value = tuple(items) if data["kind"] == "tuple" else items
    return value


# --------------------------------------------------------------------------- torch state and time limits

def reset_torch_state() -> None:
    """Put back what the answers may rely on: float32 default dtype, gradients on, CPU default device."""
    torch = _torch()
    torch.set_default_dtype(torch.float32)
    torch.set_grad_enabled(True)
    if hasattr(torch, "set_default_device"):
        try:
            torch.set_default_device(None)
        except Exception:
            pass
    try:
        torch.autograd.set_detect_anomaly(False)
    except Exception:
        pass


class _Alarm(BaseException):
    pass


def alarm_call(fn, args=(), kwargs=None, seconds: float = 5.0):
    """``fn(*args, **kwargs)`` stopped by ``SIGALRM`` after ``seconds`` (re-armed every 50 ms); TimeoutError then.

    The sandboxed probe uses it inside a forked child whose parent kills it at the
    deadline in any case, so a student who disarms the alarm loses only that exercise.
    """
    kwargs = kwargs or {}
    state = {"armed": True, "fired": False}

    def on_alarm(signum, frame):
        if state["armed"]:
            state["fired"] = True
            raise _Alarm()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3), 0.05)
            result = fn(*args, **kwargs)
        finally:
            state["armed"] = False
            signal.setitimer(signal.ITIMER_REAL, 0)
        if state["fired"]:
            raise _Alarm()
        return result
    except _Alarm:
        raise TimeoutError(f"did not return within {seconds:g} s") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------- one exercise

def run_delay(pid="self"):
    """Seconds the process's main thread has spent runnable but waiting for a CPU (Linux schedstat), or None."""
    try:
        with open(f"/proc/{pid}/schedstat", encoding="ascii") as f:
            return int(f.read().split()[1]) / 1e9
    except Exception:
        return None


def _error(err: BaseException) -> dict:
    mro = [c.__name__ for c in type(err).__mro__ if c is not object][:8]
    return {"type": _text(type(err).__name__, 80), "mro": [_text(m, 80) for m in mro], "message": _text(err)}


def _tensor_args(args):
    torch = _torch()
    return [a for a in args if isinstance(a, torch.Tensor)]


_SAFE: dict = {}


def arm() -> None:
    """Keep private references to the torch functions the probe itself relies on.

    Called by the grader's child process before any student code runs, so that patching
    ``torch.equal``, ``torch.Tensor.clone`` or ``torch.__dict__`` afterwards does not change
    how the probe detects an input modified in place.
    """
    torch = _torch()
    T = torch.Tensor
    _SAFE.update(equal=torch.equal, detach=T.detach, cpu=T.cpu, contiguous=T.contiguous, view=T.view,
                 clone=T.clone, to=T.to, numel=T.numel, reshape=T.reshape, uint8=torch.uint8, bool=torch.bool,
                 no_tf=torch._C.DisableTorchFunctionSubclass, dtype_of=T.dtype.__get__)
    _Watch.prepare()
    x = torch.ones(2, requires_grad=True)
    with _Watch():  # first uses import what the dispatch mode and autograd need: once, before any child is forked
        torch.autograd.grad((x * 2).sum(), x)


def _safe(name):
    if name in _SAFE:
        return _SAFE[name]
    torch = _torch()
    return {"equal": torch.equal, "uint8": torch.uint8, "bool": torch.bool,
            "no_tf": torch._C.DisableTorchFunctionSubclass, "dtype_of": torch.Tensor.dtype.__get__}.get(
        name) or getattr(torch.Tensor, name)


def _bits(t):
    with _safe("no_tf")():
        t = _safe("detach")(t)
        if _safe("dtype_of")(t) == _safe("bool"):
            t = _safe("to")(t, _safe("uint8"))
        flat = _safe("contiguous")(_safe("cpu")(t))
        if not _safe("numel")(flat):
            return _safe("reshape")(flat, -1)
        return _safe("clone")(_safe("view")(_safe("view")(flat, -1), _safe("uint8")))


def _same_bits(a, b) -> bool:
    with _safe("no_tf")():
        return bool(_safe("equal")(a, b))


class _Watch:
    """Records what a call reached: the Python functions and builtins it called (``module.qualname``) and the
    PyTorch operators it ran (``aten::name``, seen at the dispatcher, however the call was spelled).

    Used by the grader's child process around every call of the answer (``probe_exercise(watch=True)``);
    the judge compares these names with what the exercise forbids.
    """
    MAX = 4000
    _mode_class = None

    @classmethod
    def prepare(cls):
        if cls._mode_class is None:
            from torch.utils._python_dispatch import TorchDispatchMode

            class _Ops(TorchDispatchMode):
                @classmethod
                def _should_skip_dynamo(cls):  # no torch._dynamo wrapper: importing it costs seconds per child
                    return False

                def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                    ops = self.watch.ops
                    if len(ops) < _Watch.MAX:
                        ops.add(str(func._schema.name))
                    return func(*args, **(kwargs or {}))

            cls._mode_class = _Ops
        return cls._mode_class

    def __init__(self, home: str = "__main__"):
        self.python, self.ops, self.direct = set(), set(), set()
        self.home = {"__main__", home}     # modules of the answer's own code (a notebook's is __main__)
        self.mode = None

    def _hook(self, frame, event, arg):
        if len(self.python) >= self.MAX:
            return
        if event == "call":
            module = frame.f_globals.get("__name__", "?")
            if module == __name__ or module == "torch.utils._python_dispatch":
                return
            name = frame.f_code.co_qualname
            self.python.add(f"{module}.{name}")
            caller = frame.f_back
            if caller is not None and len(self.direct) < 200 and (caller.f_globals.get("__name__") in self.home or (
                    caller.f_globals.get("__name__") == __name__ and caller.f_code.co_name == "watched")):
                self.direct.add(f"{module}.{name}")   # called by the answer's own code: named in feedback
            if module == "torch._ops" and name.endswith("__call__"):
                op = frame.f_locals.get("self")
                schema = getattr(op, "_schema", None)
                qualified = getattr(schema, "name", None) or getattr(op, "_qualified_op_name", None)
                if qualified:
                    self.ops.add(str(qualified))
        elif event == "c_call":
            module = getattr(arg, "__module__", None) or getattr(getattr(arg, "__objclass__", None), "__module__", None)
            name = getattr(arg, "__qualname__", None) or getattr(arg, "__name__", "?")
            self.python.add(f"{module or '?'}.{name}")
            if frame.f_globals.get("__name__") in self.home and len(self.direct) < 200:
                self.direct.add(f"{module or '?'}.{name}")

    def __enter__(self):
        mode = self.prepare()()
        mode.watch = self
        self.mode = mode
        mode.__enter__()
        sys.setprofile(self._hook)
        return self

    def __exit__(self, *exc):
        sys.setprofile(None)
        self.mode.__exit__(*exc)
        return False

    def result(self) -> dict:
        return {"python": sorted(self.python)[: self.MAX], "aten": sorted(self.ops)[: self.MAX],
                "direct": sorted(self.direct)}


def _at_path(out, path):
    for i in path:
        out = out[i]
    return out


def probe_exercise(answer, spec: dict, *, call=None, progress=None, watch: bool = False) -> dict:
    """Call ``answer`` as ``spec["calls"]`` say and return a plain-data record of every call.

    ``call(fn, args, kwargs, seconds)`` enforces the time limit (default :func:`alarm_call`); the
    exercise's ``time_limit`` is shared by all its calls. ``progress(record)`` is called after each call.
    With ``watch=True`` the record also lists, under ``"used"``, every function and PyTorch operator
    the calls reached (see :class:`_Watch`).
    """
    torch = _torch()
    saved = torch.get_default_dtype(), torch.is_grad_enabled()
    call = call or alarm_call
    if watch:
        home = getattr(answer, "__module__", None)
        own = isinstance(home, str) and not home.split(".")[0] in ("torch", "course_pkg", "builtins")
        watcher, plain = _Watch(home if own else "__main__"), call

        def call(fn, args, kwargs, seconds):
            # Only the answer's own call is watched, not the time-limit wrapper around it (in a notebook that is
            # course_pkg.homework.checking.call_with_time_limit, which must not count as a use of course_pkg).
            def watched(*a, **k):
                with watcher:
                    return fn(*a, **k)
            return plain(watched, args, kwargs, seconds)
    try:
        record = _probe(torch, answer, spec, call, progress)
        if watch:
            record["used"] = watcher.result()
        return record
    finally:  # the notebook's own settings come back
        torch.set_default_dtype(saved[0])
        torch.set_grad_enabled(saved[1])


def _probe(torch, answer, spec, call, progress):
    record = {"format": FORMAT, "answer": describe_answer(answer), "calls": []}
    if record["answer"]["kind"] != "callable":
        return record
    budget = float(spec.get("time_limit", 10))
    started = time.monotonic()
    for planned in spec["calls"]:
        reset_torch_state()
        entry = {"status": "skipped"}
        record["calls"].append(entry)
        remaining = budget - (time.monotonic() - started)
        if remaining <= 0:
            entry.update(status="timeout", cpu_s=0.0, wall_s=0.0, limit_s=budget)
            break
        args = [decode_arg(a) for a in planned["args"]]
        kwargs = {str(k): decode_arg(v) for k, v in planned.get("kwargs", {}).items()}
        inputs = _tensor_args(args) + _tensor_args(kwargs.values())
        before = [_bits(t) for t in inputs]
        cpu0, wall0, wait0 = time.process_time(), time.monotonic(), run_delay()
        try:
            out = call(answer, args, kwargs, remaining)
        except TimeoutError as err:
            if "did not return within" not in str(err):
                entry.update(status="raised", error=_error(err))
                _finish(entry, cpu0, wall0)
                continue
            entry.update(status="timeout", limit_s=budget)
            _finish(entry, cpu0, wall0)
            wait1 = run_delay()
            if wait0 is not None and wait1 is not None:
                entry["waited_s"] = round(wait1 - wait0, 4)
            break
        except BaseException as err:  # the student's code raised: record it, never stop
            if isinstance(err, KeyboardInterrupt) and progress is None:
                raise
            entry.update(status="raised", error=_error(err))
            _finish(entry, cpu0, wall0)
            if progress:
                progress(record)
            continue
        entry["status"] = "returned"
        modified = []
        for i, (t, bits) in enumerate(zip(inputs, before)):
            try:
                if not _same_bits(_bits(t), bits):
                    modified.append(i)
            except Exception:
                modified.append(i)
        entry["modified"] = modified
        entry["backward"] = [_backward(out, inputs, b, call, budget - (time.monotonic() - started))
                             for b in planned.get("backward", [])]
        try:
            entry["output"] = encode(out)
        except Exception as err:
            entry["output"] = {"kind": "other", "type": f"unrecordable value ({_text(type(err).__name__)})",
                               "module": ""}
        _finish(entry, cpu0, wall0)
        if progress:
            progress(record)
    return record


def _finish(entry, cpu0, wall0):
    entry["cpu_s"] = round(time.process_time() - cpu0, 4)
    entry["wall_s"] = round(time.monotonic() - wall0, 4)


def _backward(out, inputs, planned, call, remaining):
    torch = _torch()
    try:
        target = _at_path(out, planned.get("path", []))
        if not isinstance(target, torch.Tensor):
            return {"error": {"type": "TypeError", "mro": ["TypeError"], "message": "not a tensor"}}
        cot = planned.get("cotangent", "ones")
        cotangent = None if cot == "ones" else decode(cot).to(target.dtype)
        if cotangent is not None and tuple(cotangent.shape) != tuple(target.shape):
            raise RuntimeError(f"Mismatch in shape: grad_output has a shape of {tuple(cotangent.shape)} and output "
                               f"has a shape of {tuple(target.shape)}")
        wrt = [t for t in inputs if t.requires_grad]
        if not wrt:
            return {"grads": []}

        def vjp():  # sum(target * cotangent): the same gradients as autograd.grad(target, wrt, cotangent) (the
            # cotangent reaches the graph multiplied by exactly 1) without the seconds autograd spends importing
            # its shape checks on first use, which a fresh process would pay within the answer's time limit
            scalar = target.sum() if cotangent is None else (target * cotangent).sum()
            return torch.autograd.grad(scalar, wrt, retain_graph=True, allow_unused=True)

        grads = call(vjp, (), {}, max(remaining, 0.5))
        return {"grads": [None if g is None else encode(g) for g in grads]}
    except BaseException as err:
        return {"error": _error(err)}


def describe_answer(answer) -> dict:
    """What the notebook's answer name holds: a function (callable), None, ``...``, a class, or another value."""
    if answer is None:
        return {"kind": "none"}
    if answer is Ellipsis:
        return {"kind": "ellipsis"}
    if isinstance(answer, type):
        return {"kind": "class", "name": _text(answer.__name__, 80)}
    try:
        is_callable = callable(answer)
    except BaseException:
        is_callable = False
    if is_callable:
        return {"kind": "callable"}
    try:
        return {"kind": "value", "value": encode(answer)}
    except BaseException:
        return {"kind": "value", "value": {"kind": "other", "type": "object", "module": ""}}
