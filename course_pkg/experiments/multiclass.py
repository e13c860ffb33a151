"""Chapter 6's experiments (multi-class classification): the double-softmax bug in training.

The chapter runs :func:`compare_training` with its default seeds; ``tests/claims/test_multiclass.py`` re-runs it
with other seeds (data and initialisation) and checks the conclusions stated in the docstring.
"""
from __future__ import annotations

import math

import torch

from course_pkg.data import make_multiclass
from course_pkg.losses import cross_entropy, naive_cross_entropy_after_softmax
from course_pkg.metrics import mcnemar_test
from course_pkg.models import MLP
from course_pkg.training import train
from course_pkg.transforms import argmax

__all__ = ["CHECKPOINTS", "spiral", "compare_training", "double_softmax_floor"]

CHECKPOINTS = (10, 50, 100, 150, 200)
"""The steps after which the chapter reports the cross-entropy of the logits."""


def spiral(seed: int = 0, device=None):
    """The chapter's data: ``make_multiclass(n=300, num_classes=3, noise=0.2, seed)``, a three-armed spiral."""
    return make_multiclass(n=300, num_classes=3, noise=0.2, seed=seed, device=device)


def double_softmax_floor(num_classes: int) -> float:
    r"""The least value of cross-entropy after an extra softmax, :math:`\log\big(1 + (C - 1)/e\big)`.

    Example:
        >>> round(double_softmax_floor(3), 4)
        0.5514
    """
    return math.log(1 + (num_classes - 1) / math.e)


def compare_training(optimizer: str, lr: float, steps: int = 200, data_seed: int = 0, init_seed: int = 0,
                     device=None) -> dict:
    """Train two MLPs 2 → 32 → 32 → 3 from the same seed on the spiral, with and without a softmax before the loss.

    Both runs record the cross-entropy of their *logits* before every step (the quantity the correct run
    minimises), so the two can be compared like with like.

    Claims (over seeds of data and initialisation, 200 full-batch steps):
      - plain SGD, lr 0.5: the run through the extra softmax has the higher cross-entropy at every checkpoint of
        :data:`CHECKPOINTS`; by step 200 it is at least twice the correct run's, the correct run has more than
        halved its cross-entropy since step 100 while the buggy one has lost less than 40% of it, and the buggy
        model classifies fewer training points correctly, beyond chance (McNemar p < 0.01);
      - Adam, lr 0.01: the training accuracies end within 0.01 of each other, and the loss the buggy run trains on
        ends within 0.01 above its floor :func:`double_softmax_floor` (it cannot go lower);
      - Adam: whether the buggy run's cross-entropy stalls depends on the run: at the chapter's seeds it ends more
        than five times the correct run's, at other seeds as low as it.

    Returns ``{"loss on logits": run, "softmax before the loss": run, "x": x, "y": y, "accuracy_test": McNemar
    dict (correct run as A)}`` where each run is a dict with ``model``, ``true_ce`` (cross-entropy of the logits
    before each step), ``history`` (the loss trained on), ``accuracy`` and ``correct`` (per training example).
    """
    x, y = spiral(data_seed, device=device)
    num_classes = int(y.max()) + 1
    results = {"x": x, "y": y}
    for name, loss_fn in (("loss on logits", cross_entropy),
                          ("softmax before the loss", naive_cross_entropy_after_softmax)):
        true_ce = []

        def recording_loss(logits, target, loss_fn=loss_fn, true_ce=true_ce):
            true_ce.append(cross_entropy(logits.detach(), target).item())  # for the comparison only
            return loss_fn(logits, target)

        model = MLP(2, num_classes, hidden=(32, 32), seed=init_seed).to(device)
        history = train(model, recording_loss, x, y, steps=steps, lr=lr, optimizer=optimizer)
        with torch.no_grad():
            correct = argmax(model(x)) == y
        results[name] = {"model": model, "true_ce": true_ce, "history": history, "correct": correct,
                         "accuracy": correct.float().mean().item()}
    results["accuracy_test"] = mcnemar_test(results["loss on logits"]["correct"],
                                            results["softmax before the loss"]["correct"])
    return results
