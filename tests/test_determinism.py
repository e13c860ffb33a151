"""The site shows what the stored notebooks show: the build's own execution reproduces the stored outputs.

The site is built from executed copies of every chapter, each run in a fresh
kernel (``make book``: ``tools/execute_book.py``; ``make test``: nbval's own run,
recorded by ``tests/nbval_record.py``); Sphinx writes the copies the site shows
to ``_build/jupyter_execute``. This test compares those with the stored
outputs, under the same sanitize rules as nbval. Every
execution runs in the Makefile's numerical environment (one thread, portable
kernels, MKL's processor-independent path), and the stored outputs were made
in it, so the comparison is exact on any x86-64 machine. ``make stability``
re-runs the chapters in the machine's native numerics to find printed values
that carry more digits than are stable.
"""
import configparser
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXECUTED = ROOT / "_build" / "jupyter_execute" / "book"
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def sanitize(text: str) -> str:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "tests" / "nbval_sanitize.cfg")
    for section in parser.sections():
        text = re.sub(parser[section]["regex"], parser[section]["replace"], text)
    return text


def printed(path: Path):
    """Every code cell's printed results: streams, and the text form of results and displays (not PNG bytes)."""
    cells = []
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        outs = []
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream":
                text = "".join(out["text"])
                if outs and outs[-1][0] == out["name"]:  # how a stream is split into chunks depends on timing
                    text = outs.pop()[1] + text
                outs.append((out["name"], text))
            elif "data" in out:
                outs.append((out["output_type"], "".join(out["data"].get("text/plain", ""))))
            else:
                outs.append((out["output_type"], out.get("ename", "")))
        cells.append([(kind, sanitize(text)) for kind, text in outs])
    return cells


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_build_run_reproduces_stored_outputs(path):
    executed = EXECUTED / path.name
    if not executed.exists():
        pytest.fail(f"{executed} missing: run `make book` first (`make test` does)")
    stored, rerun = printed(path), printed(executed)
    assert len(stored) == len(rerun), f"{path.name}: the built copy has a different number of code cells"
    for i, (a, b) in enumerate(zip(stored, rerun)):
        assert a == b, f"{path.name}, code cell {i}: the build printed something else than the stored notebook"


def test_refresh_and_make_use_one_numerical_environment():
    import sys
    sys.path.insert(0, str(ROOT / "tools"))
    from refresh_notebooks import NUMERICS_ENV
    makefile = (ROOT / "Makefile").read_text()
    exported = dict(re.findall(r"^export (\w+) := (\S+)$", makefile, re.M))
    assert {k: exported.get(k) for k in NUMERICS_ENV} == NUMERICS_ENV
