"""Benchmark of the grader: a class of honest submissions, graded in sandboxes, and the sandbox's own cost.

    python tools/bench_grading.py [--students 30] [--chapter 06_multiclass_classification] [--repeats 3]
    python tools/bench_grading.py --platforms [--students 30] [--real-install]   # the Gradescope autograder

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


def measure_platforms(students: int = 30, chapter: str = "03_regression", real_install: bool = False) -> dict:
    """The Gradescope autograder, in an emulated container (course_pkg.homework.platforms.Emulator): every
    bundle's size, ``setup.sh``'s time (with the repository's venv; with ``real_install`` also the real install:
    apt-get where it can, a fresh venv, the grader's packages from the lock with pip's configured indexes), and
    ``run_autograder``'s time per submission over an honest class (median and slowest, with bubblewrap and in
    the "container" mode), with the scores compared to ``grade_folder``'s."""
    from course_pkg.homework import platforms
    text = honest_submission(chapter).encode()
    exercises = platforms.assignment_config(chapter)["exercises"]
    results = {"chapter": chapter, "students": students}
    with tempfile.TemporaryDirectory(prefix="bench-platforms-") as tmp:
        tmp = Path(tmp)
        sizes = {}
        for name in platforms.chapters_with_checks():
            sizes[name] = platforms.build_autograder(name, tmp / "zips").stat().st_size
        results["bundle_bytes"] = sizes
        emu = platforms.Emulator(tmp / "zips" / f"{chapter}.zip", tmp / "gs")
        code, out, seconds = emu.run("/autograder/source/setup.sh", env={platforms.PREBUILT_ENV: sys.prefix})
        results["setup_prebuilt_s"] = round(seconds, 1) if code == 0 else None
        if real_install:
            real = platforms.Emulator(tmp / "zips" / f"{chapter}.zip", tmp / "gs-real")
            env = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
            conf = Path.home() / ".config" / "pip" / "pip.conf"
            if conf.is_file():
                (real.tmp / "pip.conf").write_bytes(conf.read_bytes())
                env["PIP_CONFIG_FILE"] = "/tmp/pip.conf"
            code, out, seconds = real.run("/autograder/source/setup.sh", env=env)
            results["setup_real_s"] = round(seconds, 1) if code == 0 else None
            results["setup_real_output"] = out[-2000:]
        for mode, env in (("bubblewrap", {}), ("container", {platforms.SANDBOX_ENV: "container"})):
            times, scores = [], []
            for n in range(students if mode == "bubblewrap" else min(students, 5)):
                data, seconds, _ = emu.grade({f"student{n:02d}.ipynb": text}, env)
                times.append(seconds)
                scores.append(json.loads(data)["score"] if data else None)
            results[f"run_autograder_{mode}"] = {"median_s": round(statistics.median(times), 1),
                                                 "max_s": round(max(times), 1), "runs": len(times),
                                                 "full_marks": sum(s == len(exercises) for s in scores)}
        folder = tmp / "class"
        folder.mkdir()
        (folder / "student.ipynb").write_bytes(text)
        _, rows = grading.grade_folder(folder, chapter=chapter)
        results["grade_folder_score"] = rows[0].total
        results["same_score"] = all(s == rows[0].total for s in scores)
    return results


def platform_rows(results) -> list:
    """tools/bench.py's section: the Gradescope bundle and its run times (see :func:`measure_platforms`)."""
    r = results["platforms"] = measure_platforms(real_install=True)
    sizes = r["bundle_bytes"]
    rows = [(f"Gradescope bundle, largest of {len(sizes)} chapters", f"{max(sizes.values()) / 2**20:.2f} MiB", ""),
            ("`setup.sh`, the repository's venv (`COURSE_PREBUILT_VENV`)", f"{r['setup_prebuilt_s']} s", "")]
    if "setup_real_s" in r:
        rows.append(("`setup.sh`, real install (fresh venv, lock's packages)", f"{r['setup_real_s']} s", ""))
    for mode in ("bubblewrap", "container"):
        m = r[f"run_autograder_{mode}"]
        rows.append((f"`run_autograder` per submission, {mode} ({m['runs']} runs: median, slowest)",
                     f"{m['median_s']} s, {m['max_s']} s", f"same score as make grade: {r['same_score']}"))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=30)
    ap.add_argument("--chapter", default="06_multiclass_classification")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--platforms", action="store_true",
                    help="instead: the Gradescope autograder (bundle sizes, setup.sh, run_autograder per submission)")
    ap.add_argument("--real-install", action="store_true", help="with --platforms: also run setup.sh's real install")
    args = ap.parse_args(argv)
    if args.platforms:
        results = measure_platforms(args.students, real_install=args.real_install)
        (ROOT / "bench").mkdir(exist_ok=True)
        (ROOT / "bench" / "platforms.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
        print(json.dumps({k: v for k, v in results.items() if k != "setup_real_output"}, indent=1))
        return 0
    results = measure(args.students, args.chapter, args.repeats)
    (ROOT / "bench").mkdir(exist_ok=True)
    (ROOT / "bench" / "grading.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    table = render(results)
    (ROOT / "bench" / "grading.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
