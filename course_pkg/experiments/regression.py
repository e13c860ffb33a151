"""Chapter 3's experiments: fitting a curve to its noise level, and bounded outputs against standardized targets.

Each function runs one experiment and returns plain numbers (and the trained models); the chapter prints one run
and ``tests/claims/test_regression.py`` re-runs it over several seeds to check the conclusions the prose draws.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from course_pkg.data import make_bounded_regression, make_regression
from course_pkg.gradients import gradient_flow
from course_pkg.losses import mse
from course_pkg.models import MLP
from course_pkg.training import History, train
from course_pkg.transforms import scale_to_range

__all__ = ["NoiseFloorFit", "fit_to_noise_floor", "BoundedRun", "bounded_or_standardized", "last_hidden",
           "fractional_logit"]


@dataclass
class NoiseFloorFit:
    model: MLP
    history: History
    trained_loss: float      # MSE of the model after its last update
    true_curve_loss: float   # MSE of the noiseless curve sin(2x) + x/2 on the same noisy targets


def fit_to_noise_floor(seed: int = 0, data_seed: int = 0, steps: int = 600, lr: float = 0.01,
                       n: int = 200, noise: float = 0.1) -> NoiseFloorFit:
    r"""Fit ``MLP(1, 1, hidden=(32, 32))`` to ``make_regression`` with full-batch Adam and MSE.

    Claim (section 3): after 600 steps the model's loss is within 10% of the loss of the true curve
    :math:`\sin(2x) + x/2` itself, i.e. at the noise level of the data: training has done what it can.

    Example:
        >>> fit = fit_to_noise_floor(steps=5)
        >>> len(fit.history), fit.trained_loss > fit.true_curve_loss
        (5, True)
    """
    x, y = make_regression(n=n, noise=noise, seed=data_seed)
    model = MLP(1, 1, hidden=(32, 32), seed=seed)
    history = train(model, mse, x, y, steps=steps, lr=lr)
    with torch.no_grad():
        trained = mse(model(x), y).item()
    true_curve = mse(torch.sin(2 * x) + 0.5 * x, y).item()
    return NoiseFloorFit(model, history, trained, true_curve)


def last_hidden(model: MLP, x: torch.Tensor) -> torch.Tensor:
    """The activations of ``model``'s last hidden layer (the input of its head), shape (N, hidden[-1]).

    Example:
        >>> last_hidden(MLP(1, 1, hidden=(4, 3)), torch.zeros(2, 1)).shape
        torch.Size([2, 3])
    """
    with torch.no_grad():
        return model.net[:-1](x)


@dataclass
class BoundedRun:
    """One pair of models of section 5, after training, with per-sample squared errors in target units."""
    standardized: MLP
    bounded: MLP
    history: History                 # the bounded model's training losses
    errors_clipped: torch.Tensor     # standardized model, mapped back and clipped to [low, high]
    errors_unclipped: torch.Tensor   # standardized model, mapped back, not clipped
    errors_bounded: torch.Tensor     # sigmoid-scaled model
    start_standardized: float        # MSE of each model before training (clipped / bounded)
    start_bounded: float
    slope: torch.Tensor              # g'(o) of the bounded model at every sample
    saturated: torch.Tensor          # per sample: share of the bounded model's last hidden units with |h| > 0.99


def bounded_or_standardized(seed: int = 0, shift: float = 0.0, data_seed: int = 1, steps: int = 200,
                            lr: float = 0.02, low: float = 10.0, high: float = 100.0, n: int = 300,
                            fit_standardized: bool = True) -> BoundedRun:
    r"""Train a sigmoid-scaled model and a linear model on standardized targets from the same average prediction.

    Both are ``MLP(1, 1, hidden=(32, 32), seed=seed)`` trained with full-batch Adam on
    ``make_bounded_regression(n, low, high, seed=data_seed)``. The bounded model predicts
    :math:`a + (b - a)\,\sigma(o)` and its output bias is first lowered by ``shift``; the standardized model is
    trained with MSE on :math:`(y - \mu)/s` and its bias is moved so that it starts at the bounded model's average
    prediction. ``fit_standardized=False`` leaves the standardized model at its start (to save time when only the
    bounded model is wanted).

    Claims (section 5, at this budget of 200 steps): from the usual start (``shift=0``) the two fit about equally
    well, the sigmoid-scaled model worse on the targets that sit on a bound; from the bad start (``shift=6``) the
    standardized model recovers and the sigmoid-scaled one does not, with most of its last hidden layer saturated
    on the samples it misses.

    Example:
        >>> run = bounded_or_standardized(steps=3)
        >>> run.errors_bounded.shape, run.saturated.shape
        (torch.Size([300, 1]), torch.Size([300]))
    """
    x, y = make_bounded_regression(n=n, low=low, high=high, seed=data_seed)
    mu, s = y.mean(), y.std()
    bounded = MLP(1, 1, hidden=(32, 32), seed=seed)
    standardized = MLP(1, 1, hidden=(32, 32), seed=seed)
    with torch.no_grad():
        bounded.head.bias -= shift
        start = scale_to_range(bounded(x), low, high)                   # the bounded model's first predictions
        standardized.head.bias += ((start - mu) / s - standardized(x)).mean()
        start_standardized = (((mu + s * standardized(x)).clamp(low, high) - y) ** 2).mean().item()
        start_bounded = ((start - y) ** 2).mean().item()
    if fit_standardized:
        train(standardized, mse, x, (y - mu) / s, steps=steps, lr=lr)
    history = train(bounded, lambda o, t: mse(scale_to_range(o, low, high), t), x, y, steps=steps, lr=lr)
    with torch.no_grad():
        mapped = mu + s * standardized(x)
        o = bounded(x)
    return BoundedRun(
        standardized, bounded, history,
        errors_clipped=(mapped.clamp(low, high) - y) ** 2,
        errors_unclipped=(mapped - y) ** 2,
        errors_bounded=(scale_to_range(o, low, high) - y) ** 2,
        start_standardized=start_standardized, start_bounded=start_bounded,
        slope=gradient_flow(lambda t: scale_to_range(t, low, high), o).grad,
        saturated=(last_hidden(bounded, x).abs() > 0.99).float().mean(1),
    )


def fractional_logit(seed: int = 0, shift: float = 6.0, data_seed: int = 1, steps: int = 200, lr: float = 0.02,
                     low: float = 10.0, high: float = 100.0, n: int = 300) -> dict:
    r"""The exercise's third option: keep :math:`a + (b - a)\,\sigma(o)` but train with cross-entropy on the logit.

    The rescaled target :math:`t = (y - a)/(b - a) \in [0, 1]` is fitted with ``bce_with_logits(o, t)``, whose
    derivative is :math:`\sigma(o) - t`: the factor :math:`\sigma'(o)` of the squared error cancels.

    Claim (exercise of section 5): from the bad start (``shift=6``) no sample is left stuck (off by more than 5 with
    :math:`g'(o) < 0.01`) and the MSE ends far below the sigmoid-scaled model trained with squared error.

    Returns ``{"mse": ..., "stuck": ...}`` in target units.

    Example:
        >>> sorted(fractional_logit(steps=2))
        ['mse', 'stuck']
    """
    from course_pkg.losses import bce_with_logits

    x, y = make_bounded_regression(n=n, low=low, high=high, seed=data_seed)
    model = MLP(1, 1, hidden=(32, 32), seed=seed)
    with torch.no_grad():
        model.head.bias -= shift
    train(model, lambda o, t: bce_with_logits(o, (t - low) / (high - low)), x, y, steps=steps, lr=lr)
    with torch.no_grad():
        o = model(x)
    error = (scale_to_range(o, low, high) - y).abs()
    stuck = (gradient_flow(lambda t: scale_to_range(t, low, high), o).grad < 0.01) & (error > 5)
    return {"mse": (error ** 2).mean().item(), "stuck": int(stuck.sum())}
