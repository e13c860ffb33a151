"""Chapter 7's experiments: the scale of unnormalized embeddings, and a model left in train mode at inference.

Each function takes a ``seed`` (data and initial weights); the chapter shows ``seed=0`` and
``tests/claims/test_practices.py`` re-runs the same code with other seeds. Data and networks are float64, so that the
printed digits do not depend on the CPU's vectorized kernels or its libm.
"""
from __future__ import annotations

import torch
from torch import nn

from course_pkg.embeddings import sample_triplets, triplet_accuracy, triplet_loss
from course_pkg.experiments.distance import spiral
from course_pkg.losses import cross_entropy
from course_pkg.runtime import generator
from course_pkg.training import train
from course_pkg.transforms import argmax

__all__ = ["triplet_loss_under_scaling", "train_mode_experiment"]


def triplet_loss_under_scaling(seed: int = 0, ordered: bool = True, scales=(0.01, 0.1, 1.0, 2.0, 3.0),
                               margin: float = 1.0) -> dict:
    r"""The squared-distance triplet loss of :math:`c\,\mathbf e` for one fixed set of 40 embeddings (4 identities).

    With ``ordered=True`` the embeddings are 4 well separated clusters (every triplet ordered correctly); with
    ``ordered=False`` they are 40 random points, most triplets violated.

    Claim: scaling changes no ordering; as :math:`c \to 0` every triplet's loss tends to the margin :math:`m`, so
    shrinking *raises* the loss of ordered embeddings to :math:`m` but *lowers* that of badly ordered ones (whose
    violated triplets cost more than :math:`m`) to :math:`m`: the collapse to one point is a shortcut for a bad
    arrangement. Growing lowers the loss of ordered embeddings to 0 without changing any triplet's order.

    Returns:
        ``{"rows": [(c, loss, fraction of triplets ordered correctly), ...]}``.

    Example:
        >>> rows = triplet_loss_under_scaling(0, ordered=False, scales=(0.01,))["rows"]
        >>> round(rows[0][1], 3)
        1.0
    """
    g = generator(seed)
    identities = torch.arange(4).repeat_interleave(10)              # 4 identities, 10 samples each
    if ordered:
        centres = torch.randn(4, 8, generator=g, dtype=torch.float64)
        emb = 0.3 * (centres[identities] + 0.3 * torch.randn(40, 8, generator=g, dtype=torch.float64))
    else:
        emb = torch.randn(40, 8, generator=g, dtype=torch.float64)
    triplets = sample_triplets(identities, 200, seed=seed)
    anchor, positive, negative = triplets.unbind(1)
    rows = []
    for c in scales:
        e = c * emb
        loss = triplet_loss(e[anchor], e[positive], e[negative], margin=margin, squared=True).item()
        rows.append((c, loss, triplet_accuracy(e, triplets).item()))
    return {"rows": rows}


def _correct_on(model, x, y, batch_size=None):
    """Per-example correctness in whatever mode the model is in, in the original order of ``x``.

    With ``batch_size`` the data are fed sorted by class, in batches of that size.
    """
    order = torch.argsort(y, stable=True) if batch_size is not None else torch.arange(len(y), device=y.device)
    size = batch_size or len(x)
    with torch.no_grad():
        labels = torch.cat([argmax(model(x[order][i:i + size])) for i in range(0, len(x), size)])
    correct = torch.empty_like(y, dtype=torch.bool)
    correct[order] = labels == y[order]
    return correct


def train_mode_experiment(seed: int = 0, device=None) -> dict:
    """A classifier with batch norm and dropout, evaluated in eval mode, in train mode, and after train-mode passes.

    The network (Linear 2→64, BatchNorm1d, ReLU, Dropout 0.2, Linear 64→5, float64) is trained for 300 Adam steps on
    a five-armed spiral of 250 points and tested on a second spiral.

    Claims: in train mode the same inputs give different outputs and the test accuracy drops; a test set sorted by
    class and fed in batches of 10 is classified far worse (batch statistics of one class at a time); back in eval
    mode the model has lost accuracy, although no gradient was computed (the running averages were overwritten); and
    re-estimating the running averages with forward passes over shuffled training batches restores the eval-mode
    accuracy to within two points.

    Returns ``{"eval", "spread", "train_mode", "sorted_batches", "eval_after", "restored", "batch_of_one_error"}``:
    test accuracies (floats), the largest difference of two train-mode passes over the same five inputs, and the
    message of the error a batch of one raises in train mode; and ``"correct"``, the (250,) bool tensors of
    which test examples each accuracy counted, for paired comparisons.
    """
    x_train, y_train = spiral(250, 5, seed=2 * seed, device=device)
    x_test, y_test = spiral(250, 5, seed=2 * seed + 1, device=device)
    torch.manual_seed(seed)                 # the initial weights and the dropout masks come from the global generator
    net = nn.Sequential(nn.Linear(2, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 5))
    net = net.double().to(device)
    train(net, cross_entropy, x_train, y_train, steps=300, lr=0.01)  # leaves the model in eval mode
    correct = {"eval": _correct_on(net, x_test, y_test)}
    out = {}
    net.train()
    with torch.no_grad():
        out["spread"] = (net(x_test[:5]) - net(x_test[:5])).abs().max().item()
    correct["train_mode"] = _correct_on(net, x_test, y_test)
    try:
        with torch.no_grad():
            net(x_test[:1])
        out["batch_of_one_error"] = None
    except ValueError as err:
        out["batch_of_one_error"] = str(err)
    correct["sorted_batches"] = _correct_on(net, x_test, y_test, batch_size=10)
    net.eval()
    correct["eval_after"] = _correct_on(net, x_test, y_test)
    batch_norm = net[1]
    batch_norm.reset_running_stats()
    batch_norm.momentum = None              # a plain average over the batches below instead of momentum 0.1
    net.train()
    with torch.no_grad():
        for batch in torch.randperm(len(x_train), generator=generator(seed + 6)).split(50):
            net(x_train[batch.to(x_train.device)])
    batch_norm.momentum = 0.1
    net.eval()
    correct["restored"] = _correct_on(net, x_test, y_test)
    out.update({name: c.double().mean().item() for name, c in correct.items()})
    out["correct"] = correct
    return out
