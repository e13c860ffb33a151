"""Stored outputs are reproduced by an independent run with another thread count.

nbval (``make test``) re-executes every chapter with ``OMP_NUM_THREADS=1`` and
compares with the stored outputs. The site build (``make book``; ``make test``
builds it with ``OMP_NUM_THREADS=2``) executes every chapter again in a fresh
kernel and keeps the executed copies in ``_build/jupyter_execute``; this test
compares those with the stored outputs, under the same sanitize rules as nbval.
Together: two runs, one and two threads, identical printed results.
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
