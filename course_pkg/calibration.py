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

import math
from typing import NamedTuple

import torch

from course_pkg._validation import check_number, check_tensor
from course_pkg.losses import cross_entropy
from course_pkg.transforms import softmax

__all__ = ["apply_temperature", "ReliabilityCurve", "reliability_curve", "expected_calibration_error",
           "ece_null_distribution", "fit_temperature"]


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


def _bin_index(conf: torch.Tensor, n_bins: int) -> torch.Tensor:
    # bin b holds (b/M, (b+1)/M]: ceil(c*M) - 1, with c = 0 sent to bin 0.
    return (torch.ceil(conf * n_bins) - 1).clamp(0, n_bins - 1).long()


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
    idx = _bin_index(conf, n_bins)
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


def ece_null_distribution(probs: torch.Tensor, n_bins: int = 15, draws: int = 1000,
                          generator: torch.Generator | None = None) -> torch.Tensor:
    r"""ECE values that a *perfectly calibrated* model with these confidences gets by chance alone.

    Perfect calibration means that an example with confidence
    :math:`c_n = \max_k p_{nk}` is classified correctly with probability
    :math:`c_n`. Each draw flips those coins, :math:`\text{correct}_n \sim \mathrm{Bernoulli}(c_n)`,
    and computes the ECE of the outcome with the bins of
    :func:`expected_calibration_error`:

    .. math::
        \mathrm{ECE} = \frac1N \sum_b \Big|\sum_{n \in B_b} (\text{correct}_n - c_n)\Big| .

    The spread of the returned values is the sampling noise of the ECE for
    this N, these confidences and this number of bins. It is not zero: an
    observed ECE inside it is no evidence of miscalibration. The coins are
    drawn on the CPU from ``generator``.

    Shapes: ``probs`` (N, C) probabilities; returns ``draws`` ECE values,
    shape (draws,), in ``probs``' dtype.

    Example:
        >>> p = torch.tensor([[0.9, 0.1]] * 100, dtype=torch.float64)  # one bin, so ECE = |accuracy - 0.9|
        >>> null = ece_null_distribution(p, n_bins=10, draws=2000, generator=torch.Generator().manual_seed(0))
        >>> null.shape, round(null.mean().item(), 2)
        (torch.Size([2000]), 0.02)
    """
    check_tensor(probs, "probs", floating=True, min_dim=2)
    no_labels = torch.zeros(probs.shape[:1], dtype=torch.int64, device=probs.device)  # only probs is checked
    _check_probs_labels(probs, no_labels, n_bins)
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise ValueError(f"draws must be a positive int, got {draws!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    conf = probs.detach().max(dim=1).values
    coins = torch.rand((draws, conf.shape[0]), generator=generator, dtype=probs.dtype).to(conf.device)
    gap = (coins < conf).to(probs.dtype) - conf                       # correct_n - c_n, shape (draws, N)
    per_bin = torch.zeros(draws, n_bins, dtype=probs.dtype, device=conf.device)
    per_bin.index_add_(1, _bin_index(conf, n_bins), gap)
    return per_bin.abs().sum(dim=1) / conf.shape[0]


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, *, max_iter: int = 100) -> float:
    r"""Fit one temperature on held-out data: :math:`T^\star = \arg\min_{T>0} \mathrm{CE}(z / T, y)`.

    Parameterised as :math:`T = e^{t}` so that any real ``t`` gives a valid
    :math:`T > 0`. The objective is convex in :math:`\beta = 1/T` (a
    log-sum-exp of functions linear in :math:`\beta`), so its derivative

    .. math::
        \frac{d\,\mathrm{CE}}{d\beta} = \frac1N \sum_n \Big(\sum_j \mathrm{softmax}(\beta z_n)_j\, z_{nj} - z_{n y_n}\Big)

    changes sign exactly once, and bisection on :math:`t \in [-20, 20]`
    finds the minimum to float64 precision within ``max_iter`` halvings. (No
    ``torch.optim`` optimizer: constructing one imports ``torch._dynamo``,
    seconds of start-up for a one-dimensional problem.) Use *held-out*
    logits: on the training data an overfitted model would be told to be even
    more confident.

    Raises ``ValueError`` when no finite temperature minimises the NLL: when
    every label already has the largest logit (the NLL falls without bound
    as :math:`T \to 0`), or when the logits are no better than chance on the
    labels (the NLL is smallest as :math:`T \to \infty`).

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
    cross_entropy(z, labels)  # validates labels (shape, dtype, range)
    z_label = z.gather(1, labels.view(-1, 1)).squeeze(1)

    def slope(t: float) -> float:
        """d CE / d beta at beta = exp(-t): increasing in beta, so decreasing in t."""
        p = softmax(z * math.exp(-t), dim=1)
        return float(((p * z).sum(dim=1) - z_label).mean())

    lo, hi = -20.0, 20.0                                   # T from 2e-9 to 5e8
    if slope(hi) >= 0:
        raise ValueError("the logits are no better than chance on these labels: the NLL is smallest as "
                         "T -> infinity")
    if slope(lo) <= 0:
        raise ValueError("every label has the largest logit: the NLL keeps falling as T -> 0, "
                         "so no finite temperature minimises it (fit T on held-out data)")
    for _ in range(max_iter):
        mid = (lo + hi) / 2
        if mid in (lo, hi):                                # the bracket is one float wide
            break
        lo, hi = (mid, hi) if slope(mid) > 0 else (lo, mid)
    return math.exp((lo + hi) / 2)
