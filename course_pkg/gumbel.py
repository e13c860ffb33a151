"""Discrete outputs inside a trainable graph: straight-through and Gumbel-softmax.

A hard choice (argmax, one-hot) has no useful gradient. Two standard tricks:

- **straight-through** (Bengio, Leonard & Courville, 2013): use the hard value
  in the forward pass, but the gradient of a soft surrogate in the backward pass,
  ``hard + (soft - soft.detach())``;
- **Gumbel-softmax** (Jang, Gu & Poole, 2017): perturb the logits with Gumbel
  noise and take a softmax at temperature ``tau``; a relaxed, differentiable
  sample of a categorical variable. As ``tau -> 0`` the samples become one-hot.

Randomness comes from an explicit ``torch.Generator`` so every sample is repeatable.
"""
from __future__ import annotations

import torch

from course_pkg._validation import check_no_nan, check_number, check_tensor
from course_pkg.runtime import generator as make_generator
from course_pkg.transforms import argmax, softmax

__all__ = ["sample_gumbel", "straight_through", "gumbel_softmax", "GumbelSoftmax"]


def sample_gumbel(shape, generator: torch.Generator | None = None, dtype=torch.float32, device=None) -> torch.Tensor:
    r"""Standard Gumbel noise, :math:`g = -\log E` with :math:`E \sim \mathrm{Exponential}(1)`.

    Equivalent to :math:`-\log(-\log U)`, :math:`U \sim \mathcal U(0, 1)`, but
    drawn as an exponential so that no ``log(0)`` can occur (``E`` is clamped
    at the dtype's smallest normal number). Drawn on the CPU from
    ``generator`` (same generator state, same noise on every device), then
    moved to ``device``.

    Shapes: returns a tensor of ``shape``.

    Example:
        >>> sample_gumbel((2, 3), torch.Generator().manual_seed(0)).shape
        torch.Size([2, 3])
    """
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
    if isinstance(shape, int):
        shape = (shape,)
    if not isinstance(shape, (tuple, list, torch.Size)) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise TypeError(f"shape must be a tuple of non-negative ints, got {shape!r}")
    e = torch.empty(tuple(shape), dtype=dtype).exponential_(1.0, generator=generator)
    return (-torch.log(e.clamp(min=torch.finfo(dtype).tiny))).to(device)


def straight_through(soft: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""One-hot of the argmax in the forward pass, gradient of ``soft`` in the backward pass.

    .. math::
        y = \mathrm{onehot}(\arg\max_k s_k) + \big(s - \mathrm{sg}(s)\big),

    where :math:`\mathrm{sg}` stops the gradient (``detach``). The bracket is
    exactly 0 in value, so the output is exactly one-hot (ties: first maximal
    index), while :math:`\partial y/\partial s = I`: the gradient passes
    "straight through" the hard step as if it were the identity.

    Shapes: ``soft`` (..., C), usually probabilities -> same shape.

    Example:
        >>> s = torch.tensor([0.2, 0.5, 0.3], requires_grad=True)
        >>> y = straight_through(s)
        >>> y.tolist(), y.requires_grad
        ([0.0, 1.0, 0.0], True)
    """
    check_tensor(soft, "soft", floating=True, min_dim=1)
    check_no_nan(soft, "soft")
    index = argmax(soft.detach(), dim=dim)
    hard = torch.zeros_like(soft).scatter_(dim, index.unsqueeze(dim), 1.0)
    return hard + (soft - soft.detach())


def gumbel_softmax(logits: torch.Tensor, tau: float = 1.0, hard: bool = False,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    r"""A relaxed categorical sample, :math:`y = \mathrm{softmax}\big((z + g)/\tau\big)`, :math:`g_k` i.i.d. Gumbel.

    Gumbel-max trick: :math:`\arg\max_k (z_k + g_k)` is an *exact* sample from
    :math:`\mathrm{Categorical}(\mathrm{softmax}(z))`. The softmax at
    temperature :math:`\tau > 0` replaces the argmax by a differentiable
    surrogate: near one-hot for small :math:`\tau` (high-variance gradients),
    near uniform for large :math:`\tau`. With ``hard=True`` the forward value
    is the one-hot of the argmax (the same exact categorical sample) and the
    gradient is that of the soft sample (straight-through, see
    :func:`straight_through`).

    Unlike ``torch.nn.functional.gumbel_softmax``, noise comes from
    ``generator`` (CPU), so samples are repeatable without touching the global
    random state.

    Shapes: ``logits`` (..., C) -> same shape, over the last dimension.

    Example:
        >>> y = gumbel_softmax(torch.zeros(2, 4), tau=0.5, hard=True, generator=torch.Generator().manual_seed(0))
        >>> y.sum(dim=-1).tolist()
        [1.0, 1.0]
    """
    check_tensor(logits, "logits", floating=True, min_dim=1)
    check_no_nan(logits, "logits")
    tau = check_number(tau, "tau", positive=True)
    if not isinstance(hard, bool):
        raise TypeError(f"hard must be a bool, got {type(hard).__name__}")
    g = sample_gumbel(logits.shape, generator, dtype=logits.dtype, device=logits.device)
    soft = softmax((logits + g) / tau, dim=-1)
    return straight_through(soft) if hard else soft


class GumbelSoftmax(torch.nn.Module):
    r"""A layer with a discrete output: a categorical sample in training, the most probable class in evaluation.

    In training mode (``model.train()``) it returns
    :func:`gumbel_softmax` of its input logits :math:`z` at temperature
    ``tau``: with ``hard=True`` (the default) an exact one-hot sample from
    :math:`\mathrm{Categorical}(\mathrm{softmax}(z))` whose gradient is the
    relaxed sample's (straight-through), a fresh sample at every call, drawn
    from the layer's own generator seeded with ``seed``. In evaluation mode
    (``model.eval()``) it returns the one-hot of :math:`\arg\max_k z_k`,
    deterministic, with exactly one 1 per row (first index on ties).

    Shapes: input (..., C) logits -> output (..., C), same dtype.

    Example:
        >>> layer = GumbelSoftmax(tau=1.0, seed=0)
        >>> layer(torch.zeros(2, 3)).sum(dim=-1).tolist()
        [1.0, 1.0]
        >>> layer.eval()(torch.tensor([[0.0, 2.0, 1.0]])).tolist()
        [[0.0, 1.0, 0.0]]
    """

    def __init__(self, tau: float = 1.0, hard: bool = True, seed: int = 0):
        super().__init__()
        self.tau = check_number(tau, "tau", positive=True)
        if not isinstance(hard, bool):
            raise TypeError(f"hard must be a bool, got {type(hard).__name__}")
        self.hard = hard
        self.generator = make_generator(seed)

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        if self.training:
            return gumbel_softmax(logits, tau=self.tau, hard=self.hard, generator=self.generator)
        check_tensor(logits, "logits", floating=True, min_dim=1)
        index = argmax(logits.detach(), dim=-1)
        return torch.zeros_like(logits).scatter_(-1, index.unsqueeze(-1), 1.0)

    def extra_repr(self) -> str:
        return f"tau={self.tau:g}, hard={self.hard}"
