"""Losses that take raw model outputs, written from first principles.

Each loss applies its own output transformation inside, in a stable form:
``bce_with_logits`` is sigmoid + binary cross-entropy, ``cross_entropy`` is
log-softmax + negative log-likelihood. That is why a model should emit raw
logits: transforming them first applies the transformation twice.
All losses use mean reduction and refuse mismatched shapes (no silent
broadcasting). The ``naive_*`` / ``*_on_probabilities`` functions are the
pairings the book demonstrates failing.
"""
from __future__ import annotations

import torch

from course_pkg._validation import check_number, check_same_shape, check_tensor
from course_pkg.transforms import _check_log_prior, log_softmax, sigmoid, softmax, softplus

__all__ = [
    "mse", "bce_with_logits", "cross_entropy", "nll_loss", "logit_adjusted_cross_entropy",
    "bce_on_probabilities", "naive_bce_after_sigmoid",
    "naive_cross_entropy_after_softmax",
]


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Mean squared error, :math:`\frac{1}{N}\sum_i (\hat y_i - y_i)^2`.

    Shapes: ``pred`` and ``target`` identical (any shape); returns a scalar.

    Example:
        >>> mse(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 4.0]))
        tensor(2.)
    """
    check_tensor(pred, "pred", floating=True)
    check_tensor(target, "target", floating=True)
    check_same_shape(pred, target, "pred", "target")
    return ((pred - target) ** 2).mean()


def bce_with_logits(logits: torch.Tensor, target: torch.Tensor, pos_weight=None) -> torch.Tensor:
    r"""Binary cross-entropy on raw logits, stable for any logit.

    .. math::
        \ell(z, y) = -w\,y\log\sigma(z) - (1-y)\log(1-\sigma(z))
                   = w\,y\,\mathrm{softplus}(-z) + (1 - y)\,\mathrm{softplus}(z)

    using :math:`-\log\sigma(z) = \mathrm{softplus}(-z)` and
    :math:`-\log(1-\sigma(z)) = \mathrm{softplus}(z)`; ``w`` is ``pos_weight``
    (default 1). Both terms are computed directly, so nothing cancels: a
    confidently right prediction keeps its tiny loss and gradient. The
    gradient is :math:`\sigma(z) - y` for ``w = 1``: largest exactly when the
    model is confidently wrong.

    Shapes: ``logits`` and ``target`` identical (any shape), target values in
    [0, 1]; ``pos_weight`` a number or a tensor broadcastable to the last
    dimension. Returns the mean, a scalar.

    Example:
        >>> bce_with_logits(torch.tensor([20.0]), torch.tensor([0.0]))
        tensor(20.)
    """
    check_tensor(logits, "logits", floating=True)
    check_tensor(target, "target", floating=True)
    check_same_shape(logits, target, "logits", "target")
    if pos_weight is None:
        weight_pos = 1.0
    elif isinstance(pos_weight, torch.Tensor):
        weight_pos = check_tensor(pos_weight, "pos_weight", floating=True)
    else:
        weight_pos = check_number(pos_weight, "pos_weight", positive=True)
    return (weight_pos * target * softplus(-logits) + (1 - target) * softplus(logits)).mean()


def _check_class_target(logits: torch.Tensor, target: torch.Tensor) -> None:
    check_tensor(logits, "logits", floating=True, min_dim=2)
    check_tensor(target, "target")
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape (N, C), got {tuple(logits.shape)}")
    if target.dtype == torch.int64:
        if target.shape != logits.shape[:1]:
            raise ValueError(
                f"class-index target must have shape (N,) = {tuple(logits.shape[:1])}, got {tuple(target.shape)}"
            )
        if target.numel() and (int(target.min()) < 0 or int(target.max()) >= logits.shape[1]):
            raise ValueError(
                f"class-index target must lie in 0..{logits.shape[1] - 1}, "
                f"got values in {int(target.min())}..{int(target.max())}"
            )
    elif target.is_floating_point():
        check_same_shape(logits, target, "logits", "probability target")
    else:
        raise TypeError(
            f"target must be int64 class indices or float class probabilities, got a {target.dtype} tensor"
        )


def nll_loss(log_probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Negative log-likelihood, :math:`-\frac1N\sum_n \log p_{n, y_n}`, given *log*-probabilities.

    Shapes: ``log_probs`` (N, C); ``target`` int64 (N,) or float (N, C)
    probabilities (then :math:`-\frac1N\sum_n\sum_c q_{nc}\log p_{nc}`).
    Fed probabilities instead of log-probabilities it returns a meaningless,
    possibly negative number: nothing stops you, so do not.

    Example:
        >>> nll_loss(torch.log(torch.tensor([[0.5, 0.5]])), torch.tensor([0]))
        tensor(0.6931)
    """
    _check_class_target(log_probs, target)
    if target.dtype == torch.int64:
        return -log_probs.gather(1, target.unsqueeze(1)).mean()
    return -(target * log_probs).sum(dim=1).mean()


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    r"""Cross-entropy on raw logits: :math:`\ell = -\frac1N\sum_n\sum_c q_{nc}\,\log\mathrm{softmax}(z_n)_c`.

    The loss applies log-softmax itself (stably), so ``logits`` must be the
    model's raw outputs, *not* probabilities. ``target`` is either int64
    class indices (``q`` one-hot) or float class probabilities. With label
    smoothing :math:`\varepsilon`, ``q`` becomes
    :math:`(1-\varepsilon)\,q + \varepsilon / C`.

    Shapes: ``logits`` (N, C); ``target`` (N,) int64 or (N, C) float.
    Returns the mean over N, a scalar. Gradient w.r.t. logits:
    :math:`(\mathrm{softmax}(z) - q)/N`.

    Example:
        >>> cross_entropy(torch.zeros(1, 10), torch.tensor([3]))
        tensor(2.3026)
    """
    _check_class_target(logits, target)
    eps = check_number(label_smoothing, "label_smoothing")
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {eps}")
    log_p = log_softmax(logits, dim=1)
    q = target
    if target.dtype == torch.int64:
        q = torch.zeros_like(log_p).scatter_(1, target.unsqueeze(1), 1.0)
    if eps:
        q = (1 - eps) * q + eps / logits.shape[1]
    return -(q * log_p).sum(dim=1).mean()


def logit_adjusted_cross_entropy(logits: torch.Tensor, target: torch.Tensor, log_prior: torch.Tensor,
                                 tau: float = 1.0) -> torch.Tensor:
    r"""Logit-adjusted cross-entropy (Menon et al., 2021): cross-entropy of :math:`o_j + \tau\log\pi_j`, every class :math:`j`.

    .. math::
        \ell = -\frac1N \sum_n \log
              \frac{e^{o_{n y_n} + \tau \log \pi_{y_n}}}{\sum_j e^{o_{nj} + \tau \log \pi_j}} .

    The prior term is added to *every* logit, the denominator's included
    (added to the true class only, it would be a different loss; added to all
    logits of a row as the same number :math:`\tau\log\pi_{y_n}`, it would
    cancel). Training with it makes the raw logits absorb
    :math:`-\tau\log\pi_j`: at the minimum :math:`o_j = \log p_{\text{train}}(j \mid x) - \tau\log\pi_j`
    + const, so at test time the raw logits are used as they are
    (``argmax(o)``), with no adjustment; :func:`course_pkg.transforms.adjust_logits`
    is the post-hoc alternative for a model trained without it.

    Shapes: ``logits`` (N, C); ``target`` (N,) int64 or (N, C) float
    probabilities; ``log_prior`` (C,) finite; ``tau`` >= 0. Returns the mean
    over N, a scalar.

    Example:
        >>> log_prior = torch.log(torch.tensor([0.75, 0.25]))
        >>> logit_adjusted_cross_entropy(torch.zeros(2, 2), torch.tensor([0, 1]), log_prior)  # -(log .75 + log .25) / 2
        tensor(0.8370)
    """
    _check_class_target(logits, target)
    log_prior, tau = _check_log_prior(log_prior, logits, tau)
    return cross_entropy(logits + tau * log_prior, target)


# ---------------------------------------------------------------- naive pairings the book shows failing

class _BCEOnProbabilities(torch.autograd.Function):
    """Element-wise BCE on probabilities with PyTorch's BCELoss forward and backward."""

    @staticmethod
    def forward(ctx, p, y):
        ctx.save_for_backward(p, y)
        return -(y * torch.log(p).clamp(min=-100) + (1 - y) * torch.log(1 - p).clamp(min=-100))

    @staticmethod
    def backward(ctx, grad_out):
        p, y = ctx.saved_tensors
        # BCELoss divides by max(p(1-p), 1e-12): finite, but where sigmoid has
        # saturated the chain rule then multiplies by sigma'(z) = 0.
        return grad_out * (p - y) / (p * (1 - p)).clamp(min=1e-12), None


def bce_on_probabilities(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Binary cross-entropy on probabilities, as ``torch.nn.BCELoss`` computes it.

    :math:`-\frac1N\sum [y\log p + (1-y)\log(1-p)]`, each log clamped at -100
    (PyTorch's guard against ``log(0)``), with BCELoss's backward
    :math:`(p - y)/\max(p(1-p), 10^{-12})`. Shapes: identical, any.

    Example:
        >>> bce_on_probabilities(torch.tensor([0.5]), torch.tensor([1.0]))
        tensor(0.6931)
    """
    check_tensor(probs, "probs", floating=True)
    check_tensor(target, "target", floating=True)
    check_same_shape(probs, target, "probs", "target")
    return _BCEOnProbabilities.apply(probs, target).mean()


def naive_bce_after_sigmoid(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""The common bug: ``sigmoid`` in the model, then BCE on probabilities.

    Equals :func:`bce_with_logits` for moderate logits, but once
    :math:`\sigma(z)` rounds to 0 or 1 (|z| > 16.6 in float32) the loss is
    clamped and the gradient is exactly 0, precisely when the model is
    confidently wrong. Shapes: identical, any.

    Example:
        >>> naive_bce_after_sigmoid(torch.tensor([20.0]), torch.tensor([0.0]))
        tensor(100.)
    """
    return bce_on_probabilities(sigmoid(logits), target)


def naive_cross_entropy_after_softmax(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""The double-softmax bug: ``softmax`` in the model, then a loss that applies log-softmax again.

    .. math::
        \ell = \mathrm{cross\_entropy}(\mathrm{softmax}(z), y)
              = -\frac1N \sum_n \log \mathrm{softmax}(\mathrm{softmax}(z_n))_{y_n}

    The probabilities are scored as if they were logits. At equal logits the
    loss equals :func:`cross_entropy` and its gradient is exactly :math:`C`
    times smaller; away from equal logits the extra softmax Jacobian shrinks
    it much more (for :math:`C = 10` and one wrong logit at 10, about
    :math:`10^4` times). Since the inner probabilities lie in [0, 1], even a
    perfectly confident, correct model keeps a loss of
    :math:`\log(1 + (C - 1)/e)`.

    Shapes: ``logits`` (N, C); ``target`` (N,) int64 class indices or (N, C)
    float probabilities, as for :func:`cross_entropy`. Returns the mean, a scalar.

    Example:
        >>> naive_cross_entropy_after_softmax(torch.zeros(1, 10), torch.tensor([3]))
        tensor(2.3026)
        >>> naive_cross_entropy_after_softmax(torch.tensor([[1000.0, 0.0, 0.0]]), torch.tensor([0]))  # log(1 + 2/e)
        tensor(0.5514)
    """
    _check_class_target(logits, target)
    return cross_entropy(softmax(logits, dim=1), target)
