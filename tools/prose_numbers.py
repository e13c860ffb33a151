"""Guard the numbers in the prose: each one must be printed by the notebook itself.

    python tools/prose_numbers.py                      # every page of the book
    python tools/prose_numbers.py book/03_*.ipynb      # only these

A *checked* number in a chapter's prose (markdown cells, math included; fenced
code, inline code, citations, links and section signs left out) is one with a
decimal point, like ``0.598`` or ``2.06e-9``, or an integer with three or more
significant digits, like ``1000`` or ``-744``. Each must appear in the same
notebook's stored outputs, as printed or rounded the way the prose rounds it:
``16.6`` is covered by a printed ``16.64``, ``2.06e-9`` by ``2.0612e-09``,
``42%`` by ``41.7%``. Integers must match exactly (``600`` is covered by a
printed ``600``, or by a literal ``600`` in the notebook's code, since a
hyper-parameter stated in the prose is set by the code).

Exceptions live in ``tests/prose_numbers_allowlist.yml``: exact mathematics
derived in the text (``24 ln 2 ≈ 16.64``), years, documented constants. Each
entry names the notebook, the number as written, and the reason.

Exit status 1 and one line per unmatched number if anything is uncovered.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ALLOWLIST = ROOT / "tests" / "prose_numbers_allowlist.yml"

# A number: optional sign (ASCII or Unicode minus), digits with an optional fraction, an optional exponent written
# as e-9 / e−9 / ·10^{-9} / × 10⁻⁹ is handled separately below. Not part of a word (float32, 3rd, x2) or a version.
_NUMBER = re.compile(
    r"(?<![\w.^_\\{])(?<![{^][-−])"          # not inside a word, a version number, a superscript or a LaTeX name
    r"(?P<sign>[-−])?"
    r"(?P<mant>\d+(?:,\d{3})*(?:\.\d+)?|\.\d+)"
    r"(?:[eE](?P<exp>[-−+]?\d+))?"
    r"(?P<pct>\s?%)?"
    r"(?![\w.]\d|\w)"                        # not followed by more digits of a version, or by letters (3rd, 2D)
)
_TEN_POWER = re.compile(r"\s*(?:\\cdot|\\times|·|×)\s*10\^\{?(?P<exp>[-−]?\d+)\}?")

# Parts of the markdown that are not prose claims.
_STRIP = [
    re.compile(r"^(```|~~~).*?^\1", re.S | re.M),           # fenced code and directive headers' bodies of code
    re.compile(r"`[^`\n]*`"),                                 # inline code
    re.compile(r"\{cite(:\w+)?\}`[^`]*`"),                    # citations
    re.compile(r"\]\([^)]*\)"),                               # link targets
    re.compile(r"§\s*[\d.]+"),                                # section numbers of a book
    re.compile(r"^#+\s*[\d.]+", re.M),                         # numbered headings
    re.compile(r"\b(?:[Ss]ections?|[Cc]hapters?|[Cc]ells?|[Ee]xercises?|[Ff]igures?|[Ss]teps? of section)"
               r"\s+\d+(?:\.\d+)*(?:\s*(?:,|and|or|to|–)\s*\d+(?:\.\d+)*)*"),  # "section 4.1", "sections 4.2 and 4.4"
    re.compile(r"^:(label|class|name|width|align)?:.*$", re.M),  # directive options
    re.compile(r"\\(label|ref|eqref)\{[^}]*\}"),
    re.compile(r"(?<!10)\^\{[^}]*\}|(?<!10)\^[-−]?\d+"),                 # exponents in math: 2^{-24} is exact, not measured
]


@dataclass(frozen=True)
class ProseNumber:
    notebook: str
    cell: int
    text: str            # as written, e.g. "2.06e−9"
    value: Decimal
    decimals: int        # digits after the point in the mantissa (for rounding a printed value the same way)
    exponent: int        # the written power of ten (0 when none)
    percent: bool
    context: str

    def __str__(self):
        return f"{self.notebook}, markdown cell {self.cell}: {self.text!r} in “…{self.context}…”"


def _normalise(s: str) -> str:
    return s.replace("−", "-").replace(",", "")


def _parse(match, text: str, notebook: str, cell: int, source: str):
    mant = match.group("mant").replace(",", "")
    exp = match.group("exp")
    end = match.end()
    if exp is None:
        power = _TEN_POWER.match(source, end)
        if power:
            exp, end = power.group("exp"), power.end()
    sign = "-" if match.group("sign") else ""
    decimals = len(mant.split(".")[1]) if "." in mant else 0
    exponent = int(_normalise(exp)) if exp else 0
    try:
        value = Decimal(sign + mant) * (Decimal(10) ** exponent)
    except InvalidOperation:
        return None
    digits = mant.replace(".", "").lstrip("0")
    significant = len(digits.rstrip("0")) if "." not in mant else len(digits)
    checked = "." in mant or significant >= 3
    if not checked:
        return None
    start = max(0, match.start() - 40)
    context = " ".join(source[start:end + 30].split())
    return ProseNumber(notebook, cell, source[match.start():end].strip(), value, decimals, exponent,
                       bool(match.group("pct")), context)


def prose_numbers(nb: dict, notebook: str):
    """Every checked number in the markdown cells of ``nb``."""
    found = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        if source.startswith("---\n"):   # front matter of a page
            source = re.sub(r"\A---\n.*?\n---\n", lambda m: " " * len(m.group(0)), source, flags=re.S)
        for pattern in _STRIP:
            source = pattern.sub(lambda m: " " * len(m.group(0)), source)
        for match in _NUMBER.finditer(source):
            number = _parse(match, match.group(0), notebook, index, source)
            if number is not None:
                found.append(number)
    return found


def _output_text(nb: dict) -> str:
    parts = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append("".join(out.get("text", "")))
            elif "data" in out:
                parts.append("".join(out["data"].get("text/plain", "")))
                parts.append("".join(out["data"].get("text/markdown", "")))
    return "\n".join(parts)


def _code_text(nb: dict) -> str:
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


_PRINTED = re.compile(r"(?<![\w.])[-−]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?P<pct>\s?%)?")


def printed_values(text: str):
    """(Decimal value, is a percentage) for every number in ``text``, inf and nan left out."""
    values = set()
    for m in _PRINTED.finditer(text):
        raw = _normalise(m.group(0)).replace("%", "").strip()
        try:
            values.add((Decimal(raw), bool(m.group("pct"))))
        except InvalidOperation:
            continue
    return values


def _rounds_to(printed: Decimal, number: ProseNumber) -> bool:
    """Does ``printed``, rounded the way the prose writes ``number``, give the prose's value?"""
    if number.decimals == 0 and number.exponent == 0:   # an integer: exact
        return printed == number.value
    quantum = Decimal(10) ** (number.exponent - number.decimals)
    try:
        return printed.quantize(quantum, rounding="ROUND_HALF_EVEN") == number.value or \
            printed.quantize(quantum, rounding="ROUND_HALF_UP") == number.value
    except InvalidOperation:
        return False


def covered(number: ProseNumber, printed: set, code_literals: set) -> bool:
    for value, pct in printed:
        candidates = [value]
        if number.percent and not pct:
            candidates.append(value * 100)      # a printed fraction 0.417 written as 41.7 %
        if pct and not number.percent:
            candidates.append(value / 100)
        if any(_rounds_to(v, number) for v in candidates):
            return True
    is_integer = number.decimals == 0 and number.exponent == 0
    return is_integer and number.value in code_literals


def load_allowlist(path: Path = ALLOWLIST) -> dict:
    """notebook name -> {number as written: reason}. Every entry must give a reason."""
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    allow = {}
    for notebook, entries in data.items():
        allow[notebook] = {}
        for entry in entries or []:
            if not isinstance(entry, dict) or not str(entry.get("reason", "")).strip() or "number" not in entry:
                raise ValueError(f"{path.name}: every entry needs 'number' and a non-empty 'reason' ({notebook}: {entry})")
            allow[notebook][_normalise(str(entry["number"]))] = entry["reason"]
    return allow


def _as_notebook(path: Path) -> dict:
    if path.suffix == ".md":   # a page without code: one markdown cell
        return {"cells": [{"cell_type": "markdown", "source": path.read_text(encoding="utf-8")}]}
    return json.loads(path.read_text(encoding="utf-8"))


def uncovered(path: Path, allow: dict | None = None):
    """The checked prose numbers of the page at ``path`` that are not printed where they must be.

    A notebook's numbers must be printed by that notebook; a markdown page's (summary, glossary, welcome) by at
    least one chapter notebook in the same folder.
    """
    allow = load_allowlist() if allow is None else allow
    nb = _as_notebook(path)
    sources = [nb] if path.suffix == ".ipynb" else [_as_notebook(p) for p in sorted(path.parent.glob("*.ipynb"))]
    printed = set().union(*[printed_values(_output_text(s)) for s in sources])
    code_literals = {v for s in sources for v, _ in printed_values(_code_text(s))}
    allowed = allow.get(path.name, {}) | allow.get("*", {})
    return [n for n in prose_numbers(nb, path.name)
            if _normalise(n.text).replace(" ", "") not in {k.replace(" ", "") for k in allowed}
            and not covered(n, printed, code_literals)]


def pages(book: Path = ROOT / "book"):
    """Every page of the book whose numbers are guarded: the chapter notebooks and the markdown pages."""
    return sorted(book.glob("*.ipynb")) + sorted(book.glob("*.md"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path)
    args = ap.parse_args(argv)
    paths = args.notebooks or pages()
    allow = load_allowlist()
    missing = [n for p in paths for n in uncovered(p, allow)]
    for n in missing:
        print(n)
    print(f"{len(missing)} prose number(s) not printed by their notebook", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
