"""Seeded synthetic data sets, one per task the book covers. No downloads.

Every maker draws from its own ``torch.Generator(seed)`` on the CPU, so the
same seed gives the same tensors on every machine, then moves them to
``device``. Each returns ``(x, y)``.
"""
from __future__ import annotations

import math

import torch

from course_pkg.runtime import generator

__all__ = [
    "make_regression", "make_bounded_regression", "make_positive_regression",
    "make_binary", "make_multiclass",
]


def _check_n(n, name="n"):
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name} must be a positive int, got {n!r}")
    return n


def make_regression(n: int = 200, noise: float = 0.1, seed: int = 0, device=None):
    r"""1-D regression with real-valued targets: :math:`y = \sin(2x) + x/2 + \varepsilon`.

    ``x`` uniform on [-3, 3], :math:`\varepsilon \sim \mathcal N(0, \text{noise}^2)`.
    Shapes: ``x`` (n, 1), ``y`` (n, 1), float32.

    Example:
        >>> x, y = make_regression(5)
        >>> x.shape, y.shape
        (torch.Size([5, 1]), torch.Size([5, 1]))
    """
    _check_n(n)
    g = generator(seed)
    x = torch.rand(n, 1, generator=g) * 6 - 3
    y = torch.sin(2 * x) + 0.5 * x + noise * torch.randn(n, 1, generator=g)
    return x.to(device), y.to(device)


def make_bounded_regression(n: int = 200, low: float = 10.0, high: float = 100.0, seed: int = 0, device=None):
    r"""1-D regression whose targets fill the bounded interval [low, high], touching both ends.

    :math:`y = \text{low} + (\text{high}-\text{low})\,\mathrm{clip}(0.5 + 0.6\sin(1.5x), 0, 1)`, so
    some targets sit exactly on the bounds (as percentages or ratings do).
    Shapes: ``x`` (n, 1), ``y`` (n, 1).

    Example:
        >>> x, y = make_bounded_regression(100)
        >>> float(y.min()) >= 10.0 and float(y.max()) <= 100.0
        True
    """
    _check_n(n)
    if not low < high:
        raise ValueError(f"make_bounded_regression needs low < high, got low={low}, high={high}")
    g = generator(seed)
    x = torch.rand(n, 1, generator=g) * 4 - 2
    frac = (0.5 + 0.6 * torch.sin(1.5 * x) + 0.03 * torch.randn(n, 1, generator=g)).clamp(0, 1)
    return x.to(device), (low + (high - low) * frac).to(device)


def make_positive_regression(n: int = 256, in_features: int = 8, seed: int = 0, device=None):
    r"""Positive targets :math:`y = \mathrm{softplus}(x\cdot w) + 0.1 > 0`, :math:`x \sim \mathcal N(0, I)`.

    Shapes: ``x`` (n, in_features), ``y`` (n, 1); every ``y`` > 0.

    Example:
        >>> x, y = make_positive_regression(10)
        >>> bool((y > 0).all())
        True
    """
    _check_n(n)
    _check_n(in_features, "in_features")
    g = generator(seed)
    w = torch.randn(in_features, 1, generator=g)
    x = torch.randn(n, in_features, generator=g)
    y = torch.nn.functional.softplus(x @ w) + 0.1
    return x.to(device), y.to(device)


def make_binary(n: int = 400, noise: float = 0.25, seed: int = 0, device=None):
    """Two interleaved half-moons in 2-D, labels 0.0 / 1.0 (float, ready for BCE).

    Shapes: ``x`` (n, 2), ``y`` (n, 1) float32 with values in {0, 1}.

    Example:
        >>> x, y = make_binary(8)
        >>> sorted(y.unique().tolist())
        [0.0, 1.0]
    """
    _check_n(n)
    g = generator(seed)
    label = torch.arange(n) % 2
    angle = torch.rand(n, generator=g) * math.pi
    x = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    x[label == 1] = torch.stack([1 - torch.cos(angle), 0.5 - torch.sin(angle)], dim=1)[label == 1]
    x = x + noise * torch.randn(n, 2, generator=g)
    return x.to(device), label.float().unsqueeze(1).to(device)


def make_multiclass(n: int = 600, num_classes: int = 3, noise: float = 0.2, seed: int = 0, device=None):
    """A ``num_classes``-armed spiral in 2-D, labels 0..C-1 (int64, ready for cross-entropy).

    Shapes: ``x`` (n, 2) float32, ``y`` (n,) int64.

    Example:
        >>> x, y = make_multiclass(9, num_classes=3)
        >>> y.tolist()
        [0, 1, 2, 0, 1, 2, 0, 1, 2]
    """
    _check_n(n)
    _check_n(num_classes, "num_classes")
    g = generator(seed)
    label = torch.arange(n) % num_classes
    radius = torch.rand(n, generator=g) * 0.9 + 0.1
    angle = label * (2 * math.pi / num_classes) + radius * 3.0 + noise * torch.randn(n, generator=g)
    x = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    return x.to(device), label.to(device)
