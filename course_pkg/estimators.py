"""Hard decisions and trainable surrogates for them.

A hard step such as ``(o > 0)`` passes no gradient: its derivative is 0
wherever it exists, and in PyTorch a comparison leaves the autograd graph
altogether. Two ways around it:

- a *relaxation* replaces the step by a smooth function, e.g.
  :func:`soft_threshold` :math:`\\sigma((o - a)/T)`, in the forward *and*
  the backward pass;
- a *straight-through estimator* (Bengio, Léonard and Courville, 2013) keeps
  the hard step in the forward pass and uses the derivative of a smooth
  surrogate in the backward pass: :func:`straight_through_threshold`.
"""
from __future__ import annotations

import torch

from course_pkg._validation import check_number, check_tensor
from course_pkg.transforms import sigmoid

__all__ = ["straight_through_threshold", "soft_threshold"]


def straight_through_threshold(o: torch.Tensor, at: float = 0.0) -> torch.Tensor:
    r"""Hard 0/1 step in the forward pass, sigmoid slope in the backward pass.

    Forward: :math:`h(o) = 1` if :math:`o > \text{at}` else :math:`0`, in ``o``'s
    dtype (exactly the values of :func:`course_pkg.transforms.threshold`).
    Backward: :math:`\partial h / \partial o := \sigma'(o - \text{at}) =
    \sigma(o - \text{at})\,(1 - \sigma(o - \text{at}))`.

    Implemented as ``hard + (soft - soft.detach())`` with
    ``soft = sigmoid(o - at)``: the bracket is exactly 0 in value but carries
    the gradient of ``soft``. The backward pass is stable at :math:`|o| = 1000`
    (the slope is then 0, never NaN).

    Args:
        o: raw outputs, any shape, floating dtype.
        at: the threshold, a finite number.

    Shapes: same as ``o``; dtype and device of ``o``.

    Example:
        >>> o = torch.tensor([-1.0, 0.0, 2.0], requires_grad=True)
        >>> h = straight_through_threshold(o)
        >>> h.detach()
        tensor([0., 0., 1.])
        >>> h.sum().backward()
        >>> o.grad
        tensor([0.1966, 0.2500, 0.1050])
    """
    check_tensor(o, "o", floating=True)
    at = check_number(at, "at")
    hard = (o > at).to(o.dtype)
    soft = sigmoid(o - at)
    return hard + (soft - soft.detach())


def soft_threshold(o: torch.Tensor, at: float = 0.0, temperature: float = 1.0) -> torch.Tensor:
    r"""Smooth step (a relaxation of ``o > at``): :math:`g(o) = \sigma\big((o - \text{at}) / T\big)`.

    A probability that ``o`` exceeds ``at``, in (0, 1) mathematically. As
    :math:`T \to 0` it approaches the hard step, and its gradient
    :math:`\sigma'((o - \text{at})/T)/T` concentrates near ``at``. Stable for any
    input (no overflow or NaN at :math:`|o| = 1000`).

    Args:
        o: raw outputs, any shape, floating dtype.
        at: the threshold, a finite number.
        temperature: :math:`T`, a finite number > 0.

    Shapes: same as ``o``; dtype and device of ``o``.

    Example:
        >>> soft_threshold(torch.tensor([-1.0, 0.0, 1.0]), at=0.0, temperature=0.5)
        tensor([0.1192, 0.5000, 0.8808])
    """
    check_tensor(o, "o", floating=True)
    at = check_number(at, "at")
    temperature = check_number(temperature, "temperature", positive=True)
    return sigmoid((o - at) / temperature)
