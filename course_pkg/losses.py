"""Losses that take raw model outputs, written from first principles.

Each loss applies its own output transformation inside, in a stable form:
``bce_with_logits`` is sigmoid + binary cross-entropy, ``cross_entropy`` is
log-softmax + negative log-likelihood. That is why a model should emit raw
logits: transforming them first applies the transformation twice.
Losses that predict a whole distribution take its parameters instead:
``gaussian_nll`` a mean and a variance, ``mdn_nll`` the logits, means and
scales of a Gaussian mixture, ``pinball_loss`` a set of quantiles.
All losses use mean reduction and refuse mismatched shapes (no silent
broadcasting). The ``naive_*`` / ``*_on_probabilities`` functions are the
pairings the book demonstrates failing.
"""
from __future__ import annotations

import math

import torch

from course_pkg._validation import check_number, check_same_shape, check_tensor
from course_pkg.transforms import log_softmax, logsumexp, sigmoid, softplus

__all__ = [
    "mse", "bce_with_logits", "cross_entropy", "nll_loss",
    "bce_on_probabilities", "naive_bce_after_sigmoid",
    "gaussian_nll", "mdn_nll", "pinball_loss",
]

_REDUCTIONS = ("mean", "sum", "none")


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


# ---------------------------------------------------------------- predicting distributions

def gaussian_nll(mean: torch.Tensor, var: torch.Tensor, target: torch.Tensor, *, full: bool = False,
                 eps: float = 1e-6, reduction: str = "mean") -> torch.Tensor:
    r"""Gaussian negative log-likelihood with a predicted variance, written from first principles.

    .. math::
        \ell(\mu, \sigma^2, y) = \tfrac12\Big(\log \tilde\sigma^2 + \frac{(y - \mu)^2}{\tilde\sigma^2}\Big)
        \;\big[+\ \tfrac12\log 2\pi \text{ if } \texttt{full}\big],
        \qquad \tilde\sigma^2 = \max(\sigma^2, \varepsilon).

    This is :math:`-\log \mathcal N(y;\mu,\sigma^2)`, the constant dropped
    unless ``full=True``. It matches ``torch.nn.functional.gaussian_nll_loss(mean,
    target, var, full, eps, reduction)`` (note torch's argument order) including
    its ``eps`` handling: the *value* of ``var`` is clamped at ``eps``, but the
    clamp is invisible to autograd (the gradient is evaluated at the clamped
    value and passed to ``var`` unchanged, never zeroed). ``eps`` is a safety net,
    not a parameterisation: the model itself should guarantee ``var > 0``
    (e.g. :func:`course_pkg.heteroscedastic.gaussian_parameters`). Negative
    variances are an error.

    Gradients: :math:`\partial\ell/\partial\mu = (\mu - y)/\sigma^2` (the
    squared error's :math:`2(\mu - y)` divided by :math:`2\sigma^2`) and
    :math:`\partial\ell/\partial\sigma^2 = \tfrac12\big(1/\sigma^2 - (y-\mu)^2/\sigma^4\big)`,
    zero exactly when :math:`\sigma^2 = (y-\mu)^2`.

    Shapes: ``mean``, ``var``, ``target`` identical (no broadcasting), floating.
    Returns a scalar for ``reduction="mean"``/``"sum"``, else the element-wise loss.

    Example:
        >>> gaussian_nll(torch.tensor([0.0]), torch.tensor([1.0]), torch.tensor([2.0]))
        tensor(2.)
    """
    check_tensor(mean, "mean", floating=True)
    check_tensor(var, "var", floating=True)
    check_tensor(target, "target", floating=True)
    check_same_shape(mean, var, "mean", "var")
    check_same_shape(mean, target, "mean", "target")
    eps = check_number(eps, "eps", positive=True)
    if not isinstance(full, bool):
        raise TypeError(f"full must be a bool, got {type(full).__name__}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if bool((var < 0).any()):
        raise ValueError("var has negative entries; a variance must be >= 0 (give the model a positive head, e.g. exp or softplus of a raw output)")
    # Clamp the value, keep the identity gradient (as torch's in-place no_grad clamp does).
    var_c = var + (var.clamp(min=eps) - var).detach()
    loss = 0.5 * (torch.log(var_c) + (target - mean) ** 2 / var_c)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_reduction(reduction) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return reduction


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def mdn_nll(pi_logits: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor, target: torch.Tensor,
            reduction: str = "mean") -> torch.Tensor:
    r"""Negative log-likelihood of a Gaussian mixture (a mixture density network), in log space.

    .. math::
        \ell_n = -\log \sum_{k=1}^K \pi_{nk}\,\mathcal N(y_n;\mu_{nk},\sigma_{nk}^2)
              = -\operatorname{logsumexp}_k\Big(\log\pi_{nk} - \log\sigma_{nk}
                 - \frac{(y_n-\mu_{nk})^2}{2\sigma_{nk}^2}\Big) + \tfrac12\log 2\pi,
        \qquad \pi_n = \mathrm{softmax}(\text{pi\_logits}_n).

    The mixture weights enter as *logits* (the loss applies the log-softmax,
    as cross-entropy does) and every term stays a logarithm until the final
    log-sum-exp, so a target 60 standard deviations from every component
    gives a large finite loss with finite gradients in float32, where the
    density itself (:math:`e^{-1800}`) underflows to 0 and its log to
    ``-inf``. The gradient with respect to ``mu_k`` is the Gaussian one,
    :math:`(\mu_{nk} - y_n)/\sigma_{nk}^2`, weighted by the posterior
    responsibility of component k (Bishop 1994). With K = 1 this is
    :func:`gaussian_nll` with ``var = sigma**2`` and ``full=True``.

    Shapes: ``pi_logits``, ``mu``, ``sigma`` (N, K), floating; ``target`` (N,);
    ``sigma`` > 0 (the model should produce it with ``exp`` or ``softplus``).
    Returns the mean over N (``reduction="mean"``), the sum, or the (N,)
    losses (``"none"``; ``exp(-loss)`` is then the density at each target).

    Example:
        >>> z = torch.zeros(1, 2)
        >>> mdn_nll(z, torch.tensor([[-1.0, 1.0]]), torch.ones(1, 2), torch.tensor([1.0]))
        tensor(1.4852)
    """
    for name, t in (("pi_logits", pi_logits), ("mu", mu), ("sigma", sigma)):
        check_tensor(t, name, floating=True, min_dim=2)
        if t.dim() != 2:
            raise ValueError(f"{name} must have shape (N, K), got {tuple(t.shape)}")
    check_same_shape(pi_logits, mu, "pi_logits", "mu")
    check_same_shape(pi_logits, sigma, "pi_logits", "sigma")
    check_tensor(target, "target", floating=True)
    if target.shape != pi_logits.shape[:1]:
        raise ValueError(f"target must have shape (N,) = {tuple(pi_logits.shape[:1])}, got {tuple(target.shape)}")
    _check_reduction(reduction)
    if not bool((sigma > 0).all()):
        raise ValueError("sigma must be > 0 everywhere (a scale; produce it with exp or softplus of a raw output)")
    z = (target.unsqueeze(1) - mu) / sigma
    log_component = -0.5 * z ** 2 - torch.log(sigma) - 0.5 * math.log(2 * math.pi)
    return _reduce(-logsumexp(log_softmax(pi_logits, dim=1) + log_component, dim=1), reduction)


def _check_quantiles(quantiles, k: int, like: torch.Tensor) -> torch.Tensor:
    if isinstance(quantiles, torch.Tensor):
        if quantiles.dim() != 1:
            raise ValueError(f"quantiles must be a 1-D sequence of levels, got shape {tuple(quantiles.shape)}")
        quantiles = quantiles.tolist()
    if isinstance(quantiles, (str, bytes)) or not hasattr(quantiles, "__len__"):
        raise TypeError(f"quantiles must be a sequence of numbers in (0, 1), got {type(quantiles).__name__}")
    levels = [check_number(q, "each quantile level") for q in quantiles]
    if len(levels) != k:
        raise ValueError(f"quantiles has {len(levels)} levels but pred has {k} columns; they must match")
    bad = [q for q in levels if not 0.0 < q < 1.0]
    if bad:
        raise ValueError(f"quantiles must lie strictly inside (0, 1), got {bad}")
    return torch.tensor(levels, dtype=like.dtype, device=like.device)


def pinball_loss(pred: torch.Tensor, target: torch.Tensor, quantiles) -> torch.Tensor:
    r"""Pinball (check) loss of quantile regression (Koenker & Bassett 1978), averaged over N and K.

    .. math::
        \mathcal L = \frac{1}{NK}\sum_{n,k} \rho_{q_k}(y_n - \hat y_{nk}),
        \qquad \rho_q(e) = \max\big(q\,e,\ (q - 1)\,e\big).

    An under-prediction (:math:`e > 0`) costs :math:`q` per unit, an
    over-prediction :math:`1 - q`, so the constant minimising
    :math:`\mathbb E\,\rho_q(y - c)` is a q-quantile of y:
    the derivative in c is :math:`P(y < c) - q`. At :math:`e = 0` exactly,
    ``torch.maximum`` splits the gradient between the two branches (a valid
    subgradient). The loss is >= 0 and 0 only where every prediction hits
    its target.

    Shapes: ``pred`` (N, K), one column per level; ``target`` (N,);
    ``quantiles`` a sequence (or 1-D tensor) of K numbers strictly inside (0, 1).
    Returns a scalar in the dtype of ``pred``.

    Example:
        >>> pinball_loss(torch.tensor([[0.0, 0.0]]), torch.tensor([1.0]), [0.1, 0.9])
        tensor(0.5000)
    """
    check_tensor(pred, "pred", floating=True, min_dim=2)
    if pred.dim() != 2:
        raise ValueError(f"pred must have shape (N, K), one column per quantile level, got {tuple(pred.shape)}")
    check_tensor(target, "target", floating=True)
    if target.shape != pred.shape[:1]:
        raise ValueError(f"target must have shape (N,) = {tuple(pred.shape[:1])}, got {tuple(target.shape)}")
    q = _check_quantiles(quantiles, pred.shape[1], pred)
    e = target.unsqueeze(1) - pred
    return torch.maximum(q * e, (q - 1) * e).mean()
