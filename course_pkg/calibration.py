"""Calibration: do predicted probabilities mean what they say, and temperature scaling to fix them.

A classifier is *calibrated* when, among the inputs it assigns confidence
``p``, a fraction ``p`` is classified correctly. Confidence is the largest
softmax probability. The reliability curve bins the confidences and compares
each bin's mean confidence with its accuracy; the expected calibration error
(ECE) is the count-weighted mean gap. Temperature scaling (Guo et al., 2017)
divides the logits by one scalar ``T > 0`` fitted on held-out data; it leaves
every ``argmax``, hence the accuracy, unchanged.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from course_pkg._validation import check_number, check_tensor
from course_pkg.losses import cross_entropy
from course_pkg.transforms import log_softmax

__all__ = ["apply_temperature", "ReliabilityCurve", "reliability_curve", "expected_calibration_error",
           "fit_temperature"]


def apply_temperature(logits: torch.Tensor, T) -> torch.Tensor:
    r"""Temperature-scaled logits, :math:`z / T` with :math:`T > 0`.

    ``softmax(z / T)`` is flatter than ``softmax(z)`` for ``T > 1`` (less
    confident) and sharper for ``T < 1``; since dividing by a positive number
    preserves order, ``argmax`` is unchanged. ``T`` is a positive number or a
    positive 0-dim tensor (which may require grad).

    Shapes: ``logits`` (..., C) -> same shape and dtype.

    Example:
        >>> apply_temperature(torch.tensor([2.0, -4.0]), 2.0)
        tensor([ 1., -2.])
    """
    check_tensor(logits, "logits", floating=True, min_dim=1)
    if isinstance(T, torch.Tensor):
        check_tensor(T, "T", floating=True)
        if T.dim() != 0:
            raise ValueError(f"T must be a 0-dim tensor (one temperature), got shape {tuple(T.shape)}")
        if not bool(T.detach() > 0):
            raise ValueError(f"T must be > 0, got {T.item()}")
        return logits / T
    return logits / check_number(T, "T", positive=True)


class ReliabilityCurve(NamedTuple):
    """Per-bin statistics: ``edges`` (n_bins + 1,), ``confidence``/``accuracy`` (n_bins,) with NaN for empty bins, ``counts`` (n_bins,) int64."""

    edges: torch.Tensor
    confidence: torch.Tensor
    accuracy: torch.Tensor
    counts: torch.Tensor


def _check_probs_labels(probs, labels, n_bins):
    check_tensor(probs, "probs", floating=True, min_dim=2)
    if probs.dim() != 2:
        raise ValueError(f"probs must have shape (N, C), got {tuple(probs.shape)}")
    check_tensor(labels, "labels")
    if labels.dtype != torch.int64 or labels.shape != probs.shape[:1]:
        raise ValueError(
            f"labels must be int64 class indices of shape (N,) = {tuple(probs.shape[:1])}, "
            f"got a {labels.dtype} tensor of shape {tuple(labels.shape)}"
        )
    if probs.shape[0] == 0:
        raise ValueError("probs must hold at least one sample, got N = 0")
    if bool(torch.isnan(probs).any()) or bool((probs < 0).any()) or bool((probs > 1).any()):
        raise ValueError("probs must hold probabilities in [0, 1] (apply softmax to logits first)")
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int, got {n_bins!r}")


def reliability_curve(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 15) -> ReliabilityCurve:
    r"""Bin the confidences and compare each bin's mean confidence with its accuracy.

    Confidence :math:`c_n = \max_k p_{nk}`, prediction :math:`\hat y_n = \arg\max_k p_{nk}`
    (first index on ties). Bin :math:`b` (0-based) holds the samples with
    :math:`c_n \in (b/M, (b+1)/M]` for :math:`M` = ``n_bins``; a confidence of
    exactly 0 goes to the first bin. For each bin,
    :math:`\mathrm{conf}(B_b) = \frac{1}{|B_b|}\sum_{n\in B_b} c_n` and
    :math:`\mathrm{acc}(B_b) = \frac{1}{|B_b|}\sum_{n\in B_b}[\hat y_n = y_n]`.

    Shapes: ``probs`` (N, C) probabilities, ``labels`` (N,) int64.

    Example:
        >>> p = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]])
        >>> curve = reliability_curve(p, torch.tensor([0, 1, 1]), n_bins=2)
        >>> curve.counts.tolist(), [round(a, 4) for a in curve.accuracy.tolist()]
        ([0, 3], [nan, 0.6667])
    """
    _check_probs_labels(probs, labels, n_bins)
    conf, pred = probs.max(dim=1)
    correct = (pred == labels).to(probs.dtype)
    # bin b holds (b/M, (b+1)/M]: ceil(c*M) - 1, with c = 0 sent to bin 0.
    idx = (torch.ceil(conf * n_bins) - 1).clamp(0, n_bins - 1).long()
    counts = torch.bincount(idx, minlength=n_bins)
    sum_conf = torch.zeros(n_bins, dtype=probs.dtype, device=probs.device).index_add_(0, idx, conf)
    sum_acc = torch.zeros(n_bins, dtype=probs.dtype, device=probs.device).index_add_(0, idx, correct)
    nonempty = counts > 0
    denom = counts.clamp(min=1).to(probs.dtype)
    nan = torch.full_like(sum_conf, float("nan"))
    edges = torch.linspace(0, 1, n_bins + 1, dtype=probs.dtype, device=probs.device)
    return ReliabilityCurve(edges, torch.where(nonempty, sum_conf / denom, nan),
                            torch.where(nonempty, sum_acc / denom, nan), counts)


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 15) -> torch.Tensor:
    r"""Expected calibration error, :math:`\mathrm{ECE} = \sum_b \frac{|B_b|}{N}\,\big|\mathrm{acc}(B_b) - \mathrm{conf}(B_b)\big|`.

    Bins as in :func:`reliability_curve` (equal width on (0, 1], 15 bins as in
    Guo et al., 2017; empty bins contribute 0). 0 means perfectly calibrated
    on this data; the value depends on ``n_bins`` and is noisy for small N.
    Not differentiable in a useful way (it is a metric, not a loss).

    Shapes: ``probs`` (N, C), ``labels`` (N,) int64; returns a 0-dim tensor
    in ``probs``' dtype.

    Example:
        >>> p = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]])
        >>> expected_calibration_error(p, torch.tensor([0, 1, 1]), n_bins=2)
        tensor(0.1333)
    """
    curve = reliability_curve(probs, labels, n_bins)
    weight = curve.counts.to(probs.dtype) / probs.shape[0]
    gap = (curve.accuracy - curve.confidence).abs()
    return torch.where(curve.counts > 0, weight * gap, torch.zeros_like(gap)).sum()


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, *, max_iter: int = 100) -> float:
    r"""Fit one temperature on held-out data: :math:`T^\star = \arg\min_{T>0} \mathrm{CE}(z / T, y)`.

    Parameterised as :math:`T = e^{t}` so that any real ``t`` gives a valid
    :math:`T > 0`, and minimised with L-BFGS (strong Wolfe line search) in
    float64 from :math:`T = 1`. The objective is convex in :math:`1/T`, so the
    minimum is unique. Use *held-out* logits: on the training data an
    overfitted model would be told to be even more confident.

    Shapes: ``logits`` (N, C) raw logits, ``labels`` (N,) int64. Returns a float.

    Example:
        >>> z = torch.tensor([[4.0, 0.0], [4.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
        >>> round(fit_temperature(z, torch.tensor([0, 0, 1, 1])), 3)  # = 4 / log 3: confidence 3/4
        3.641
    """
    check_tensor(logits, "logits", floating=True, min_dim=2)
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape (N, C), got {tuple(logits.shape)}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive int, got {max_iter!r}")
    z = logits.detach().double()
    log_t = torch.zeros((), dtype=torch.float64, device=z.device, requires_grad=True)
    cross_entropy(z, labels)  # validates labels (shape, dtype, range)
    opt = torch.optim.LBFGS([log_t], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-10, tolerance_change=1e-12)

    def closure():
        opt.zero_grad()
        loss = -log_softmax(z / torch.exp(log_t), dim=1).gather(1, labels.view(-1, 1)).mean()
        loss.backward()
        return loss

    opt.step(closure)
    return float(torch.exp(log_t.detach()))
