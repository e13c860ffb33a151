"""What the grader runs of a submission: each answer's own definitions and what they use, and nothing else.

:func:`answer_program` reads the notebook's code cells (never runs them) and keeps, in notebook
order, the statements that bind the answer's name, then every statement that binds a name those
statements use, and so on: the ``def`` of the answer, its helpers, the imports they need. As in
Python, a binding that a later statement replaces before anything can read it counts for nothing
(:func:`dead_bindings`): an early ``to_range = scale_to_range`` followed by an own ``def to_range``
is judged by the ``def`` alone, while ``old = to_range`` in between keeps the early binding (and
whatever it uses) in the program. A ``def`` nested in ``if True:`` or ``for _ in range(1):`` is kept whole, with everything in
it. Cells that only compute, plot, train or call ``check(...)`` do not run at all, so a cell that
forges results, patches the checker or detects the grader has nothing to act on.

The grader then reads exactly that code (:func:`findings`): the forbidden names it refers to,
and any introspection an honest answer never needs (``sys.modules``, ``__dict__``, ``getattr``
with a computed name, ``torch.ops``, ``torch._C`` and other private attributes, frames,
``pickle``, ``exec``, ``global`` stores...), which a person should read before the exercise counts.

Example:
    >>> cells = ["import torch", "x = torch.randn(3)", "def helper(o):\\n    return torch.sigmoid(o)",
    ...          "def to_range(o, low, high):\\n    return low + (high - low) * helper(o)", "to_range(x, 0, 1)"]
    >>> [cell for cell, _ in answer_program(cells, "to_range").statements]
    [0, 2, 3]
"""
from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field

from course_pkg.homework import scan

BUILTIN_NAMES = set(dir(builtins))


@dataclass
class Program:
    """The statements that define one answer: ``[(cell index, source)]`` in notebook order, and their AST."""
    answer: str
    statements: list = field(default_factory=list)
    tree: ast.Module = field(default_factory=lambda: ast.Module(body=[], type_ignores=[]))


# --------------------------------------------------------------------------- names bound and used

def _function_locals(fn) -> set:
    """Names local to a function or lambda: its parameters and what its own body stores (``global``/``nonlocal`` excluded)."""
    a = fn.args
    names = {x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg] if x is not None}
    declared = set()
    body = fn.body if isinstance(fn.body, list) else [fn.body]
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            declared.update(node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            stack.extend(node.decorator_list)
            continue
        elif isinstance(node, ast.Lambda):
            continue
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name.split(".")[0]) for a in node.names if a.name != "*")
        stack.extend(ast.iter_child_nodes(node))
    return names - declared


def binds(stmt) -> set:
    """Module-level names a top-level statement may bind (``"*"`` for a star import).

    Includes names bound inside compound statements (``if``, ``for``, ``with``, ``try``) and names a
    function declares ``global`` (they are bound when it runs).
    """
    names = set()
    stack = [(stmt, True)]
    while stack:
        node, module_scope = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if module_scope:
                names.add(node.name)
            for sub in ast.walk(node):
                if isinstance(sub, ast.Global):
                    names.update(sub.names)
            continue
        if isinstance(node, ast.Lambda):
            continue
        if module_scope:
            if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                names.add(node.id)
            elif isinstance(node, ast.Import):
                names.update((a.asname or a.name.split(".")[0]) for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                names.update((a.asname or a.name) for a in node.names)
        stack.extend((child, module_scope) for child in ast.iter_child_nodes(node))
    return names


def uses(stmt) -> set:
    """Global names a statement reads, anywhere in it (function bodies included, their own locals excluded)."""
    found = set()

    def visit(node, local: frozenset):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for sub in [*getattr(node, "decorator_list", []), *node.args.defaults,
                        *[d for d in node.args.kw_defaults if d is not None]]:
                visit(sub, local)
            if getattr(node, "returns", None) is not None:
                visit(node.returns, local)
            inner = local | _function_locals(node)
            for sub in (node.body if isinstance(node.body, list) else [node.body]):
                visit(sub, inner)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in local:
            found.add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child, local)

    visit(stmt, frozenset())
    return found


def _statements(sources) -> list:
    """Every top-level statement of every parseable cell: ``[(cell index, node)]``."""
    out = []
    for index, source in sources:
        tree = scan.parse(source)
        if tree is not None:
            out += [(index, node) for node in tree.body]
    return out


def _surely_binds(stmt) -> set:
    """Names a top-level statement always binds when it runs: a ``def``, a ``class``, a plain assignment, an import."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    targets = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        targets = [stmt.target]
    names = set()
    while targets:
        target = targets.pop()
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Starred):
            targets.append(target.value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            targets.extend(target.elts)
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        names = binds(stmt) - {"*"}
    return names


def dead_bindings(nodes, aliases=None, readers=None, cache=None) -> set:
    """Indices of the top-level statements whose bindings nothing can ever read.

    A statement is dead when every name it binds is surely bound again by a later statement, and no
    statement from the one after it up to that rebinding (included: ``to_range = wrap(to_range)``)
    that runs (one of ``readers``, the indices of the statements that run; default: all) reads the name
    (itself or through the functions it may call), anywhere in it (function bodies too), or reaches names dynamically (``globals()``,
    ``sys.modules``, ``global``: anything :func:`findings` lists). A statement that binds nothing, a
    star import, or a binding made inside ``if``/``for``/``try`` is never dead. ``cache`` (a dict) keeps
    what was read of ``nodes`` between calls on the same statements.

    Example:
        >>> import ast
        >>> nodes = ast.parse("f = g\\ndef f():\\n    pass\\nh = f").body
        >>> dead_bindings(nodes)
        {0}
        >>> dead_bindings(ast.parse("f = g\\nold = f\\ndef f():\\n    return old()").body)
        set()
    """
    cache = {} if cache is None else cache
    if "sure" not in cache:
        bound = [binds(node) for node in nodes]
        binders: dict = {}
        for i, names in enumerate(bound):
            for name in names:
                binders.setdefault(name, []).append(i)
        cache.update(sure=[_surely_binds(node) for node in nodes], bound=bound, binders=binders, direct={},
                     reached={}, dynamic={})
        if aliases is None:
            aliases = scan._aliases([ast.Module(body=list(nodes), type_ignores=[])])
        cache["aliases"] = aliases
    aliases, sure, bound, binders = cache["aliases"], cache["sure"], cache["bound"], cache["binders"]
    direct, reached, dynamic = cache["direct"], cache["reached"], cache["dynamic"]

    def direct_uses(k):
        if k not in direct:
            direct[k] = uses(nodes[k])
        return direct[k]

    def reads_name(k, name):
        """Whether statement ``k`` may read ``name``: itself, or through what it calls (``old = get()``)."""
        if k not in reached:
            seen, todo = set(direct_uses(k)), list(direct_uses(k))
            while todo:
                for b in binders.get(todo.pop(), []):
                    for used in direct_uses(b) - seen:
                        seen.add(used)
                        todo.append(used)
            reached[k] = seen
        if name in reached[k]:
            return True
        if k not in dynamic:
            one = Program("", [], ast.Module(body=[nodes[k]], type_ignores=[]))
            dynamic[k] = bool(findings(one, (), aliases=aliases)[1])
        return dynamic[k]

    dead = set()
    for i in range(len(nodes)):
        names = bound[i]
        if not names or "*" in names:
            continue
        for name in names:
            j = next((j for j in range(i + 1, len(nodes)) if name in sure[j]), None)
            if j is None or any(reads_name(k, name) for k in range(i + 1, j + 1)
                                if readers is None or k in readers):
                break
        else:
            dead.add(i)
    return dead


def _closure(statements, bound, dead, root) -> set:
    """Indices of the statements that bind ``root`` and, transitively, the names they use (``dead`` ones left out)."""
    binders: dict = {}
    for i, names in enumerate(bound):
        if i in dead:   # replaced before anything of the program could read it: Python never uses it
            continue
        for name in names:
            binders.setdefault(name, []).append(i)
    stars = binders.get("*", [])
    needed, included, todo = {root}, set(), [root]
    while todo:
        name = todo.pop()
        found = binders.get(name, [])
        if not found and name not in BUILTIN_NAMES:
            found = stars
        for i in found:
            if i in included:
                continue
            included.add(i)
            for used in sorted(uses(statements[i][1])):
                if used not in needed:
                    needed.add(used)
                    todo.append(used)
    return included


def answer_program(sources, answer: str) -> Program:
    """The statements that define ``answer`` and everything it uses, in notebook order.

    ``sources`` are the code cells' texts, or ``(cell index, text)`` pairs. An answer that no
    statement binds gives an empty program (the answer is then "not defined").
    """
    pairs = [s if isinstance(s, tuple) else (i, s) for i, s in enumerate(sources)]
    statements = _statements(pairs)
    bound = [binds(node) for _, node in statements]
    nodes = [node for _, node in statements]
    cache: dict = {}
    root = answer.split(".")[0].split("[")[0].split("(")[0].strip()
    # Only statements of the program run, so only they can read an earlier binding: start from every
    # statement and drop, until nothing changes, the bindings that no statement of the program can read.
    included = None
    while True:
        dead = dead_bindings(nodes, readers=included, cache=cache)
        program = _closure(statements, bound, dead, root)
        if program == included:
            break
        included = program
    kept = [statements[i] for i in sorted(included)]
    program = Program(answer, [(index, ast.unparse(node)) for index, node in kept],
                      ast.Module(body=[node for _, node in kept], type_ignores=[]))
    return program


# --------------------------------------------------------------------------- what the kept code refers to

_INTROSPECTIVE_MODULES = {
    "sys": "the sys module", "os": "the os module", "importlib": "importlib", "pickle": "pickle", "_pickle": "pickle",
    "cPickle": "pickle", "marshal": "marshal", "shelve": "pickle", "dill": "pickle", "cloudpickle": "pickle",
    "copyreg": "copyreg", "ctypes": "ctypes", "gc": "gc", "inspect": "frame inspection", "types": "the types module",
    "operator": "operator (attribute getters)", "builtins": "the builtins module", "__main__": "__main__",
    "threading": "threads", "_thread": "threads", "multiprocessing": "multiprocessing", "subprocess": "subprocess",
    "signal": "signal handling", "socket": "sockets", "io": "io", "shutil": "shutil", "pathlib": "pathlib",
    "code": "the code module", "codeop": "the code module", "runpy": "runpy", "zipimport": "zipimport",
    "base64": "base64", "zlib": "zlib", "codecs": "codecs", "atexit": "atexit", "resource": "resource limits",
    "faulthandler": "faulthandler", "traceback": "tracebacks", "weakref": "weakref", "json": "json",
    "course_pkg.homework": "the checker's modules", "torch.ops": "torch.ops", "torch._C": "torch internals",
    "torch.library": "torch.library", "torch.utils._python_dispatch": "a dispatch mode",
    "torch.overrides": "torch.overrides", "torch._ops": "torch internals",
}
_INTROSPECTIVE_CALLS = {"exec", "eval", "compile", "__import__", "getattr", "setattr", "delattr", "hasattr",
                        "globals", "locals", "vars", "open", "breakpoint", "input", "memoryview", "super",
                        "get_ipython", "type", "object"}
_DUNDERS_OK = {"__init__", "__call__", "__name__", "__doc__", "__len__", "__repr__", "__str__"}
# modules an answer could reach as an attribute of another (``torch.sys``, ``np.os``): named wherever they appear
_MODULE_ATTRS = {"sys", "os", "gc", "inspect", "importlib", "builtins", "ctypes", "pickle", "marshal", "subprocess",
                 "threading", "signal", "types", "operator", "socket", "shutil", "io", "runpy", "weakref"}


def _module_hit(dotted: str):
    for prefix, what in _INTROSPECTIVE_MODULES.items():
        if dotted == prefix or dotted.startswith(prefix + "."):
            return prefix, what
    return None


def findings(program: Program, forbidden=(), aliases=None) -> tuple:
    """``(forbidden names used, introspection lines)`` in the program's code, each sorted and unique.

    ``aliases`` (import and ``x = a.b`` aliases, default: those of the program itself) resolve its names.
    """
    tree = program.tree
    aliases = scan._aliases([tree]) if aliases is None else aliases
    hits, odd = set(), set()

    def check_dotted(dotted):
        if dotted:
            hits.update(scan._matches(dotted, forbidden))
            hit = _module_hit(dotted)
            if hit:
                odd.add(f"{hit[0]} ({hit[1]})")

    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                check_dotted(a.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                odd.add("a relative import")
            for a in node.names:
                check_dotted(f"{node.module}.{a.name}" if node.module else a.name)
                if node.module:
                    check_dotted(node.module)
        elif isinstance(node, ast.Attribute):
            dotted = scan._dotted(node, aliases)
            check_dotted(dotted)
            if node.attr.startswith("__") and node.attr.endswith("__"):
                if node.attr not in _DUNDERS_OK:
                    odd.add(f"{node.attr} (attribute access by name)")
            elif node.attr.startswith("_"):
                odd.add(f".{node.attr} (a private attribute)")
            elif any(f.startswith(".") and f[1:] == node.attr for f in forbidden):
                hits.add("." + node.attr)
            if node.attr in _MODULE_ATTRS and not (dotted and dotted.split(".")[0] == node.attr):
                odd.add(f".{node.attr} (a module reached as an attribute)")
        elif isinstance(node, ast.Name):
            if (node.id in _INTROSPECTIVE_CALLS and node.id not in ("super", "type", "object")
                    and isinstance(node.ctx, ast.Load) and id(node) not in called and node.id not in aliases):
                odd.add(f"{node.id} (a builtin used as a value)")
            if node.id in aliases and isinstance(node.ctx, ast.Load):
                check_dotted(aliases[node.id])
            if node.id.startswith("__") and node.id not in ("__name__", "__doc__"):
                odd.add(f"{node.id}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _INTROSPECTIVE_CALLS:
            name = node.func.id
            if name in ("getattr", "hasattr", "setattr", "delattr") and len(node.args) >= 2:
                target, attr = node.args[0], node.args[1]
                if isinstance(attr, ast.Constant) and isinstance(attr.value, str):
                    base = scan._dotted(target, aliases)
                    if base:
                        check_dotted(f"{base}.{attr.value}")
                    odd.add(f"{name}() by name")
                else:
                    odd.add(f"{name}() with a computed name")
            elif name in ("super", "type", "object"):
                if name == "type" and len(node.args) == 3:
                    odd.add("type() building a class")
            else:
                odd.add(f"{name}()")
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            odd.add(f"{'global' if isinstance(node, ast.Global) else 'nonlocal'} {', '.join(node.names)} "
                    "(a function that rebinds names outside it)")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("/proc"):
            odd.add(f"refers to {node.value[:40]!r}")
    return sorted(hits), sorted(odd)


# --------------------------------------------------------------------------- what the calls reached (recorded by the probe)

# PyTorch operators (as the dispatcher names them) and the public functions they are the work of: a forbidden
# function is caught at the dispatcher however it was reached (``F.log_softmax``, ``torch._log_softmax``,
# ``torch.ops.aten._log_softmax``, ``F.__dict__["log_softmax"]``...).
ATEN_TWINS = {
    "_log_softmax": ("torch.log_softmax", "torch.nn.functional.log_softmax", "torch.special.log_softmax",
                     ".log_softmax", "torch.nn.LogSoftmax"),
    "log_softmax": ("torch.log_softmax", "torch.nn.functional.log_softmax", "torch.special.log_softmax",
                    ".log_softmax", "torch.nn.LogSoftmax"),
    "logsumexp": ("torch.logsumexp", "torch.special.logsumexp", ".logsumexp"),
    "softplus": ("torch.nn.functional.softplus", "torch.nn.Softplus"),
    "binary_cross_entropy_with_logits": ("torch.nn.functional.binary_cross_entropy_with_logits",
                                         "torch.binary_cross_entropy_with_logits", "torch.nn.BCEWithLogitsLoss"),
    "cross_entropy_loss": ("torch.nn.functional.cross_entropy", "torch.nn.CrossEntropyLoss"),
    "triplet_margin_loss": ("torch.nn.functional.triplet_margin_loss", "torch.nn.TripletMarginLoss",
                            "torch.triplet_margin_loss"),
    "pairwise_distance": ("torch.nn.functional.pairwise_distance", "torch.nn.PairwiseDistance",
                          "torch.pairwise_distance"),
}


def _canonical(name: str) -> set:
    """The names under which ``name`` (a forbidden dotted name) shows up in a call record."""
    import importlib
    names = {name}
    parts = name.split(".")
    obj = None
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except Exception:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            obj = None
        break
    if obj is not None:
        module, qualname = getattr(obj, "__name__", None), getattr(obj, "__qualname__", None)
        if isinstance(obj, type(importlib)):
            names.add(obj.__name__)
        elif isinstance(getattr(obj, "__module__", None), str) and isinstance(qualname, str):
            names.add(f"{obj.__module__}.{qualname}")
        elif isinstance(module, str):
            names.add(module)
    return names


def runtime_uses(used, forbidden) -> list:
    """The forbidden names the probe saw the answer's calls reach (``record["used"]``), sorted and unique."""
    if not isinstance(used, dict) or not forbidden:
        return []
    python = [str(x) for x in used.get("python", []) if isinstance(x, str)][:10000]
    aten = [str(x) for x in used.get("aten", []) if isinstance(x, str)][:10000]
    hits = set()
    for f in forbidden:
        if f.startswith("."):
            if any(p.rsplit(".", 1)[-1] == f[1:] for p in python):
                hits.add(f)
            continue
        for name in _canonical(f):
            if any(p == name or p.startswith(name + ".") for p in python if not p.startswith("__main__.")):
                hits.add(f)
    for op in aten:
        base = op.split("::", 1)[-1].split(".")[0]
        for f in ATEN_TWINS.get(base, ()):
            if f in forbidden:
                hits.add(f"{f} (as aten::{base})")
    return sorted(hits)
