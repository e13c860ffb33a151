"""Audit of the nbval sanitize rules (tests/nbval_sanitize.cfg).

Each rule must say why it exists, and none may mask a real numeric result:
applied to typical printed numbers it must change nothing, and in the stored
notebook outputs it may only ever match what it was written for.
"""
import configparser
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CFG = ROOT / "tests" / "nbval_sanitize.cfg"
NUMBERS = ["0.1234", "-99.98", "1e-05", "2.30259", "tensor([1., 2.])", "1000.6932", "0.949", "12345678",
           "loss 0.0107", "[0.0, 1.0]", "3.7835e-44", "deadbeef", "0xff"]


def rules():
    parser = configparser.ConfigParser()
    parser.read(CFG)
    return {name: (parser[name]["regex"], parser[name]["replace"]) for name in parser.sections()}


def test_each_rule_is_explained():
    text = CFG.read_text()
    for name in rules():
        block = text.split(f"[{name}]")[0].rstrip().splitlines()
        assert block and block[-1].startswith("#"), f"rule [{name}] needs a comment just above it saying why"


@pytest.mark.parametrize("name", list(rules()))
def test_rule_leaves_numbers_alone(name):
    regex, _ = rules()[name]
    for sample in NUMBERS:
        assert not re.search(regex, sample), f"rule [{name}] would mask the number {sample!r}"


@pytest.mark.parametrize("name", list(rules()))
def test_rule_matches_only_addresses_in_stored_outputs(name):
    regex, _ = rules()[name]
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            for out in cell.get("outputs", []):
                text = "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
                for match in re.finditer(regex, text):
                    context = text[max(0, match.start() - 4):match.end()]
                    assert " at 0x" in context or context.startswith("id=0x") or "<" in text, (
                        f"{path.name}: rule [{name}] masks {match.group(0)!r} outside an object repr")
