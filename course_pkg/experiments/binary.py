"""Chapter 5's experiments (binary classification): one function per experiment the prose draws a conclusion from.

The chapter runs each function once with its default seeds; ``tests/claims/test_binary.py`` re-runs it with other
seeds (data and initialisation) and checks the conclusion stated in the docstring.

All of them use two interleaved half-moons (``course_pkg.data.make_binary``, noise 0.25) and the MLP 2 → 32 → 32 → 1
(tanh) of the chapter, trained full batch.
"""
from __future__ import annotations

import math

import torch

from course_pkg.data import make_binary, subsample_class
from course_pkg.decisions import predict_labels
from course_pkg.losses import bce_with_logits
from course_pkg.metrics import accuracy, binary_counts, mcnemar_test
from course_pkg.models import MLP
from course_pkg.training import train
from course_pkg.transforms import sigmoid

__all__ = ["bce_on_sigmoid", "two_moons", "shifted_mlp", "gradient_norms_at_shift", "train_from_confident_start",
           "train_watching_held_out", "recall_mcnemar", "false_positive_mcnemar", "pos_weight_experiment"]


def bce_on_sigmoid(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The popular pairing ``BCELoss()(torch.sigmoid(logits), target)``, the one the chapter warns against."""
    return torch.nn.BCELoss()(torch.sigmoid(logits), target)


def two_moons(seed: int, n: int = 400, device=None):
    """``make_binary(n, noise=0.25, seed)``: the chapter's data set (400 examples, half of each class)."""
    return make_binary(n=n, noise=0.25, seed=seed, device=device)


def shifted_mlp(shift: float, seed: int = 0, device=None) -> MLP:
    """A fresh MLP 2 → 32 → 32 → 1 (seed ``seed``) whose output bias is moved by ``shift``.

    Every example then starts at about the same logit, ``shift`` plus a term of order 1.

    Example:
        >>> m = shifted_mlp(-40.0)
        >>> bool((m(torch.zeros(3, 2)) < -35).all())
        True
    """
    m = MLP(in_features=2, out_features=1, hidden=(32, 32), seed=seed).to(device)
    with torch.no_grad():
        m.head.bias += shift
    return m


def _grad_norm(loss: torch.Tensor, model: torch.nn.Module) -> float:
    grads = torch.autograd.grad(loss, list(model.parameters()))
    return torch.sqrt(sum((g ** 2).sum() for g in grads)).item()


def gradient_norms_at_shift(shifts, data_seed: int = 0, init_seed: int = 0, device=None) -> dict:
    """Gradient norm over all parameters of the two BCE pairings, for a model started at each logit shift.

    Claim: through ``BCELoss(sigmoid)`` the gradient is exactly 0 at the shifts +20 and −100 (float32), agrees
    with the logits loss at −20 and fades from −28 on (below 0.9 of the logits loss's norm at −28, below a fifth
    at −30, below 1e-4 of it at −40), while ``BCEWithLogitsLoss`` keeps a gradient norm of order 1 (between 0.5
    and 2) at every shift.

    Returns ``{shift: (norm through BCELoss(sigmoid), norm through BCEWithLogitsLoss)}``.
    """
    x, y = two_moons(data_seed, device=device)
    out = {}
    for shift in shifts:
        norms = []
        for loss_fn in (bce_on_sigmoid, torch.nn.BCEWithLogitsLoss()):
            m = shifted_mlp(float(shift), seed=init_seed, device=device)
            norms.append(_grad_norm(loss_fn(m(x), y), m))
        out[shift] = tuple(norms)
    return out


def train_from_confident_start(optimizer: str, lr: float, shift: float = -40.0, steps: int = 200,
                               data_seed: int = 0, init_seed: int = 0, device=None) -> dict:
    """Train ``shifted_mlp(shift)`` through ``BCELoss(sigmoid)`` with plain SGD or Adam.

    Claim: from the shift −40 the gradient has faded by a factor of about e^-12 (all examples together), so plain
    SGD (lr 0.5) stays stuck: the loss after 200 steps equals the first one to 2 decimals and the accuracy stays
    at 0.5. Adam (lr 0.01) rescales the faded gradient and trains: the loss falls below 0.5 and the training
    accuracy rises above 0.85.

    Returns ``{"first": first loss, "final": last recorded loss, "accuracy": training accuracy after training}``.
    """
    x, y = two_moons(data_seed, device=device)
    m = shifted_mlp(shift, seed=init_seed, device=device)
    history = train(m, bce_on_sigmoid, x, y, steps=steps, lr=lr, optimizer=optimizer)
    with torch.no_grad():
        acc = accuracy(predict_labels(m(x)), y)
    return {"first": history.losses[0], "final": history.final, "accuracy": acc}


def train_watching_held_out(steps: int = 500, data_seed: int = 0, held_out_seed: int = 1, init_seed: int = 0,
                            device=None) -> dict:
    """Train the MLP with ``bce_with_logits`` and Adam (lr 0.01), recording the held-out BCE before every step.

    Claim (overfitting): the training BCE keeps falling (it is lower after every further 50 steps), while the
    held-out BCE reaches its minimum within the first 150 steps and is at least 10% above that minimum after
    ``steps`` = 500, and above the training BCE, while the held-out accuracy barely notices: it ends within 0.03 of
    its value at the step of the lowest held-out BCE.

    Returns a dict with ``model``, the data (``x, y, x_held, y_held``), ``train_losses`` (before each step),
    ``held_out_losses`` and ``held_out_accuracy`` (before each step) and ``final_train`` / ``final_held_out`` /
    ``final_held_out_accuracy`` (after the last step).
    """
    x, y = two_moons(data_seed, device=device)
    x_held, y_held = two_moons(held_out_seed, device=device)
    model = MLP(in_features=2, out_features=1, hidden=(32, 32), seed=init_seed).to(device)
    held_out, held_out_accuracy = [], []

    def loss_watching_held_out(logits, target):
        with torch.no_grad():  # not part of training: the held-out BCE at the parameters this step starts from
            z_held = model(x_held)
            held_out.append(bce_with_logits(z_held, y_held).item())
            held_out_accuracy.append(accuracy(predict_labels(z_held), y_held))
        return bce_with_logits(logits, target)

    history = train(model, loss_watching_held_out, x, y, steps=steps, lr=0.01)
    with torch.no_grad():
        final_train = bce_with_logits(model(x), y).item()
        final_held_out = bce_with_logits(model(x_held), y_held).item()
        final_accuracy = accuracy(predict_labels(model(x_held)), y_held)
    return {"model": model, "x": x, "y": y, "x_held": x_held, "y_held": y_held, "train_losses": history.losses,
            "held_out_losses": held_out, "held_out_accuracy": held_out_accuracy, "final_train": final_train,
            "final_held_out": final_held_out, "final_held_out_accuracy": final_accuracy}


def recall_mcnemar(logits: torch.Tensor, target: torch.Tensor, t_a: float, t_b: float) -> dict:
    """McNemar's exact test for the recalls at thresholds ``t_a`` and ``t_b`` on the same positives.

    "Correct" for a positive example means flagged. Returns ``mcnemar_test``'s dict (``a_only``: positives
    flagged at ``t_a`` only).

    Example:
        >>> z, y = torch.tensor([0.5, 1.5, 3.0, -1.0]), torch.tensor([1.0, 1.0, 1.0, 0.0])
        >>> r = recall_mcnemar(z, y, 0.5, 0.9); r["a_only"], r["b_only"]
        (2, 0)
    """
    pos = target.reshape(-1) == 1
    return mcnemar_test(predict_labels(logits, t_a).reshape(-1)[pos] == 1,
                        predict_labels(logits, t_b).reshape(-1)[pos] == 1)


def false_positive_mcnemar(logits: torch.Tensor, target: torch.Tensor, t_a: float, t_b: float) -> dict:
    """McNemar's exact test for the false positives at thresholds ``t_a`` and ``t_b`` on the same negatives.

    "Correct" for a negative example means not flagged. Returns ``mcnemar_test``'s dict (``b_only``: negatives
    left alone at ``t_b`` only, i.e. false positives at ``t_a`` that ``t_b`` avoids).

    Example:
        >>> z, y = torch.tensor([0.5, 1.5, 3.0, -1.0]), torch.tensor([0.0, 0.0, 1.0, 0.0])
        >>> r = false_positive_mcnemar(z, y, 0.5, 0.9); r["a_only"], r["b_only"]
        (0, 2)
    """
    neg = target.reshape(-1) == 0
    return mcnemar_test(predict_labels(logits, t_a).reshape(-1)[neg] == 0,
                        predict_labels(logits, t_b).reshape(-1)[neg] == 0)


def pos_weight_experiment(data_seed: int = 2, subsample_seed: int = 0, init_seed: int = 0, held_out_seed: int = 1,
                          prior_seed: int = 3, steps: int = 500, device=None) -> dict:
    """Train on an imbalanced sample with and without ``pos_weight = n_neg / n_pos``; score both on held-out data.

    The training set keeps every class-0 example of ``make_binary(800, seed=data_seed)`` and a random eighth of the
    class-1 examples (400 against 50, so w = 8). Two MLPs from the same initialisation are trained for ``steps``
    Adam steps (lr 0.01), one with ``bce_with_logits(pos_weight=w)``. They are scored on a balanced held-out set
    (400 examples) and on a held-out set with the training prior (800 negatives, 100 positives).

    Claims, on the balanced held-out set at t = 0.5:
      - the weighted model flags more positives (higher recall) *and* raises more false alarms (more false
        positives, lower precision) than the unweighted one;
      - pooled over runs, the recall gain is far beyond chance (McNemar on the positives).
    And for the probabilities (BCE of the logits, shifted by ±log w or not):
      - on the balanced set the unweighted logits + log w score best and the weighted logits − log w worst;
      - on the training-prior set the unweighted logits score best, the weighted ones worst, and subtracting
        log w from the weighted logits lowers their BCE and moves their mean probability nearer the true
        fraction of positives.

    Returns a dict with ``w``, the two ``models``, ``held_out`` / ``prior_set`` data, ``logits`` on the balanced set,
    ``counts`` (``binary_counts`` at t = 0.5 for "plain" and "weighted", and for "plain, t = 1/(1+w)"),
    ``recall_test`` / ``fp_test`` (McNemar, weighted as A, plain as B), ``handles_test`` (McNemar on correctness,
    plain at t = 1/(1+w) as A, weighted at 0.5 as B), ``probabilities`` ({variant: (mean p balanced, BCE balanced,
    mean p prior, BCE prior)}) and ``prior_fraction``.
    """
    x_big, y_big = make_binary(n=800, noise=0.25, seed=data_seed, device=device)
    x_imb, y_imb = subsample_class(x_big, y_big, label=1.0, fraction=1 / 8, seed=subsample_seed)
    n_pos, n_neg = int(y_imb.sum()), int((1 - y_imb).sum())
    w = n_neg / n_pos
    models = {}
    for name, weight in (("plain", None), ("weighted", w)):
        m = MLP(2, 1, hidden=(32, 32), seed=init_seed).to(device)
        train(m, lambda o, t, weight=weight: bce_with_logits(o, t, pos_weight=weight), x_imb, y_imb, steps=steps,
              lr=0.01)
        models[name] = m
    x_held, y_held = two_moons(held_out_seed, device=device)
    x_prior, y_prior = subsample_class(*make_binary(n=1600, noise=0.25, seed=prior_seed, device=device), label=1.0,
                                       fraction=1 / 8)
    with torch.no_grad():
        logits = {name: m(x_held) for name, m in models.items()}
        prior_logits = {name: m(x_prior) for name, m in models.items()}
    t_shift = 1 / (1 + w)
    flags = {"plain": predict_labels(logits["plain"]), "weighted": predict_labels(logits["weighted"]),
             "plain, t = 1/(1+w)": predict_labels(logits["plain"], t_shift)}
    counts = {name: binary_counts(f, y_held) for name, f in flags.items()}
    right = {name: (f == y_held).reshape(-1) for name, f in flags.items()}
    pos, neg = y_held.reshape(-1) == 1, y_held.reshape(-1) == 0
    log_w = math.log(w)
    variants = {"no pos_weight": ("plain", 0.0), "no pos_weight + log w": ("plain", log_w),
                "pos_weight": ("weighted", 0.0), "pos_weight - log w": ("weighted", -log_w)}
    probabilities = {}
    for variant, (name, shift) in variants.items():
        zb, zp = logits[name] + shift, prior_logits[name] + shift
        probabilities[variant] = (sigmoid(zb).mean().item(), bce_with_logits(zb, y_held).item(),
                                  sigmoid(zp).mean().item(), bce_with_logits(zp, y_prior).item())
    return {"w": w, "n_pos": n_pos, "n_neg": n_neg, "models": models, "held_out": (x_held, y_held),
            "prior_set": (x_prior, y_prior), "logits": logits, "counts": counts,
            "recall_test": mcnemar_test(right["weighted"][pos], right["plain"][pos]),
            "fp_test": mcnemar_test(right["weighted"][neg], right["plain"][neg]),
            "handles_test": mcnemar_test(right["plain, t = 1/(1+w)"], right["weighted"]),
            "probabilities": probabilities, "prior_fraction": y_prior.mean().item()}
