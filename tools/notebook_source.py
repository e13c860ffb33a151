"""Turn a percent-format script into a notebook (an authoring aid; the .ipynb is the source of truth).

    python tools/notebook_source.py draft.py book/05_binary_classification.ipynb

Cells start with ``# %%`` (code) or ``# %% [markdown]`` (markdown, each line
prefixed with ``# ``). Tags: ``# %% tags=["hide-input"]``. Refuses to overwrite
an existing notebook unless ``--force`` is given. Run ``make refresh`` after.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import nbformat

HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?: tags=(?P<tags>\[.*\]))?\s*$")


def parse(text: str):
    cells, kind, tags, lines = [], None, [], []

    def flush():
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(re.sub(r"^# ?", "", ln) for ln in body.split("\n"))
            cell = nbformat.v4.new_markdown_cell(body)
        else:
            cell = nbformat.v4.new_code_cell(body)
        if tags:
            cell.metadata["tags"] = tags
        cells.append(cell)

    for line in text.split("\n"):
        m = HEADER.match(line)
        if m:
            flush()
            kind = "markdown" if m.group("md") else "code"
            tags = json.loads(m.group("tags")) if m.group("tags") else []
            lines = []
        elif kind is not None:
            lines.append(line)
    flush()
    return cells


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("source", type=Path)
    ap.add_argument("notebook", type=Path)
    ap.add_argument("--force", action="store_true", help="overwrite an existing notebook")
    args = ap.parse_args(argv)
    if args.notebook.exists() and not args.force:
        sys.exit(f"{args.notebook} exists; pass --force to overwrite it")
    nb = nbformat.v4.new_notebook()
    nb.cells = parse(args.source.read_text())
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    nbformat.write(nb, args.notebook)
    print(f"wrote {args.notebook} ({len(nb.cells)} cells)")


if __name__ == "__main__":
    main()
