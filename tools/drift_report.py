"""What broke with the newest allowed versions: a Markdown report for the weekly CI job's summary.

    python tools/drift_report.py --junit _build/junit [--log make-test.log] >> "$GITHUB_STEP_SUMMARY"

Lists every package whose installed version differs from the lock (``requirements.txt``), and every test that
failed or errored in the JUnit XML files pytest wrote (``make test JUNIT=_build/junit``). When there are no test
results at all (the install or the build broke first), the end of the log says where it stopped.
"""
from __future__ import annotations

import argparse
import re
import sys
import xml.etree.ElementTree as ET
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UNLOCKED = {"pip", "setuptools"}  # pip-compile leaves these out of a lock on purpose


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)", line)
        if m:
            pins[canonical(m.group(1))] = m.group(2)
    return pins


def installed() -> dict[str, str]:
    return {canonical(d.metadata.get("Name", "")): d.version for d in metadata.distributions() if d.metadata.get("Name")}


def version_changes(lock: dict[str, str], now: dict[str, str]) -> list[tuple[str, str, str]]:
    """(package, locked, installed) for every package whose version differs, or that only one side has."""
    rows = []
    for name in sorted(set(lock) | set(now)):
        if name == "course-pkg" or (name in UNLOCKED and name not in lock):
            continue
        a, b = lock.get(name, "—"), now.get(name, "—")
        if a != b:
            rows.append((name, a, b))
    return rows


def failures(folder: Path) -> tuple[int, list[tuple[str, str]]]:
    """(number of tests run, [(test id, first line of the failure)]) over every JUnit file in ``folder``."""
    total, failed = 0, []
    for xml in sorted(folder.glob("*.xml")) if folder.exists() else []:
        for case in ET.parse(xml).getroot().iter("testcase"):
            total += 1
            for kind in ("failure", "error"):
                node = case.find(kind)
                if node is not None:
                    message = (node.get("message") or node.text or kind).strip().splitlines()
                    test_id = f"{case.get('classname', '')}::{case.get('name', '')}".strip(":")
                    failed.append((test_id, message[0][:200] if message else kind))
    return total, failed


def report(lock_path: Path, junit: Path, log: Path | None) -> str:
    changes = version_changes(locked(lock_path), installed())
    total, failed = failures(junit)
    status = "no test results" if total == 0 else (f"{len(failed)} of {total} tests failed" if failed
                                                   else f"all {total} tests passed")
    lines = [f"## Newest allowed versions (requirements.in): {status}", ""]
    if failed:
        lines += ["| failed test | first line |", "|---|---|"]
        lines += [f"| `{t}` | {m.replace('|', '/')} |" for t, m in failed]
        lines.append("")
    if total == 0 and log is not None and log.exists():
        tail = log.read_text(errors="replace").splitlines()[-60:]
        lines += ["The run stopped before any test reported. End of its log:", "", "```", *tail, "```", ""]
    lines += [f"### {len(changes)} package versions differ from the lock ({lock_path.name})", ""]
    if changes:
        lines += ["| package | lock | now |", "|---|---|---|"]
        lines += [f"| {n} | {a} | {b} |" for n, a, b in changes]
    else:
        lines.append("None: the newest allowed versions are the locked ones.")
    lines += ["", "If the new versions are good, `make lock` writes them into the lock."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lock", type=Path, default=ROOT / "requirements.txt")
    ap.add_argument("--junit", type=Path, default=ROOT / "_build" / "junit", help="folder of JUnit XML files")
    ap.add_argument("--log", type=Path, default=None, help="log of the run, shown when no test reported")
    args = ap.parse_args(argv)
    sys.stdout.write(report(args.lock, args.junit, args.log))
    return 0


if __name__ == "__main__":
    sys.exit(main())
