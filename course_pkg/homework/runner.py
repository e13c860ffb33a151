"""Inside the sandbox: run each answer's own code in a fresh process and probe it; talk to the grader over pipes.

    python -m course_pkg.homework.runner          (stdin and stdout are pipes held by the grader)

The runner imports torch once, then, for every exercise of the job the grader sends, forks a
*child*: a process in which no student code has run yet. The child executes only the statements
the grader extracted for that answer (:mod:`course_pkg.homework.extract`: the answer's definitions
and what they use, never the notebook's other cells), with its standard streams on ``/dev/null``
and every other file descriptor closed, and says so. Only then does the grader send that
exercise's plan (inputs drawn from a seed it has just drawn), which the runner passes on; the child
calls the answer on it with :func:`course_pkg.homework.probe.probe_exercise` (``watch=True``: the
functions and operators the calls reach are recorded) and sends the record back. The runner kills
the child at its deadline and forwards what came back, size-capped, to the grader, which judges it.

Nothing is written to or read from files: there is no result file a notebook could forge, replace
with a FIFO or bury under a deep tree. The runner is not dumpable, so the child (same uid) cannot
ptrace it or read its memory. Protocol (one JSON object per line):

* grader -> runner: ``{"exercises": [{"answer", "statements": [[cell, code], ...], "time_limit",
  "define_s"}, ...]}``, then one plan per exercise when asked (``{"plan": {...}}``, or ``{"plan": null}``);
* runner -> grader: ``{"ready": true}``, ``{"n", "defined": {...}}`` (asking for the plan), and
  ``{"n", "record": {...} | null, "child": {"status", "cpu_s", "wall_s", "how"}}``.
"""
from __future__ import annotations

import builtins
import json
import os
import resource
import select
import signal
import sys
import threading
import time

MAX_MESSAGE = 64 << 20       # bytes of one message from a child
MAX_JOB = 64 << 20


def _no_dump() -> None:
    """PR_SET_DUMPABLE 0: processes of the same uid (the children) cannot ptrace us or read /proc/self/mem."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)
    except Exception:
        pass


def read_line(fd: int, deadline: float, cap: int, buffer: bytearray):
    """One line from ``fd`` (without its newline) before ``deadline`` (monotonic), at most ``cap`` bytes.

    Returns ``bytes``, or ``"eof"``, ``"timeout"`` or ``"too large"``. ``buffer`` keeps what followed the line.
    """
    while True:
        end = buffer.find(b"\n")
        if end >= 0:
            line = bytes(buffer[:end])
            del buffer[: end + 1]
            return line
        if len(buffer) > cap:
            return "too large"
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout"
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not ready:
            continue
        try:
            chunk = os.read(fd, 1 << 20)
        except OSError:
            return "eof"
        if not chunk:
            return "eof"
        buffer += chunk


def _send(stream, data: dict) -> None:
    stream.write(json.dumps(data).encode("utf-8") + b"\n")
    stream.flush()


def _write_all(fd: int, data: bytes) -> None:
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError:
        pass
    finally:
        try:
            os.close(fd)
        except OSError:
            pass


# --------------------------------------------------------------------------- the child

def _child(exercise: dict, plan_fd: int, result_fd: int) -> None:
    """Runs in the forked child: define the answer, wait for the plan, probe, send the record."""
    from course_pkg.homework import probe
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    keep = sorted({0, 1, 2, plan_fd, result_fd})
    low = 3
    for fd in keep[3:] if len(keep) > 3 else []:
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 16)
    sys.stdout = sys.stderr = open(os.devnull, "w")
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    errors = []
    for index, source in exercise["statements"]:
        try:
            exec(compile(source, f"<cell {index}>", "exec"), namespace)
        except BaseException as err:  # as in a notebook: a failing cell does not stop the next ones
            errors.append({"cell": index, "type": probe._text(type(err).__name__, 80)})
    out = os.fdopen(result_fd, "wb")
    out.write(json.dumps({"defined": True, "errors": errors[:5]}).encode("utf-8") + b"\n")
    out.flush()
    buffer = bytearray()
    line = read_line(plan_fd, time.monotonic() + 600, MAX_JOB, buffer)
    if not isinstance(line, bytes):
        return
    spec = json.loads(line.decode("utf-8"))
    try:
        answer = eval(exercise["answer"], namespace)
    except NameError:
        record = {"format": probe.FORMAT, "answer": {"kind": "missing"}, "calls": []}
    except BaseException as err:
        record = {"format": probe.FORMAT, "answer": {"kind": "broken", "error": probe._error(err)}, "calls": []}
    else:
        record = probe.probe_exercise(answer, spec, call=probe.alarm_call, watch=True)
    out.write(json.dumps(record).encode("utf-8") + b"\n")
    out.flush()


# --------------------------------------------------------------------------- the runner

def _wait_child(pid: int, started: float) -> dict:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        _, status, usage = os.wait4(pid, 0)
    except ChildProcessError:
        return {"exit": None, "cpu_s": 0.0, "wall_s": round(time.monotonic() - started, 3)}
    return {"exit": status, "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            "wall_s": round(time.monotonic() - started, 3)}


def _run_delay(pid: int):
    try:
        with open(f"/proc/{pid}/schedstat", encoding="ascii") as f:
            return int(f.read().split()[1]) / 1e9
    except Exception:
        return None


def run_exercise(n: int, exercise: dict, grader_in, grader_out, job_buffer: bytearray) -> bool:
    """Fork a child for exercise ``n``, relay its plan and record; False when the grader went away."""
    plan_r, plan_w = os.pipe()
    result_r, result_w = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.setpgid(0, 0)
            os.close(plan_w)
            os.close(result_r)
            _child(exercise, plan_r, result_w)
        finally:
            os._exit(0)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass
    os.close(plan_r)
    os.close(result_w)
    buffer = bytearray()
    try:
        defined = read_line(result_r, started + float(exercise.get("define_s", 60)), 1 << 16, buffer)
        if not isinstance(defined, bytes):
            child = _wait_child(pid, started)
            child["status"] = "define " + defined
            _send(grader_out, {"n": n, "record": None, "child": child})
            return True
        try:
            summary = json.loads(defined.decode("utf-8"))
            summary = summary if isinstance(summary, dict) and summary.get("defined") is True else {"bad": True}
        except (ValueError, RecursionError):
            summary = {"bad": True}
        if buffer:  # more than the one line before the plan was even sent: the child wrote to the channel
            summary["extra"] = True
        _send(grader_out, {"n": n, "defined": summary})
        plan = read_line(grader_in.fileno(), time.monotonic() + 600, MAX_JOB, job_buffer)
        if not isinstance(plan, bytes):
            _wait_child(pid, started)
            return False
        spec = json.loads(plan.decode("utf-8")).get("plan")
        if spec is None:
            child = _wait_child(pid, started)
            child["status"] = "skipped"
            _send(grader_out, {"n": n, "record": None, "child": child})
            return True
        threading.Thread(target=_write_all, args=(plan_w, json.dumps(spec).encode("utf-8") + b"\n"),
                         daemon=True).start()
        plan_w = None
        probe_started = time.monotonic()
        deadline = probe_started + float(exercise.get("time_limit", 10)) + 5.0
        wait0 = _run_delay(pid)
        line = read_line(result_r, deadline, MAX_MESSAGE, buffer)
        wait1 = _run_delay(pid)
        child = _wait_child(pid, started)
        child["probe_wall_s"] = round(time.monotonic() - probe_started, 3)
        if wait0 is not None and wait1 is not None:
            child["waited_s"] = round(wait1 - wait0, 3)
        record = None
        if isinstance(line, bytes):
            child["status"] = "returned"
            try:
                record = json.loads(line.decode("utf-8"))
            except (ValueError, RecursionError):
                child["status"] = "unreadable"
        else:
            child["status"] = line
        _send(grader_out, {"n": n, "record": record, "child": child})
        return True
    finally:
        for fd in (result_r, plan_w):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass


def main(argv=None) -> int:
    _no_dump()
    grader_out = os.fdopen(os.dup(1), "wb")       # the protocol's channel; fd 1 itself goes to /dev/null
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    grader_in = sys.stdin.buffer
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    import torch
    torch.set_num_threads(1)
    from course_pkg.homework import probe
    probe.arm()
    _send(grader_out, {"ready": True})
    job_buffer = bytearray()
    line = read_line(grader_in.fileno(), time.monotonic() + 600, MAX_JOB, job_buffer)
    if not isinstance(line, bytes):
        return 1
    job = json.loads(line.decode("utf-8"))
    for n, exercise in enumerate(job["exercises"]):
        if not run_exercise(n, exercise, grader_in, grader_out, job_buffer):
            return 1
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    _send(grader_out, {"done": True, "cpu_s": round(sum(u.ru_utime + u.ru_stime for u in usage), 3)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
