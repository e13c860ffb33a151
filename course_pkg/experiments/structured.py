"""The experiments of the chapter "Outputs with structure" (chapter 10), one function each.

The chapter runs each function once or for a few seeds and prints what it returns;
``tests/claims/test_structured.py`` re-runs them over several seeds and checks the conclusions the prose
draws. Every function trains small networks on CPU in a few seconds.
"""
from __future__ import annotations

import copy
import math

import torch

from ..data import make_angles, make_counts, make_ordinal, make_selection
from ..inference import predict_angle, predict_ordinal
from ..losses import coral_loss, cross_entropy, mse, poisson_nll, von_mises_nll
from ..metrics import angular_error
from ..models import MLP, AttentionPool, CoralHead
from ..training import train
from ..transforms import l2_normalize, softmax, softplus, sparsemax

__all__ = ["COUNT_LOSSES", "mse_on_rate", "poisson_deviance_per_example", "count_losses", "count_scores",
           "ORDINAL_K", "ordinal_models", "predict_label", "angle_heads", "predict_direction",
           "von_mises_head", "von_mises_predict", "attention_pools", "selection_scores"]


# ---------------------------------------------------------------- 1. counts

def mse_on_rate(o: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""Squared error on the predicted rate, :math:`\frac1N\sum_n (e^{o_n} - y_n)^2` (``o`` is the log-rate)."""
    return mse(torch.exp(o), y)


def poisson_deviance_per_example(rate: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    r"""Per-example Poisson deviance :math:`2\big(y\log\frac{y}{\lambda} - (y - \lambda)\big)`, in float64.

    Its mean is :func:`course_pkg.metrics.mean_poisson_deviance`; per example it feeds a paired comparison.

    Example:
        >>> poisson_deviance_per_example(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 2.0]))
        tensor([2., 0.], dtype=torch.float64)
    """
    lam, y = rate.detach().double(), count.detach().double()
    return 2 * (torch.xlogy(y, y) - torch.xlogy(y, lam) - (y - lam))


COUNT_LOSSES = {"Poisson NLL": poisson_nll, "MSE on exp(o)": mse_on_rate}


def count_losses(seed: int, *, budget: int = 250, max_steps: int = 2000, patience: int = 500,
                 check_every: int = 50, lr: float = 0.032, device=None) -> dict:
    r"""Train one log-rate network per loss (Poisson NLL, squared error on :math:`e^o`) on count data.

    Claim (chapter 10, section 1): **the budget is the lesson.** After ``budget`` = 250 Adam steps the
    Poisson loss has the lower test deviance and the lower relative error on inputs whose true rate is
    below one, while squared error on :math:`e^o` has the lower test MSE (it fits the large counts first).
    Trained until the validation deviance stops improving (early stopping), the two losses reach about the
    same test deviance and test MSE (gaps below 0.05 and 0.5).

    Training set ``make_counts(300, seed)``, validation set ``make_counts(300, 100 + seed)`` (used only to
    stop), initialisation ``seed``; full-batch Adam at ``lr``. (Squared error on :math:`e^o` makes Adam
    oscillate, so the stopping step, and with it the digits after early stopping, changes with the last
    bits of the arithmetic, from one CPU to another; the conclusions do not.) Every ``check_every`` steps the validation
    deviance is measured; training stops ``patience`` steps after its best value (at most ``max_steps``)
    and the best parameters are kept. The first ``budget`` steps are exactly
    ``train(model, loss, x, y, steps=budget, lr=lr)``.

    Returns:
        ``{loss name: {"budget": model after `budget` steps, "stopped": early-stopped model,
        "stopped_at": its step}}``.
    """
    x, y = make_counts(300, seed=seed, device=device)
    x_val, y_val = make_counts(300, seed=100 + seed, device=device)
    fits = {}
    for name, loss_fn in COUNT_LOSSES.items():
        model = MLP(in_features=1, out_features=1, hidden=(16,), seed=seed).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        best, best_step, best_state, at_budget = math.inf, 0, None, None
        model.train()
        for step in range(1, max_steps + 1):
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step == budget:
                at_budget = copy.deepcopy(model).eval()
            if step % check_every == 0:
                with torch.no_grad():
                    val = float(poisson_deviance_per_example(torch.exp(model(x_val)), y_val).mean())
                if val < best:
                    best, best_step = val, step
                    best_state = copy.deepcopy(model.state_dict())
                elif step - best_step >= patience and step >= budget:
                    break
        model.load_state_dict(best_state)
        fits[name] = {"budget": at_budget, "stopped": model.eval(), "stopped_at": best_step}
    return fits


def count_scores(model: torch.nn.Module, x: torch.Tensor, count: torch.Tensor, rate: torch.Tensor) -> dict:
    r"""Per-example test scores of a log-rate model: deviance, squared error and relative rate error.

    Shapes: ``x`` (N, 1), ``count`` and ``rate`` (N, 1). Returns 1-D float64 tensors of length N under
    ``"deviance"``, ``"squared_error"`` and ``"relative_error"`` (:math:`|\hat\lambda - \lambda|/\lambda`).
    """
    with torch.no_grad():
        rate_hat = torch.exp(model(x)).double()
    y, lam = count.double(), rate.double()
    return {"deviance": poisson_deviance_per_example(rate_hat, y).flatten(),
            "squared_error": ((rate_hat - y) ** 2).flatten(),
            "relative_error": ((rate_hat - lam).abs() / lam).flatten()}


# ---------------------------------------------------------------- 2. ordinal labels

ORDINAL_K = 7


def _label_mse(o, y):
    return mse(o.squeeze(1), y.to(o.dtype))


def ordinal_models(seed: int, *, steps: int = 150, lr: float = 0.05, device=None) -> dict:
    r"""Four heads for ordinal labels :math:`0..K-1` (K = 7), trained on ``make_ordinal(200, seed)``.

    Claims (chapter 10, section 2): the classifier (K-class softmax, argmax) has the highest test mean
    absolute error of the four; CORAL's biases come out decreasing, so it makes no rank-consistency
    violation, while the unshared K - 1 logits contradict themselves on a sizeable share of test inputs.

    Returns ``{name: trained model}`` for "CORAL", "unshared K-1 logits", "classes (argmax)" and
    "regression (rounded)"; all share one hidden layer of 16 units and the initialisation ``seed``.
    """
    K = ORDINAL_K
    x_train, y_train = make_ordinal(200, num_classes=K, seed=seed, device=device)
    models = {"CORAL": (torch.nn.Sequential(MLP(2, 1, hidden=(16,), seed=seed), CoralHead(K)), coral_loss),
              "unshared K-1 logits": (MLP(2, K - 1, hidden=(16,), seed=seed), coral_loss),
              "classes (argmax)": (MLP(2, K, hidden=(16,), seed=seed), cross_entropy),
              "regression (rounded)": (MLP(2, 1, hidden=(16,), seed=seed), _label_mse)}
    for model, loss_fn in models.values():
        train(model.to(device), loss_fn, x_train, y_train, steps=steps, lr=lr)
    return {name: model for name, (model, _) in models.items()}


def predict_label(name: str, model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The label (N,) int64 predicted by one of :func:`ordinal_models`'s models, by the rule of its kind."""
    with torch.no_grad():
        o = model(x)
    if name == "classes (argmax)":
        return o.argmax(dim=1)
    if name == "regression (rounded)":
        return o.squeeze(1).round().clamp(0, ORDINAL_K - 1).long()
    return predict_ordinal(o)


# ---------------------------------------------------------------- 3. directions

def _angle_mse(o, t):
    return mse(o.squeeze(1), t)


def _unit_circle_loss(o, t):
    target_point = torch.stack([torch.cos(t), torch.sin(t)], dim=1)
    return ((l2_normalize(o) - target_point) ** 2).sum(dim=1).mean()


def angle_heads(seed: int, *, steps: int = 300, lr: float = 0.01, device=None) -> dict:
    r"""An angle head (squared error on :math:`\theta`) and a :math:`(\cos, \sin)` head on ``make_angles(300, seed)``.

    Claim (chapter 10, section 3): near the cut at :math:`\pm\pi` (test targets with
    :math:`|\theta| > 5\pi/6`) the angle head's mean angular error is several times the
    :math:`(\cos, \sin)` head's, while away from the cut the two are close.

    Returns ``{"angle head, MSE on θ": model, "(cos, sin) head": model}`` (hidden layer of 32, init ``seed``).
    """
    x, theta = make_angles(300, seed=seed, device=device)
    raw_angle = MLP(1, 1, hidden=(32,), seed=seed).to(device)
    train(raw_angle, _angle_mse, x, theta, steps=steps, lr=lr)
    cos_sin = MLP(1, 2, hidden=(32,), seed=seed).to(device)
    train(cos_sin, _unit_circle_loss, x, theta, steps=steps, lr=lr)
    return {"angle head, MSE on θ": raw_angle, "(cos, sin) head": cos_sin}


def predict_direction(name: str, model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The angle (N,) in radians predicted by one of :func:`angle_heads`'s models."""
    with torch.no_grad():
        o = model(x)
    return o.squeeze(1) if o.shape[1] == 1 else predict_angle(o)


CONCENTRATIONS = {"log": torch.exp, "softplus": softplus}


def von_mises_head(seed: int, *, concentration: str = "log", steps: int = 300, lr: float = 0.02,
                   device=None) -> torch.nn.Module:
    r"""A three-output von Mises head, :math:`\mu = \operatorname{atan2}(u_2, u_1)` and :math:`\kappa = g(o_3)`.

    ``concentration="log"``: :math:`\kappa = e^{o_3}` (the network emits :math:`\log\kappa`);
    ``"softplus"``: :math:`\kappa = \operatorname{softplus}(o_3)`. Trained with
    :func:`course_pkg.losses.von_mises_nll` on ``make_angles(300, seed)`` for ``steps`` Adam steps.

    Claim (chapter 10, section 3): with the log head the predicted spread :math:`1/\sqrt{\hat\kappa}`
    follows the true spread in every third of the input range (within 0.02 on the left, where
    :math:`\kappa \approx 45`); the softplus head, trained for the same 300 steps, predicts the left
    third's spread too wide (by more than 0.02 there), because softplus is the identity for large inputs
    and its raw output must climb to about 45 rather than :math:`\log 45 \approx 3.8`.

    Returns the trained model; read it with :func:`von_mises_predict`.
    """
    if concentration not in CONCENTRATIONS:
        raise ValueError(f"concentration must be one of {sorted(CONCENTRATIONS)}, got {concentration!r}")
    positive = CONCENTRATIONS[concentration]
    x, theta = make_angles(300, seed=seed, device=device)
    model = MLP(1, 3, hidden=(32,), seed=seed).to(device)

    def loss_fn(o, t):
        return von_mises_nll(torch.atan2(o[:, 1], o[:, 0]), positive(o[:, 2]), t)

    train(model, loss_fn, x, theta, steps=steps, lr=lr)
    model.concentration = concentration
    return model


def von_mises_predict(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean direction (N,) and concentration (N,) of a :func:`von_mises_head` model at inputs ``x`` (N, 1)."""
    with torch.no_grad():
        out = model(x)
    return predict_angle(out[:, :2]), CONCENTRATIONS[model.concentration](out[:, 2])


# ---------------------------------------------------------------- 4. sparse probabilities

def attention_pools(seed: int, *, steps: int = 200, lr: float = 0.05, device=None) -> dict:
    r"""Two :class:`~course_pkg.models.AttentionPool` models, softmax and sparsemax, on ``make_selection(200, seed)``.

    Claim (chapter 10, section 4): sparsemax sets most weights exactly to zero and its support consists
    mostly of relevant items while containing nearly all of them; softmax's support is every item. The
    test MSEs of the two are close and do not rank them consistently.

    Returns ``{"softmax": pool, "sparsemax": pool}`` (scorer with one hidden layer of 16, init ``seed``).
    """
    x, y = make_selection(200, seed=seed, device=device)
    pools = {}
    for name, normalize in [("softmax", softmax), ("sparsemax", sparsemax)]:
        pool = AttentionPool(3, normalize, hidden=(16,), seed=seed).to(device)
        train(pool, mse, x, y, steps=steps, lr=lr)
        pools[name] = pool
    return pools


def selection_scores(pool, x: torch.Tensor, y: torch.Tensor, relevant: torch.Tensor) -> dict:
    """Test MSE, share of exact zeros, weight on irrelevant items, and the support's precision and recall."""
    with torch.no_grad():
        w = pool.weights(x)
        squared = (pool(x) - y) ** 2
    support = w > 0
    return {"squared_error": squared.double().flatten(),
            "mse": squared.mean().item(),
            "zeros": (w == 0).float().mean().item(),
            "irrelevant_weight": (w * ~relevant).sum(dim=1).mean().item(),
            "precision": (support & relevant).sum().item() / support.sum().item(),
            "recall": (support & relevant).sum().item() / relevant.sum().item()}
