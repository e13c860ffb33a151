"""A gradient-flow probe: does a transformation pass a useful gradient back to o?

Backpropagation multiplies local derivatives (the chain rule), so a training
signal reaches the network only if each transformation passes an
*informative, non-zero* gradient. A transformation can fail in three ways,
which the probe tells apart.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from course_pkg._validation import check_number, check_tensor

__all__ = ["GradientFlow", "gradient_flow", "gradient_table", "loss_and_gradient"]

LEAVES_GRAPH = "leaves the graph"
NO_BACKWARD = "no backward"
ZERO = "zero gradient"
PASSES = "passes gradient"


@dataclass
class GradientFlow:
    """The result of probing one transformation: ``status`` and ``grad`` (None unless computed)."""

    status: str
    grad: torch.Tensor | None

    @property
    def passes(self) -> bool:
        """True if some gradient entry is finite and non-zero."""
        return self.status == PASSES


def gradient_flow(transform, o: torch.Tensor) -> GradientFlow:
    r"""Probe :math:`\partial\, \sum g(o) / \partial o` for a transformation ``g``.

    Status is one of: ``"leaves the graph"`` (the output does not require grad:
    comparisons, argmax), ``"no backward"`` (the operation has no derivative
    formula: heaviside), ``"zero gradient"`` (a grad_fn exists but every entry
    is 0: round, sign, floor, a saturated sigmoid) or ``"passes gradient"``.

    The probe is meant for *element-wise* maps, where entry :math:`i` of
    :math:`\partial \sum_j g(o)_j / \partial o` is :math:`g'(o_i)`. For a map that mixes its
    inputs it can mislead: softmax's outputs always sum to 1, so the probe returns 0
    (up to rounding) although softmax passes gradients; study such a map through its Jacobian.

    Shapes: ``o`` any float tensor; ``grad`` has its shape.

    Example:
        >>> gradient_flow(torch.round, torch.tensor([0.3, 1.7])).status
        'zero gradient'
        >>> flow = gradient_flow(lambda o: torch.softmax(o, dim=0), torch.tensor([1.0, 2.0, 3.0]))
        >>> flow.grad.abs().max().item() < 1e-6    # sum(softmax) = 1: the probe says nothing about softmax
        True
    """
    if not callable(transform):
        raise TypeError(f"transform must be callable, got {type(transform).__name__}")
    check_tensor(o, "o", floating=True)
    o = o.detach().clone().requires_grad_(True)
    out = transform(o)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        return GradientFlow(LEAVES_GRAPH, None)
    try:
        (grad,) = torch.autograd.grad(out.float().sum(), o)
    except RuntimeError:
        return GradientFlow(NO_BACKWARD, None)
    informative = torch.isfinite(grad) & (grad != 0)
    return GradientFlow(PASSES if bool(informative.any()) else ZERO, grad)


def gradient_table(transforms: dict, points, dtype: torch.dtype = torch.float64) -> str:
    r"""A text table: one row per transformation, its status and its gradient at each point.

    Each entry is :math:`\partial \sum_j g(o)_j / \partial o_i`, which is :math:`g'(o_i)` for an
    element-wise ``g``; for a map that mixes its inputs, such as softmax, the table is meaningless
    (see :func:`gradient_flow`).

    Args:
        transforms: mapping name -> callable ``g(o)``, applied element-wise.
        points: the values of ``o`` at which to evaluate the gradient.
        dtype: the floating dtype of ``o`` (float64 by default; pass ``torch.float32`` to see
            what float32 training sees, e.g. a sigmoid whose gradient is exactly 0 at ``o = 20``).

    Example:
        >>> print(gradient_table({"round": torch.round}, [0.3]))  # doctest: +NORMALIZE_WHITESPACE
        transformation | status        | o=0.3
        round          | zero gradient | 0
    """
    if not isinstance(transforms, dict) or not transforms:
        raise TypeError("transforms must be a non-empty dict name -> callable")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
    o = torch.tensor([float(p) for p in points], dtype=dtype)
    header = ["transformation", "status"] + [f"o={p:g}" for p in o.tolist()]
    rows = []
    for name, fn in transforms.items():
        flow = gradient_flow(fn, o)
        cells = ["-"] * len(o) if flow.grad is None else [f"{v:.4g}" for v in flow.grad.tolist()]
        rows.append([name, flow.status, *cells])
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [" | ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    return "\n".join(lines)


def loss_and_gradient(loss_fn, logit: float, target: float, dtype: torch.dtype = torch.float32):
    r"""Value and derivative :math:`(\ell(z, y),\ \partial\ell/\partial z)` of a loss at one logit.

    ``loss_fn(logits, target)`` is any loss on tensors (for example
    :func:`course_pkg.losses.bce_with_logits`); it is called on one-element
    tensors of ``dtype``, so what comes back is exactly what training in that
    dtype would see. Returns two Python floats.

    Example:
        >>> from course_pkg.losses import bce_with_logits
        >>> loss_and_gradient(bce_with_logits, 20.0, 0.0)
        (20.0, 1.0)
    """
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(logits, target), got {type(loss_fn).__name__}")
    z0, y0 = check_number(logit, "logit"), check_number(target, "target")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
    z = torch.tensor([z0], dtype=dtype, requires_grad=True)
    loss = loss_fn(z, torch.tensor([y0], dtype=dtype))
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise TypeError(f"loss_fn must return a one-element tensor, got {loss!r:.80}")
    (grad,) = torch.autograd.grad(loss.sum(), z)
    return loss.item(), grad.item()
