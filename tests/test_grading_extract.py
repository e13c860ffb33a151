"""What the grader runs of a notebook (only each answer's definitions) and what it reads in that code; no sandbox."""
import pytest

from course_pkg.homework import extract, probe

ANSWER = "def to_range(o, low, high):\n    return helper(o) * (high - low) + low"


def kept(cells, answer="to_range"):
    return [cell for cell, _ in extract.answer_program(cells, answer).statements]


def test_only_the_answer_its_helpers_and_their_imports_are_kept():
    cells = ["import torch\nimport matplotlib.pyplot as plt", "x = torch.randn(3)\nplt.plot(x)",
             "def helper(o):\n    return torch.sigmoid(o)", ANSWER, "check('regression.scale_to_range', to_range)",
             "while True:\n    pass"]
    program = extract.answer_program(cells, "to_range")
    assert [cell for cell, _ in program.statements] == [0, 2, 3]
    assert "matplotlib" not in "".join(source for _, source in program.statements)


def test_every_binding_of_a_used_name_is_kept_in_notebook_order():
    cells = ["def helper(o):\n    raise NotImplementedError", ANSWER, "def helper(o):\n    return o"]
    assert kept(cells) == [0, 1, 2]


@pytest.mark.parametrize("wrapper", ["if True:\n", "for _ in range(1):\n", "with open('x') as f:\n",
                                     "try:\n"])
def test_a_definition_nested_in_a_compound_statement_is_kept_whole(wrapper):
    body = "    def to_range(o, low, high):\n        return o\n" + ("except Exception:\n    pass\n" if "try" in wrapper else "")
    cells = ["import os", wrapper + "    os.system('x')\n" + body]
    program = extract.answer_program(cells, "to_range")
    assert [cell for cell, _ in program.statements] == [0, 1]
    assert "os.system" in program.statements[-1][1]


def test_a_global_bound_from_inside_a_function_is_found():
    cells = ["f = None", "def setup():\n    global f\n    f = g", "g = 3", "setup()",
             "def to_range(o, low, high):\n    return f"]
    assert kept(cells) == [0, 1, 2, 4]   # the call setup() binds nothing: it does not run


def test_locals_and_parameters_do_not_pull_in_globals():
    cells = ["model = train()", "def to_range(o, low, high):\n    model = o\n    return model"]
    assert kept(cells) == [1]


def test_an_undefined_answer_gives_an_empty_program():
    assert extract.answer_program(["x = 1"], "to_range").statements == []


def findings(*cells, forbidden=("course_pkg.transforms",), answer="to_range"):
    return extract.findings(extract.answer_program(list(cells), answer), forbidden)


@pytest.mark.parametrize("cells, hit", [
    (["from course_pkg.transforms import scale_to_range",
      "if True:\n    def to_range(o, low, high):\n        return scale_to_range(o, low, high)"],
     "course_pkg.transforms.scale_to_range"),
    (["from course_pkg.transforms import scale_to_range", "f = (lambda: scale_to_range)()",
      "def to_range(o, low, high):\n    return f(o, low, high)"], "course_pkg.transforms.scale_to_range"),
    (["from course_pkg.transforms import scale_to_range", "f = [scale_to_range][0]",
      "def to_range(o, low, high):\n    return f(o, low, high)"], "course_pkg.transforms.scale_to_range"),
    (["import course_pkg.transforms as T", "def to_range(o, low, high):\n    return getattr(T, 'scale_to_range')(o, low, high)"],
     "course_pkg.transforms.scale_to_range"),
])
def test_forbidden_names_are_found_in_the_code_that_runs(cells, hit):
    assert hit in findings(*cells)[0]


@pytest.mark.parametrize("code, what", [
    ("import sys\ndef to_range(o, low, high):\n    return sys.modules['x']", "sys (the sys module)"),
    ("import torch.nn.functional as F\ndef to_range(o, low, high):\n    return F.__dict__['normalize'](o)",
     "__dict__ (attribute access by name)"),
    ("import torch\ndef to_range(o, low, high):\n    return getattr(torch, 'sig' + 'moid')(o)",
     "getattr() with a computed name"),
    ("import _pickle\nf = _pickle.loads(b'')\ndef to_range(o, low, high):\n    return f(o)", "_pickle (pickle)"),
    ("import torch\ndef to_range(o, low, high):\n    return torch.ops.aten.sigmoid(o)", "torch.ops (torch.ops)"),
    ("import torch\ndef to_range(o, low, high):\n    return torch._log_softmax(o, 0, False)",
     "._log_softmax (a private attribute)"),
    ("def to_range(o, low, high):\n    return eval('o')", "eval()"),
    ("g = 1\ndef to_range(o, low, high):\n    global g\n    g = o\n    return o", "global g"),
    ("import torch\ndef to_range(o, low, high):\n    torch.__dict__.update(equal=None)\n    return o",
     "__dict__ (attribute access by name)"),
    ("import torch\ndef to_range(o, low, high):\n    return torch.sys.modules", ".sys (a module reached as an attribute)"),
    ("import torch\ng = getattr\ndef to_range(o, low, high):\n    return g(torch, 'x')", "getattr (a builtin used as a value)"),
])
def test_introspection_in_the_code_that_runs_is_listed(code, what):
    odd = findings(code)[1]
    assert any(what in line for line in odd), odd


def test_honest_code_lists_nothing():
    code = ("import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
            "class Head(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.lin = nn.Linear(2, 2)\n    def forward(self, x):\n        return F.relu(self.lin(x))\n"
            "def to_range(o, low, high):\n    e = torch.exp(-o.abs())\n    return low + (high - low) * torch.where("
            "o >= 0, 1 / (1 + e), e / (1 + e)) + 0 * Head()(o.new_zeros(1, 2)).sum()")
    assert findings(code, forbidden=("course_pkg", "torch.nn.functional.softplus")) == ([], [])


def watched(fn, *args):
    probe.arm()
    record = probe.probe_exercise(fn, {"answer": "f", "time_limit": 5, "calls": [
        {"args": [probe.encode(a) for a in args], "kwargs": {}, "backward": []}]}, watch=True)
    return record["used"]


def test_the_dispatcher_sees_a_forbidden_operator_however_it_was_reached():
    import torch
    import torch.nn.functional as F
    x = torch.randn(3, 4)
    forbidden = ("torch.nn.functional.log_softmax", ".log_softmax")
    for fn in (lambda o: F.log_softmax(o, 1), lambda o: torch._log_softmax(o, 1, False),
               lambda o: torch.ops.aten._log_softmax(o, 1, False), lambda o: F.__dict__["log_softmax"](o, 1),
               lambda o: o.log_softmax(1)):
        assert "torch.nn.functional.log_softmax (as aten::_log_softmax)" in extract.runtime_uses(
            watched(fn, x), forbidden)
    honest = watched(lambda o: o - torch.log(torch.exp(o).sum(1, keepdim=True)), x)
    assert extract.runtime_uses(honest, forbidden) == []


def test_python_functions_reached_by_name_are_caught():
    import sys

    import torch
    import course_pkg.transforms  # noqa: F401
    x = torch.randn(5)
    used = watched(lambda o: getattr(sys.modules["course_" + "pkg.transforms"], "scale_to_range")(o, 0.0, 1.0), x)
    assert extract.runtime_uses(used, ("course_pkg.transforms",)) == ["course_pkg.transforms"]
    assert extract.runtime_uses(used, ("course_pkg.losses",)) == []


def test_the_in_place_detector_survives_patched_torch():
    import torch
    probe.arm()
    real = torch.equal
    torch.__dict__.update(equal=lambda a, b: True)
    try:
        def halve(t):
            t.mul_(0.5)
            return t
        record = probe.probe_exercise(halve, {"answer": "f", "time_limit": 5, "calls": [
            {"args": [probe.encode(torch.ones(3))], "kwargs": {}, "backward": []}]})
    finally:
        torch.equal = real
    assert record["calls"][0]["modified"] == [0]


# --------------------------------------------------------------------------- only the binding Python would use counts

SHORTCUT = "from course_pkg.transforms import scale_to_range\nimport torch"
OWN = "def to_range(o, low, high):\n    return low + (high - low) * torch.sigmoid(o)"


@pytest.mark.parametrize("between", [[], ["check('regression.scale_to_range', to_range)"], ["x = torch.randn(3)"]])
def test_a_binding_replaced_before_the_program_reads_it_counts_for_nothing(between):
    cells = [SHORTCUT, "to_range = scale_to_range", *between, OWN]
    assert kept(cells) == [0, len(cells) - 1]
    assert findings(*cells) == ([], [])


@pytest.mark.parametrize("cells", [
    [SHORTCUT, "to_range = scale_to_range", "old = to_range", "def to_range(o, low, high):\n    return old(o, low, high)"],
    [SHORTCUT, "to_range = scale_to_range", "to_range = (lambda f: f)(to_range)"],
    [SHORTCUT, "def get():\n    return to_range", "to_range = scale_to_range", "old = get()",
     "def to_range(o, low, high):\n    return old(o, low, high)"],
    [SHORTCUT, "to_range = scale_to_range", "old = globals()['to_range']",
     "def to_range(o, low, high):\n    return old(o, low, high)"],
    [SHORTCUT, "to_range = scale_to_range", "if False:\n    def to_range(o, low, high):\n        return o"],
    [SHORTCUT, "to_range = scale_to_range", "def to_range(o, low, high):\n    return to_range(o, low, high)"],
])
def test_an_earlier_binding_the_program_can_still_reach_is_kept(cells):
    assert "course_pkg.transforms.scale_to_range" in findings(*cells)[0]
