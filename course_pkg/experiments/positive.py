"""Chapter 4's experiments: a ReLU head that dies, and three positive heads compared on log-normal targets.

Each function runs one experiment and returns plain numbers (and the trained models); the chapter prints one run
and ``tests/claims/test_positive.py`` re-runs it over several seeds to check the conclusions the prose draws.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch

from course_pkg.data import make_lognormal_regression, make_positive_regression
from course_pkg.losses import mse
from course_pkg.metrics import mcnemar_test, paired_bootstrap
from course_pkg.models import MLP
from course_pkg.training import Adam, History, train
from course_pkg.transforms import relu, softplus

__all__ = ["DeadHeadRun", "dead_head", "HEADS", "POSITIVE_CHOICES", "HeadComparison", "compare_positive_heads"]

HEADS = {"ReLU": relu, "softplus": softplus}


@dataclass
class DeadHeadRun:
    history: History
    positive_before: float   # share of samples with a positive raw output before / after training
    positive_after: float
    largest_change: float    # largest absolute change of any parameter during training
    mse_after: float         # MSE of the trained model (evaluated after the last update)
    all_zero_mse: float      # MSE of predicting 0 everywhere, mean(y^2)


def dead_head(head: str = "ReLU", shift: float = 1.0, optimizer: str = "sgd", seed: int = 0, data_seed: int = 0,
              steps: int = 200) -> DeadHeadRun:
    r"""Lower the output bias of ``MLP(8, 1, hidden=(32,))`` by ``shift``, then train ``mse(head(o), y)``.

    Data: ``make_positive_regression(256, seed=data_seed)``. SGD uses learning rate 0.1, Adam 0.01, full batch.

    Claims (section 3): once every raw output is negative, a ReLU head never moves (every parameter change is
    exactly 0 and the loss stays at the all-zero MSE) with SGD or Adam; a softplus head recovers from a shift of 1
    with either optimizer and from a shift of 10 with Adam, while SGD is still stuck there after 200 steps.

    Example:
        >>> run = dead_head("ReLU", shift=1.0, steps=3)
        >>> run.largest_change, run.mse_after == run.all_zero_mse
        (0.0, True)
    """
    if head not in HEADS:
        raise ValueError(f"head must be one of {sorted(HEADS)}, got {head!r}")
    lr = {"sgd": 0.1, "adam": 0.01}.get(optimizer)
    if lr is None:
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    g = HEADS[head]
    x, y = make_positive_regression(n=256, in_features=8, seed=data_seed)
    model = MLP(8, 1, hidden=(32,), activation="tanh", seed=seed)
    with torch.no_grad():
        model.head.bias -= shift
        before = (model(x) > 0).float().mean().item()
    start = [p.detach().clone() for p in model.parameters()]
    history = train(model, lambda o, t: mse(g(o), t), x, y, steps=steps, lr=lr, optimizer=optimizer)
    with torch.no_grad():  # evaluate after the last update
        o = model(x)
        moved = max((p - p0).abs().max().item() for p, p0 in zip(model.parameters(), start))
        return DeadHeadRun(history, before, (o > 0).float().mean().item(), moved, mse(g(o), y).item(),
                           mse(torch.zeros_like(y), y).item())


# name: (loss on the raw output, prediction from the raw output)
POSITIVE_CHOICES = {
    "softplus, MSE on y": (lambda o, t: mse(softplus(o), t), softplus),
    "exp, MSE on y": (lambda o, t: mse(torch.exp(o), t), torch.exp),
    "exp, MSE on log y": (lambda o, t: mse(o, torch.log(t)), torch.exp),
}


def _early_stopped(loss_fn, x, y, x_val, y_val, seed: int, lr: float, max_steps: int, every: int,
                   patience: int) -> tuple:
    """Full-batch Adam on ``loss_fn``; keep the weights with the lowest validation loss (checked every ``every``
    steps) and stop once it has not improved for ``patience`` steps. Returns (model, best step)."""
    model = MLP(8, 1, hidden=(32,), activation="tanh", seed=seed)
    optimizer = Adam(model.parameters(), lr)
    best, best_step, best_state = math.inf, 0, copy.deepcopy(model.state_dict())
    for step in range(max_steps + 1):
        if step % every == 0:
            with torch.no_grad():
                val = loss_fn(model(x_val), y_val).item()
            if val < best:
                best, best_step, best_state = val, step, copy.deepcopy(model.state_dict())
            elif step - best_step >= patience:
                break
        if step == max_steps:
            break
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    model.load_state_dict(best_state)
    return model, best_step


@dataclass
class HeadComparison:
    stopped_at: dict         # name -> step with the lowest validation loss
    squared_error: dict      # name -> per-sample squared error on the test set, shape (n,)
    off_by_2: dict           # name -> per-sample bool: prediction and target differ by more than a factor of 2
    predictions: dict        # name -> test predictions, shape (n, 1)
    y_test: torch.Tensor

    def mse(self, name: str) -> float:
        return self.squared_error[name].mean().item()

    def off_rate(self, name: str) -> float:
        return self.off_by_2[name].float().mean().item()

    def mse_difference(self, a: str, b: str, seed: int = 0) -> dict:
        """Paired bootstrap of test MSE(a) - MSE(b)."""
        return paired_bootstrap(self.squared_error[a].double(), self.squared_error[b].double(), seed=seed)

    def off_test(self, a: str, b: str) -> dict:
        """McNemar's exact test on 'within a factor of 2' for heads a and b (a_only: a within, b not)."""
        return mcnemar_test(~self.off_by_2[a], ~self.off_by_2[b])


def compare_positive_heads(seed: int = 0, n: int = 512, lr: float = 0.01, max_steps: int = 3000, every: int = 25,
                           patience: int = 300) -> HeadComparison:
    r"""Train the three heads of ``POSITIVE_CHOICES`` on log-normal targets, early-stopped on validation data.

    Training, validation and test sets come from ``make_lognormal_regression(n, seed=3*seed + k)`` for
    k = 0, 1, 2 (one rule, three samples); the network is ``MLP(8, 1, hidden=(32,), seed=seed)`` with
    full-batch Adam. Each head keeps the weights with the lowest loss *on the validation set*; all are scored
    on the test set. A fourth entry, ``"exp, log y, mean"``, predicts the mean :math:`e^{o + s^2/2}` of the
    log-scale model, with :math:`s^2` its mean squared residual on the validation set's log targets.

    Claims (section 6), over seeds: the softplus head has the largest test MSE and misses the most targets by
    more than a factor of 2 (both significant in paired tests); the exponential head misses fewer targets by a
    factor of 2 when trained on log y than when trained on y.

    Example:
        >>> c = compare_positive_heads(n=64, max_steps=2)
        >>> sorted(c.stopped_at) == sorted(POSITIVE_CHOICES)
        True
    """
    x, y = make_lognormal_regression(n=n, seed=3 * seed)
    x_val, y_val = make_lognormal_regression(n=n, seed=3 * seed + 1)
    x_test, y_test = make_lognormal_regression(n=n, seed=3 * seed + 2)
    stopped, predictions = {}, {}
    for name, (loss_fn, predict) in POSITIVE_CHOICES.items():
        model, stopped[name] = _early_stopped(loss_fn, x, y, x_val, y_val, seed, lr, max_steps, every, patience)
        with torch.no_grad():
            predictions[name] = predict(model(x_test))
            if name == "exp, MSE on log y":      # the median e^o, shifted to the mean by e^(s^2/2)
                s2 = mse(model(x_val), torch.log(y_val)).item()
                predictions["exp, log y, mean"] = torch.exp(model(x_test) + s2 / 2)
    squared = {name: ((p - y_test) ** 2).squeeze(1) for name, p in predictions.items()}
    off = {name: ((p / y_test).log().abs() > math.log(2)).squeeze(1) for name, p in predictions.items()}
    return HeadComparison(stopped, squared, off, predictions, y_test)
