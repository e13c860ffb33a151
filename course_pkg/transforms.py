"""Output transformations g, written from first principles.

A network computes raw values ``o = f_theta(x)``; the model used for a task is
``psi = g o f_theta``, i.e. ``psi(x) = g(f_theta(x))``. Every function here takes
and returns a ``torch.Tensor``, works on any batch shape, and keeps dtype and
device. The smooth ones are numerically stable at the extremes (|o| = 1000)
and carry an explicit, exact backward pass so the gradient the book talks
about is visible in the code.
"""
from __future__ import annotations

import torch

from course_pkg._validation import check_dim, check_no_nan, check_number, check_tensor

__all__ = [
    "identity", "relu", "softplus", "sigmoid", "tanh", "threshold", "scale_to_range",
    "logsumexp", "softmax", "log_softmax", "argmax", "one_hot_max", "adjust_logits", "l2_normalize",
    "naive_sigmoid", "naive_softmax", "naive_log_softmax", "naive_l2_normalize",
]


# ---------------------------------------------------------------- regression

def identity(o: torch.Tensor) -> torch.Tensor:
    r"""Identity output, :math:`g(o) = o`, the right choice for unbounded regression.

    Shape: any; returns ``o`` itself (same shape, dtype, device).

    Example:
        >>> identity(torch.tensor([-2.0, 3.0]))
        tensor([-2.,  3.])
    """
    return check_tensor(o, "o")


def relu(o: torch.Tensor) -> torch.Tensor:
    r"""Rectified linear unit, :math:`g(o) = \max(0, o)`.

    Gradient: 1 for ``o > 0`` and 0 for ``o <= 0`` (the one-sided value at the
    kink, as in PyTorch). NaN propagates. Shape: any.

    Example:
        >>> relu(torch.tensor([-1.0, 0.0, 2.0]))
        tensor([0., 0., 2.])
    """
    check_tensor(o, "o", floating=True)
    # where(o <= 0, 0, o) rather than where(o > 0, o, 0): NaN must stay NaN.
    return torch.where(o <= 0, torch.zeros((), dtype=o.dtype, device=o.device), o)


class _Softplus(torch.autograd.Function):
    """softplus(z) = max(z, 0) + log1p(exp(-|z|)); d/dz = sigmoid(z), exactly."""

    @staticmethod
    def forward(ctx, z):
        ctx.save_for_backward(z)
        # exp(-|z|) <= 1 never overflows; log1p keeps full precision when it is tiny. Below the smallest normal
        # number log1p(e) rounds to e itself, but PyTorch's vectorized CPU log1p (AVX2/AVX-512) returns 0 for the
        # smallest subnormals, so there we take e directly: the result then does not depend on the CPU kernel.
        e = torch.exp(-z.abs())
        tail = torch.where(e < torch.finfo(z.dtype).tiny, e, torch.log1p(e))
        return z.clamp(min=0) + tail

    @staticmethod
    def backward(ctx, grad_out):
        (z,) = ctx.saved_tensors
        return grad_out * sigmoid(z)


def softplus(o: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    r"""Softplus, :math:`g(o) = \frac{1}{\beta}\log(1 + e^{\beta o})`, a smooth positive output.

    Computed as :math:`\frac{1}{\beta}\big(\max(\beta o, 0) + \log(1 + e^{-|\beta o|})\big)`,
    without approximation for every finite input (no overflow at ``o = 1000``,
    no premature zero at ``o = -30`` in float64, no switch to a linear branch).
    Its gradient is :math:`\sigma(\beta o)` everywhere, including at 0 and at ±1000.

    In floating point softplus *does* reach exactly 0, where :math:`e^{\beta o}`
    itself rounds to 0 (below half the smallest subnormal number): for
    ``beta = 1`` at ``o <= -103.97`` in float32 and ``o <= -745.13`` in float64,
    on every CPU kernel (a bare ``torch.log1p(torch.exp(o))`` reaches 0 at
    -102.87 and -744.03 on AVX2/AVX-512 CPUs, whose vectorized log1p returns 0
    for the smallest subnormal input). The gradient reaches 0 at the same points.

    Args:
        o: raw outputs, any shape, floating dtype.
        beta: sharpness, a finite number > 0.

    Example:
        >>> softplus(torch.tensor([-1000.0, 0.0, 5.0]))
        tensor([0.0000, 0.6931, 5.0067])
    """
    check_tensor(o, "o", floating=True)
    beta = check_number(beta, "beta", positive=True)
    if beta == 1.0:
        return _Softplus.apply(o)
    return _Softplus.apply(o * beta) / beta


class _Sigmoid(torch.autograd.Function):
    """sigmoid(z) = 1 / (1 + exp(-z)), evaluated so that exp never overflows."""

    @staticmethod
    def forward(ctx, z):
        e = torch.exp(-z.abs())  # in (0, 1]
        s = torch.where(z >= 0, 1 / (1 + e), e / (1 + e))
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad_out):
        (s,) = ctx.saved_tensors
        return grad_out * s * (1 - s)


def sigmoid(o: torch.Tensor) -> torch.Tensor:
    r"""Logistic sigmoid, :math:`\sigma(o) = 1/(1 + e^{-o})`, mapping logits into (0, 1).

    Stable for any input (no overflow or NaN at ±1000); gradient
    :math:`\sigma(o)(1 - \sigma(o))`. Mathematically the range is the open
    interval (0, 1), but in float32 ``sigmoid(o) == 1.0`` exactly for
    ``o >= 16.64``. Shape: any.

    Example:
        >>> sigmoid(torch.tensor([-1000.0, 0.0, 1000.0]))
        tensor([0.0000, 0.5000, 1.0000])
    """
    check_tensor(o, "o", floating=True)
    return _Sigmoid.apply(o)


def tanh(o: torch.Tensor) -> torch.Tensor:
    r"""Hyperbolic tangent, :math:`\tanh(o) = 2\sigma(2o) - 1`, mapping into (-1, 1).

    Gradient :math:`1 - \tanh^2(o)`. Shape: any.

    Example:
        >>> tanh(torch.tensor([0.0, 1000.0]))
        tensor([0., 1.])
    """
    check_tensor(o, "o", floating=True)
    return 2 * sigmoid(2 * o) - 1


def threshold(o: torch.Tensor, at: float = 0.0) -> torch.Tensor:
    r"""Hard decision, :math:`g(o) = 1` if :math:`o > \text{at}` else 0, in ``o``'s float dtype.

    The result is piecewise constant, so it gives no learning signal: it does
    not even stay in the autograd graph. Use it at inference, never in a loss.

    Example:
        >>> threshold(torch.tensor([-0.5, 0.0, 0.5]))
        tensor([0., 0., 1.])
    """
    check_tensor(o, "o", floating=True)
    at = check_number(at, "at")
    return (o > at).to(o.dtype)


def scale_to_range(o: torch.Tensor, low: float, high: float) -> torch.Tensor:
    r"""Squash into a bounded interval, :math:`g(o) = \text{low} + (\text{high} - \text{low})\,\sigma(o)`.

    Gradient :math:`(\text{high} - \text{low})\,\sigma(o)(1 - \sigma(o))`, which
    vanishes near both bounds (saturation). Raises ``ValueError`` unless
    ``low < high``. Shape: any.

    Example:
        >>> scale_to_range(torch.tensor([0.0]), 10.0, 100.0)
        tensor([55.])
    """
    check_tensor(o, "o", floating=True)
    low, high = check_number(low, "low"), check_number(high, "high")
    if not low < high:
        raise ValueError(f"scale_to_range needs low < high, got low={low}, high={high}")
    return low + (high - low) * sigmoid(o)


# ---------------------------------------------------------------- multi-class

def logsumexp(o: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Log-sum-exp, :math:`\log\sum_j e^{o_j} = m + \log\sum_j e^{o_j - m}` with :math:`m = \max_j o_j`.

    Subtracting the maximum keeps every exponent <= 0, so nothing overflows.
    Shape: ``o`` with dimension ``dim`` removed.

    Example:
        >>> logsumexp(torch.tensor([1000.0, 1000.0]))
        tensor(1000.6932)
    """
    check_tensor(o, "o", floating=True, min_dim=1)
    dim = check_dim(o, dim, "dim")
    # The shift cancels mathematically, so it needs no gradient of its own.
    m = o.amax(dim=dim, keepdim=True).detach()
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    return (m + torch.log(torch.exp(o - m).sum(dim=dim, keepdim=True))).squeeze(dim)


def log_softmax(o: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Log-probabilities, :math:`\log\text{softmax}(o)_i = o_i - \log\sum_j e^{o_j}`.

    Stable at any logit gap: for logits ``[0, 1000]`` it returns ``[-1000, 0]``
    where ``log(softmax(o))`` gives ``-inf``. Shape: same as ``o``.

    Example:
        >>> log_softmax(torch.tensor([0.0, 1000.0]))
        tensor([-1000.,     0.])
    """
    check_tensor(o, "o", floating=True, min_dim=1)
    dim = check_dim(o, dim, "dim")
    # Subtract the max first: (o - m) is exact, and log of the sum lies in [0, log C],
    # so no large number is ever cancelled against another (o - logsumexp(o) would).
    m = o.amax(dim=dim, keepdim=True).detach()
    shifted = o - torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


def softmax(o: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Softmax, :math:`\text{softmax}(o)_i = e^{o_i - m} / \sum_j e^{o_j - m}` with :math:`m = \max_j o_j`.

    Maps logits onto the probability simplex along ``dim`` (entries in [0, 1]
    summing to 1). Shift-invariant, stable at logit gaps of 1000.
    Shape: same as ``o``. ``dim`` is the *class* dimension: for a batch of
    shape (N, C) it is ``-1`` (or 1), never 0.

    Example:
        >>> softmax(torch.tensor([[1000.0, 0.0]]))
        tensor([[1., 0.]])
    """
    check_tensor(o, "o", floating=True, min_dim=1)
    dim = check_dim(o, dim, "dim")
    e = torch.exp(o - o.amax(dim=dim, keepdim=True).detach())
    return e / e.sum(dim=dim, keepdim=True)


# ---------------------------------------------------------------- sparse probabilities

__all__ += ["sparsemax"]  # chapter "Outputs with structure"


class _Sparsemax(torch.autograd.Function):
    """sparsemax along the last dimension; backward is the Jacobian of the projection on its support."""

    @staticmethod
    def forward(ctx, z):
        # Shift by the max first: the result is unchanged (sparsemax is shift-invariant) and the running
        # sums below stay of the size of the logit *gaps*, so nothing large cancels at logits of 1000.
        z = z - z.amax(dim=-1, keepdim=True)
        z_sorted = z.sort(dim=-1, descending=True).values
        cumsum = z_sorted.cumsum(dim=-1)
        k = torch.arange(1, z.shape[-1] + 1, dtype=z.dtype, device=z.device)
        # The support size k(z) is the largest k with 1 + k z_(k) > sum_{j<=k} z_(j) (true for k = 1).
        in_support = 1 + k * z_sorted > cumsum
        size = in_support.sum(dim=-1, keepdim=True)
        tau = (cumsum.gather(-1, size - 1) - 1) / size.to(z.dtype)
        p = (z - tau).clamp(min=0)
        ctx.save_for_backward(p)
        return p

    @staticmethod
    def backward(ctx, grad_out):
        (p,) = ctx.saved_tensors
        support = (p > 0).to(grad_out.dtype)
        # J = diag(s) - s s^T / |S| with s the support indicator: J v = s * (v - mean of v over S).
        mean_on_support = (grad_out * support).sum(dim=-1, keepdim=True) / support.sum(dim=-1, keepdim=True)
        return support * (grad_out - mean_on_support)


def sparsemax(o: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Sparsemax, the Euclidean projection of the logits onto the probability simplex.

    .. math::
        \mathrm{sparsemax}(o) = \arg\min_{p \in \Delta} \lVert p - o \rVert_2^2
        = \max(o - \tau(o), 0),

    where :math:`\tau` is set so the entries sum to 1: with the logits sorted,
    :math:`o_{(1)} \ge o_{(2)} \ge \dots`, the support size is
    :math:`k(o) = \max\{k : 1 + k\,o_{(k)} > \sum_{j \le k} o_{(j)}\}` and
    :math:`\tau = (\sum_{j \le k(o)} o_{(j)} - 1)/k(o)` (Martins & Astudillo
    2016). Unlike softmax it returns *exact* zeros for logits below
    :math:`\tau`. Shift-invariant; finite at logits of ±1000 (the maximum is
    subtracted first). Its gradient is the Jacobian of the projection,
    :math:`J = \mathrm{diag}(s) - s s^\top/|S|` with :math:`s` the indicator of
    the support :math:`S`, applied exactly by a custom backward.

    Args:
        o: logits, floating dtype, at least 1-D.
        dim: the class dimension (for a batch (N, C): ``-1``).

    Shape: same as ``o``. Raises ``ValueError`` on NaN.

    Example:
        >>> sparsemax(torch.tensor([1.0, 0.8, -1.0]))
        tensor([0.6000, 0.4000, 0.0000])
    """
    check_tensor(o, "o", floating=True, min_dim=1)
    dim = check_dim(o, dim, "dim")
    check_no_nan(o, "o")
    if dim == o.dim() - 1:
        return _Sparsemax.apply(o)
    return _Sparsemax.apply(o.movedim(dim, -1)).movedim(-1, dim)


def argmax(o: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Index of the largest entry along ``dim``, :math:`\hat y = \arg\max_i o_i`, as int64.

    Ties go to the *first* maximal index (as ``torch.argmax`` documents).
    Integer labels have no gradient. Raises ``ValueError`` on NaN.
    Shape: ``o`` with ``dim`` removed.

    Example:
        >>> argmax(torch.tensor([[1.0, 3.0, 3.0, 0.0]]))
        tensor([1])
    """
    check_tensor(o, "o", floating=True, min_dim=1)
    dim = check_dim(o, dim, "dim")
    check_no_nan(o, "o")
    is_max = o == o.amax(dim=dim, keepdim=True)
    shape = [1] * o.dim()
    shape[dim] = o.shape[dim]
    index = torch.arange(o.shape[dim], device=o.device).view(shape).expand_as(o)
    not_max = torch.full_like(index, o.shape[dim])
    return torch.where(is_max, index, not_max).amin(dim=dim)


def one_hot_max(o: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Indicator of the maximum, :math:`\hat y_i = 1` if :math:`o_i \ge o_j\ \forall j`, else 0.

    With a tie this marks *every* maximal entry, so the result has several
    ones and is no longer one-hot. For exactly one 1, use
    ``torch.nn.functional.one_hot(argmax(o), C)``. Float result, no gradient.
    Shape: same as ``o``.

    Example:
        >>> one_hot_max(torch.tensor([2.0, 5.0, 5.0]))
        tensor([0., 1., 1.])
    """
    check_tensor(o, "o", floating=True, min_dim=1)
    dim = check_dim(o, dim, "dim")
    check_no_nan(o, "o")
    return (o == o.amax(dim=dim, keepdim=True)).to(o.dtype)


def _check_log_prior(log_prior, logits: torch.Tensor, tau) -> tuple:
    """Validate a log class prior for ``logits`` (..., C) and a ``tau`` >= 0; return them cast to the logits' dtype."""
    check_tensor(log_prior, "log_prior", floating=True, min_dim=1)
    if log_prior.dim() != 1 or log_prior.shape[0] != logits.shape[-1]:
        raise ValueError(f"log_prior must have shape (C,) = ({logits.shape[-1]},), one entry per class, "
                         f"got shape {tuple(log_prior.shape)}")
    if not bool(torch.isfinite(log_prior).all()):
        raise ValueError("log_prior must be finite (the log of positive class frequencies); "
                         "a class with frequency 0 has log prior -inf")
    if bool((log_prior > 0).all()) and abs(float(log_prior.double().sum()) - 1.0) < 1e-6:
        raise ValueError("log_prior looks like probabilities (positive, summing to 1): pass their logarithm")
    tau = check_number(tau, "tau")
    if tau < 0:
        raise ValueError(f"tau must be >= 0, got {tau}")
    return log_prior.to(dtype=logits.dtype, device=logits.device), tau


def adjust_logits(logits: torch.Tensor, log_prior: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    r"""Post-hoc logit adjustment (Menon et al., 2021): :math:`\tilde o_j = o_j - \tau \log \pi_j` for every class :math:`j`.

    A classifier trained on data with class frequencies :math:`\pi_j` learns
    :math:`\mathrm{softmax}(o)_j \approx p_{\text{train}}(j \mid x) \propto p(x \mid j)\,\pi_j`.
    Subtracting :math:`\log \pi_j` from *every* logit divides the prior out:
    with :math:`\tau = 1`, :math:`\mathrm{softmax}(\tilde o)` is the class
    probability under equal priors, and :math:`\arg\max_j \tilde o_j` is the
    prediction that targets balanced error instead of plain error. Use it at
    inference, on a model trained with ordinary cross-entropy. ``log_prior``
    need not be normalized (adding one constant to every logit changes
    neither the softmax nor the argmax).

    Shapes: ``logits`` (..., C); ``log_prior`` (C,) finite; ``tau`` >= 0.
    Returns a tensor of the logits' shape and dtype.

    Example:
        >>> adjust_logits(torch.tensor([[2.0, 0.0]]), torch.log(torch.tensor([0.8, 0.2])))
        tensor([[2.2231, 1.6094]])
    """
    check_tensor(logits, "logits", floating=True, min_dim=1)
    log_prior, tau = _check_log_prior(log_prior, logits, tau)
    return logits - tau * log_prior


# ---------------------------------------------------------------- embeddings

def l2_normalize(x: torch.Tensor, dim: int = -1, eps: float = 1e-12) -> torch.Tensor:
    r"""Unit-length rows, :math:`g(x) = x / \max(\lVert x\rVert_2, \varepsilon)`.

    A zero vector maps to the zero vector (never NaN, value or gradient).
    ``eps`` is raised to the dtype's smallest normal number so that it does
    not underflow to 0 in float16. For unit vectors,
    :math:`\lVert a - b\rVert^2 = 2 - 2\cos(a, b)`. Shape: same as ``x``.

    Example:
        >>> l2_normalize(torch.tensor([[3.0, 4.0], [0.0, 0.0]]))
        tensor([[0.6000, 0.8000],
                [0.0000, 0.0000]])
    """
    check_tensor(x, "x", floating=True, min_dim=1)
    dim = check_dim(x, dim, "dim")
    eps = max(check_number(eps, "eps", positive=True), torch.finfo(x.dtype).tiny)
    # vector_norm's backward is defined (0) at the zero vector; sqrt(sum(x**2)) would give NaN.
    norm = torch.linalg.vector_norm(x, dim=dim, keepdim=True)
    return x / norm.clamp(min=eps)


# ---------------------------------------------------------------- naive versions the book shows failing

def naive_sigmoid(o: torch.Tensor) -> torch.Tensor:
    """Textbook ``1 / (1 + exp(-o))`` with no care for overflow. For demonstrations only."""
    check_tensor(o, "o", floating=True)
    return 1 / (1 + torch.exp(-o))


def naive_softmax(o: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Textbook ``exp(o) / sum(exp(o))`` without the max shift: NaN at a logit of 1000. For demonstrations only."""
    check_tensor(o, "o", floating=True, min_dim=1)
    dim = check_dim(o, dim, "dim")
    e = torch.exp(o)
    return e / e.sum(dim=dim, keepdim=True)


def naive_log_softmax(o: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``log(softmax(o))`` in two steps: -inf once a probability underflows. For demonstrations only."""
    return torch.log(softmax(o, dim=dim))


def naive_l2_normalize(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``x / ||x||`` with no eps: a zero vector gives NaN. For demonstrations only."""
    check_tensor(x, "x", floating=True, min_dim=1)
    dim = check_dim(x, dim, "dim")
    return x / torch.linalg.vector_norm(x, dim=dim, keepdim=True)
