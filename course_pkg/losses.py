"""Losses that take raw model outputs, written from first principles.

Each loss applies its own output transformation inside, in a stable form:
``bce_with_logits`` is sigmoid + binary cross-entropy, ``cross_entropy`` is
log-softmax + negative log-likelihood. That is why a model should emit raw
logits: transforming them first applies the transformation twice.
The distance-based losses of metric learning (``triplet_loss``,
``contrastive_loss``) see only distances between embeddings and apply no
transformation themselves: normalize the embeddings first
(:func:`course_pkg.transforms.l2_normalize`). ``cosine_cross_entropy`` is the
softmax loss on scaled cosines (NormFace), which normalizes both sides itself.
All losses use mean reduction and refuse mismatched shapes (no silent
broadcasting). The ``naive_*`` / ``*_on_probabilities`` functions are the
pairings the book demonstrates failing.
"""
from __future__ import annotations

import torch

from course_pkg._validation import check_number, check_same_shape, check_tensor
from course_pkg.transforms import _check_log_prior, l2_normalize, log_softmax, sigmoid, softmax, softplus

__all__ = [
    "mse", "bce_with_logits", "cross_entropy", "nll_loss", "logit_adjusted_cross_entropy",
    "triplet_loss", "contrastive_loss", "cosine_cross_entropy",
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


# ---------------------------------------------------------------- distance-based losses (metric learning)

def _row_distance(a: torch.Tensor, b: torch.Tensor, squared: bool) -> torch.Tensor:
    """Row-wise Euclidean distance; ``vector_norm``'s backward is 0 (not NaN) at a zero difference."""
    diff = a - b
    return (diff ** 2).sum(dim=-1) if squared else torch.linalg.vector_norm(diff, dim=-1)


def _check_embedding_rows(tensors: dict) -> None:
    for name, t in tensors.items():
        check_tensor(t, name, floating=True, min_dim=2)
    names = list(tensors)
    for other in names[1:]:
        check_same_shape(tensors[names[0]], tensors[other], names[0], other)
    if tensors[names[0]].dim() != 2:
        raise ValueError(f"{' and '.join(names)} must have shape (N, D), got {tuple(tensors[names[0]].shape)}")


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                 margin: float = 1.0, squared: bool = False) -> torch.Tensor:
    r"""Triplet margin loss, :math:`\frac1N \sum_i \max(0,\ d(\mathbf a_i, \mathbf p_i) - d(\mathbf a_i, \mathbf n_i) + m)`.

    ``d`` is the Euclidean distance :math:`\lVert \mathbf a - \mathbf b\rVert_2`
    (its square with ``squared=True``, as in FaceNet). The loss is zero once
    every negative is at least ``margin`` farther from its anchor than the
    positive. Only *differences* of distances enter, so without normalization
    the distances scale with the embeddings and the margin has no fixed
    meaning; apply :func:`course_pkg.transforms.l2_normalize` first.
    With ``squared=False`` it equals ``torch.nn.functional.triplet_margin_loss(..., eps=0)``
    (its default ``eps=1e-6`` is added to the difference inside the norm).
    The gradient is finite when a positive coincides with its anchor.

    Args:
        anchor, positive, negative: (N, D) with identical shapes, floating dtype.
        margin: a finite number >= 0.
        squared: use squared distances.

    Returns: the mean over the N triplets, a scalar.

    Example:
        >>> a = torch.tensor([[0.0, 0.0]]); p = torch.tensor([[1.0, 0.0]]); n = torch.tensor([[0.0, 1.5]])
        >>> triplet_loss(a, p, n, margin=1.0)
        tensor(0.5000)
    """
    _check_embedding_rows({"anchor": anchor, "positive": positive, "negative": negative})
    margin = check_number(margin, "margin")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    d_ap = _row_distance(anchor, positive, squared)
    d_an = _row_distance(anchor, negative, squared)
    return (d_ap - d_an + margin).clamp(min=0).mean()


def contrastive_loss(z1: torch.Tensor, z2: torch.Tensor, same: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    r"""Contrastive (pair) loss, :math:`\frac1N \sum_i s_i\, d_i^2 + (1 - s_i)\max(0,\ m - d_i)^2`.

    Here :math:`d_i = \lVert \mathbf z_{1,i} - \mathbf z_{2,i}\rVert_2`.
    Pairs of the same identity (:math:`s_i = 1`) are pulled together; pairs of
    different identities (:math:`s_i = 0`) are pushed apart until they are
    ``margin`` away. Hadsell, Chopra and LeCun (2006) write the same loss with
    a factor 1/2 on each term and the label the other way round (0 = similar).
    Unlike the triplet loss it constrains distances themselves, not only
    their differences.

    Args:
        z1, z2: (N, D) embeddings, identical shapes; same: (N,) with values in {0, 1}
            (bool or floating); margin: a finite number > 0.

    Returns: the mean over the N pairs, a scalar.

    Example:
        >>> z1 = torch.tensor([[0.0, 0.0], [0.0, 0.0]]); z2 = torch.tensor([[0.6, 0.8], [0.3, 0.4]])
        >>> contrastive_loss(z1, z2, torch.tensor([1.0, 0.0]), margin=1.0)
        tensor(0.6250)
    """
    _check_embedding_rows({"z1": z1, "z2": z2})
    check_tensor(same, "same")
    if same.shape != z1.shape[:1]:
        raise ValueError(f"same must have shape (N,) = {tuple(z1.shape[:1])}, got {tuple(same.shape)}")
    if not (same.dtype == torch.bool or same.is_floating_point()):
        raise TypeError(f"same must be a bool or floating tensor of 0/1 values, got dtype {same.dtype}")
    s = same.to(z1.dtype)
    if bool(((s != 0) & (s != 1)).any()):
        raise ValueError("same must contain only 0 and 1")
    margin = check_number(margin, "margin", positive=True)
    d = _row_distance(z1, z2, squared=False)
    return (s * d ** 2 + (1 - s) * (margin - d).clamp(min=0) ** 2).mean()


def cosine_cross_entropy(z: torch.Tensor, weight: torch.Tensor, target: torch.Tensor,
                         scale: float = 16.0) -> torch.Tensor:
    r"""Softmax cross-entropy on scaled cosines (NormFace): logits :math:`o_{nj} = s\cos(\mathbf w_j, \mathbf z_n)`.

    Both the embeddings and the class weight vectors are L2-normalized
    (:func:`course_pkg.transforms.l2_normalize`), so every logit lies in
    :math:`[-s, s]` and the loss of a sample can never fall below
    :math:`\log(1 + (C-1)e^{-2s})`: without a scale :math:`s` well above 1
    the softmax cannot become confident. Contrastive losses such as
    InfoNCE use the same form with a temperature :math:`\tau = 1/s`.

    Args:
        z: (N, D) embeddings; weight: (C, D) class weight vectors, floating dtypes;
        target: (N,) int64 class indices; scale: a finite number > 0.

    Returns: the mean over the N samples, a scalar.

    Example:
        >>> w = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> cosine_cross_entropy(torch.tensor([[2.0, 0.0]]), w, torch.tensor([0]), scale=1.0)
        tensor(0.3133)
    """
    check_tensor(z, "z", floating=True, min_dim=2)
    check_tensor(weight, "weight", floating=True, min_dim=2)
    if z.dim() != 2 or weight.dim() != 2 or z.shape[1] != weight.shape[1]:
        raise ValueError(f"z and weight must have shapes (N, D) and (C, D), got {tuple(z.shape)} and "
                         f"{tuple(weight.shape)}")
    scale = check_number(scale, "scale", positive=True)
    logits = scale * l2_normalize(z) @ l2_normalize(weight).T
    return cross_entropy(logits, target)
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
        # BCELoss divides by max(p(1-p), 1e-12): finite even at p = 0 or 1, but where
        # sigmoid has rounded to 1 the chain rule then multiplies by sigma'(z) = 0, and
        # where p(1-p) < 1e-12 the floor replaces 1/p by 1e12, so dL/dz shrinks like p/1e-12.
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

    Equals :func:`bce_with_logits` for moderate logits, but loses the gradient
    when the model is confidently wrong, on each side for its own reason. For
    ``y = 0`` and (float32) ``z >= 16.64`` the sigmoid rounds to exactly 1, so
    the chain rule multiplies by :math:`\sigma'(z) = p(1-p) = 0` (and the loss
    is clamped at 100). For ``y = 1`` and ``z < log(1e-12) = -27.63`` (any
    dtype) BCELoss's backward divides by :math:`\max(p(1-p), 10^{-12})`, so
    the gradient fades like :math:`-e^{z}/10^{-12}`: -0.69 at ``z = -28``,
    -4e-6 at ``z = -40``. Shapes: identical, any.

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
