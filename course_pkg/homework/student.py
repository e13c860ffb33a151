"""Write the student version of every book notebook.

    python -m course_pkg.homework.student            # book/*.ipynb -> student/*.ipynb
    python -m course_pkg.homework.student --check    # exit 1 if student/ is out of date

A master notebook marks each exercise's solution with MyST gated directives::

    ```{exercise}              <- kept, as a bold "Exercise 5.2" paragraph (chapter 5, 2nd exercise)
    :label: ex-regression-scale-to-range
    ...
    ```

    ```{solution-start} ex-regression-scale-to-range
    :class: dropdown
    ```
    ... solution code cells and explanation markdown ...
    ```{solution-end}
    ```

    check("regression.scale_to_range", to_range)   <- a code cell after the solution

In the student notebook every solution code cell becomes a stub that keeps each
top-level ``def`` (signature and docstring) with the body
``raise NotImplementedError("Exercise <id>: ...")``; other solution code and
solution markdown are replaced by a short "Your answer here" cell. Outputs are
cleared, the Colab set-up cell comes first and is visible, and MyST-only
syntax (directives, roles, citations) becomes plain Markdown that Colab and
Jupyter render. Markers may share a markdown cell with other text.

The output is deterministic (cell ids from the index, sorted keys, no
timestamps), and the masters in ``book/`` are only read. Unbalanced or nested
solution markers stop the command with a :class:`MarkupError` naming the
notebook and the cell index.
"""
from __future__ import annotations

import argparse
import ast
import copy
import functools
import importlib.util
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_pkg.homework.registry import chapter_number, exercise_number, exercise_numbers, numbers_module_source

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
STUDENT = ROOT / "student"
NUMBERS_MODULE = ROOT / "course_pkg" / "homework" / "exercise_numbers.py"
COLAB_TAG = "colab-setup"
METADATA_KEY = "course_pkg"
# CPython 3.11's ast.parse is not safe to call from several threads at once ("AST constructor recursion depth
# mismatch"); the grader's --jobs grades submissions in threads, so parsing is serialized.
_AST_LOCK = threading.Lock()
CODE_PLACEHOLDER = "# Your code here\n"
MARKDOWN_PLACEHOLDER = "**Your answer here:** *(replace this line with your prediction and explanation)*"
BOOK_ONLY_TAGS = {"remove-cell", "remove-input", "remove-output", "hide-cell", "hide-input", "hide-output",
                  "full-width", "margin", "output_scroll", "scroll-output", "scroll-input"}
ADMONITIONS = {"admonition", "note", "warning", "tip", "hint", "important", "caution", "danger", "attention",
               "error", "seealso", "dropdown", "margin", "sidebar", "topic", "epigraph", "pull-quote", "card",
               "versionadded", "versionchanged", "deprecated", "todo"}
DROP_DIRECTIVES = {"bibliography", "tableofcontents", "toctree", "glossary", "index", "only", "raw"}
CODE_DIRECTIVES = {"code", "code-block", "sourcecode", "code-cell"}


class MarkupError(ValueError):
    """The solution markup of a master notebook is broken (names the notebook and the cell index)."""


# --------------------------------------------------------------------------- markdown blocks

_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,}|:{3,})\s*(?:\{(?P<name>[\w:.-]+)\})?\s*(?P<arg>.*?)\s*$")


@dataclass
class Block:
    kind: str                     # "text", "code" (a plain fenced code block) or "directive"
    lines: list                   # text/code: the raw lines; directive: the body lines
    name: str = ""
    arg: str = ""
    options: dict = field(default_factory=dict)
    fence: str = ""
    info: str = ""                # info string of a plain code fence


def _parse(source: str) -> ast.AST:
    with _AST_LOCK:
        return ast.parse(source)


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    indent = len(line) - len(line.lstrip(" "))
    return indent <= 3 and len(stripped) >= len(fence) and set(stripped) == {fence[0]}


def split_blocks(text: str, where: str = "") -> list:
    """Split markdown into top-level blocks: plain text, fenced code, and MyST directives (with nested bodies)."""
    lines = text.split("\n")
    blocks, plain, i = [], [], 0
    while i < len(lines):
        m = _OPEN.match(lines[i])
        is_open = m is not None and (m["name"] or m["fence"][0] != ":") and not (m["fence"][0] == "`" and "`" in (m["arg"] or ""))
        if not is_open:
            plain.append(lines[i])
            i += 1
            continue
        if plain:
            blocks.append(Block("text", plain))
            plain = []
        fence = m["fence"]
        j = i + 1
        while j < len(lines) and not _closes(lines[j], fence):
            j += 1
        if j == len(lines) and m["name"] in ("solution-start", "solution-end", "exercise"):
            raise MarkupError(f"{where}: the ```{{{m['name']}}} fence opened here is never closed")
        body = lines[i + 1: j]
        if m["name"]:
            options, body = _split_options(body)
            blocks.append(Block("directive", body, m["name"], m["arg"], options, fence))
        else:
            blocks.append(Block("code", body, fence=fence, info=m["arg"]))
        i = j + 1
    if plain:
        blocks.append(Block("text", plain))
    return blocks


def _split_options(body: list):
    options, k = {}, 0
    if body and body[0].strip() == "---":  # YAML block of options
        end = next((n for n in range(1, len(body)) if body[n].strip() == "---"), None)
        if end is not None:
            for line in body[1:end]:
                if ":" in line:
                    key, value = line.split(":", 1)
                    options[key.strip()] = value.strip()
            return options, body[end + 1:]
    while k < len(body):
        om = re.match(r"^\s*:([\w-]+):\s*(.*)$", body[k])
        if not om:
            break
        options[om[1]] = om[2].strip()
        k += 1
    return options, body[k:]


# --------------------------------------------------------------------------- citations

def read_bib(path: Path) -> dict:
    """key -> (authors as written in the bib, year), from a .bib file (a tolerant mini parser)."""
    entries = {}
    if not path.exists():
        return entries
    text = path.read_text(encoding="utf-8")
    for m in re.finditer(r"@\w+\s*\{\s*([^,\s]+)\s*,", text):
        start, depth, k = m.end(), 1, m.end()
        while k < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[k], 0)
            k += 1
        body = text[start:k - 1]
        fields = {}
        for fm in re.finditer(r"(\w+)\s*=\s*", body):
            pos = fm.end()
            if pos < len(body) and body[pos] == "{":
                d, q = 1, pos + 1
                while q < len(body) and d:
                    d += {"{": 1, "}": -1}.get(body[q], 0)
                    q += 1
                value = body[pos + 1:q - 1]
            elif pos < len(body) and body[pos] == '"':
                q = body.find('"', pos + 1)
                value = body[pos + 1:q]
            else:
                value = re.match(r"[^,\n]*", body[pos:])[0]
            fields.setdefault(fm[1].lower(), value.strip())
        entries[m[1]] = (fields.get("author", ""), fields.get("year", ""))
    return entries


def _surname(author: str) -> str:
    author = author.replace("{", "").replace("}", "").strip()
    return author.split(",")[0].strip() if "," in author else author.split()[-1] if author.split() else author


def author_year(key: str, bib: dict, textual: bool = False) -> str:
    if key not in bib:
        return key
    authors, year = bib[key]
    names = [_surname(a) for a in re.split(r"\s+and\s+", authors) if a.strip()]
    if not names:
        who = key
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who} ({year})" if textual else f"{who}, {year}"


# --------------------------------------------------------------------------- MyST -> Markdown

_ROLE = re.compile(r"\{(?P<role>[\w:.-]+)\}(?P<ticks>`+)(?P<content>.+?)(?P=ticks)")


@functools.lru_cache(maxsize=None)
def glossary_terms(path: Path = BOOK / "glossary.md") -> dict:
    """The terms of the book's glossary (the entries of its ``{glossary}`` directive), lower-cased -> as written.

    Sphinx matches a ``{term}`` role to its entry ignoring case, and names the entry's anchor after the entry."""
    if not path.exists():
        return {}
    terms = {}
    for block in split_blocks(path.read_text(encoding="utf-8"), path.name):
        if block.kind == "directive" and block.name == "glossary":
            for line in block.lines:
                if line.strip() and not line[0].isspace():
                    terms[line.strip().lower()] = line.strip()
    return terms


def term_anchor(term: str) -> str:
    """Sphinx's anchor of a glossary entry (``sphinx.util.nodes.make_id``: ASCII letters, digits and ``-``, case kept).

    Example:
        >>> term_anchor("BCE with logits"), term_anchor("Straight-through estimator (STE)")
        ('term-BCE-with-logits', 'term-Straight-through-estimator-STE')
    """
    import unicodedata

    text = unicodedata.normalize("NFKD", f"term-{term}").encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9_.]+", "-", " ".join(text.split()))
    return re.sub(r"^[-0-9_.]+|-+$", "", text)


@functools.lru_cache(maxsize=None)
def site_url(config: Path = ROOT / "_config.yml") -> str:
    """The published site (GitHub Pages of the repository in ``_config.yml``), ending in ``/``."""
    import yaml  # the book's environment has it; course_pkg's own dependencies (Colab) do not need it

    url = yaml.safe_load(config.read_text(encoding="utf-8"))["repository"]["url"].rstrip("/")
    owner, repo = url.split("/")[-2:]
    return f"https://{owner}.github.io/{repo}/"


def glossary_url(term: str) -> str:
    """The published glossary entry of ``term`` (matched to the glossary's own spelling, ignoring case)."""
    entry = glossary_terms().get(" ".join(term.split()).lower(), " ".join(term.split()))
    return f"{site_url()}book/glossary.html#{term_anchor(entry)}"


def convert_roles(text: str, bib: dict) -> str:
    """Rewrite MyST roles ({cite}`key`, {math}`x`, {ref}`text <label>`, ...) as plain Markdown."""
    def repl(m):
        role, content = m["role"], m["content"]
        if role.startswith("cite"):
            keys = [k.strip() for k in content.split(",") if k.strip()]
            if role in ("cite:t", "cite:ts", "cite:label"):
                return "; ".join(author_year(k, bib, textual=True) for k in keys)
            return "(" + "; ".join(author_year(k, bib) for k in keys) + ")"
        if role == "math":
            return f"${content}$"
        if role in ("sub", "sup"):
            return f"<{role}>{content}</{role}>"
        if role in ("kbd", "code", "command", "file", "samp", "guilabel", "menuselection", "envvar", "py:func",
                    "func", "class", "meth", "mod", "attr", "py:class", "py:meth", "py:mod", "py:attr"):
            return f"`{content}`"
        labelled = re.match(r"^(.*?)\s*<([^<>]+)>$", content, re.S)
        if role == "term":      # a glossary entry: a link to it on the published site
            text, term = (labelled[1], labelled[2]) if labelled and labelled[1] else (content, content)
            return f"[{text}]({glossary_url(term)})"
        if role in ("ref", "numref"):   # to an exercise: its one number, "Exercise 5.2"
            target = labelled[2] if labelled and labelled[1] else content
            number = exercise_number(target.strip())
            if number and labelled and labelled[1]:
                return labelled[1].replace("%s", number).replace("{number}", number)
            if number:
                return f"Exercise {number}"
        if labelled and labelled[1]:
            return labelled[1]
        if role == "eq":
            return f"({content})"
        if role == "abbr":
            return re.sub(r"\s*\(.*\)\s*$", "", content)
        return content

    return _ROLE.sub(repl, text)


_PAGE_LINK = re.compile(r"\]\((?!\w+:)(?:\./)?([\w-]+)\.md(#[^)\s]*)?\)")


def _site_links(line: str) -> str:
    """A link to a page of the book that is not a notebook (``glossary.md``, ``references.md``) points at the
    published site: student notebooks sit next to each other, not next to those pages.

    Example:
        >>> _site_links("see the [glossary](glossary.md) and [chapter 3](03_regression.ipynb)").count("https://")
        1
    """
    return _PAGE_LINK.sub(lambda m: f"]({site_url()}book/{m[1]}.html{m[2] or ''})", line)


def _convert_text_lines(lines: list, bib: dict) -> list:
    out = []
    for line in lines:
        if re.match(r"^\s*\([\w.:-]+\)=\s*$", line) or re.match(r"^%", line) or line.strip() == "+++":
            continue  # MyST targets, comments and block breaks
        line = re.sub(r"^(\s*\$\$)\s*\([\w.:-]+\)\s*$", r"\1", line)  # $$ (label)
        out.append(_site_links(convert_roles(line, bib)))
    return out


def _blockquote(title: str, body_lines: list) -> list:
    lines = [f"> **{title}**" if title else ">"]
    if title and any(line.strip() for line in body_lines):
        lines.append(">")
    lines += [f"> {line}".rstrip() for line in body_lines]
    while lines and lines[-1] == ">":
        lines.pop()
    return lines


class _Converter:
    """Turns markdown blocks into plain Markdown, numbering exercises as it goes."""

    def __init__(self, bib: dict, chapter: int | None = None):
        self.bib = bib
        self.chapter = chapter        # the chapter number (file prefix): exercises are numbered "N.k"
        self.exercise_number = 0

    def blocks(self, blocks: list, where: str) -> list:
        out = []
        for block in blocks:
            out += self.block(block, where)
        return out

    def block(self, b: Block, where: str) -> list:
        if b.kind == "text":
            return _convert_text_lines(b.lines, self.bib)
        if b.kind == "code":
            return [b.fence + b.info] + b.lines + [b.fence]
        name = b.name
        if name in ("solution-start", "solution-end", "solution"):
            raise MarkupError(f"{where}: a {{{name}}} directive nested inside another directive")
        body = self.blocks(split_blocks("\n".join(b.lines), where), where)
        while body and not body[0].strip():
            body.pop(0)
        while body and not body[-1].strip():
            body.pop()
        if name in ("exercise", "exercise-start"):
            self.exercise_number += 1
            number = f"{self.chapter}.{self.exercise_number}" if self.chapter is not None else str(self.exercise_number)
            head = f"**Exercise {number}**"     # as the site shows it (the MyST label is the book's, not the reader's)
            if b.arg:
                head += f" {convert_roles(b.arg, self.bib)}"
            return [head, ""] + body
        if name == "exercise-end":
            return []
        if name in ADMONITIONS:
            title = convert_roles(b.arg, self.bib) if (name == "admonition" or b.arg) else name.replace("-", " ").capitalize()
            if name not in ("admonition", "dropdown", "card", "topic", "sidebar", "margin") and b.arg:
                title = f"{name.capitalize()}: {title}"
            return _blockquote(title, body)
        if name == "math":
            return ["$$"] + b.lines + ["$$"]
        if name in ("figure", "image"):
            alt = b.options.get("alt", "figure")
            path = b.arg if re.match(r"^[a-z]+://", b.arg) or b.arg.startswith("/") else f"../book/{b.arg}"
            return [f"![{alt}]({path})"] + ([""] + [f"*{line}*" if line.strip() else "" for line in body] if body else [])
        if name in CODE_DIRECTIVES:
            return ["```" + b.arg.split()[0] if b.arg else "```"] + b.lines + ["```"]
        if name in DROP_DIRECTIVES:
            return []
        return body  # any other directive: keep its content


# --------------------------------------------------------------------------- notebook structure

@dataclass
class CheckCall:
    exercise_id: str
    answer: str                   # source of the answer expression, e.g. "to_range"
    cell: int


@dataclass
class Solution:
    label: str
    start_cell: int
    end_cell: int = -1
    exercise_id: str = ""         # from the first check call after the solution (before the next exercise)
    has_markdown: bool = False
    has_code: bool = False        # non-def code
    has_defs: bool = False


def find_checks(source: str, cell: int = -1) -> list:
    """The ``check("id", answer)`` / ``check_quietly(...)`` calls in a code cell's source."""
    try:
        tree = _parse(_strip_magics(source))
    except SyntaxError:
        return []
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or len(node.args) < 2:
            continue
        fn = node.func.id if isinstance(node.func, ast.Name) else node.func.attr if isinstance(node.func, ast.Attribute) else ""
        first = node.args[0]
        if fn in ("check", "check_quietly") and isinstance(first, ast.Constant) and isinstance(first.value, str):
            calls.append(CheckCall(first.value, ast.unparse(node.args[1]), cell))
    return sorted(calls, key=lambda c: c.cell)


def _strip_magics(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))


@dataclass
class Parsed:
    """A master notebook: its solutions and the check calls outside them."""

    solutions: list
    checks: list                  # CheckCall, outside solutions, in order
    segments: list                # per cell: list of ("keep", block) / ("start", label) / ("end",) / ("drop", block)


def parse_master(nb, name: str = "notebook") -> Parsed:
    """Find the solution regions and check calls of a master notebook; raise :class:`MarkupError` on bad markup."""
    solutions, checks, segments, open_sol = [], [], [], None
    labels = set()
    for i, cell in enumerate(nb.cells):
        where = f"{name}, cell {i}"
        segs = []
        if cell.cell_type == "markdown":
            for block in split_blocks(cell.source, where):
                if block.kind == "directive" and block.name == "solution-start":
                    if open_sol is not None:
                        raise MarkupError(f"{where}: solution-start {block.arg!r} inside the solution of "
                                          f"{open_sol.label!r} (opened in cell {open_sol.start_cell}); "
                                          "a solution-end is missing")
                    label = block.arg.strip()
                    if not label:
                        raise MarkupError(f"{where}: solution-start without an exercise label")
                    if label not in labels:
                        raise MarkupError(f"{where}: solution-start {label!r} does not follow an exercise with that label")
                    open_sol = Solution(label, i)
                    segs.append(("start", label))
                elif block.kind == "directive" and block.name == "solution-end":
                    if open_sol is None:
                        raise MarkupError(f"{where}: solution-end without a solution-start before it (if the solution-start "
                                          "is there, an earlier fence closed too soon: a directive containing a ``` code "
                                          "block needs a longer fence, ```` or :::)")
                    open_sol.end_cell = i
                    solutions.append(open_sol)
                    open_sol = None
                    segs.append(("end",))
                elif open_sol is not None:
                    if block.kind == "directive" and block.name in ("exercise", "exercise-start"):
                        raise MarkupError(f"{where}: an exercise directive inside the solution of {open_sol.label!r}"
                                          f" (opened in cell {open_sol.start_cell}); a solution-end is missing")
                    if "\n".join(block.lines).strip() or block.kind != "text":
                        open_sol.has_markdown = True
                    segs.append(("drop", block))
                else:
                    _scan_nested(block, where)
                    if block.kind == "directive" and block.name in ("exercise", "exercise-start"):
                        labels.add(block.options.get("label", ""))
                    if block.kind == "directive" and block.name == "solution":
                        segs.append(("solution", block))
                    else:
                        segs.append(("keep", block))
        elif cell.cell_type == "code":
            if open_sol is not None:
                defs, other = _classify_code(cell.source)
                open_sol.has_defs |= bool(defs)
                open_sol.has_code |= other
                segs.append(("solcode", cell))
            else:
                checks += find_checks(cell.source, i)
                segs.append(("code", cell))
        else:
            segs.append(("drop" if open_sol is not None else "raw", cell))
        segments.append(segs)
    if open_sol is not None:
        raise MarkupError(f"{name}, cell {open_sol.start_cell}: solution-start {open_sol.label!r} is never closed "
                          "by a solution-end")
    for sol in solutions:
        nxt = [c for c in checks if c.cell > sol.end_cell]
        later = [s.start_cell for s in solutions if s.start_cell > sol.end_cell]
        if nxt and (not later or nxt[0].cell < later[0]):
            sol.exercise_id = nxt[0].exercise_id
    return Parsed(solutions, checks, segments)


def _scan_nested(block: Block, where: str):
    if block.kind != "directive":
        return
    for inner in split_blocks("\n".join(block.lines), where):
        if inner.kind == "directive":
            if inner.name in ("solution-start", "solution-end"):
                raise MarkupError(f"{where}: {inner.name} nested inside a {{{block.name}}} directive; "
                                  "solution markers must be top-level")
            _scan_nested(inner, where)


def _classify_code(source: str):
    """(top-level def/class nodes, whether there is other code) of a solution cell."""
    try:
        tree = _parse(_strip_magics(source))
    except SyntaxError:
        return [], bool(source.strip())
    defs, other = [], False
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defs.append(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom, ast.Pass)):
            continue
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        else:
            other = True
    return defs, other


def _docstring_nodes(node):
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return [body[0]]
    return []


def _stub_node(node, exercise: str):
    node = copy.deepcopy(node)
    if isinstance(node, ast.ClassDef):
        methods = [_stub_node(n, exercise) for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        node.body = _docstring_nodes(node) + methods or [ast.Pass()]
        return node
    message = f"Exercise {exercise}: replace this line with your implementation of {node.name}"
    raise_stmt = ast.Raise(exc=ast.Call(func=ast.Name("NotImplementedError", ast.Load()),
                                        args=[ast.Constant(message)], keywords=[]), cause=None)
    node.body = _docstring_nodes(node) + [raise_stmt]
    return node


def stub_source(source: str, exercise: str) -> str:
    """The stub of a solution code cell: its imports and each top-level def/class with the body replaced."""
    tree = _parse(_strip_magics(source))
    parts = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            parts.append(ast.unparse(node))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            parts.append(ast.fix_missing_locations(_stub_node(node, exercise)))
    text, previous_was_def = [], False
    for part in parts:
        is_def = not isinstance(part, str)
        if text and (is_def or previous_was_def):
            text.append("\n\n")
        elif text:
            text.append("\n")
        text.append(ast.unparse(part) if is_def else part)
        previous_was_def = is_def
    return "".join(text)


# --------------------------------------------------------------------------- the student notebook

def _colab_source(nb) -> str:
    first = nb.cells[0] if nb.cells else None
    if first is not None and first.cell_type == "code" and COLAB_TAG in first.get("metadata", {}).get("tags", []):
        return first.source
    spec = importlib.util.spec_from_file_location("_refresh_notebooks", ROOT / "tools" / "refresh_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.colab_cell_source()


def _clean_tags(cell) -> dict:
    tags = [t for t in cell.get("metadata", {}).get("tags", []) if t not in BOOK_ONLY_TAGS]
    return {"tags": tags} if tags else {}


def make_student_notebook(nb, name: str = "notebook", bib: dict | None = None, source: str = ""):
    """Return the student version of master notebook ``nb`` (a new object; ``nb`` is not modified)."""
    bib = read_bib(BOOK / "references.bib") if bib is None else bib
    parsed = parse_master(nb, name)
    by_start = {(s.start_cell, s.label): s for s in parsed.solutions}
    try:
        chapter = chapter_number(name)
    except ValueError:            # a notebook that is no chapter (tests): exercises numbered 1, 2, ...
        chapter = None
    conv = _Converter(bib, chapter)
    cells = [nbformat.v4.new_code_cell(_colab_source(nb), metadata={"tags": [COLAB_TAG]})]
    md_buffer: list = []
    current = None

    def flush():
        text = "\n".join(md_buffer).strip("\n")
        md_buffer.clear()
        if text.strip():
            cells.append(nbformat.v4.new_markdown_cell(text))

    def close_solution(sol):
        flush()
        if sol.has_defs:
            return
        if sol.has_code:
            cells.append(nbformat.v4.new_code_cell(CODE_PLACEHOLDER))
        if sol.has_markdown or not sol.has_code:
            cells.append(nbformat.v4.new_markdown_cell(MARKDOWN_PLACEHOLDER))

    start = 1 if nb.cells and COLAB_TAG in nb.cells[0].get("metadata", {}).get("tags", []) else 0
    for i, segs in enumerate(parsed.segments):
        if i < start:
            continue
        where = f"{name}, cell {i}"
        for seg in segs:
            kind = seg[0]
            if kind == "keep":
                md_buffer += conv.block(seg[1], where)
            elif kind == "solution":  # a plain {solution} directive: its whole content is the answer
                flush()
                cells.append(nbformat.v4.new_markdown_cell(MARKDOWN_PLACEHOLDER))
            elif kind == "start":
                flush()
                current = by_start[(i, seg[1])]
            elif kind == "end":
                close_solution(current)
                current = None
            elif kind == "code":
                flush()
                cell = seg[1]
                cells.append(nbformat.v4.new_code_cell(cell.source, metadata=_clean_tags(cell)))
            elif kind == "solcode":
                flush()
                defs, _ = _classify_code(seg[1].source)
                if defs:
                    cells.append(nbformat.v4.new_code_cell(stub_source(seg[1].source, current.exercise_id or current.label)))
            elif kind == "raw":
                flush()
                cells.append(nbformat.v4.new_raw_cell(seg[1].source))
        flush()
    for index, cell in enumerate(cells):
        cell["id"] = f"cell-{index:03d}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    out = nbformat.v4.new_notebook(cells=cells)
    out.nbformat, out.nbformat_minor = 4, 5
    out.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        METADATA_KEY: {"chapter": Path(name).stem, "generated_from": source or name,
                       "exercises": [c.exercise_id for c in parsed.checks]},
    }
    return out


def notebook_text(nb) -> str:
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def render(master: Path, bib: dict | None = None) -> str:
    """The student notebook of ``master`` as the exact text written to ``student/``."""
    nb = nbformat.read(master, as_version=4)
    rel = master.resolve().relative_to(ROOT).as_posix() if master.resolve().is_relative_to(ROOT) else master.name
    return notebook_text(make_student_notebook(nb, rel, bib, rel))


STUDENT_README = """# Student notebooks

Generated from `book/*.ipynb` by `make students` (`python -m course_pkg.homework.student`): do not edit by hand,
and do not work in this folder (`make students` rewrites it). Each notebook is the chapter with the exercise
solutions replaced by stubs; `check(...)` cells report PASSED / FAILED / NOT ATTEMPTED / ERROR.

- On Google Colab: https://colab.research.google.com/github/{slug}/blob/{branch}/student/NN_name.ipynb
  (e.g. https://colab.research.google.com/github/{slug}/blob/{branch}/student/03_regression.ipynb)
- On your computer: `make lab` in a clone of {url} copies these notebooks into `work/` (never overwriting
  yours) and opens JupyterLab there.
"""


def student_readme(config: Path | None = None) -> str:
    """The folder README, with the repository of ``_config.yml`` (``make retarget`` keeps it current)."""
    import yaml  # the book's environment has it; course_pkg's own dependencies (Colab) do not need it

    repo = yaml.safe_load((config or ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]
    url, branch = repo["url"].rstrip("/"), repo.get("branch", "main")
    slug = "/".join(url.split("/")[-2:])
    return STUDENT_README.format(url=url, slug=slug, branch=branch)


def generate(book: Path = BOOK, out: Path = STUDENT) -> dict:
    """Path -> text of every student notebook (and the folder README), without writing anything."""
    bib = read_bib(book / "references.bib")
    files = {out / master.name: render(master, bib) for master in sorted(book.glob("*.ipynb"))}
    files[out / "README.md"] = student_readme()
    # The numbering "Exercise N.k" for course_pkg installed without book/ (Colab): exercise_label reads it there.
    files[NUMBERS_MODULE] = numbers_module_source(exercise_numbers(book, refresh=True))
    return files


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--book", type=Path, default=BOOK)
    ap.add_argument("--out", type=Path, default=STUDENT)
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of date")
    args = ap.parse_args(argv)
    try:
        files = generate(args.book, args.out)
    except MarkupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    stale = [p for p in sorted(args.out.glob("*.ipynb")) if p not in files]
    changed = [p for p, text in files.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    if args.check:
        for p in changed + stale:
            print(f"out of date: {p}")
        return 1 if changed or stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for p in changed:
        p.write_text(files[p], encoding="utf-8")
        print(f"wrote {p}")
    for p in stale:  # a master that no longer exists
        p.unlink()
        print(f"removed {p}")
    print(f"{len(files) - 2} student notebooks in {args.out} ({len(changed)} changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
