"""Checks for chapter 0, PyTorch essentials.

Four small exercises on the basics the later chapters assume: a loss written with tensor operations (mean
reduction), picking one entry per row (``gather``), a training loop (zero the gradients, forward, loss, backward,
step) and an evaluation without a graph (``torch.no_grad``). Besides comparing with the reference, each check
names the typical beginner's mistake: a sum for a mean, ``scores[:, targets]``, a missing ``zero_grad``, a result
still attached to the graph.
"""
import torch

from course_pkg.homework.checking import Feedback, case_generator, check_function, compare_tensors, describe_type
from course_pkg.homework.registry import exercise
from course_pkg.losses import mse
from course_pkg.training import SGD

TOL = {"atol": 1e-6, "rtol": 1e-5}


def _require_function(answer):
    if isinstance(answer, type):
        raise Feedback(f"expected a function, got the class {answer.__name__}")
    if not callable(answer):
        raise Feedback(f"expected a function, got {describe_type(answer)}")


def _close(got, expected, atol=1e-5, rtol=1e-4) -> bool:
    return (isinstance(got, torch.Tensor) and got.shape == expected.shape and got.is_floating_point()
            and torch.allclose(got.detach().to(expected.dtype), expected, atol=atol, rtol=rtol))


def _call_quietly(answer, *args):
    """``answer(*args)``, or None when it raises (the full comparison reports errors)."""
    try:
        return answer(*args)
    except Exception:  # noqa: BLE001
        return None


# --------------------------------------------------------------------------- 1. a loss with tensor operations

def _mse_mistakes(answer):
    """Name the usual slips of a hand-written MSE on a small input whose variants all differ."""
    pred, target = torch.tensor([1.0, 2.0, 4.0, 0.0]), torch.tensor([0.0, 2.0, 1.0, 1.0])
    got = _call_quietly(answer, pred.clone(), target.clone())
    d = pred - target
    if got is None or _close(got, (d ** 2).mean()):
        return
    mistakes = [
        ((d ** 2).sum(), "the value is the sum of the squared errors, 4 times too large for 4 entries: a mean "
                         "reduction divides by the number of entries (use .mean(), not .sum())"),
        ((d ** 2).mean().sqrt(), "the value is the square root of the mean squared error (the RMSE): drop the root"),
        (d.abs().mean(), "the value is the mean absolute error: square the differences instead of taking abs"),
        (d.mean(), "the differences are not squared, so positive and negative errors cancel: square them "
                   "before taking the mean"),
        (d.mean() ** 2, "the value is the square of the mean difference: square each difference first, then "
                        "take the mean"),
        ((d ** 2).mean() / 2, "the value is half the mean squared error: do not divide by 2"),
    ]
    for candidate, message in mistakes:
        if _close(got.reshape(()) if isinstance(got, torch.Tensor) and got.numel() == 1 else got, candidate):
            raise Feedback(message)


@exercise("essentials.mse", reference=mse, answer="mean_squared_error", time_limit=5,
          forbidden=("course_pkg", "torch.nn.functional.mse_loss", "torch.nn.MSELoss"))
def _(answer):
    """mean_squared_error(pred, target): the mean of (pred - target)**2 over all entries, a 0-dim tensor."""
    _require_function(answer)
    _mse_mistakes(answer)
    g = case_generator(1)
    cases = [
        ("5 predictions", (torch.randn(5, generator=g), torch.randn(5, generator=g))),
        ("predictions of shape (4, 3)", (torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g))),
        ("64 predictions", (torch.randn(64, generator=g) * 3, torch.randn(64, generator=g))),
        ("float64 predictions of shape (7, 2)",
         (torch.randn(7, 2, generator=g, dtype=torch.float64), torch.randn(7, 2, generator=g, dtype=torch.float64))),
    ]
    return check_function(answer, mse, cases, grad=True, **TOL)


# --------------------------------------------------------------------------- 2. one entry per row: gather

def _pick_ref(scores, targets):
    return scores.gather(1, targets.unsqueeze(1)).squeeze(1)


def _pick_mistakes(answer):
    """Name scores[:, targets] (an (N, N) table), a kept dimension (N, 1), and gathering along dim 0."""
    scores = torch.arange(16.0).reshape(4, 4) + torch.tensor([0.0, 10.0, 20.0, 30.0]).unsqueeze(1)
    targets = torch.tensor([2, 0, 3, 1])
    try:
        got = answer(scores.clone(), targets.clone())
    except RuntimeError as error:
        if "same number of dimensions" in str(error):
            raise Feedback("gather raised: its index must have as many dimensions as scores (2), and targets has "
                           "1: pass targets.unsqueeze(1), of shape (N, 1), then squeeze(1) the result to shape "
                           "(N,)") from None
        return
    except Exception:  # noqa: BLE001  the full check below reports it
        return
    if not isinstance(got, torch.Tensor):
        return
    if got.shape == (4, 4) and _close(got, scores[:, targets]):
        raise Feedback("for 4 rows the result has shape (4, 4): scores[:, targets] takes every target's column "
                       "for every row; take one entry per row with scores.gather(1, targets.unsqueeze(1)) "
                       "(then squeeze(1)) or scores[torch.arange(len(targets)), targets]")
    if got.shape == (4, 1) and _close(got.squeeze(1), _pick_ref(scores, targets)):
        raise Feedback("right entries, but the result has shape (4, 1) for 4 rows: gather keeps the dimension "
                       "it picks along; squeeze(1) it to shape (N,)")
    if got.shape in ((1, 4), (4,)) and _close(got.reshape(4), scores[targets, torch.arange(4)]):
        raise Feedback("the entries are picked down the columns (dim 0): the target indexes the columns of each "
                       "row, so gather along dim 1")


@exercise("essentials.pick", reference=_pick_ref, answer="pick", time_limit=5)
def _(answer):
    """pick(scores, targets): for scores (N, C) and class indices targets (N,), the entries scores[n, targets[n]]."""
    _require_function(answer)
    _pick_mistakes(answer)
    g = case_generator(2)
    cases = []
    for n, c in ((4, 3), (6, 6), (1, 5)):
        cases.append((f"scores of shape ({n}, {c})",
                      (torch.randn(n, c, generator=g), torch.randint(0, c, (n,), generator=g))))
    cases.append(("float64 scores of shape (5, 10)",
                  (torch.randn(5, 10, generator=g, dtype=torch.float64), torch.randint(0, 10, (5,), generator=g))))
    return check_function(answer, _pick_ref, cases, grad=True, atol=0.0)


# --------------------------------------------------------------------------- 3. a training loop

def _fit_ref(w0, x, y, lr, steps):
    """``steps`` steps of gradient descent on the MSE of the linear model x @ w, from a copy of w0."""
    w = w0.detach().clone().requires_grad_(True)
    opt = SGD([w], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        opt.step()
    return w.detach()


def _fit_variant(w0, x, y, lr, steps, *, clear=True, reduce="mean", sign=1.0):
    """A mistaken version of the loop: gradients never cleared, a summed loss, or steps up the gradient."""
    w = w0.detach().clone().requires_grad_(True)
    grad = torch.zeros_like(w)
    for _ in range(steps):
        errors = (x @ w - y) ** 2
        (g,) = torch.autograd.grad(errors.mean() if reduce == "mean" else errors.sum(), w)
        grad = g if clear else grad + g
        with torch.no_grad():
            w -= sign * lr * grad
    return w.detach()


def _linear_data(g, n=16, d=3, dtype=torch.float32):
    x = torch.randn(n, d, generator=g, dtype=dtype)
    w_true = torch.randn(d, generator=g, dtype=dtype)
    y = x @ w_true + 0.1 * torch.randn(n, generator=g, dtype=dtype)
    return torch.zeros(d, dtype=dtype), x, y


def _fit_mistakes(answer, w0, x, y, lr, steps):
    """Run ``steps`` (>= 3) steps and name a missing zero_grad, a summed loss, a step up the gradient, no step."""
    got = _call_quietly(answer, w0.clone(), x.clone(), y.clone(), lr, steps)
    if not isinstance(got, torch.Tensor) or got.shape != w0.shape or not got.is_floating_point():
        return
    got = got.detach().to(w0.dtype)
    if _close(got, _fit_ref(w0, x, y, lr, steps)):
        return
    mistakes = [
        (_fit_variant(w0, x, y, lr, steps, clear=False),
         "each step used the sum of all the gradients so far: .backward() adds into .grad, so clear it at every "
         "step (opt.zero_grad(), or w.grad = None) before calling backward"),
        (_fit_variant(w0, x, y, lr, steps, reduce="sum"),
         "the steps are as large as with a summed loss: use the mean reduction, ((x @ w - y) ** 2).mean(), so "
         "that the step size does not grow with the number of samples"),
        (_fit_variant(w0, x, y, lr, steps, sign=-1.0),
         "the weights moved up the gradient: a descent step subtracts, w - lr * grad"),
        (w0, "the weights did not change: call backward() and then step the optimizer (opt.step()) in every "
             "iteration, and return the trained copy"),
        (_fit_ref(w0, x, y, lr, steps - 1), f"the result is that of {steps - 1} steps, not {steps}: loop "
                                           "range(steps) times, one update each"),
        (_fit_ref(w0, x, y, lr, steps + 1), f"the result is that of {steps + 1} steps, not {steps}: loop "
                                           "range(steps) times, one update each"),
    ]
    for candidate, message in mistakes:
        if _close(got, candidate):
            raise Feedback(message)
    before, after = ((x @ w0 - y) ** 2).mean(), ((x @ got - y) ** 2).mean()
    if not bool(after < before):
        raise Feedback("the loss of your trained weights is not below the loss of w0: each step should go "
                       "against the gradient of the mean squared error")


@exercise("essentials.fit", reference=_fit_ref, answer="fit", time_limit=10, forbidden=("course_pkg",))
def _(answer):
    """fit(w0, x, y, lr, steps): `steps` SGD steps on mean((x @ w - y)**2) from a copy of w0; the trained weights."""
    _require_function(answer)
    g = case_generator(3)
    _fit_mistakes(answer, *_linear_data(g), 0.05, 4)
    cases = [
        ("one step, 16 samples, lr=0.1", (*_linear_data(g), 0.1, 1)),
        ("5 steps, 16 samples, lr=0.05", (*_linear_data(g), 0.05, 5)),
        ("20 steps, 32 samples of 4 features, lr=0.05", (*_linear_data(g, n=32, d=4), 0.05, 20)),
        ("10 float64 steps, lr=0.1", (*_linear_data(g, dtype=torch.float64), 0.1, 10)),
    ]
    for label, args in cases:
        got = answer(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args])
        compare_tensors(got, _fit_ref(*args), what=f"after {label}", atol=1e-5, rtol=1e-4)
    return f"matches the reference on {len(cases)} training runs"


# --------------------------------------------------------------------------- 4. evaluation without a graph

def _evaluate_ref(w, x, y):
    with torch.no_grad():
        return ((x @ w - y) ** 2).mean()


def _evaluate_mistakes(answer):
    """Name a sum over the batch (N times the mean) on a small input, the same in the notebook and the grader."""
    x, y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0]]), torch.tensor([0.0, 1.0, 3.0, 1.0])
    w = torch.tensor([1.0, 2.0])
    got = _call_quietly(answer, w.clone().requires_grad_(True), x.clone(), y.clone())
    squared = (x @ w - y) ** 2
    if isinstance(got, torch.Tensor) and got.numel() == 1 and _close(got.detach().reshape(()), squared.sum()):
        raise Feedback("the value is the sum of the squared errors over the batch, 4 times the mean for 4 samples: "
                       "evaluate the same loss as training, with a mean reduction (use .mean(), not .sum())")


@exercise("essentials.evaluate", reference=_evaluate_ref, answer="evaluate", time_limit=5)
def _(answer):
    """evaluate(w, x, y): mean((x @ w - y)**2) as a tensor that carries no graph, even when w requires grad."""
    _require_function(answer)
    _evaluate_mistakes(answer)
    g = case_generator(4)
    cases = [
        ("weights that require grad, 10 samples", _linear_data(g, n=10)),
        ("float64 weights that require grad, 25 samples of 5 features", _linear_data(g, n=25, d=5,
                                                                                     dtype=torch.float64)),
    ]
    for label, (_, x, y) in cases:
        w = torch.randn(x.shape[1], generator=g, dtype=x.dtype)
        got = answer(w.clone().requires_grad_(True), x.clone(), y.clone())
        compare_tensors(got, _evaluate_ref(w, x, y), what=f"on {label}", **TOL)
        if got.requires_grad:
            raise Feedback(f"on {label}: the value is right, but the result is still attached to the graph "
                           "(requires_grad=True), so PyTorch kept every intermediate for a backward pass that "
                           "evaluation never takes: compute it inside `with torch.no_grad():`")
    return f"matches the reference on {len(cases)} input sets, with no graph attached"
