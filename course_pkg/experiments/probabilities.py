"""The experiments of the chapter "Probabilities you can trust" (chapter 11), one function each.

The chapter runs each function once and prints what it returns; ``tests/claims/test_probabilities.py``
re-runs them over several seeds and checks the conclusions the prose draws. Every function trains small
networks on CPU in about a second.
"""
from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F

from ..calibration import fit_temperature
from ..data import make_long_tailed, make_multiclass, make_multilabel
from ..gumbel import GumbelSoftmax
from ..losses import bce_with_logits, cross_entropy, logit_adjusted_cross_entropy, mse
from ..models import MLP
from ..training import train
from ..transforms import adjust_logits, argmax

__all__ = ["multilabel_models", "calibration_models", "LONG_TAIL_TAUS", "long_tail_models", "long_tail_logits",
           "choose_tau", "discrete_autoencoder", "gumbel_gradient_estimates"]


# ---------------------------------------------------------------- 1. multi-label outputs

def multilabel_models(seed: int, *, steps: int = 150, lr: float = 0.05, device=None) -> dict:
    r"""Two multi-label networks on ``make_multilabel(600, seed)``: plain BCE and BCE with ``pos_weight``.

    ``pos_weight`` is :math:`w_k = N^-_k / N^+_k` from the training set. Claims (chapter 11, section 1):
    on the rarest label the weighted network has the higher test recall and the lower precision than
    the plain one at :math:`p > 0.5`; its mean predicted probability of the rarest label overstates the
    label's rate, while the plain network's stays close to it.

    Returns ``{"plain": model, "pos_weight": model, "weight": w}`` (hidden layer of 16, init ``seed``).
    """
    x, y = make_multilabel(n=600, seed=seed, device=device)
    positives = y.sum(0)
    weight = (len(y) - positives) / positives
    out = {"weight": weight}
    for name, w in [("plain", None), ("pos_weight", weight)]:
        model = MLP(in_features=6, out_features=4, hidden=(16,), seed=seed).to(device)
        train(model, partial(bce_with_logits, pos_weight=w), x, y, steps=steps, lr=lr)
        out[name] = model
    return out


# ---------------------------------------------------------------- 2. calibration

def calibration_models(seed: int, *, eps: float = 0.1, steps: int = 250, lr: float = 0.02, device=None) -> dict:
    r"""An over-confident three-class classifier and the same network trained with label smoothing.

    Data: ``make_multiclass`` spirals with noise 0.6; training set of 150 (seed ``3 * seed``),
    validation set of 300 (``3 * seed + 1``), test set of 3000 (``3 * seed + 2``). Two hidden layers of 32,
    initialisation ``seed``, 250 Adam steps.

    Claims (chapter 11, section 2): the temperature fitted on the validation set is above 1 and lowers
    the test NLL and ECE without changing a prediction; fitted on the training set it is below 1;
    training with label smoothing lowers the test NLL and ECE compared with the plain network.

    Returns a dict with the models ``"plain"`` and ``"smoothed"`` and the data ``"train"``, ``"val"``,
    ``"test"`` as ``(x, y)`` pairs.
    """
    data = {name: make_multiclass(n=n, num_classes=3, noise=0.6, seed=3 * seed + k, device=device)
            for k, (name, n) in enumerate([("train", 150), ("val", 300), ("test", 3000)])}
    x_tr, y_tr = data["train"]
    out = dict(data)
    for name, loss_fn in [("plain", cross_entropy), ("smoothed", partial(cross_entropy, label_smoothing=eps))]:
        model = MLP(in_features=2, out_features=3, hidden=(32, 32), seed=seed).to(device)
        train(model, loss_fn, x_tr, y_tr, steps=steps, lr=lr)
        out[name] = model
    return out


# ---------------------------------------------------------------- 3. long tails

LONG_TAIL_TAUS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)


def long_tail_models(seed: int, *, num_classes: int = 5, steps: int = 150, lr: float = 0.5, device=None) -> dict:
    r"""Four linear classifiers trained on long-tailed data (``make_long_tailed(1200, imbalance=50, seed)``).

    ``"plain"``: cross-entropy; ``"in the loss"``: the logit-adjusted loss with :math:`\tau = 1`;
    ``"re-weighted"``: cross-entropy weighted by :math:`1/\pi_y`; ``"misread"``: :math:`\log\pi_y` added
    to the true class's logit only. Initialisation 0 for all four, so they differ only in the loss.

    Claims (chapter 11, section 3), on a balanced test set, with paired tests (McNemar): each of the three
    corrections (post hoc adjustment of the plain model, in the loss, re-weighting) has a higher balanced
    accuracy than the plain model; the corrections differ from one another by less than 0.02; the
    misreading lifts the balanced accuracy by less than 0.05 and leaves the rarest class's recall below
    0.2; post hoc and in-the-loss adjustment disagree on under 1 % of the test samples.

    Returns the four models and ``"log_prior"``, the log of the training class shares (C,).
    """
    C = num_classes
    x, y = make_long_tailed(n=1200, num_classes=C, imbalance=50.0, seed=seed, device=device)
    counts = torch.bincount(y, minlength=C)
    prior = counts / counts.sum()
    log_prior = prior.log()

    def fit(loss_fn):
        model = MLP(in_features=2, out_features=C, hidden=(), seed=0).to(device)
        train(model, loss_fn, x, y, steps=steps, lr=lr)
        return model

    def true_only(o, t):
        return cross_entropy(o + F.one_hot(t, C) * log_prior[t].unsqueeze(1), t)

    return {"plain": fit(cross_entropy),
            "in the loss": fit(partial(logit_adjusted_cross_entropy, log_prior=log_prior)),
            "re-weighted": fit(partial(F.cross_entropy, weight=1 / prior)),
            "misread": fit(true_only),
            "log_prior": log_prior, "counts": counts}


def long_tail_logits(models: dict, x: torch.Tensor, *, tau: float = 1.0) -> dict:
    r"""Test logits (N, C) of :func:`long_tail_models`'s models, with post hoc adjustment at strength ``tau``.

    Keys: "plain cross-entropy", "post hoc: o - log pi" (at strength ``tau``), "in the loss: CE(o + log pi)",
    "re-weighted: weights 1/pi", "misread: true logit only".
    """
    with torch.no_grad():
        z_plain = models["plain"](x)
        return {"plain cross-entropy": z_plain,
                "post hoc: o - log pi": adjust_logits(z_plain, models["log_prior"], tau=tau),
                "in the loss: CE(o + log pi)": models["in the loss"](x),
                "re-weighted: weights 1/pi": models["re-weighted"](x),
                "misread: true logit only": models["misread"](x)}


def choose_tau(model: torch.nn.Module, log_prior: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor,
               taus=LONG_TAIL_TAUS) -> tuple[float, dict]:
    r"""The post hoc strength :math:`\tau` with the highest balanced accuracy on *validation* data.

    Ties go to the smallest :math:`\tau`. Returns ``(tau, {tau: validation balanced accuracy})``.
    """
    from ..metrics import balanced_accuracy
    C = log_prior.numel()
    with torch.no_grad():
        z = model(x_val)
    scores = {tau: balanced_accuracy(argmax(adjust_logits(z, log_prior, tau=tau)), y_val, C) for tau in taus}
    best = max(scores.values())
    return min(t for t, s in scores.items() if s == best), scores


# ---------------------------------------------------------------- 4. Gumbel-softmax

def discrete_autoencoder(seed: int, *, steps: int = 150, lr: float = 0.05, device=None) -> dict:
    r"""An encoder, a hard Gumbel-softmax layer and a linear decoder trained to reconstruct four clusters.

    Data: ``make_long_tailed(200, 4 classes, imbalance 1, noise 0.2, balanced, seed=3 + seed)``; encoder
    initialisation ``seed``, decoder ``seed + 1``, noise seed ``seed``.

    Claim (chapter 11, section 4): trained through the straight-through estimator alone, the code uses all
    four values and assigns every cluster a code of its own, and the reconstruction error with argmax codes
    is within 0.01 of replacing every point by the mean of its cluster.

    Returns ``{"coder": model, "x": x, "cluster": labels, "before": MSE before training}``.
    """
    x, cluster = make_long_tailed(n=200, num_classes=4, imbalance=1.0, noise=0.2, balanced=True,
                                  seed=3 + seed, device=device)
    coder = torch.nn.Sequential(
        MLP(in_features=2, out_features=4, hidden=(16,), seed=seed),
        GumbelSoftmax(tau=1.0, hard=True, seed=seed),
        MLP(in_features=4, out_features=2, hidden=(), seed=seed + 1),
    ).to(device)
    with torch.no_grad():
        before = mse(coder.eval()(x), x).item()
    train(coder, mse, x, x, steps=steps, lr=lr)
    return {"coder": coder, "x": x, "cluster": cluster, "before": before}


def gumbel_gradient_estimates(z: torch.Tensor, cost: torch.Tensor, taus=(0.1, 0.3, 1.0, 3.0), *,
                              n_samples: int = 20000, seed: int = 1) -> dict:
    r"""Bias and spread of the Gumbel-softmax gradient of :math:`\mathbb E[\mathbf c^\top \mathbf y]` at several temperatures.

    The exact gradient of the expected cost of a categorical sample is that of
    :math:`\mathbf c^\top\operatorname{softmax}(\mathbf z)`. For every :math:`\tau`, ``n_samples`` soft samples
    (noise from ``generator(seed)``) each give one gradient estimate; the bias is the distance of their mean from
    the exact gradient, the spread the norm of their per-coordinate standard deviations.

    Claim (chapter 11, section 4), with ``z = (1, 0, -1, 2)`` and ``cost = (1, 2, 3, 4)``: at small
    :math:`\tau` (0.1, 0.3) the mean estimate is nearly exact (bias below 0.05, the Monte Carlo error) but one
    estimate is noisy; at large :math:`\tau` (1, 3) the bias is several times larger and grows with
    :math:`\tau`, while the spread and the mean largest entry of the soft sample fall as :math:`\tau` grows.

    Returns ``{"exact": gradient (C,), tau: {"largest": ..., "bias": ..., "spread": ...}, ...}``.
    """
    from ..gumbel import gumbel_softmax
    from ..runtime import generator
    from ..transforms import softmax
    z_leaf = z.detach().clone().requires_grad_(True)
    (exact,) = torch.autograd.grad((softmax(z_leaf) * cost).sum(), z_leaf)
    out = {"exact": exact}
    for tau in taus:
        z_rows = z.detach().expand(n_samples, z.numel()).clone().requires_grad_(True)   # per-sample gradients
        y = gumbel_softmax(z_rows, tau=tau, generator=generator(seed))
        (grads,) = torch.autograd.grad((y * cost).sum(), z_rows)
        out[tau] = {"largest": y.max(1).values.mean().item(), "bias": (grads.mean(0) - exact).norm().item(),
                    "spread": grads.std(0).norm().item()}
    return out
