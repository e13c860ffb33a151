"""How long each chapter's main path takes to read: prose words outside collapsed blocks, at 200 words a minute.

    python tools/reading_time.py            # a table for every chapter (make bench reports it too)

The main path is what a reader sees without opening anything: markdown prose, minus code blocks and display
math, minus every collapsed block (a ``{dropdown}``, a directive with ``:class: dropdown`` such as an "Under the
hood" admonition, a ``<details>`` element) and minus the solutions (``{solution-start}`` ... ``{solution-end}``,
shown collapsed). Target: about 15 minutes a chapter.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
WORDS_PER_MINUTE = 200
TARGET_MINUTES = 15
FENCE = re.compile(r"^(`{3,}|~{3,})\s*(\{(?P<directive>[\w-]+)\})?")
WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")


def _strip_inline(text: str) -> str:
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)        # display math
    text = re.sub(r"\$[^$\n]+\$", " x ", text)                    # inline math reads as one word
    text = re.sub(r"`[^`\n]+`", " x ", text)                      # inline code reads as one word
    text = re.sub(r"<details>.*?</details>", " ", text, flags=re.S)
    text = re.sub(r"\]\([^)]*\)", "]", text)                       # link targets
    return text


def main_path_words(source: str, in_solution: bool = False) -> tuple[int, bool]:
    """Words a reader meets in one markdown cell; returns (words, whether a solution is still open after it)."""
    kept, stack = [], []                     # stack: (fence, hidden) of open blocks; code and collapsed blocks hide
    lines = source.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        m = FENCE.match(line)
        if m and stack and line == stack[-1][0]:                  # a closing fence
            stack.pop()
        elif m:
            directive = m.group("directive") or ""
            options = []
            j = i + 1
            while j < len(lines) and lines[j].strip().startswith(":"):
                options.append(lines[j].strip())
                j += 1
            if directive == "solution-start":
                in_solution = True
            elif directive == "solution-end":
                in_solution = False
            hidden = (directive in ("dropdown", "solution-start") or not directive
                         or any(o.startswith(":class:") and "dropdown" in o for o in options))
            stack.append((m.group(1), hidden))
            # a directive's title (on the fence line) is visible even when its body is collapsed
            title = line[m.end():].strip() if directive else ""
            if title and not in_solution and not any(c for _, c in stack[:-1]):
                kept.append(title)
            i = j - 1
        elif not in_solution and not any(c for _, c in stack):
            kept.append(lines[i])
        i += 1
    words = len(WORD.findall(_strip_inline("\n".join(kept))))
    return words, in_solution


def chapter_words(notebook: Path) -> int:
    nb = nbformat.read(notebook, as_version=4)
    total, in_solution = 0, False
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            words, in_solution = main_path_words(cell.source, in_solution)
            total += words
    return total


def table(book: Path = ROOT / "book") -> list[tuple[str, int, float]]:
    """(notebook name, main-path words, minutes at 200 words a minute) for every chapter."""
    rows = []
    for nb in sorted(book.glob("[0-9]*.ipynb")):
        words = chapter_words(nb)
        rows.append((nb.name, words, words / WORDS_PER_MINUTE))
    return rows


def main() -> int:
    print(f"| chapter | main-path words | minutes at {WORDS_PER_MINUTE} wpm (target <= {TARGET_MINUTES}) |")
    print("|---|---:|---:|")
    for name, words, minutes in table():
        print(f"| {name} | {words} | {minutes:.1f}{'' if minutes <= TARGET_MINUTES else ' (missed)'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
