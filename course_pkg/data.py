"""Seeded synthetic data sets, one per task the book covers. No downloads.

Every maker draws from its own ``torch.Generator(seed)`` on the CPU, so the
same seed gives the same tensors on every machine, then moves them to
``device``. Each returns ``(x, y)``.
"""
from __future__ import annotations

import math

import torch

from course_pkg._validation import check_number, check_tensor
from course_pkg.runtime import generator

__all__ = [
    "make_regression", "make_bounded_regression", "make_positive_regression",
    "make_binary", "make_multiclass", "make_multilabel", "make_heteroscedastic_regression",
    "heteroscedastic_mean", "heteroscedastic_std", "make_inverse_problem",
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


def make_multilabel(n: int = 600, rates=(0.5, 0.3, 0.12, 0.04), in_features: int = 6, label_noise: float = 0.3,
                    seed: int = 0, task_seed: int = 0, device=None):
    r"""Multi-label data: each sample carries any subset of K labels (not mutually exclusive), some rare.

    :math:`x \sim \mathcal N(0, I_d)`; label :math:`k` is present when
    :math:`x\cdot w_k + \eta_k > t_k`, with :math:`w_k` random unit vectors,
    :math:`\eta_k \sim \mathcal N(0, \text{label\_noise}^2)` and threshold
    :math:`t_k = \sqrt{1 + \text{label\_noise}^2}\;\Phi^{-1}(1 - r_k)`, so label
    :math:`k` occurs with expected rate :math:`r_k` (``rates``). Several
    labels can be on at once, or none. The directions :math:`w_k` come from
    ``task_seed`` and the samples from ``seed``: sets drawn with different
    ``seed`` (train / test) share one labelling rule.

    Shapes: ``x`` (n, in_features) float32, ``y`` (n, K) float32 in {0, 1}
    (ready for BCE with logits), K = ``len(rates)``.

    Example:
        >>> x, y = make_multilabel(8)
        >>> x.shape, y.shape
        (torch.Size([8, 6]), torch.Size([8, 4]))
    """
    _check_n(n)
    _check_n(in_features, "in_features")
    rates = torch.as_tensor(rates, dtype=torch.float64)
    if rates.dim() != 1 or rates.numel() < 1 or not bool(((rates > 0) & (rates < 1)).all()):
        raise ValueError(f"rates must be a non-empty sequence of numbers in (0, 1), got {rates.tolist()!r}")
    if not label_noise >= 0:
        raise ValueError(f"label_noise must be >= 0, got {label_noise!r}")
    k = rates.numel()
    w = torch.randn(in_features, k, generator=generator(task_seed))
    g = generator(seed)
    w = w / w.norm(dim=0, keepdim=True)
    x = torch.randn(n, in_features, generator=g)
    score = x @ w + label_noise * torch.randn(n, k, generator=g)
    t = (math.sqrt(1 + label_noise ** 2) * torch.special.ndtri(1 - rates)).float()
    return x.to(device), (score > t).float().to(device)


def heteroscedastic_mean(x: torch.Tensor) -> torch.Tensor:
    r"""The true conditional mean of :func:`make_heteroscedastic_regression`, :math:`\sin(1.5x)`.

    Shape: same as ``x``. Example:
        >>> heteroscedastic_mean(torch.tensor([0.0]))
        tensor([0.])
    """
    return torch.sin(1.5 * check_tensor(x, "x", floating=True))


def heteroscedastic_std(x: torch.Tensor) -> torch.Tensor:
    r"""The true noise standard deviation of :func:`make_heteroscedastic_regression`, :math:`0.05 + 0.1(x + 3)`.

    Shape: same as ``x``. Example:
        >>> heteroscedastic_std(torch.tensor([-3.0, 3.0]))
        tensor([0.0500, 0.6500])
    """
    return 0.05 + 0.1 * (check_tensor(x, "x", floating=True) + 3)


def make_heteroscedastic_regression(n: int = 400, seed: int = 0, device=None, return_std: bool = False):
    r"""1-D regression whose noise level depends on the input (heteroscedastic).

    :math:`y = \sin(1.5x) + s(x)\,\varepsilon`, :math:`\varepsilon \sim \mathcal N(0, 1)`,
    with standard deviation :math:`s(x) = 0.05 + 0.1\,(x + 3)` growing from 0.05
    at :math:`x = -3` to 0.65 at :math:`x = 3`; ``x`` uniform on [-3, 3]
    (:func:`heteroscedastic_mean` and :func:`heteroscedastic_std` evaluate the two curves).

    Shapes: ``x`` (n, 1), ``y`` (n, 1), float32; with ``return_std=True`` also
    the true :math:`s(x)` (n, 1) as a third tensor.

    Example:
        >>> x, y, s = make_heteroscedastic_regression(5, return_std=True)
        >>> bool((s >= 0.05).all() and (s <= 0.65).all())
        True
    """
    _check_n(n)
    g = generator(seed)
    x = torch.rand(n, 1, generator=g) * 6 - 3
    std = heteroscedastic_std(x)
    y = heteroscedastic_mean(x) + std * torch.randn(n, 1, generator=g)
    out = (x.to(device), y.to(device))
    return out + (std.to(device),) if return_std else out


def make_inverse_problem(n: int = 1000, noise: float = 0.1, seed: int = 0, device=None):
    r"""Bishop's (1994) inverse problem: predict y from :math:`x = y + 0.3\sin(2\pi y) + \varepsilon`.

    ``y`` uniform on [0, 1], :math:`\varepsilon` uniform on ``(-noise, noise)``.
    The forward map y -> x is a function; its inverse x -> y is not: without
    noise, every x between about 0.41 and 0.59 comes from three values of y
    (the noise widens that range), so p(y | x) has three modes there, and the
    conditional mean (what a squared-error fit estimates) falls between them.

    Shapes: ``x`` (n, 1), ``y`` (n, 1), float32.

    Example:
        >>> x, y = make_inverse_problem(4)
        >>> x.shape, bool(((y >= 0) & (y <= 1)).all())
        (torch.Size([4, 1]), True)
    """
    _check_n(n)
    noise = check_number(noise, "noise")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    g = generator(seed)
    y = torch.rand(n, 1, generator=g)
    x = y + 0.3 * torch.sin(2 * math.pi * y) + noise * (2 * torch.rand(n, 1, generator=g) - 1)
    return x.to(device), y.to(device)
