"""Open the student notebooks in JupyterLab: `make lab` (from a fresh clone: one command).

    python tools/lab.py                 # copy new student notebooks into work/, then start JupyterLab there
    python tools/lab.py --prepare-only  # only the copy
    python tools/lab.py -- --no-browser --port 8899   # anything after -- goes to `jupyter lab`

Learners work in their own folder, ``work/`` (ignored by git), never in ``student/``: ``make students`` regenerates
``student/`` from the book and would overwrite what a learner typed there. A chapter's notebook is copied into
``work/`` only when ``work/`` has no file of that name, so a learner's notebook is never overwritten; a chapter
added to the book later appears on the next ``make lab``. The notebooks use the project's ``.venv`` (JupyterLab is
in the lock), where ``course_pkg`` is installed from this checkout.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def prepare(student: Path = ROOT / "student", work: Path = ROOT / "work") -> tuple[list[Path], list[Path]]:
    """Copy every student notebook missing from ``work``; return (copied, kept as they were)."""
    if not student.is_dir():
        raise FileNotFoundError(f"student must be a folder of student notebooks, got {student}")
    if work.exists() and not work.is_dir():
        raise NotADirectoryError(f"work must be a folder, got a file: {work}")
    work.mkdir(parents=True, exist_ok=True)
    copied, kept = [], []
    for nb in sorted(student.glob("*.ipynb")):
        target = work / nb.name
        if target.exists() or target.is_symlink():
            kept.append(target)
        else:
            shutil.copyfile(nb, target)
            copied.append(target)
    return copied, kept


def start_hint(work: Path) -> str:
    """Where a learner starts: the primer (chapter 00) when PyTorch is new, else chapter 01; and how to stop.

    Example:
        >>> start_hint(ROOT / "student")[:36]
        'Start with 00_pytorch_essentials.ipy'
    """
    names = sorted(p.name for p in Path(work).glob("*.ipynb"))
    primer = next((n for n in names if n.startswith("00_")), None)
    first = next((n for n in names if n.startswith("01_")), None)
    if primer and first:
        where = f"Start with {primer} if PyTorch is new to you, otherwise with {first}"
    else:
        where = f"Start with {(primer or first or 'the first notebook')}"
    return (f"{where}; run each notebook top to bottom (Run > Run All Cells). "
            "Stop JupyterLab with Ctrl-C in this terminal.")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=ROOT / "work", help="the learner's folder (default: work/)")
    ap.add_argument("--prepare-only", action="store_true", help="copy the notebooks, do not start JupyterLab")
    args = ap.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    copied, kept = prepare(work=args.work)
    print(f"{args.work}: {len(copied)} new notebook(s) copied from student/, {len(kept)} of yours kept as they are")
    print(start_hint(args.work))
    if args.prepare_only:
        return 0
    lab = Path(sys.executable).with_name("jupyter-lab")
    if not lab.exists():
        print(f"error: {lab} is missing: run `make install` (JupyterLab is in requirements.txt)", file=sys.stderr)
        return 2
    as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []  # JupyterLab refuses root
    os.execv(str(lab), [str(lab), f"--ServerApp.root_dir={args.work}", *as_root, *extra])


if __name__ == "__main__":
    sys.exit(main())
