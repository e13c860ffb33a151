"""Reading a submission's code (never running it): forbidden shortcuts per exercise, and tampering.

:func:`forbidden_uses` follows an answer from its last top-level definition
through every notebook-level function, class or name it refers to, resolves
imported names (``F.softplus`` -> ``torch.nn.functional.softplus``,
``from course_pkg.inference import predict_multiclass`` -> the reference
itself), and reports each use of a name the exercise forbids.

:func:`tampering` lists code, in any cell (the Colab set-up cell included,
unless it is exactly the book's), that patches modules or the interpreter,
inspects the checker's frames, or reaches outside the notebook: none of it is
needed by an honest answer, and the sandbox and the trusted judge make it
harmless, but a person should look at such a submission.

Example:
    >>> cells = ["import torch.nn.functional as F", "def my_softplus(o):\\n    return F.softplus(o)"]
    >>> forbidden_uses(cells, "my_softplus", ("torch.nn.functional.softplus",))
    ['torch.nn.functional.softplus']
    >>> tampering(["import torch\\ntorch.isclose = lambda *a, **k: True"])
    ['cell 0: assigns torch.isclose']
"""
from __future__ import annotations

import ast
import re

from course_pkg.homework.student import _parse

MAGIC = re.compile(r"^\s*[%!].*$", re.M)


def parse(source: str):
    """The AST of a cell (IPython magics and shell lines blanked), or None if it is not Python."""
    try:
        return _parse(MAGIC.sub("", source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _dotted(node, aliases: dict):
    """``a.b.c`` with ``a`` resolved through the imports, or None for anything that is not a dotted name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    base = aliases.get(node.id, node.id)
    return ".".join([base, *reversed(parts)])


def _aliases(trees) -> dict:
    aliases = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    for tree in trees:  # top-level `sp = F.softplus` style aliases
        for node in getattr(tree, "body", []):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                resolved = _dotted(node.value, aliases)
                if resolved and "." in resolved:
                    aliases[node.targets[0].id] = resolved
    return aliases


def _definitions(trees) -> dict:
    """Top-level name -> the last node that binds it (def, class, assignment value, import)."""
    defs = {}
    for tree in trees:
        for node in getattr(tree, "body", []):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defs[node.name] = node
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    for name in ast.walk(t):
                        if isinstance(name, ast.Name):
                            defs[name.id] = node.value
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for a in node.names:
                    defs[a.asname or a.name.split(".")[0]] = node
    return defs


def _matches(dotted: str, forbidden) -> list:
    hits = []
    for f in forbidden:
        if f.startswith("."):
            if dotted.rsplit(".", 1)[-1] == f[1:]:
                hits.append(dotted)
        elif dotted == f or dotted.startswith(f + "."):
            hits.append(dotted)
    return hits


def _local_names(node) -> set:
    """Names a function or lambda binds itself (parameters, assignments, loop variables): they shadow globals."""
    names = set()
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        a = node.args
        names |= {x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg] if x is not None}
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            names.add(sub.id)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and sub is not node:
            a = sub.args
            names |= {x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg] if x is not None}
    return names


def _followed(node) -> bool:
    """Whether a global the answer refers to is code worth following (a def, a lambda, an alias, a call's callee)."""
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.Attribute,
                             ast.Name, ast.Import, ast.ImportFrom))


def forbidden_uses(sources, answer: str, forbidden) -> list:
    """The forbidden names the answer ``answer`` uses, directly or through what it calls (sorted, unique)."""
    if not forbidden:
        return []
    trees = [t for t in (parse(s) for s in sources) if t is not None]
    aliases, defs = _aliases(trees), _definitions(trees)
    hits, seen, todo = set(), set(), [(answer, True)]
    while todo:
        name, is_answer = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        node = defs.get(name)
        if node is None or isinstance(node, (ast.Import, ast.ImportFrom)):
            if name in aliases:
                hits.update(_matches(aliases[name], forbidden))
            continue
        if not is_answer and not _followed(node):
            continue
        local = _local_names(node)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute):
                dotted = _dotted(sub, aliases)
                if dotted and dotted.split(".")[0] not in local:
                    hits.update(_matches(dotted, forbidden))
                elif any(f.startswith(".") and f[1:] == sub.attr for f in forbidden):
                    hits.add("." + sub.attr)
            elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and sub.id not in local:
                if sub.id in aliases and sub.id not in defs:
                    hits.update(_matches(aliases[sub.id], forbidden))
                elif sub.id in defs:
                    todo.append((sub.id, False))
    return sorted(hits)


# --------------------------------------------------------------------------- tampering

_MODULES = ("torch", "json", "builtins", "sys", "os", "course_pkg", "numpy", "math", "inspect", "io", "gc",
            "importlib", "signal", "time", "pathlib", "subprocess", "IPython", "nbformat", "jupyter_client")
_SUSPECT_NAMES = {
    "sys.meta_path": "a sys.meta_path import hook", "sys.path_hooks": "a sys.path_hooks import hook",
    "sys.settrace": "sys.settrace", "sys.setprofile": "sys.setprofile", "sys._getframe": "frame inspection",
    "inspect.currentframe": "frame inspection", "inspect.stack": "frame inspection",
    "inspect.getouterframes": "frame inspection", "gc.get_referrers": "gc.get_referrers", "gc.get_objects":
    "gc.get_objects", "ctypes": "ctypes", "signal": "signal handling", "os.fork": "os.fork", "os.kill": "os.kill",
    "os.system": "os.system", "os.popen": "os.popen", "os.exec": "os.exec*", "os.spawn": "os.spawn*",
    "subprocess": "subprocess", "multiprocessing": "multiprocessing", "threading": "threads", "socket": "sockets",
    "importlib": "importlib", "builtins": "the builtins module", "course_pkg.homework": "the checker's modules",
    "pickle": "pickle", "marshal": "marshal", "shutil.rmtree": "shutil.rmtree", "os.remove": "removing files",
    "os.unlink": "removing files", "os.replace": "replacing files", "os.rename": "renaming files",
    "torch._C": "torch internals", "atexit": "atexit hooks", "resource": "resource limits",
}
_SUSPECT_ATTRS = {"f_back": "frame inspection", "f_locals": "frame inspection", "f_globals": "frame inspection",
                  "gi_frame": "frame inspection", "tb_frame": "frame inspection", "__torch_function__":
                  "a __torch_function__ override", "__torch_dispatch__": "a __torch_dispatch__ override",
                  "__builtins__": "__builtins__", "__subclasses__": "__subclasses__", "__globals__": "__globals__",
                  "__code__": "code objects", "__file__": "a module's file path", "events": None}
_SUSPECT_CALLS = {"exec": "exec()", "eval": "eval()", "compile": "compile()", "__import__": "__import__()",
                  "setattr": "setattr()", "delattr": "delattr()", "globals": "globals()", "vars": "vars()",
                  "get_ipython": "get_ipython()", "breakpoint": "breakpoint()"}
_ALLOWED_HOMEWORK = {"course_pkg.homework.check", "course_pkg.homework.check_quietly"}


def _cell_findings(tree, aliases: dict) -> list:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for t in targets:
                for sub in ast.walk(t):
                    if isinstance(sub, (ast.Attribute, ast.Subscript)):
                        base = sub.value if isinstance(sub, ast.Subscript) else sub
                        dotted = _dotted(base, aliases)
                        if dotted and dotted.split(".")[0] in _MODULES:
                            verb = "deletes" if isinstance(node, ast.Delete) else "assigns"
                            found.append(f"{verb} {dotted}" + ("[...]" if isinstance(sub, ast.Subscript) else ""))
                    elif isinstance(sub, ast.Name) and sub.id in ("check", "check_quietly") and isinstance(
                            sub.ctx, (ast.Store, ast.Del)):
                        found.append(f"rebinds {sub.id}")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name in ("check", "check_quietly"):
                found.append(f"redefines {node.name}")
            if isinstance(node, ast.ClassDef):
                for b in node.bases:
                    dotted = _dotted(b, aliases)
                    if dotted in ("torch.Tensor", "torch.nn.Parameter", "torch._C.TensorBase"):
                        found.append(f"subclasses {dotted}")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [f"{node.module}.{a.name}" for a in node.names] if node.module else [])
            for name in names:
                for prefix, what in _SUSPECT_NAMES.items():
                    if (name == prefix or name.startswith(prefix + ".")) and name not in _ALLOWED_HOMEWORK:
                        found.append(f"imports {name} ({what})")
        elif isinstance(node, ast.Attribute):
            dotted = _dotted(node, aliases)
            what = _SUSPECT_ATTRS.get(node.attr, "")
            if node.attr == "events" and dotted and "get_ipython" in dotted:
                found.append("uses IPython events")
            elif what:
                found.append(f"uses {what}")
            elif dotted:
                for prefix, what in _SUSPECT_NAMES.items():
                    if (dotted == prefix or dotted.startswith(prefix + ".")) and dotted not in _ALLOWED_HOMEWORK:
                        found.append(f"uses {dotted} ({what})")
                        break
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in _SUSPECT_CALLS:
                found.append(f"calls {_SUSPECT_CALLS[func.id]}")
            if isinstance(func, ast.Name) and func.id == "open" and _writes(node):
                found.append("opens a file for writing")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                node.value.startswith("/proc") or "grades" in node.value and ".csv" in node.value):
            found.append(f"refers to {node.value[:40]!r}")
    return found


def _writes(call: ast.Call) -> bool:
    mode = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "mode"), None)
    return isinstance(mode, ast.Constant) and isinstance(mode.value, str) and any(c in mode.value for c in "wax+")


def tampering(sources, *, trusted=(), indices=None) -> list:
    """One line per suspicious construct, ``cell N: what`` (cells whose source is in ``trusted`` are skipped).

    ``indices`` are the cells' numbers in the notebook (default: their positions in ``sources``).
    """
    sources = list(sources)
    indices = list(range(len(sources))) if indices is None else list(indices)
    trees = [parse(s) for s in sources]
    aliases = _aliases([t for t in trees if t is not None])
    lines = []
    for index, source, tree in zip(indices, sources, trees):
        if source in trusted:
            continue
        if tree is None:
            if re.search(r"torch\.\w+\s*=|sys\.meta_path|__import__|exec\s*\(", source):
                lines.append(f"cell {index}: unparseable code that looks like patching")
            continue
        seen = []
        for finding in _cell_findings(tree, aliases):
            if finding not in seen:
                seen.append(finding)
        lines += [f"cell {index}: {f}" for f in seen]
    return lines
