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
from course_pkg.transforms import log_softmax, sigmoid, softplus

__all__ = [
    "mse", "bce_with_logits", "cross_entropy", "nll_loss",
    "bce_on_probabilities", "naive_bce_after_sigmoid",
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


# ---------------------------------------------------------------- outputs with structure: counts, ranks, angles

__all__ += ["poisson_nll", "coral_loss", "von_mises_nll"]  # chapter "Outputs with structure"


def poisson_nll(log_rate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Poisson negative log-likelihood on the raw output :math:`o = \log\lambda` (the log link).

    .. math::
        \ell(o, y) = e^{o} - y\,o \qquad \big(= -\log \mathrm{Poisson}(y; \lambda = e^{o}) - \log y!\big),

    averaged over all entries. The term :math:`\log y!` does not depend on
    :math:`o` and is dropped, as ``F.poisson_nll_loss(log_input=True,
    full=False)`` does; the two agree. The gradient is
    :math:`\partial\ell/\partial o = e^{o} - y = \lambda - y`: prediction minus
    target, because log is the canonical link of the Poisson and exp, the
    output transformation, its inverse.

    Shapes: ``log_rate`` and ``target`` identical (any shape), floating;
    ``target`` holds counts (>= 0; whole numbers in the Poisson model, though
    the formula accepts any non-negative value). Returns a scalar.

    Example:
        >>> poisson_nll(torch.tensor([0.0, 0.0]), torch.tensor([0.0, 2.0]))
        tensor(1.)
    """
    check_tensor(log_rate, "log_rate", floating=True)
    check_tensor(target, "target", floating=True)
    check_same_shape(log_rate, target, "log_rate", "target")
    if target.numel() and bool((target < 0).any()):
        raise ValueError(f"target must hold counts >= 0, got a minimum of {target.min().item():g}")
    return (torch.exp(log_rate) - target * log_rate).mean()


def coral_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""CORAL loss for ordinal labels: K-1 binary cross-entropies on the threshold logits.

    Column :math:`k` of ``logits`` is the logit of :math:`P(y > k)`,
    :math:`k = 0, \dots, K-2`, for labels :math:`y \in \{0, \dots, K-1\}`
    (Cao, Mirjalili & Raschka 2020). With the *levels*
    :math:`t_k = [y > k]`,

    .. math::
        \mathcal L = \frac1N \sum_{n=1}^N \sum_{k=0}^{K-2}
        \Big(t_{nk}\,\mathrm{softplus}(-z_{nk}) + (1 - t_{nk})\,\mathrm{softplus}(z_{nk})\Big),

    the stable form of :func:`bce_with_logits` (finite at logits of ±1000),
    summed over the K-1 thresholds and averaged over the batch. The gradient
    with respect to :math:`z_{nk}` is :math:`(\sigma(z_{nk}) - t_{nk})/N`.

    Shapes: ``logits`` (N, K-1) floating, K >= 2; ``target`` (N,) int64 in 0..K-1.
    Returns a scalar.

    Example:
        >>> coral_loss(torch.zeros(1, 3), torch.tensor([2]))
        tensor(2.0794)
    """
    check_tensor(logits, "logits", floating=True, min_dim=2)
    check_tensor(target, "target")
    if logits.dim() != 2 or logits.shape[1] < 1:
        raise ValueError(f"logits must have shape (N, K-1) with K >= 2, got {tuple(logits.shape)}")
    if target.dtype != torch.int64:
        raise TypeError(f"target must be int64 labels 0..K-1, got a {target.dtype} tensor")
    if target.shape != logits.shape[:1]:
        raise ValueError(f"target must have shape (N,) = {tuple(logits.shape[:1])}, got {tuple(target.shape)}")
    num_classes = logits.shape[1] + 1
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= num_classes):
        raise ValueError(f"target must hold labels in 0..{num_classes - 1} (K-1 = {logits.shape[1]} logits), "
                         f"got values in {int(target.min())}..{int(target.max())}")
    k = torch.arange(logits.shape[1], device=logits.device)
    levels = (target.unsqueeze(1) > k).to(logits.dtype)
    # bce_with_logits averages over all N (K-1) entries; CORAL sums over the K-1 thresholds.
    return bce_with_logits(logits, levels) * logits.shape[1]


def von_mises_nll(loc: torch.Tensor, concentration: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    r"""Von Mises negative log-likelihood of angles (radians), stable for any concentration.

    .. math::
        \ell(\mu, \kappa, \theta) = -\kappa\cos(\theta - \mu) + \log\big(2\pi I_0(\kappa)\big),

    averaged over all entries, with the modified Bessel function evaluated as
    :math:`\log I_0(\kappa) = \log \mathrm{i0e}(\kappa) + \kappa`
    (``torch.special.i0e(k)`` is :math:`e^{-\kappa} I_0(\kappa)`, which never
    overflows; ``torch.special.i0`` overflows to inf from
    :math:`\kappa \approx 88.7` in float32 and :math:`\approx 709.8` in
    float64). That :math:`+\kappa` cancels against :math:`-\kappa\cos(\theta - \mu)`,
    so the loss is computed as
    :math:`2\kappa\sin^2\big((\theta - \mu)/2\big) + \log\big(2\pi\,\mathrm{i0e}(\kappa)\big)`,
    with no large terms to cancel: finite and accurate for :math:`\kappa` up to
    :math:`10^4` and far beyond. The
    angle enters only through :math:`\cos(\theta - \mu)`, so
    :math:`\theta` and :math:`\theta + 2\pi` give the same loss. For a fixed
    :math:`\kappa` it is :math:`\kappa(1 - \cos(\theta - \mu))` plus a
    constant, i.e. :math:`\tfrac{\kappa}{2}\lVert u(\mu) - u(\theta)\rVert^2`
    with :math:`u(a) = (\cos a, \sin a)`.

    Shapes: ``loc`` (mean direction :math:`\mu`), ``concentration``
    (:math:`\kappa > 0`) and ``angle`` (:math:`\theta`) identical, typically
    (N,), floating. Returns a scalar. Raises ``ValueError`` for
    :math:`\kappa \le 0`.

    Example:
        >>> von_mises_nll(torch.zeros(1), torch.ones(1), torch.zeros(1))
        tensor(1.0738)
    """
    check_tensor(loc, "loc", floating=True)
    check_tensor(concentration, "concentration", floating=True)
    check_tensor(angle, "angle", floating=True)
    check_same_shape(loc, concentration, "loc", "concentration")
    check_same_shape(loc, angle, "loc", "angle")
    if concentration.numel() and not bool((concentration > 0).all()):
        raise ValueError("concentration must be > 0 everywhere (use a positive head such as softplus), "
                         f"got a minimum of {concentration.min().item():g}")
    # log(2 pi I0(k)) = log(2 pi i0e(k)) + k, with i0e(k) = exp(-k) I0(k) in (0, 1]: nothing overflows. The + k
    # cancels against -k cos(d): k (1 - cos d) = 2 k sin^2(d / 2), which loses no digits even when d is tiny.
    half_gap = (angle - loc) / 2
    return (2 * concentration * torch.sin(half_gap) ** 2
            + torch.log(2 * torch.pi * torch.special.i0e(concentration))).mean()


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
