"""Chapter 9's experiments (predicting distributions): the chapter cells and ``tests/claims/test_distributions.py``
call these functions, so the claims tests re-run exactly what the book shows.

Every run is in float64 and seeded by one number: ``seed`` draws the training data (``seed``), the held-out data
(``seed + 1``) and the network's initial weights (``seed``). The budgets (steps, learning rates) are the chapter's;
where a conclusion holds only at that budget the chapter says so.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import torch

from course_pkg.data import make_heteroscedastic_regression, make_inverse_problem
from course_pkg.heteroscedastic import gaussian_parameters
from course_pkg.losses import gaussian_nll, mdn_nll, mse, pinball_loss
from course_pkg.metrics import interval_coverage
from course_pkg.models import MLP
from course_pkg.training import train
from course_pkg.transforms import mixture_parameters, monotone_quantiles, softmax

__all__ = ["variance_heads", "inverse_problem_mean", "squared_error_on_inverse_problem", "density_models",
           "quantile_heads", "QUANTILE_LEVELS"]

F64 = torch.float64
HIDDEN = (16, 16)
HEADS = ("variance", "log_variance", "precision")
QUANTILE_LEVELS = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)


def _gaussian_loss(parameterization):
    def loss(o, target):
        return gaussian_nll(*gaussian_parameters(o, parameterization), target)
    return loss


def variance_heads(seed: int = 0, steps: int = 300, mse_steps: int = 200, lr: float = 0.01) -> SimpleNamespace:
    r"""Section 1: the same network with each positive variance head, and MSE with one fitted noise variance.

    Trains an MLP (two hidden layers of 16 tanh units) with two outputs per head ("variance", "log_variance",
    "precision"; :func:`course_pkg.heteroscedastic.gaussian_parameters`) for ``steps`` Adam steps on 400 points of
    :func:`course_pkg.data.make_heteroscedastic_regression`, and a one-output MLP with MSE for ``mse_steps`` steps,
    whose single variance is the mean squared training residual. Scores 1000 held-out points.

    Claims (checked over seeds in ``tests/claims/test_distributions.py``): every head beats the single variance in
    held-out NLL (paired bootstrap); the variance and log-variance heads tie (within 0.02 nats per point); at this
    budget the precision head is worse than the log-variance head and over-estimates the noise on the quiet left.

    Returns a namespace with ``models`` (name -> trained MLP), ``mse_model``, ``noise_var`` (the fitted single
    variance), ``x``, ``y`` (training data), ``x_test``, ``y_test``, ``std_test`` (true noise std) and
    ``predict(label, x) -> (mean, std)`` for the labels ``"<head> head"`` and ``"MSE + one variance"``, and
    ``nll(label)``: the per-example held-out NLL (constant included), shape (1000,).

    Example:
        >>> run = variance_heads(seed=0, steps=2, mse_steps=2)
        >>> sorted(run.models), run.nll("log_variance head").shape
        (['log_variance', 'precision', 'variance'], torch.Size([1000]))
    """
    x, y = (t.to(F64) for t in make_heteroscedastic_regression(n=400, seed=seed))
    x_test, y_test, std_test = (t.to(F64) for t in make_heteroscedastic_regression(n=1000, seed=seed + 1,
                                                                                   return_std=True))
    models = {}
    for name in HEADS:
        models[name] = MLP(in_features=1, out_features=2, hidden=HIDDEN, seed=seed).to(dtype=F64)
        train(models[name], _gaussian_loss(name), x, y, steps=steps, lr=lr)
    mse_model = MLP(in_features=1, out_features=1, hidden=HIDDEN, seed=seed).to(dtype=F64)
    train(mse_model, mse, x, y, steps=mse_steps, lr=lr)
    with torch.no_grad():
        noise_var = mse(mse_model(x), y)

    def predict(label, x_in):
        with torch.no_grad():
            if label == "MSE + one variance":
                mean = mse_model(x_in)
                return mean, noise_var.sqrt().expand_as(mean)
            mean, var = gaussian_parameters(models[label.removesuffix(" head")](x_in), label.removesuffix(" head"))
            return mean, var.sqrt()

    def nll(label):
        mean, std = predict(label, x_test)
        return gaussian_nll(mean, std ** 2, y_test, full=True, reduction="none")[:, 0]

    return SimpleNamespace(models=models, mse_model=mse_model, noise_var=noise_var, x=x, y=y, x_test=x_test,
                           y_test=y_test, std_test=std_test, predict=predict, nll=nll,
                           labels=[f"{name} head" for name in HEADS] + ["MSE + one variance"])


def inverse_problem_mean(x: torch.Tensor, noise: float = 0.1, grid: int = 200_001) -> torch.Tensor:
    r"""The true conditional mean :math:`\mathbb E[y \mid x]` of :func:`course_pkg.data.make_inverse_problem`.

    With :math:`y` uniform on [0, 1] and :math:`x = g(y) + \varepsilon`, :math:`g(y) = y + 0.3\sin(2\pi y)`,
    :math:`\varepsilon` uniform on (-noise, noise), the posterior of :math:`y` is uniform on
    :math:`\{y : |x - g(y)| < \text{noise}\}`, so

    .. math::
        \mathbb E[y \mid x] = \frac{\int_0^1 y\,[|x - g(y)| < \text{noise}]\,dy}{\int_0^1 [|x - g(y)| < \text{noise}]\,dy},

    computed here on a grid of ``grid`` values of :math:`y` in float64.

    Shapes: ``x`` any shape -> same shape.

    Example:
        >>> round(inverse_problem_mean(torch.tensor([0.5], dtype=torch.float64)).item(), 3)
        0.5
    """
    y = torch.linspace(0, 1, grid, dtype=F64)
    g = y + 0.3 * torch.sin(2 * math.pi * y)
    inside = ((x.reshape(-1, 1).to(F64) - g).abs() < noise).to(F64)
    return ((inside * y).sum(dim=1) / inside.sum(dim=1)).reshape(x.shape)


def squared_error_on_inverse_problem(seed: int = 0, steps: int = 400, lr: float = 0.01,
                                     probes=(0.35, 0.5, 0.65), window: float = 0.02,
                                     tolerance: float = 0.05) -> SimpleNamespace:
    r"""Section 2, first part: squared error on Bishop's inverse problem predicts between the branches.

    Trains an MLP with MSE for ``steps`` steps on 600 standardized points of
    :func:`course_pkg.data.make_inverse_problem` and, at each probe input, compares its prediction with the
    held-out targets (2000 points) whose input lies within ``window`` of the probe: their mean, and how many lie
    within ``tolerance`` of the prediction and of that mean.

    Claim: at x = 0.35 and 0.65 not one nearby held-out target lies within 0.05 of the prediction, nor of their
    own mean: both fall in a gap between branches.

    Returns a namespace with ``model``, ``standardize`` (the input map), ``x``, ``y``, ``x_test``, ``y_test``,
    ``probes`` (K, 1), ``predictions`` (K,) and ``rows``: per probe a dict with ``x``, ``prediction``,
    ``nearby_mean``, ``near_prediction``, ``near_mean`` and ``nearby``.

    Example:
        >>> run = squared_error_on_inverse_problem(seed=0, steps=2)
        >>> [row["x"] for row in run.rows]
        [0.35, 0.5, 0.65]
    """
    x, y = (t.to(F64) for t in make_inverse_problem(n=600, seed=seed))
    x_test, y_test = (t.to(F64) for t in make_inverse_problem(n=2000, seed=seed + 1))
    center, scale = x.mean(), x.std()

    def standardize(v):
        return (v - center) / scale

    model = MLP(in_features=1, out_features=1, hidden=HIDDEN, seed=seed).to(dtype=F64)
    train(model, mse, standardize(x), y, steps=steps, lr=lr)
    probe_x = torch.tensor([[p] for p in probes], dtype=F64)
    with torch.no_grad():
        predictions = model(standardize(probe_x))[:, 0]
    rows = []
    for x0, pred in zip(probe_x[:, 0].tolist(), predictions.tolist()):
        nearby = y_test[(x_test[:, 0] - x0).abs() < window]
        rows.append({"x": x0, "prediction": pred, "nearby_mean": nearby.mean().item(),
                     "near_prediction": int(((nearby - pred).abs() < tolerance).sum()),
                     "near_mean": int(((nearby - nearby.mean()).abs() < tolerance).sum()), "nearby": len(nearby)})
    return SimpleNamespace(model=model, standardize=standardize, x=x, y=y, x_test=x_test, y_test=y_test,
                           probes=probe_x, predictions=predictions, rows=rows, seed=seed)


def _mdn_loss(o, target):
    return mdn_nll(*mixture_parameters(o), target)


def density_models(base: SimpleNamespace, n_components: int = 3, mdn_steps: int = 500, mdn_lr: float = 0.005,
                   gaussian_steps: int = 500, gaussian_lr: float = 0.01) -> SimpleNamespace:
    r"""Section 2, second part: three densities for the inverse problem, scored on the same held-out points.

    Given the run of :func:`squared_error_on_inverse_problem` (its data, its MSE fit and its seed), builds

    - the *fixed-width Gaussian*: the MSE fit as the mean, one variance (the mean squared training residual);
    - the *log-variance Gaussian* of section 1: a two-output MLP trained with the Gaussian NLL for
      ``gaussian_steps`` steps, a mean and a variance per input but one mode;
    - a *mixture density network* with ``n_components`` components (3K outputs,
      :func:`course_pkg.transforms.mixture_parameters`) trained for ``mdn_steps`` steps,

    and returns their per-example held-out NLLs (constant included), so that each step, fixed width ->
    input-dependent width -> several modes, can be compared pairwise on the same points.

    Claims: each step lowers the held-out NLL (paired bootstrap interval above 0, over seeds); the mixture's own
    mean and the MSE prediction both miss the true conditional mean :func:`inverse_problem_mean` at x = 0.35 (near
    its steep rise) by more than 0.05, and both lie within 0.03 of it at x = 0.5.

    Returns a namespace with ``mdn``, ``gaussian`` (the log-variance model), ``noise_var``, ``nll`` (label ->
    per-example NLL, labels ``"fixed-width Gaussian"``, ``"log-variance Gaussian"``, ``"mixture"``) and
    ``mixture_at(x) -> (weights, means, widths)``.
    """
    xs, x, y = base.standardize, base.x, base.y
    mdn = MLP(in_features=1, out_features=3 * n_components, hidden=HIDDEN, seed=base.seed).to(dtype=F64)
    train(mdn, _mdn_loss, xs(x), y[:, 0], steps=mdn_steps, lr=mdn_lr)
    gaussian = MLP(in_features=1, out_features=2, hidden=HIDDEN, seed=base.seed).to(dtype=F64)
    train(gaussian, _gaussian_loss("log_variance"), xs(x), y, steps=gaussian_steps, lr=gaussian_lr)
    x_test, y_test = base.x_test, base.y_test
    with torch.no_grad():
        noise_var = mse(base.model(xs(x)), y)
        nll = {
            "fixed-width Gaussian": gaussian_nll(base.model(xs(x_test)), noise_var.expand_as(y_test), y_test,
                                                 full=True, reduction="none")[:, 0],
            "log-variance Gaussian": gaussian_nll(*gaussian_parameters(gaussian(xs(x_test))), y_test,
                                                  full=True, reduction="none")[:, 0],
            "mixture": mdn_nll(*mixture_parameters(mdn(xs(x_test))), y_test[:, 0], reduction="none"),
        }

    def mixture_at(x_in):
        with torch.no_grad():
            logits, means, widths = mixture_parameters(mdn(xs(x_in)))
        return softmax(logits), means, widths

    return SimpleNamespace(mdn=mdn, gaussian=gaussian, noise_var=noise_var, nll=nll, mixture_at=mixture_at,
                           n_components=n_components, loss=_mdn_loss)


def _pinball_per_example(q_pred, target, levels):
    q = torch.tensor(levels, dtype=q_pred.dtype)
    e = target.unsqueeze(1) - q_pred
    return torch.maximum(q * e, (q - 1) * e).mean(dim=1)


def quantile_heads(seed: int = 0, steps: int = 300, lr: float = 0.02, levels=QUANTILE_LEVELS) -> SimpleNamespace:
    r"""Section 3: seven quantiles from independent heads and from the cumulative softplus head.

    Trains the same MLP twice with the pinball loss averaged over ``levels``
    (:func:`course_pkg.losses.pinball_loss`), once reading each raw output as a quantile and once through
    :func:`course_pkg.transforms.monotone_quantiles`, on the 400 training points of section 1, then counts the
    crossings (an input where some neighbouring pair is out of order) on 1000 held-out inputs and on a grid of
    901 points on [-4.5, 4.5] (the data cover [-3, 3]), and the held-out coverage of the 90 % and 50 % intervals.

    Claims: the cumulative head never crosses; the independent heads cross outside the data's range in every
    seed, and on held-out inputs in some seeds; the two heads' held-out pinball losses differ by less than 0.002.

    Returns a namespace with ``models``, ``heads`` (name -> output map), ``levels`` and ``results``: per head a
    dict with ``crossed_test``, ``crossed_inside``, ``crossed_outside`` (counts), ``n_test``, ``n_inside``,
    ``n_outside``, ``crossed_x`` (the held-out inputs where it crosses), ``crossed_pairs`` ((level, next level) ->
    held-out inputs where that pair is out of order, pairs that never cross left out), ``coverage`` ((lo, hi) level indices ->
    (inside, n)) and ``pinball`` (per-example held-out pinball loss, averaged over the levels).

    Example:
        >>> run = quantile_heads(seed=0, steps=2)
        >>> run.results["cumulative softplus"]["crossed_test"]
        0
    """
    x, y = (t.to(F64) for t in make_heteroscedastic_regression(n=400, seed=seed))
    x_test, y_test = (t.to(F64) for t in make_heteroscedastic_regression(n=1000, seed=seed + 1))
    heads = {"independent heads": lambda o: o, "cumulative softplus": monotone_quantiles}
    wide = torch.linspace(-4.5, 4.5, 901, dtype=F64).unsqueeze(1)
    outside = wide[:, 0].abs() > 3
    models, results = {}, {}
    for name, head in heads.items():
        def loss(o, target, head=head):
            return pinball_loss(head(o), target, levels)
        models[name] = MLP(in_features=1, out_features=len(levels), hidden=HIDDEN, seed=seed).to(dtype=F64)
        train(models[name], loss, x, y[:, 0], steps=steps, lr=lr)
        with torch.no_grad():
            q_test, q_wide = head(models[name](x_test)), head(models[name](wide))
        pair_crossed = q_test.diff(dim=1) < 0                       # (N, K - 1): level k+1 below level k
        crossed_test = pair_crossed.any(dim=1)
        crossed_wide = (q_wide.diff(dim=1) < 0).any(dim=1)
        coverage = {(lo, hi): interval_coverage(q_test[:, lo], q_test[:, hi], y_test[:, 0])
                    for lo, hi in ((0, len(levels) - 1), (2, len(levels) - 3))}
        results[name] = {"crossed_test": int(crossed_test.sum()), "n_test": len(q_test),
                         "crossed_x": x_test[crossed_test, 0],
                         "crossed_pairs": {(levels[k], levels[k + 1]): int(c)
                                           for k, c in enumerate(pair_crossed.sum(dim=0).tolist()) if c},
                         "crossed_inside": int(crossed_wide[~outside].sum()), "n_inside": int((~outside).sum()),
                         "crossed_outside": int(crossed_wide[outside].sum()), "n_outside": int(outside.sum()),
                         "coverage": coverage, "pinball": _pinball_per_example(q_test, y_test[:, 0], levels)}
    return SimpleNamespace(models=models, heads=heads, levels=levels, results=results, x=x, y=y)
