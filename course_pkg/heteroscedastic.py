"""Heteroscedastic regression: a network that predicts a mean *and* a variance per input.

The model emits two raw values per target, ``o = (o_mu, o_s)``. The mean is
the identity of ``o_mu``; the variance must be positive, so it comes from a
softplus plus a small floor, :math:`\\sigma^2 = \\mathrm{softplus}(o_s) + \\text{floor}`.
This is the exception to "leave the transformation to the loss": a Gaussian
negative log-likelihood needs ``var > 0`` *from the model*.
"""
from __future__ import annotations

import math

import torch

from course_pkg._validation import check_number, check_same_shape, check_tensor
from course_pkg.transforms import softplus

__all__ = ["gaussian_nll", "mean_and_variance"]

_REDUCTIONS = ("mean", "sum", "none")


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
    (e.g. :func:`mean_and_variance`). Negative variances are an error.

    Gradients: :math:`\partial\ell/\partial\mu = (\mu - y)/\sigma^2` and
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
        raise ValueError("var has negative entries; a variance must be >= 0 (use softplus(o) + floor in the model)")
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


def mean_and_variance(o: torch.Tensor, floor: float = 1e-4):
    r"""Split a two-column raw output into a mean and a strictly positive variance.

    .. math::
        \mu = o_{\cdot,0}, \qquad \sigma^2 = \mathrm{softplus}(o_{\cdot,1}) + \text{floor}.

    The softplus keeps the variance positive with a non-vanishing gradient for
    large raw values (it grows linearly), and the floor keeps it away from 0,
    where the NLL's :math:`(y-\mu)^2/\sigma^2` term would explode. The
    alternative :math:`\sigma^2 = e^{o}` also works but overflows sooner.

    Shapes: ``o`` (N, 2) -> ``mean`` (N, 1), ``var`` (N, 1).

    Example:
        >>> mu, var = mean_and_variance(torch.tensor([[1.5, 0.0]]))
        >>> mu.item(), round(var.item(), 4)
        (1.5, 0.6932)
    """
    check_tensor(o, "o", floating=True, min_dim=2)
    if o.dim() != 2 or o.shape[1] != 2:
        raise ValueError(f"o must have shape (N, 2) (mean, raw variance), got {tuple(o.shape)}")
    floor = check_number(floor, "floor")
    if floor < 0:
        raise ValueError(f"floor must be >= 0, got {floor}")
    return o[:, :1], softplus(o[:, 1:]) + floor
