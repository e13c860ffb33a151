"""Checks of chapter 0's exercises (PyTorch essentials).

For every exercise: at least three correct formulations pass and the typical mistakes fail with a message that
names them, in the notebook's ``check`` (seed 0) and through the grader's plan, probe and judge on 20 fresh seeds;
a verdict that depends on the seed fails the test.
"""
import pytest
import torch
import torch.nn.functional as F

from course_pkg.homework import Status, check_quietly, load_all, probe, replay
from course_pkg.homework.checking import call_with_time_limit

SEEDS = range(1, 21)


def _verdict(exercise_id, answer, seed, _plans={}):
    """The grader's verdict for a fresh seed (check_quietly always uses the notebook's seed 0)."""
    ex = load_all()[exercise_id]
    if (exercise_id, seed) not in _plans:
        _plans[exercise_id, seed] = replay.plan_exercise(ex, seed=seed)
    spec = _plans[exercise_id, seed]
    return replay.judge(ex, spec, replay.roundtrip(probe.probe_exercise(answer, spec, call=call_with_time_limit)))[0]


# --------------------------------------------------------------------------- the answers

def _mse_loop(pred, target):
    total = torch.zeros((), dtype=pred.dtype)
    for p, t in zip(pred.reshape(-1), target.reshape(-1)):
        total = total + (p - t) ** 2
    return total / pred.numel()


MSE_RIGHT = {
    "mean of squares": lambda p, t: ((p - t) ** 2).mean(),
    "pow and torch.mean": lambda p, t: torch.mean((p - t).pow(2)),
    "sum over numel": lambda p, t: ((p - t) * (p - t)).sum() / p.numel(),
    "a Python loop": _mse_loop,
}
MSE_WRONG = {
    "sum, not mean": (lambda p, t: ((p - t) ** 2).sum(), "sum of the squared errors"),
    "root of the mean": (lambda p, t: ((p - t) ** 2).mean().sqrt(), "RMSE"),
    "absolute errors": (lambda p, t: (p - t).abs().mean(), "mean absolute error"),
    "not squared": (lambda p, t: (p - t).mean(), "not squared"),
    "halved": (lambda p, t: ((p - t) ** 2).mean() / 2, "half the mean squared error"),
    "a Python float": (lambda p, t: ((p - t) ** 2).mean().item(), "do not call .item()"),
    "mean over one dimension": (lambda p, t: ((p - t) ** 2).mean(0), "wrong shape"),
}


def _pick_loop(scores, targets):
    return torch.stack([scores[n, targets[n]] for n in range(len(targets))])


PICK_RIGHT = {
    "gather": lambda s, t: s.gather(1, t.unsqueeze(1)).squeeze(1),
    "arange indexing": lambda s, t: s[torch.arange(len(t)), t],
    "take_along_dim": lambda s, t: torch.take_along_dim(s, t[:, None], dim=1)[:, 0],
    "one-hot mask": lambda s, t: (s * F.one_hot(t, s.shape[1]).to(s.dtype)).sum(1),
    "a Python loop": _pick_loop,
}
PICK_WRONG = {
    "scores[:, targets]": (lambda s, t: s[:, t], "scores[:, targets]"),
    "gather without squeeze": (lambda s, t: s.gather(1, t.unsqueeze(1)), "squeeze(1)"),
    "gather along dim 0": (lambda s, t: s.gather(0, t.unsqueeze(0)), "gather along dim 1"),
    "gather without unsqueeze": (lambda s, t: s.gather(1, t).squeeze(1), "targets.unsqueeze(1)"),
    "detached": (lambda s, t: s.detach()[torch.arange(len(t)), t], "detached"),
}


def _fit_optim(w0, x, y, lr, steps):
    w = w0.clone().requires_grad_(True)
    opt = torch.optim.SGD([w], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        opt.step()
    return w.detach()


def _fit_by_hand(w0, x, y, lr, steps):
    w = w0.clone().requires_grad_(True)
    for _ in range(steps):
        loss = F.mse_loss(x @ w, y)
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
        w.grad.zero_()
    return w


def _fit_functional(w0, x, y, lr, steps):
    w = w0
    for _ in range(steps):
        w = w.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(((x @ w - y) ** 2).mean(), w)
        w = w - lr * grad
    return w.detach()


def _fit_module(w0, x, y, lr, steps):
    model = torch.nn.Linear(x.shape[1], 1, bias=False).to(x.dtype)
    with torch.no_grad():
        model.weight.copy_(w0.unsqueeze(0))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(x).squeeze(1) - y) ** 2).mean()
        loss.backward()
        opt.step()
    return model.weight.detach().squeeze(0).clone()


def _fit_no_zero_grad(w0, x, y, lr, steps):
    w = w0.clone().requires_grad_(True)
    opt = torch.optim.SGD([w], lr=lr)
    for _ in range(steps):
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        opt.step()
    return w.detach()


def _fit_summed(w0, x, y, lr, steps):
    w = w0.clone().requires_grad_(True)
    opt = torch.optim.SGD([w], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        ((x @ w - y) ** 2).sum().backward()
        opt.step()
    return w.detach()


def _fit_uphill(w0, x, y, lr, steps):
    w = w0.clone().requires_grad_(True)
    for _ in range(steps):
        (grad,) = torch.autograd.grad(((x @ w - y) ** 2).mean(), w)
        w = (w + lr * grad).detach().requires_grad_(True)
    return w.detach()


def _fit_no_step(w0, x, y, lr, steps):
    w = w0.clone().requires_grad_(True)
    opt = torch.optim.SGD([w], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        ((x @ w - y) ** 2).mean().backward()
    return w.detach()


def _fit_in_place(w0, x, y, lr, steps):
    w = w0.detach().requires_grad_(True)        # detach shares w0's memory: the steps change the caller's w0
    opt = torch.optim.SGD([w], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        ((x @ w - y) ** 2).mean().backward()
        opt.step()
    return w.detach().clone()


def _fit_one_more(w0, x, y, lr, steps):
    return _fit_optim(w0, x, y, lr, steps + 1)


FIT_RIGHT = {"torch.optim.SGD": _fit_optim, "by hand with w.grad.zero_()": _fit_by_hand,
             "torch.autograd.grad": _fit_functional, "an nn.Linear": _fit_module}
FIT_WRONG = {
    "no zero_grad": (_fit_no_zero_grad, "zero_grad"),
    "a summed loss": (_fit_summed, "mean reduction"),
    "up the gradient": (_fit_uphill, "up the gradient"),
    "no step": (_fit_no_step, "did not change"),
    "w0 changed in place": (_fit_in_place, "in place"),
    "one step too many": (_fit_one_more, "steps, not"),
}


@torch.no_grad()
def _evaluate_no_grad(w, x, y):
    return ((x @ w - y) ** 2).mean()


def _evaluate_inference_mode(w, x, y):
    with torch.inference_mode():
        return F.mse_loss(x @ w, y)


EVALUATE_RIGHT = {"decorator": _evaluate_no_grad, "detach": lambda w, x, y: ((x @ w - y) ** 2).mean().detach(),
                  "inference_mode": _evaluate_inference_mode,
                  "detached weights": lambda w, x, y: ((x @ w.detach() - y) ** 2).mean()}
EVALUATE_WRONG = {
    "graph kept": (lambda w, x, y: ((x @ w - y) ** 2).mean(), "torch.no_grad()"),
    "a Python float": (lambda w, x, y: ((x @ w - y) ** 2).mean().item(), "do not call .item()"),
    "a sum": (lambda w, x, y: ((x @ w - y) ** 2).sum().detach(), "sum of the squared errors over the batch"),
}

EXERCISES = {
    "essentials.mse": (MSE_RIGHT, MSE_WRONG),
    "essentials.pick": (PICK_RIGHT, PICK_WRONG),
    "essentials.fit": (FIT_RIGHT, FIT_WRONG),
    "essentials.evaluate": (EVALUATE_RIGHT, EVALUATE_WRONG),
}
CASES = [(eid, kind, name) for eid, (right, wrong) in EXERCISES.items()
         for kind, answers in (("right", right), ("wrong", wrong)) for name in answers]


@pytest.mark.parametrize("exercise_id,kind,name", CASES, ids=[f"{e}-{n}" for e, _, n in CASES])
def test_verdict_in_the_notebook_and_at_every_grading_seed(exercise_id, kind, name):
    right, wrong = EXERCISES[exercise_id]
    answer, words = (right[name], None) if kind == "right" else wrong[name]
    in_notebook = check_quietly(exercise_id, answer)
    if kind == "right":
        assert in_notebook.status is Status.PASSED, in_notebook
    else:
        assert in_notebook.status is Status.FAILED and words in in_notebook.message, in_notebook
    for seed in SEEDS:
        graded = _verdict(exercise_id, answer, seed)
        assert graded.status is in_notebook.status, (seed, graded)
        assert words is None or words in graded.message, (seed, graded)


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_unanswered_junk_and_raising_answers(exercise_id):
    assert check_quietly(exercise_id, None).status is Status.NOT_ATTEMPTED
    assert check_quietly(exercise_id, "not a function").status is Status.FAILED

    def stub(*args):
        raise NotImplementedError

    assert check_quietly(exercise_id, stub).status is Status.NOT_ATTEMPTED
    raising = check_quietly(exercise_id, lambda *args: 1 / 0)
    assert raising.status is Status.ERROR and "ZeroDivisionError" in raising.message


def test_wrong_messages_do_not_reveal_the_expected_values():
    # The fit check's message on a run it cannot name gives no weights (only the student's own value).
    off = check_quietly("essentials.fit", lambda w0, x, y, lr, steps: _fit_optim(w0, x, y, lr, steps) + 1e-3)
    assert off.status is Status.FAILED and "where yours is" in off.message
