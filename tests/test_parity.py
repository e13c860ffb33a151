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
        return replay.check_answer(ex, _define(source, ex.answer), spec, call=call_with_time_limit)
    finally:
        torch.set_default_dtype(saved[0])
        torch.set_grad_enabled(saved[1])


def grader_verdict(ex, source: str, spec: dict):
    """``(status, message)`` of the grader for a notebook whose one code cell is ``source`` (sandbox off)."""
    program = extract.answer_program([(0, source)], ex.answer)
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
        for seed, spec in plans.items():
            status, message = grader_verdict(ex, source, spec)
            if status != notebook.status.value:
                problems.append(f"{name}, grading seed {seed}: the notebook says {notebook} but the grader "
                                f"[{status}] {message}")
                break
            if words and status == "FAILED" and words not in message:
                problems.append(f"{name}, grading seed {seed}: the grader's feedback does not say {words!r}: {message}")
                break
    assert not problems, "\n".join(problems)
