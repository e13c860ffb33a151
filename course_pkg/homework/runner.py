"""Inside the sandbox: run one submission's code cells in a fresh kernel, then the probe; write plain JSON.

    python -m course_pkg.homework.runner BOX

``BOX/job.json`` holds the code cells (already extracted from the submission by
the grader), the limits and the plan's path. The runner starts a Jupyter
kernel in ``BOX/work``, executes the cells one by one (errors allowed), and
then one more cell that runs :mod:`course_pkg.homework.probe` (from its
source, not through the import system the notebook may have hooked) on the
plan's inputs. It writes ``BOX/log.json`` (per cell: ok, the error's name,
or a time-out with the CPU and wall time it used and how long the kernel
waited for a CPU) and the probe writes ``BOX/out/<n>.json``.

Everything here runs next to the student's code and is trusted by nobody: the
grader outside reads these files, with size caps, after the sandbox is gone.

A cell is interrupted when it has used ``cell_cpu_s`` seconds of CPU (the
student's code is slow) or ``cell_wall_s`` seconds of wall time (blocked, or
a machine so loaded that the kernel barely ran: then ``under_load`` is set);
a kernel that does not answer the interrupt within ``stuck_s`` is killed and
the remaining cells and the probe are skipped.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from queue import Empty


def _clock_ticks() -> int:
    try:
        return os.sysconf("SC_CLK_TCK")
    except (ValueError, OSError):
        return 100


def process_cpu(pid: int) -> float:
    """CPU seconds used by process ``pid`` and its waited-for children (from /proc), 0.0 if unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(fields[i]) for i in (11, 12, 13, 14)) / _clock_ticks()
    except Exception:
        return 0.0


def run_delay(pid: int):
    try:
        with open(f"/proc/{pid}/schedstat", encoding="ascii") as f:
            return int(f.read().split()[1]) / 1e9
    except Exception:
        return None


class Kernel:
    def __init__(self, cwd: str, startup_timeout: float = 120):
        from jupyter_client import KernelManager
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=cwd)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=startup_timeout)
        self.pid = self.km.provisioner.process.pid

    def alive(self) -> bool:
        try:
            return self.km.is_alive()
        except Exception:
            return False

    def execute(self, source: str, *, cpu_limit: float, wall_limit: float, stuck_s: float = 15.0) -> dict:
        """Run one cell; return {"status": ok|error|timeout|dead|stuck, ...} with CPU, wall and waiting times."""
        kc = self.kc
        cpu0, wait0, start = process_cpu(self.pid), run_delay(self.pid), time.monotonic()
        msg_id = kc.execute(source, store_history=True, allow_stdin=False, stop_on_error=False)
        result, interrupted, output_bytes, ename = None, None, 0, None
        while result is None:
            try:
                msg = kc.get_shell_msg(timeout=0.1)
                if msg.get("parent_header", {}).get("msg_id") == msg_id:
                    content = msg.get("content", {})
                    result = {"status": "ok" if content.get("status") == "ok" else "error",
                              "ename": str(content.get("ename", ""))[:80] or ename}
            except Empty:
                pass
            while True:  # drain the outputs: only their size and the error's name are kept
                try:
                    out = kc.get_iopub_msg(timeout=0)
                except Empty:
                    break
                if out.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                content = out.get("content", {})
                output_bytes += len(str(content.get("text", ""))) + len(str(content.get("data", "")))
                if out.get("msg_type") == "error":
                    ename = str(content.get("ename", "error"))[:80]
            now = time.monotonic()
            cpu = process_cpu(self.pid) - cpu0
            if result is not None:
                break
            if not self.alive():
                result = {"status": "dead"}
                break
            if interrupted is None and (cpu > cpu_limit or now - start > wall_limit):
                interrupted = {"at": now, "by": "cpu" if cpu > cpu_limit else "wall"}
                try:
                    self.km.interrupt_kernel()
                except Exception:
                    pass
            elif interrupted is not None and now - interrupted["at"] > stuck_s:
                result = {"status": "stuck"}
                break
        wall = time.monotonic() - start
        wait1 = run_delay(self.pid)
        result.update(cpu_s=round(process_cpu(self.pid) - cpu0, 3), wall_s=round(wall, 3), output_bytes=output_bytes)
        if wait0 is not None and wait1 is not None:
            result["waited_s"] = round(wait1 - wait0, 3)
        if interrupted is not None and result["status"] in ("ok", "error", "stuck"):
            result["timeout"] = interrupted["by"]
            result["under_load"] = bool(interrupted["by"] == "wall" and result.get("waited_s", 0) > 0.25 * wall)
            if result["status"] != "stuck":
                result["status"] = "timeout"
        return result

    def kill(self) -> None:
        try:
            self.kc.stop_channels()
        except Exception:
            pass
        try:
            self.km.shutdown_kernel(now=True)
        except Exception:
            pass


PROBE_CELL = """\
__course_pkg_probe = {{"__name__": "course_pkg_probe"}}
exec(compile({source!r}, "course_pkg_probe", "exec"), __course_pkg_probe)
__course_pkg_probe["probe_namespace"](globals(), {plan!r}, {out!r})
del __course_pkg_probe
"""


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    box = Path(argv[0])
    job = json.loads((box / "job.json").read_text(encoding="utf-8"))
    log = {"cells": [], "stopped": None, "probed": False}
    started = time.monotonic()

    def save():
        tmp = box / "log.json.tmp"
        tmp.write_text(json.dumps(log), encoding="utf-8")
        os.replace(tmp, box / "log.json")

    try:
        kernel = Kernel(str(box / "work"), startup_timeout=job.get("startup_timeout", 120))
    except Exception as err:
        log["stopped"] = f"the kernel did not start ({type(err).__name__}: {str(err)[:120]})"
        save()
        return 0
    try:
        for index, source in job["cells"]:
            if time.monotonic() - started > job["total_s"]:
                log["stopped"] = f"ran longer than {job['total_s']:g} s in total"
                break
            cell = kernel.execute(source, cpu_limit=job["cell_cpu_s"], wall_limit=job["cell_wall_s"])
            cell["index"] = index
            log["cells"].append(cell)
            save()
            if cell["status"] == "dead":
                log["stopped"] = f"the kernel died in cell {index} (a crash, or out of memory)"
                break
            if cell["status"] == "stuck":
                log["stopped"] = f"cell {index} did not stop when interrupted after its time limit"
                break
        if log["stopped"] is None:
            probe_source = (Path(__file__).parent / "probe.py").read_text(encoding="utf-8")
            cell = kernel.execute(PROBE_CELL.format(source=probe_source, plan=str(box / "plan.json"),
                                                    out=str(box / "out")),
                                  cpu_limit=job["probe_s"], wall_limit=job["probe_s"])
            log["probe"] = cell
            log["probed"] = cell["status"] == "ok"
            if cell["status"] == "dead":
                log["stopped"] = "the kernel died while the answers were checked"
    finally:
        kernel.kill()
        save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
