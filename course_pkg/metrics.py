r"""Metrics on predictions: accuracy, binary confusion counts, and how uncertain a rate is.

Metrics are computed on *predictions* (labels after the output transformation
and the decision), never on raw outputs, and returned as Python floats and
ints, ready to print. A rate measured on few examples is uncertain: with 30
positives a recall of 0.8 could well be 0.6 or 0.9, so
:func:`wilson_interval` gives the interval to print next to it.
"""
from __future__ import annotations

import math

import torch

from course_pkg._validation import check_number, check_same_shape, check_tensor

__all__ = ["accuracy", "binary_counts", "wilson_interval", "interval_coverage", "per_class_recall",
           "balanced_accuracy", "mcnemar_test", "paired_bootstrap"]


def _labels(t, name: str) -> torch.Tensor:
    check_tensor(t, name)
    if t.is_floating_point() and t.numel() and not bool((t == t.round()).all()):
        raise ValueError(f"{name} must hold labels (whole numbers), got fractional values; "
                         "decide labels first (argmax, or a threshold on the logits)")
    return t.detach()


def accuracy(pred: torch.Tensor, target: torch.Tensor) -> float:
    r"""The fraction of predictions equal to their target, :math:`\frac1N \sum_n [\hat y_n = y_n]`.

    Shapes: ``pred`` and ``target`` identical, holding labels (class indices,
    or 0/1), any dtype. An empty batch gives ``nan``.

    Example:
        >>> accuracy(torch.tensor([0, 2, 1, 1]), torch.tensor([0, 1, 1, 1]))
        0.75
    """
    p, y = _labels(pred, "pred"), _labels(target, "target")
    check_same_shape(p, y, "pred", "target")
    return float((p.double() == y.double()).double().mean()) if p.numel() else float("nan")


def _binary(t, name: str) -> torch.Tensor:
    t = _labels(t, name)
    if t.numel() and not bool(((t == 0) | (t == 1)).all()):
        raise ValueError(f"{name} must hold only the labels 0 and 1")
    return t.to(torch.float64)


def binary_counts(pred: torch.Tensor, target: torch.Tensor) -> dict:
    r"""Confusion counts and the usual rates for 0/1 predictions.

    Returns a dict with ``tp``, ``fp``, ``fn``, ``tn`` (ints) and
    ``precision`` :math:`= \frac{TP}{TP + FP}`, ``recall``
    :math:`= \frac{TP}{TP + FN}`, ``accuracy`` (floats). A rate whose
    denominator is 0 is ``nan`` (for example precision when nothing is
    predicted positive).

    Shapes: ``pred`` and ``target`` identical, values in {0, 1} (any dtype).

    Example:
        >>> c = binary_counts(torch.tensor([1., 1., 0., 0.]), torch.tensor([1., 0., 1., 0.]))
        >>> c["tp"], c["fp"], c["fn"], c["tn"], c["precision"]
        (1, 1, 1, 1, 0.5)
    """
    p, y = _binary(pred, "pred"), _binary(target, "target")
    check_same_shape(p, y, "pred", "target")
    tp = int(((p == 1) & (y == 1)).sum())
    fp = int(((p == 1) & (y == 0)).sum())
    fn = int(((p == 0) & (y == 1)).sum())
    tn = int(((p == 0) & (y == 0)).sum())

    def rate(k, n):
        return k / n if n else float("nan")

    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": rate(tp, tp + fp), "recall": rate(tp, tp + fn), "accuracy": rate(tp + tn, p.numel())}


# ---------------------------------------------------------------- outputs with structure

__all__ += ["mean_poisson_deviance", "angular_error", "mean_angular_error"]  # chapter "Outputs with structure"


def mean_poisson_deviance(rate: torch.Tensor, target: torch.Tensor) -> float:
    r"""Mean Poisson deviance of predicted rates, :math:`\frac1N\sum_n 2\big(y_n\log\frac{y_n}{\lambda_n} - (y_n - \lambda_n)\big)`.

    Twice the gap between the Poisson negative log-likelihood of the
    predictions and that of the saturated model :math:`\lambda_n = y_n`, so it
    is :math:`\ge 0`, and 0 only for a perfect fit; a term with :math:`y_n = 0`
    is :math:`2\lambda_n` (:math:`0 \log 0 = 0`). Lower is better; unlike
    the raw NLL it does not depend on :math:`\log y!`.

    Shapes: ``rate`` (:math:`\lambda > 0`) and ``target`` (counts >= 0) identical, floating.

    Example:
        >>> mean_poisson_deviance(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 2.0]))
        1.0
    """
    check_tensor(rate, "rate", floating=True)
    check_tensor(target, "target", floating=True)
    check_same_shape(rate, target, "rate", "target")
    if rate.numel() and not bool((rate > 0).all()):
        raise ValueError("rate must be > 0 everywhere (predicted Poisson rates, e.g. exp of the log-rate)")
    if target.numel() and bool((target < 0).any()):
        raise ValueError("target must hold counts >= 0")
    lam, y = rate.detach().double(), target.detach().double()
    return float((2 * (torch.xlogy(y, y) - torch.xlogy(y, lam) - (y - lam))).mean())


def angular_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Absolute angle between each predicted and true direction, :math:`|\mathrm{wrap}(\hat\theta - \theta)|` in :math:`[0, \pi]`.

    :math:`\mathrm{wrap}(a) = \operatorname{atan2}(\sin a, \cos a)`, so :math:`3.1` against :math:`-3.1` is
    an error of :math:`2\pi - 6.2 \approx 0.08`, not 6.2. Detached, float64.

    Shapes: ``pred`` and ``target`` identical, angles in radians, floating; returns the same shape.

    Example:
        >>> angular_error(torch.tensor([3.1, 0.5]), torch.tensor([-3.1, 0.0]))
        tensor([0.0832, 0.5000], dtype=torch.float64)
    """
    check_tensor(pred, "pred", floating=True)
    check_tensor(target, "target", floating=True)
    check_same_shape(pred, target, "pred", "target")
    d = pred.detach().double() - target.detach().double()
    return torch.atan2(torch.sin(d), torch.cos(d)).abs()


def mean_angular_error(pred: torch.Tensor, target: torch.Tensor) -> float:
    r"""Mean absolute angle between predicted and true directions, in radians, in :math:`[0, \pi]`.

    The mean of :func:`angular_error`, :math:`\frac1N\sum_n |\mathrm{wrap}(\hat\theta_n - \theta_n)|` with
    :math:`\mathrm{wrap}(a) = \operatorname{atan2}(\sin a, \cos a)`, so
    :math:`3.1` against :math:`-3.1` is an error of :math:`2\pi - 6.2 \approx 0.08`, not 6.2.

    Shapes: ``pred`` and ``target`` identical, angles in radians, floating.

    Example:
        >>> round(mean_angular_error(torch.tensor([3.1]), torch.tensor([-3.1])), 4)
        0.0832
    """
    return float(angular_error(pred, target).mean())


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple:
    r"""The Wilson score interval for a rate :math:`k/n` (Wilson 1927), as ``(low, high)``.

    With :math:`\hat p = k/n` and :math:`z` the two-sided normal quantile of
    ``confidence`` (1.96 for 0.95),

    .. math::
        \frac{\hat p + \frac{z^2}{2n} \pm z\sqrt{\frac{\hat p(1-\hat p)}{n} + \frac{z^2}{4n^2}}}{1 + \frac{z^2}{n}} .

    Unlike :math:`\hat p \pm z\sqrt{\hat p(1-\hat p)/n}` it stays inside
    [0, 1] and is not empty at :math:`\hat p = 0` or 1, which matters for the
    small counts (a few dozen positives) of a minority class.

    Example:
        >>> low, high = wilson_interval(24, 30)      # a recall of 0.8 on 30 positives
        >>> round(low, 3), round(high, 3)
        (0.627, 0.905)
    """
    if isinstance(successes, bool) or not isinstance(successes, int):
        raise TypeError(f"successes must be an int, got {type(successes).__name__}")
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in 0..n={n}, got {successes}")
    c = check_number(confidence, "confidence")
    if not 0.0 < c < 1.0:
        raise ValueError(f"confidence must lie in the open interval (0, 1), got {c}")
    z = math.sqrt(2.0) * _erfinv(c)
    p = successes / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    low, high = (centre - half) / scale, (centre + half) / scale
    # At k = 0 or k = n one end is exactly p; keep it there rather than one rounding step inside.
    return (0.0 if successes == 0 else min(low, p)), (1.0 if successes == n else max(high, p))


def interval_coverage(lower: torch.Tensor, upper: torch.Tensor, target: torch.Tensor) -> tuple:
    r"""How many targets fall inside their predicted interval: ``(inside, n)``, ready for :func:`wilson_interval`.

    .. math::
        \text{inside} = \sum_n [\ell_n \le y_n \le u_n], \qquad
        \text{coverage} = \text{inside} / n .

    A central interval between the q and 1 - q quantiles should cover a share
    1 - 2q of held-out targets; measured on n targets, the coverage is itself
    uncertain, hence the counts. An interval with :math:`\ell_n > u_n` (crossed
    quantiles) contains nothing. NaN bounds count as misses.

    Shapes: ``lower``, ``upper``, ``target`` identical (any shape), floating.

    Example:
        >>> interval_coverage(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 1.0]), torch.tensor([0.5, 2.0]))
        (1, 2)
        >>> low, high = wilson_interval(*interval_coverage(torch.zeros(3), torch.ones(3), torch.full((3,), 0.5)))
        >>> round(low, 3), high
        (0.439, 1.0)
    """
    for name, t in (("lower", lower), ("upper", upper), ("target", target)):
        check_tensor(t, name, floating=True)
    check_same_shape(lower, target, "lower", "target")
    check_same_shape(upper, target, "upper", "target")
    if target.numel() == 0:
        raise ValueError("target must hold at least one value")
    inside = (lower.detach() <= target.detach()) & (target.detach() <= upper.detach())
    return int(inside.sum()), target.numel()


def _class_labels(pred, target, num_classes) -> tuple:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    p, y = _labels(pred, "pred"), _labels(target, "target")
    check_same_shape(p, y, "pred", "target")
    for t, name in ((p, "pred"), (y, "target")):
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= num_classes):
            raise ValueError(f"{name} must hold class indices in 0..{num_classes - 1}, "
                             f"got values in {int(t.min())}..{int(t.max())}")
    return p.reshape(-1).long(), y.reshape(-1).long()


def per_class_recall(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> list:
    r"""The recall of every class, :math:`R_j = \frac{|\{n : \hat y_n = j,\ y_n = j\}|}{|\{n : y_n = j\}|}`.

    The share of the examples of class :math:`j` that are predicted as
    :math:`j`. A class with no example in ``target`` gets ``nan`` (its recall
    does not exist), never 0.

    Shapes: ``pred`` and ``target`` identical, class indices in
    0..``num_classes`` − 1 (any integer dtype, or whole-number floats).
    Returns a list of ``num_classes`` floats.

    Example:
        >>> per_class_recall(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), 4)
        [1.0, 1.0, 0.5, nan]
    """
    p, y = _class_labels(pred, target, num_classes)
    hits = torch.bincount(y[p == y], minlength=num_classes).tolist()
    sizes = torch.bincount(y, minlength=num_classes).tolist()
    return [h / s if s else float("nan") for h, s in zip(hits, sizes)]


def balanced_accuracy(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> float:
    r"""The mean recall over the classes present in ``target``, :math:`\frac{1}{|K|}\sum_{j \in K} R_j`.

    Every class counts equally, however rare, so a classifier that ignores a
    rare class cannot hide behind the frequent ones (plain accuracy weights
    each class by its frequency). On a test set with the same number of
    examples in every class it equals the accuracy. See :func:`per_class_recall`.

    Shapes: as :func:`per_class_recall`. Returns a float (``nan`` for an empty batch).

    Example:
        >>> y = torch.tensor([0, 0, 0, 1])
        >>> balanced_accuracy(torch.zeros(4, dtype=torch.int64), y, 2), accuracy(torch.zeros(4, dtype=torch.int64), y)
        (0.5, 0.75)
    """
    recalls = [r for r in per_class_recall(pred, target, num_classes) if not math.isnan(r)]
    return sum(recalls) / len(recalls) if recalls else float("nan")


def mcnemar_test(correct_a: torch.Tensor, correct_b: torch.Tensor) -> dict:
    r"""McNemar's exact test: do two classifiers scored on the *same* examples differ in accuracy?

    Only the discordant examples carry information: :math:`b` = right for A and wrong for B,
    :math:`c` = wrong for A and right for B. Under "no difference" each discordant example is
    a fair coin, so the two-sided p-value is

    .. math::
        p = \min\Big(1,\; 2 \sum_{i=0}^{\min(b, c)} \binom{b+c}{i} 2^{-(b+c)}\Big).

    Two per-model intervals that overlap say nothing here: the models err on mostly the same
    examples, and the paired test uses that.

    Args:
        correct_a, correct_b: boolean (or 0/1) tensors of one shape, one entry per example:
            was model (or threshold) A / B right on it.

    Returns:
        ``{"a_only": b, "b_only": c, "p_value": p}``.

    Example:
        >>> a = torch.tensor([1, 1, 1, 1, 1, 1, 1, 1, 0, 1], dtype=torch.bool)
        >>> b = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1, 0, 1], dtype=torch.bool)
        >>> r = mcnemar_test(a, b); r["a_only"], r["b_only"], round(r["p_value"], 4)
        (6, 0, 0.0312)
    """
    a = _binary(correct_a, "correct_a").bool()
    b = _binary(correct_b, "correct_b").bool()
    check_same_shape(a, b, "correct_a", "correct_b")
    a_only = int((a & ~b).sum())
    b_only = int((~a & b).sum())
    n = a_only + b_only
    if n == 0:
        return {"a_only": 0, "b_only": 0, "p_value": 1.0}
    k = min(a_only, b_only)
    if n <= 1000:   # P(X <= k) for X ~ Binomial(n, 1/2): exact integers, one correctly rounded division
        tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    else:           # in log space: exact integers grow to O(n) digits, O(n^2) work, and 2.0 ** -n underflows
        logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2)
                for i in range(k + 1)]
        top = max(logs)
        tail = math.exp(top) * math.fsum(math.exp(v - top) for v in logs)
    return {"a_only": a_only, "b_only": b_only, "p_value": min(1.0, 2.0 * tail)}


def paired_bootstrap(score_a: torch.Tensor, score_b: torch.Tensor, *, resamples: int = 2000,
                     confidence: float = 0.95, seed: int = 0) -> dict:
    r"""A paired bootstrap interval for :math:`\operatorname{mean}(a) - \operatorname{mean}(b)` over the same examples.

    ``score_a[i]`` and ``score_b[i]`` are two models' per-example scores (a loss, an error, 0/1
    correctness) on example :math:`i`. Each resample draws examples with replacement and keeps
    the *pairs* together, so the interval reflects how the difference varies, not how each
    model's mean varies: when the models err on the same examples it is much narrower than two
    per-model intervals.

    Args:
        score_a, score_b: 1-D float tensors of one length n >= 2.
        resamples: bootstrap resamples. confidence: level of the percentile interval.
        seed: seeds the resampling (its own generator; global state is untouched).

    Returns:
        ``{"difference": mean(a − b), "low": ..., "high": ..., "se": bootstrap standard error}``.

    Example:
        >>> a = torch.arange(100, dtype=torch.float64) / 100
        >>> r = paired_bootstrap(a + 0.1, a)
        >>> round(r["difference"], 3), round(r["low"], 3), round(r["high"], 3), round(r["se"], 3)
        (0.1, 0.1, 0.1, 0.0)
    """
    a = check_tensor(score_a, "score_a").to(torch.float64)
    b = check_tensor(score_b, "score_b").to(torch.float64)
    check_same_shape(a, b, "score_a", "score_b")
    if a.dim() != 1 or a.numel() < 2:
        raise ValueError(f"score_a and score_b must be 1-D with at least 2 entries, got shape {tuple(a.shape)}")
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 10:
        raise ValueError(f"resamples must be an int >= 10, got {resamples!r}")
    c = check_number(confidence, "confidence")
    if not 0.0 < c < 1.0:
        raise ValueError(f"confidence must lie in the open interval (0, 1), got {c}")
    d = a - b
    g = torch.Generator().manual_seed(int(seed))
    idx = torch.randint(0, d.numel(), (resamples, d.numel()), generator=g)
    means = d[idx].mean(dim=1)
    low, high = torch.quantile(means, torch.tensor([(1 - c) / 2, (1 + c) / 2], dtype=torch.float64)).tolist()
    return {"difference": float(d.mean()), "low": low, "high": high, "se": float(means.std())}


def _erfinv(y: float) -> float:
    return float(torch.special.erfinv(torch.tensor(y, dtype=torch.float64)))
