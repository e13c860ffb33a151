"""Checks of chapter 0's exercises (PyTorch essentials) beyond the parity corpus.

The correct formulations and the typical mistakes of every exercise, with the words that must name each mistake,
are in ``tests/parity_corpus/ch00.py``: ``tests/test_parity.py`` runs them through the notebook's ``check`` and
through the grader on 20 seeds. Here: unanswered, junk and raising answers, and messages that reveal nothing.
"""
import pytest
import torch

from course_pkg.homework import Status, check_quietly

EXERCISES = ["essentials.evaluate", "essentials.fit", "essentials.mse", "essentials.pick"]


def _fit_optim(w0, x, y, lr, steps):
    w = w0.clone().requires_grad_(True)
    opt = torch.optim.SGD([w], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        ((x @ w - y) ** 2).mean().backward()
        opt.step()
    return w.detach()


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_unanswered_junk_and_raising_answers(exercise_id):
    assert check_quietly(exercise_id, None).status is Status.NOT_ATTEMPTED
    assert check_quietly(exercise_id, "not a function").status is Status.FAILED

    def stub(*args):
        raise NotImplementedError

    assert check_quietly(exercise_id, stub).status is Status.NOT_ATTEMPTED
    raising = check_quietly(exercise_id, lambda *args: 1 / 0)
    assert raising.status is Status.ERROR and "ZeroDivisionError" in raising.message


def test_a_correct_fit_passes_and_a_nudged_one_shows_only_its_own_value():
    assert check_quietly("essentials.fit", _fit_optim).status is Status.PASSED
    # The fit check's message on a run it cannot name gives no weights (only the student's own value).
    off = check_quietly("essentials.fit", lambda w0, x, y, lr, steps: _fit_optim(w0, x, y, lr, steps) + 1e-3)
    assert off.status is Status.FAILED and "where yours is" in off.message
