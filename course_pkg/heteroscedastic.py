"""Heteroscedastic regression: a network that predicts a mean *and* a variance per input.

The model emits two raw values per target, ``o = (o_mu, o_s)``. The mean is
the identity of ``o_mu``; the variance must be positive, so a head maps
``o_s`` onto (0, inf): :func:`gaussian_parameters` offers the log-variance
(:math:`\\sigma^2 = e^{o_s}`), the precision (:math:`1/\\sigma^2 =
\\mathrm{softplus}(o_s)`) and the variance itself (:math:`\\sigma^2 =
\\mathrm{softplus}(o_s)`); :func:`mean_and_variance` is the last with a floor.
This is the exception to "leave the transformation to the loss": a Gaussian
negative log-likelihood (:func:`course_pkg.losses.gaussian_nll`) needs
``var > 0`` *from the model*.
"""
from __future__ import annotations

import torch

from course_pkg._validation import check_number, check_tensor
from course_pkg.losses import gaussian_nll  # noqa: F401  (its old home; import it from course_pkg.losses)
from course_pkg.transforms import softplus

__all__ = ["gaussian_parameters", "mean_and_variance"]

_PARAMETERIZATIONS = ("log_variance", "precision", "variance")


def _check_two_columns(o) -> None:
    check_tensor(o, "o", floating=True, min_dim=2)
    if o.dim() != 2 or o.shape[1] != 2:
        raise ValueError(f"o must have shape (N, 2) (mean, raw variance), got {tuple(o.shape)}")


def gaussian_parameters(o: torch.Tensor, parameterization: str = "log_variance"):
    r"""Split a two-column raw output into a mean and a variance, through the chosen positive head.

    .. math::
        \mu = o_{\cdot,0}, \qquad
        \sigma^2 = \begin{cases}
            e^{o_{\cdot,1}} & \text{"log\_variance": } o_{\cdot,1} = \log\sigma^2 \\
            1/\mathrm{softplus}(o_{\cdot,1}) & \text{"precision": } \mathrm{softplus}(o_{\cdot,1}) = 1/\sigma^2 \\
            \mathrm{softplus}(o_{\cdot,1}) & \text{"variance"}
        \end{cases}

    With :math:`r = y - \mu`, the Gaussian NLL's gradient with respect to the
    raw output is :math:`\tfrac12(1 - r^2/\sigma^2)` for the log-variance
    head, :math:`\tfrac12(r^2 - \sigma^2)\,\mathrm{softplus}'(o)` for the
    precision head (bounded as :math:`\sigma^2 \to 0`, Goodfellow et al.
    2016, section 6.2.2.4) and :math:`\tfrac12(1/\sigma^2 - r^2/\sigma^4)\,
    \mathrm{softplus}'(o)` for the variance head. No floor is added: each
    head gives :math:`0 < \sigma^2 < \infty` for finite ``o`` in exact
    arithmetic. (In float32, ``exp`` and ``softplus`` underflow to 0 below
    about -103: the variance head's 0 is then clamped by
    :func:`~course_pkg.losses.gaussian_nll`'s ``eps``, the precision head's
    :math:`1/0 = \infty` is not.)

    Shapes: ``o`` (N, 2) -> ``mean`` (N, 1), ``var`` (N, 1).

    Example:
        >>> mu, var = gaussian_parameters(torch.tensor([[1.5, 0.0]]))
        >>> mu.item(), var.item()
        (1.5, 1.0)
    """
    _check_two_columns(o)
    if parameterization not in _PARAMETERIZATIONS:
        raise ValueError(f"parameterization must be one of {_PARAMETERIZATIONS}, got {parameterization!r}")
    mean, raw = o[:, :1], o[:, 1:]
    if parameterization == "log_variance":
        return mean, torch.exp(raw)
    if parameterization == "precision":
        return mean, 1 / softplus(raw)
    return mean, softplus(raw)


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
    _check_two_columns(o)
    floor = check_number(floor, "floor")
    if floor < 0:
        raise ValueError(f"floor must be >= 0, got {floor}")
    return o[:, :1], softplus(o[:, 1:]) + floor
