"""Binary decisions from logits: probability thresholds as logit cuts (counts live in ``metrics``).

A binary classifier emits one raw logit :math:`z` per example; the probability
of class 1 is :math:`\\sigma(z)` and the logit is its log-odds,
:math:`z = \\log\\frac{p}{1-p}`. Because :math:`\\sigma` is increasing, every
decision "predict 1 when :math:`\\sigma(z) > t`" is the same as "predict 1
when :math:`z > \\log\\frac{t}{1-t}`": the functions here decide in logit
space, which never rounds a probability to 0 or 1 first.
"""
from __future__ import annotations

import math

import torch

from course_pkg._validation import check_number, check_same_shape, check_tensor
from course_pkg.metrics import binary_counts

__all__ = ["logit_threshold", "predict_labels", "threshold_table"]


def logit_threshold(threshold_prob: float) -> float:
    r"""The logit cut that matches a probability threshold, :math:`c = \log\frac{t}{1-t}`.

    Computed in Python float64 as :math:`\log t - \log(1 - t)` (``log1p``), so
    thresholds very close to 0 or 1 stay exact. ``threshold_prob`` must lie in
    the open interval (0, 1).

    Example:
        >>> logit_threshold(0.5)
        0.0
        >>> round(logit_threshold(0.9), 4)
        2.1972
    """
    t = check_number(threshold_prob, "threshold_prob")
    if not 0.0 < t < 1.0:
        raise ValueError(f"threshold_prob must lie in the open interval (0, 1), got {t}")
    return math.log(t) - math.log1p(-t)


def predict_labels(logits: torch.Tensor, threshold_prob: float = 0.5) -> torch.Tensor:
    r"""Hard labels :math:`\hat y = 1` if :math:`\sigma(z) > t` else 0, decided as :math:`z > \log\frac{t}{1-t}`.

    No sigmoid is evaluated, so the decision stays right where a float32
    sigmoid would already have rounded to exactly 1 (logits above 16.6):
    with ``threshold_prob = 1 - 1e-9`` a logit of 18 gives 0, as it should
    (:math:`\sigma(18) \approx 1 - 1.5\cdot 10^{-8} < t`).

    The comparison runs in float64. Comparing a float32 tensor with the
    Python float ``cut`` would round the cut to float32 first and decide
    wrongly right at the edge: for :math:`t = \sigma(0.1)` and the float32
    logit ``0.1`` (0.100000001...), :math:`\sigma(z) > t` holds, but the
    cut rounds to that same float32 number and ``z > cut`` is False. In
    float64 the only rounding left is the cut's own (a few float64 units
    in the last place), far finer than the spacing of float32 or float16 logits.

    Shapes: ``logits`` any floating tensor; returns a tensor of the same
    shape and dtype holding 0.0 / 1.0. The result carries no gradient.

    Example:
        >>> predict_labels(torch.tensor([-1.0, 0.0, 1.0, 3.0]), threshold_prob=0.9)
        tensor([0., 0., 0., 1.])
        >>> predict_labels(torch.tensor([0.1]), threshold_prob=1 / (1 + math.exp(-0.1)))  # the float32 edge
        tensor([1.])
    """
    check_tensor(logits, "logits", floating=True)
    cut = logit_threshold(threshold_prob)
    z = logits.detach()
    if z.device.type == "mps":  # no float64 on Apple GPUs: decide on the CPU
        return (z.cpu().to(torch.float64) > cut).to(device=z.device, dtype=z.dtype)
    return (z.to(torch.float64) > cut).to(z.dtype)


def threshold_table(logits: torch.Tensor, target: torch.Tensor, thresholds) -> str:
    """A text table of precision, recall and accuracy at each probability threshold.

    One row per threshold ``t``: the matching logit cut, the number of
    examples predicted positive, false positives, false negatives, precision,
    recall, accuracy (rates to 3 decimals, ``nan`` when undefined).

    Shapes: ``logits`` and ``target`` identical, ``target`` in {0, 1}.

    Example:
        >>> print(threshold_table(torch.tensor([-2.0, 1.0, 3.0]), torch.tensor([0.0, 0.0, 1.0]), [0.5]))
        ... # doctest: +NORMALIZE_WHITESPACE
        threshold | logit cut | predicted 1 | FP | FN | precision | recall | accuracy
        0.5       | 0         | 2           | 1  | 0  | 0.500     | 1.000  | 0.667
    """
    check_tensor(logits, "logits", floating=True)
    check_same_shape(logits, target, "logits", "target")
    header = ["threshold", "logit cut", "predicted 1", "FP", "FN", "precision", "recall", "accuracy"]
    rows = []
    for t in thresholds:
        c = binary_counts(predict_labels(logits, t), target)
        rows.append([f"{t:g}", f"{logit_threshold(t):.3g}", str(c["tp"] + c["fp"]), str(c["fp"]), str(c["fn"]),
                     f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['accuracy']:.3f}"])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(" | ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows])
