"""Run notebooks under every numerical path this machine can force and list each printed value that differs.

    python tools/stability.py                       # every chapter in book/, every path
    python tools/stability.py book/03_*.ipynb --paths reference libm-sse2 --jobs 2

A printed digit of the book must be the same on any reader's machine. Bits differ between machines in three
places, and each can be forced on one machine:

- ATen's CPU kernels: ``ATEN_CPU_CAPABILITY`` picks the portable (``default``), AVX2 or AVX-512 code;
- threads: ``OMP_NUM_THREADS`` changes how reductions are split (and MKL's own path when ``MKL_CBWR`` is unset);
- glibc's libm: it picks its ``exp``/``log``/``sin`` code by CPU (FMA or not: Intel and AMD machines differ);
  ``GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-FMA`` forces the other variant.

Each notebook is executed in a fresh kernel per path (the environment reaches the kernel), its printed text is
sanitized with nbval's rules (``tests/nbval_sanitize.cfg``) and compared with the stored outputs: what nbval
compares in ``make test``. A path this CPU cannot take (AVX-512 on a CPU without it) is reported as skipped, not
passed. Exit status 1 if any printed value differs anywhere; the report names notebook, cell, path and the lines.
"""
from __future__ import annotations

import argparse
import configparser
import difflib
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"
REFERENCE = {"OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"}
# name -> (variables set, variables removed, what it stands for). OMP_WAIT_POLICY=PASSIVE changes only speed: busy-
# waiting OpenMP threads on a loaded 2-core machine run several times slower, with identical results.
PATHS = {
    "reference": (REFERENCE, (), "the stored outputs' environment: 1 thread, portable kernels, MKL's portable path"),
    "avx2-2threads": ({"OMP_NUM_THREADS": "2", "ATEN_CPU_CAPABILITY": "avx2", "OMP_WAIT_POLICY": "PASSIVE"},
                      ("MKL_CBWR",),
                      "AVX2 kernels, 2 threads, MKL's native path"),
    "avx512-2threads": ({"OMP_NUM_THREADS": "2", "ATEN_CPU_CAPABILITY": "avx512", "OMP_WAIT_POLICY": "PASSIVE"},
                        ("MKL_CBWR",),
                        "AVX-512 kernels, 2 threads, MKL's native path"),
    "libm-sse2": ({**REFERENCE, "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2,-FMA"}, (),
                  "the reference with glibc's non-FMA libm (exp, log, sin differ in the last bit)"),
}
CPU_FLAG = {"avx2-2threads": "avx2", "avx512-2threads": "avx512f"}


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return set(line.split(":", 1)[-1].split())


def available(path: str, flags: set[str] | None = None) -> bool:
    """Whether this CPU can take the path (ATen silently falls back to a lower capability otherwise)."""
    need = CPU_FLAG.get(path)
    return need is None or need in (cpu_flags() if flags is None else flags)


def environment(path: str) -> dict[str, str]:
    set_vars, removed, _ = PATHS[path]
    env = {k: v for k, v in os.environ.items() if k not in removed and k != "GLIBC_TUNABLES"}
    env.update(set_vars)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return env


def sanitizers(cfg: Path = SANITIZE) -> list[tuple[re.Pattern, str]]:
    parser = configparser.ConfigParser()
    parser.read(cfg)
    return [(re.compile(parser[s]["regex"]), parser[s]["replace"]) for s in parser.sections()]


def printed(nb: dict, rules) -> list[str]:
    """The text nbval compares, per code cell: streams and text/plain, sanitized."""
    cells = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        parts, stream = [], None
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream" and out["name"] == stream:   # one print may arrive in pieces
                parts[-1] += "".join(out["text"])
                continue
            stream = out["name"] if out["output_type"] == "stream" else None
            if out["output_type"] == "stream":
                parts.append(f"[{out['name']}] " + "".join(out["text"]))
            elif out["output_type"] in ("execute_result", "display_data"):
                parts.append("".join(out.get("data", {}).get("text/plain", "")))
            elif out["output_type"] == "error":
                parts.append(f"[error] {out['ename']}: {out['evalue']}")
        text = "".join(parts)
        for pattern, replace in rules:
            text = pattern.sub(replace, text)
        cells.append(text)
    return cells


def execute(notebook: Path, path: str, timeout: int = 600) -> dict:
    """Execute ``notebook`` in a fresh kernel under ``path``'s environment; return the executed notebook (JSON)."""
    worker = ("import json, sys, nbclient, nbformat\n"
              "nb = nbformat.read(sys.argv[1], as_version=4)\n"
              "nbclient.NotebookClient(nb, timeout=int(sys.argv[2]), kernel_name='python3', allow_errors=True,\n"
              "                        resources={'metadata': {'path': sys.argv[3]}}).execute()\n"
              "sys.stdout.write(nbformat.writes(nb))\n")
    run = subprocess.run([sys.executable, "-c", worker, str(notebook), str(timeout), str(notebook.parent)],
                         env=environment(path), capture_output=True, text=True, timeout=timeout + 60)
    if run.returncode != 0:
        raise RuntimeError(f"{notebook} under {path} did not execute:\n{run.stderr[-2000:]}")
    return json.loads(run.stdout)


def compare(stored: list[str], got: list[str]) -> list[tuple[int, str]]:
    """(code-cell index, unified diff) for every cell whose printed text differs."""
    found = []
    for i, (want, have) in enumerate(zip(stored, got)):
        if want != have:
            diff = difflib.unified_diff(want.splitlines(), have.splitlines(), "stored", "this path", lineterm="", n=0)
            found.append((i, "\n".join(list(diff)[2:])))
    if len(stored) != len(got):
        found.append((min(len(stored), len(got)), f"{len(stored)} code cells stored, {len(got)} executed"))
    return found


def check(notebooks: list[Path], paths: list[str], jobs: int = 2) -> tuple[list[dict], list[str]]:
    """Run every (notebook, path); return (differences, skipped paths)."""
    rules = sanitizers()
    runnable = [p for p in paths if available(p)]
    skipped = [p for p in paths if p not in runnable]
    tasks = [(nb, p) for p in runnable for nb in notebooks]

    def one(task):
        nb, p = task
        stored = printed(json.loads(nb.read_text()), rules)
        return [{"notebook": str(nb.relative_to(ROOT) if nb.is_relative_to(ROOT) else nb), "cell": i, "path": p,
                 "diff": d} for i, d in compare(stored, printed(execute(nb, p), rules))]

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        differences = [d for found in pool.map(one, tasks) for d in found]
    return sorted(differences, key=lambda d: (d["notebook"], d["cell"], d["path"])), skipped


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: every book/*.ipynb")
    ap.add_argument("--paths", nargs="+", choices=list(PATHS), default=list(PATHS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write the differences as JSON here")
    args = ap.parse_args(argv)
    notebooks = [p.resolve() for p in args.notebooks] or sorted((ROOT / "book").glob("[0-9]*.ipynb"))
    start = time.perf_counter()
    differences, skipped = check(notebooks, args.paths, args.jobs)
    for name in args.paths:
        state = "skipped: this CPU lacks " + CPU_FLAG[name] if name in skipped else "run"
        print(f"path {name:16s} {state:28s} {PATHS[name][2]}")
    for d in differences:
        print(f"\n{d['notebook']} code cell {d['cell']} differs under {d['path']}:\n{d['diff']}")
    if args.json:
        args.json.write_text(json.dumps({"differences": differences, "skipped": skipped}, indent=1))
    verdict = f"{len(differences)} differing cell(s)" if differences else "every printed value identical"
    print(f"\n{len(notebooks)} notebook(s) x {len(args.paths) - len(skipped)} path(s): {verdict} "
          f"({time.perf_counter() - start:.0f} s)")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
