"""Benchmark of the grader: a class of honest submissions, graded in sandboxes, and the sandbox's own cost.

    python tools/bench_grading.py [--students 30] [--chapter 06_multiclass_classification] [--repeats 3]

Writes bench/grading.json and prints a Markdown table: the wall time of grading the class with
``--jobs 1`` and ``--jobs 2`` (target: 30 students in at most 30 s with ``--jobs 2`` on 2 cores), whether every
submission got full marks, and the cost of the sandbox per notebook (the same notebook graded with
and without ``--no-sandbox``, median of ``--repeats`` runs each). Timings on a shared machine are
noisy: the load average before and after each measurement is recorded with it.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_pkg.homework import grading, sandbox  # noqa: E402


def honest_submission(chapter: str) -> str:
    """The master notebook as a student who solved every exercise would hand it in (outputs cleared)."""
    nb = nbformat.read(ROOT / "book" / f"{chapter}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata["course_pkg"] = {"chapter": chapter}
    return nbformat.writes(nb)


def _cpu() -> float:
    """CPU seconds used so far by this process (the grader: planning and judging)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def grade(folder: Path, *, jobs: int, sandboxed: bool = True) -> dict:
    """Grade ``folder``: wall time, CPU time (the grader's, plus the CPU time each sandbox's runner reports for
    itself and the processes it ran), and how many got full marks with no reason.

    ``cpu_s / 2`` is what the wall time would be on two idle cores: on a shared machine it tells the grader's
    cost apart from the other users' load.
    """
    load = os.getloadavg()[0]
    start, cpu0 = time.perf_counter(), _cpu()
    ids, rows = grading.grade_folder(folder, jobs=jobs, sandboxed=sandboxed)
    wall = time.perf_counter() - start
    cpu = _cpu() - cpu0 + sum(r.seconds.get("sandbox_cpu", 0.0) for r in rows)  # + what each sandbox reported
    full = sum(r.total == len(ids) and not r.reasons for r in rows)
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "students": len(rows), "full_marks": full,
            "exercises": len(ids), "load_before": round(load, 1), "load_after": round(os.getloadavg()[0], 1)}


def measure(students: int = 30, chapter: str = "06_multiclass_classification", repeats: int = 3) -> dict:
    works, why = sandbox.status()
    if not works:
        raise SystemExit(f"the sandbox cannot run here: {why}")
    text = honest_submission(chapter)
    results = {"chapter": chapter, "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d")}
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        one = Path(tmp) / "one"
        one.mkdir()
        (one / "student.ipynb").write_text(text, encoding="utf-8")
        for label, sandboxed in (("sandboxed", True), ("unsandboxed", False)):
            runs = [grade(one, jobs=1, sandboxed=sandboxed) for _ in range(repeats)]
            results[f"one_notebook_{label}_s"] = statistics.median(r["wall_s"] for r in runs)
            results[f"one_notebook_{label}_cpu_s"] = statistics.median(r["cpu_s"] for r in runs)
        results["sandbox_cost_s"] = round(results["one_notebook_sandboxed_s"] - results["one_notebook_unsandboxed_s"], 2)
        results["sandbox_cost_cpu_s"] = round(results["one_notebook_sandboxed_cpu_s"]
                                              - results["one_notebook_unsandboxed_cpu_s"], 2)
        folder = Path(tmp) / "class"
        folder.mkdir()
        for n in range(students):
            (folder / f"student{n:02d}.ipynb").write_text(text, encoding="utf-8")
        for jobs in (1, 2):
            print(f"grading {students} submissions with --jobs {jobs} ...", flush=True)
            results[f"jobs{jobs}"] = grade(folder, jobs=jobs)
    return results


def render(r: dict) -> str:
    n = r["jobs1"]["students"]
    target = 30 * n / 30
    lines = [f"Grading {n} honest submissions of `{r['chapter']}` on {r['cores']} cores ({r['date']}); "
             "load averages show how shared the machine was; CPU seconds (grader and sandboxes) / 2 is the wall "
             "time two idle cores would need.", "",
             "| measurement | wall s | CPU s | full marks | load before → after |", "|---|---:|---:|---:|---|"]
    for jobs in (1, 2):
        m = r[f"jobs{jobs}"]
        mark = f" (target ≤ {target:.0f} s: {'met' if m['wall_s'] <= target else 'missed'})" if jobs == 2 else ""
        lines.append(f"| class, `--jobs {jobs}`{mark} | {m['wall_s']:.1f} | {m['cpu_s']:.1f} | "
                     f"{m['full_marks']}/{m['students']} | {m['load_before']} → {m['load_after']} |")
    lines += [f"| one notebook, sandboxed (median) | {r['one_notebook_sandboxed_s']:.1f} | "
              f"{r['one_notebook_sandboxed_cpu_s']:.1f} | | |",
              f"| one notebook, `--no-sandbox` (median) | {r['one_notebook_unsandboxed_s']:.1f} | "
              f"{r['one_notebook_unsandboxed_cpu_s']:.1f} | | |",
              f"| sandbox cost per notebook | {r['sandbox_cost_s']:.2f} | {r['sandbox_cost_cpu_s']:.2f} | | |", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=30)
    ap.add_argument("--chapter", default="06_multiclass_classification")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    results = measure(args.students, args.chapter, args.repeats)
    (ROOT / "bench").mkdir(exist_ok=True)
    (ROOT / "bench" / "grading.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    table = render(results)
    (ROOT / "bench" / "grading.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
