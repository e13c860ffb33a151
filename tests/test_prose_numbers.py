"""Every number the prose states is printed by an executed cell (tools/prose_numbers.py).

An edit that changes an output without the prose, or prose that quotes a number no cell prints, fails here.
"""
import copy
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import prose_numbers as pn  # noqa: E402

PAGES = pn.pages()


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_every_prose_number_is_printed(path):
    missing = pn.uncovered(path)
    assert not missing, "numbers in the prose that no cell prints (print them, fix the prose, or allowlist " \
                        "exact mathematics with a reason in tests/prose_numbers_allowlist.yml):\n" + \
                        "\n".join(map(str, missing))


def test_allowlist_entries_have_reasons_and_are_used():
    allow = pn.load_allowlist()
    by_name = {p.name: p for p in PAGES}
    for page, entries in allow.items():
        assert page in by_name or page == "*", f"allowlist names {page}, which is not a page of the book"
        paths = PAGES if page == "*" else [by_name[page]]
        written = {pn._normalise(n.text).replace(" ", "") for p in paths
                   for n in pn.prose_numbers(pn._as_notebook(p), p.name)}
        for number in entries:
            assert number.replace(" ", "") in written, f"allowlist entry {number!r} for {page} matches no prose number"


def _copy_with(tmp_path, nb, name):
    path = tmp_path / name
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def test_guard_fails_on_a_deliberately_broken_copy(tmp_path):
    """Change one printed number in a copy of a chapter: the prose that quotes it is reported."""
    candidates = [(p, n) for p in PAGES if p.suffix == ".ipynb"
                  for n in pn.prose_numbers(json.loads(p.read_text(encoding="utf-8")), p.name) if n.decimals > 0]
    assert candidates, "no chapter quotes a decimal number"
    source, target = candidates[0]
    nb = json.loads(source.read_text(encoding="utf-8"))
    broken = copy.deepcopy(nb)
    pattern = re.compile(r"(?<![\d.])" + re.escape(pn._normalise(target.text)).replace(r"\-", "[-−]") + r"\d*")
    changed = 0
    for cell in broken["cells"]:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                text = "".join(out["text"])
                new = pattern.sub("987.654", text)
                changed += new != text
                out["text"] = new
    assert changed, f"no output printed {target.text!r}"
    missing = pn.uncovered(_copy_with(tmp_path, broken, source.name), allow={})
    assert any(m.text == target.text for m in missing), [str(m) for m in missing]


@pytest.mark.parametrize("prose, printed, ok", [
    ("the bound is reached at $16.6$", "o >= 16.64", True),        # the prose rounds the printed value
    ("the bound is reached at $16.7$", "o >= 16.64", False),
    ("a gradient of 2.06e−9", "grad 2.0612e-09", True),            # Unicode minus, printed exponent
    ("a gradient of 2.06e−9", "grad 2.0612e-08", False),
    ("about $4.5 \\times 10^{-5}$", "4.54e-05", True),
    ("the loss is 0.0100", "loss: 0.0100", True),
    ("after 612 steps", "steps: 613", False),                       # integers match exactly
    ("42% of the targets", "42% of", True),
    ("a ReLU (rectified) unit and float32", "", True),              # nothing to check
    ("see section 4.1 and §6.2.2.4", "", True),
    ("softplus is 0 below $-102.87$", "-102.87", True),
    ("softplus is 0 below $-102.87$", "102.87", False),             # the sign counts
])
def test_matching_rules(tmp_path, prose, printed, ok):
    nb = {"cells": [{"cell_type": "markdown", "source": prose},
                    {"cell_type": "code", "source": "", "outputs": [{"output_type": "stream", "text": printed}]}]}
    missing = pn.uncovered(_copy_with(tmp_path, nb, "x.ipynb"), allow={})
    assert (not missing) == ok, [str(m) for m in missing]


def test_code_literals_cover_integers_only(tmp_path):
    nb = {"cells": [{"cell_type": "markdown", "source": "we train for 625 steps at rate 0.125"},
                    {"cell_type": "code", "source": "train(steps=625, lr=0.125)", "outputs": []}]}
    missing = pn.uncovered(_copy_with(tmp_path, nb, "x.ipynb"), allow={})
    assert [m.text for m in missing] == ["0.125"]
