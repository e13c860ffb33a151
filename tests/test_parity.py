"""Parity: a notebook's ``check`` and the grader give the same verdict on the same answer, on every seed.

Each answer variant of ``tests/parity_corpus/<chapter>.py`` (correct formulations students write, the typical
mistakes, forbidden shortcuts) is judged on ``SEEDS`` grading seeds in two ways:

* the notebook's path: the code run in a fresh ``__main__`` namespace, as cells are, then
  :func:`course_pkg.homework.replay.check_answer` on seed 0's plan: exactly what ``check`` prints in a notebook
  (a notebook never draws other inputs, so the verdict a student sees is this one);
* the grader's path, as :func:`course_pkg.homework.grading.grade_notebook` takes one answer with the sandbox off:
  the answer's statements extracted from the cell (:func:`~course_pkg.homework.extract.answer_program`), run in a
  fresh namespace as the runner's child does, probed with the grader's alarm and recorder
  (``probe_exercise(watch=True)``), the record completed and judged by ``grading._judge`` (static findings included).

The grader's verdict on every seed must equal the notebook's. A test fails when the two differ (on seed 0's
inputs or any other), when a verdict changes with the seed, when it is not the variant's
expected verdict, or when the feedback does not contain the words that name the mistake. All seeds of one
exercise run in one test (one process), so pytest-xdist spreads exercises, not seeds.
"""
import builtins
import importlib.util
from pathlib import Path

import pytest
import torch

from course_pkg.homework import extract, grading, probe, replay
from course_pkg.homework.checking import call_with_time_limit
from course_pkg.homework.registry import load_all

CORPUS = Path(__file__).parent / "parity_corpus"
SEEDS = range(20)             # 20 grading seeds; seed 0 is also the notebook's (fixed) inputs
REGISTRY = load_all()


def _load(path):
    spec = importlib.util.spec_from_file_location(f"parity_corpus_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.VARIANTS


VARIANTS = {ex: variants for path in sorted(CORPUS.glob("ch*.py")) for ex, variants in _load(path).items()}


def _define(source: str, answer: str):
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    exec(compile(source, "<cell>", "exec"), namespace)
    return eval(answer, namespace)


def notebook_verdict(ex, source: str, spec: dict):
    """What ``check`` prints in a notebook where ``source`` ran, for the plan ``spec``."""
    saved = torch.get_default_dtype(), torch.is_grad_enabled()
    try:
        return replay.check_answer(ex, _define(source, ex.answer), spec, call=call_with_time_limit, sources=[source])
    finally:
        torch.set_default_dtype(saved[0])
        torch.set_grad_enabled(saved[1])


def grader_verdict(ex, source: str, spec: dict, program=None):
    """``(status, message)`` of the grader for a notebook whose one code cell is ``source`` (sandbox off).

    ``program`` is the answer's extracted code when it is already known (it does not depend on the seed).
    """
    program = program or extract.answer_program([(0, source)], ex.answer)
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    saved = torch.get_default_dtype(), torch.is_grad_enabled()
    try:
        for _, statement in program.statements:
            exec(compile(statement, "<cell 0>", "exec"), namespace)
        answer = eval(ex.answer, namespace)
        sent = {k: v for k, v in spec.items() if k != "seed"}      # the child never sees the seed
        record = replay.roundtrip(probe.probe_exercise(answer, sent, call=probe.alarm_call, watch=True))
    finally:
        torch.set_default_dtype(saved[0])
        torch.set_grad_enabled(saved[1])
    row = grading.Row("parity")
    grading._judge(row, ex, spec, grading._completed(record, spec, {"status": "returned"}),
                   extract.findings(program, ex.forbidden))
    return row.results[ex.id]


def test_the_corpus_covers_every_exercise_with_three_correct_variants_and_mistakes():
    checked = {ex_id for ex_id, ex in REGISTRY.items() if ex.reference is not None}
    assert set(VARIANTS) == checked
    for ex_id, variants in VARIANTS.items():
        assert len({name for name, *_ in variants}) == len(variants), ex_id
        assert sum(verdict == "PASSED" for _, verdict, _, _ in variants) >= 3, ex_id
        assert any(verdict == "FAILED" for _, verdict, _, _ in variants), ex_id


@pytest.mark.parametrize("exercise_id", sorted(VARIANTS))
def test_notebook_and_grader_agree_on_every_seed(exercise_id):
    ex = REGISTRY[exercise_id]
    problems = []
    plans = {seed: replay.plan_exercise(ex, seed=seed) for seed in SEEDS}
    for name, expected, words, source in VARIANTS[exercise_id]:
        notebook = notebook_verdict(ex, source, plans[0])
        if notebook.status.value != expected:
            problems.append(f"{name}: expected {expected}, the notebook says {notebook}")
        elif words and words not in notebook.message:
            problems.append(f"{name}: the notebook's feedback does not say {words!r}: {notebook}")
        program = extract.answer_program([(0, source)], ex.answer)
        for seed, spec in plans.items():
            status, message = grader_verdict(ex, source, spec, program)
            if status != notebook.status.value:
                problems.append(f"{name}, grading seed {seed}: the notebook says {notebook} but the grader "
                                f"[{status}] {message}")
                break
            if words and status == "FAILED" and words not in message:
                problems.append(f"{name}, grading seed {seed}: the grader's feedback does not say {words!r}: {message}")
                break
    assert not problems, "\n".join(problems)


# The feedback cases issue 17 lists, each with the corpus variant that shows it: tests/parity_corpus/README.md
# holds the table of the messages they give (``python tests/test_parity.py`` rewrites it).
FEEDBACK_CASES = [
    ("forbidden torch.logsumexp (ch. 6)", "multiclass.log_softmax", "torch.logsumexp (forbidden)"),
    ("forbidden F.cross_entropy (ch. 6)", "multiclass.cross_entropy", "F.cross_entropy (forbidden)"),
    ("forbidden F.cross_entropy (ch. 11)", "probabilities.logit_adjust", "F.cross_entropy (forbidden)"),
    ("`to_range = scale_to_range` (ch. 3)", "regression.scale_to_range", "the reference itself"),
    ("the imported reference (ch. 5)", "binary.predict_labels", "the reference (forbidden)"),
    ("the imported reference (ch. 9)", "distributions.pinball_loss", "the reference (forbidden)"),
    ("the imported reference (ch. 10)", "structured.sparsemax", "the reference (forbidden)"),
    ("the imported reference (ch. 11)", "probabilities.ece", "the reference (forbidden)"),
    ("`(F.softplus(z) - y*z).mean()` (ch. 5)", "binary.bce_with_logits", "softplus(z) - y*z"),
    ("`(F.softplus(z) - y*z).mean()` as fixed_loss (ch. 5)", "binary.fixed_loss", "softplus(z) - y*z"),
    ("`prob_above` through tanh (ch. 2)", "trainability.prob_above", "tanh identity"),
    ("`prob_above` as `1 - sigmoid((at - o)/T)` (ch. 2)", "trainability.prob_above", "1 - sigmoid((at - o) / T)"),
    ("float32 quantile levels (ch. 9)", "distributions.pinball_loss", "float32 levels (torch.tensor(quantiles))"),
    ("`hard + soft - soft.detach()` (ch. 11)", "probabilities.straight_through", "hard + soft - soft.detach(): rounds"),
    ("`sum` instead of `mean` (ch. 3)", "regression.fixed_mse", "sum instead of mean"),
    ("`sum` instead of `mean` (ch. 6)", "multiclass.cross_entropy", "sum instead of mean"),
    ("`o.sigmoid_()` (ch. 3)", "regression.scale_to_range", "in place: o.sigmoid_()"),
    ("`o -= ...` (ch. 3)", "regression.scale_to_range", "in place: o -= ..."),
    ("`o -= max` (ch. 6)", "multiclass.log_softmax", "in place: o -= max"),
    ("missing `keepdim` (ch. 6)", "multiclass.log_softmax", "missing keepdim"),
    ("missing `keepdim` (ch. 10)", "structured.sparsemax", "support size without keepdim"),
    ("1-D only: `lp[target]` (ch. 6)", "multiclass.cross_entropy", "1-D only: lp[target]"),
    ("1-D only: `cs[..., size - 1]` (ch. 10)", "structured.sparsemax", "1-D only: cs[size - 1]"),
    ("`lp[:, target]` instead of `gather` (ch. 6)", "multiclass.cross_entropy", "lp[:, target] instead of gather"),
    ("`lp[:, target]` instead of `gather` (ch. 11)", "probabilities.logit_adjust", "lp[:, target] instead of gather"),
    ("k counted from 0 (ch. 10)", "structured.sparsemax", "k counted from 0"),
    ("`torch.maximum(var, torch.tensor(1e-6))` (ch. 9)", "distributions.gaussian_nll",
     "a float32 floor: torch.maximum(var, torch.tensor(1e-6))"),
    ("slope 0 at o = 0 (ch. 3)", "regression.scale_to_range", "-|o| branch with slope 0 at 0"),
    ("target not lined up with the rows (ch. 9)", "distributions.pinball_loss", "target not lined up with the rows"),
    ("`to_range = scale_to_range`, then an own `def` (ch. 3)", "regression.scale_to_range",
     "the reference first, then an own def"),
    ("an own `def` around a saved alias of the reference (ch. 3)", "regression.scale_to_range",
     "an own def around a saved alias of the reference"),
    ("`.sum()` instead of the mean (ch. 0, Exercise 0.4)", "essentials.evaluate", "sum over the batch"),
    ("`scores.gather(1, targets)` without `unsqueeze(1)` (ch. 0)", "essentials.pick", "gather without unsqueeze"),
    ("PyTorch's stable formula with clamp and abs (ch. 5)", "binary.bce_with_logits",
     "PyTorch's stable formula with clamp and abs"),
    ("`x / (x.norm(dim=-1, keepdim=True) + eps)` (ch. 8)", "distance.l2_normalize", "x.norm(...) + eps"),
]


def feedback_table() -> str:
    lines = ["| case | exercise | what `check` prints in the notebook (the grader gives the same verdict) |",
             "|---|---|---|"]
    for case, exercise_id, name in FEEDBACK_CASES:
        ex = REGISTRY[exercise_id]
        source = next(s for n, _, _, s in VARIANTS[exercise_id] if n == name)
        result = notebook_verdict(ex, source, replay.plan_exercise(ex, seed=0))
        text = str(result).replace("|", "\\|")
        lines.append(f"| {case} | `{exercise_id}` | {text} |")
    return "\n".join(lines) + "\n"


README_HEAD = """# Parity corpus

One module per chapter (`ch00.py` ... `ch11.py`), each with `VARIANTS`: for every auto-checked exercise, answer
variants as a student writes them (at least three correct formulations, the forbidden shortcuts, the typical
mistakes), each with the verdict that a notebook's `check` and the grader must both give on every seed, and words
its feedback must contain. `tests/test_parity.py` runs them (the notebook's check on seed 0's inputs, the grader's
extraction, probe and judge on 20 seeds).

## The feedback cases of issue 17 and the messages they give now

Generated by `python tests/test_parity.py` (and checked by `test_the_feedback_table_is_current`).

"""


def test_the_feedback_table_is_current():
    text = (CORPUS / "README.md").read_text(encoding="utf-8")
    assert text == README_HEAD + feedback_table(), "run `python tests/test_parity.py` to rewrite the README"


if __name__ == "__main__":
    (CORPUS / "README.md").write_text(README_HEAD + feedback_table(), encoding="utf-8")


def test_check_in_a_kernel_reads_the_cells_it_ran(monkeypatch):
    """In IPython, ``check`` reads the answer's code from the kernel's history ``In``, as the grader reads the cells."""
    import sys

    from course_pkg.homework import check_quietly

    cell = next(s for n, _, _, s in VARIANTS["probabilities.logit_adjust"] if n.startswith("F.one_hot"))
    answer = _define(cell, "my_logit_adjusted_loss")
    assert check_quietly("probabilities.logit_adjust", answer).status.value == "PASSED"   # no history: run time only
    monkeypatch.setattr(sys.modules["__main__"], "In", ["", cell, "check(...)"], raising=False)
    result = check_quietly("probabilities.logit_adjust", answer)
    assert result.status.value == "FLAGGED" and "torch.nn.functional.one_hot" in result.message, result
    # The same cell edited into a correct answer and run again: the old text, still in the history, no longer counts.
    fixed = next(s for n, _, _, s in VARIANTS["probabilities.logit_adjust"] if n == "logsumexp and gather")
    monkeypatch.setattr(sys.modules["__main__"], "In", ["", cell, fixed, "check(...)"], raising=False)
    assert check_quietly("probabilities.logit_adjust", _define(fixed, "my_logit_adjusted_loss")).passed
