"""Seeded synthetic data sets, one per task the book covers. No downloads.

Every maker draws from its own ``torch.Generator(seed)`` on the CPU, so the
same seed gives the same tensors on every machine, then moves them to
``device``. Each returns ``(x, y)``.
"""
from __future__ import annotations

import math

import torch

from course_pkg._validation import check_number, check_tensor
from course_pkg.runtime import _check_seed, generator

__all__ = [
    "make_regression", "make_bounded_regression", "make_positive_regression", "make_lognormal_regression",
    "make_binary", "make_multiclass", "make_multilabel", "make_heteroscedastic_regression",
    "heteroscedastic_mean", "heteroscedastic_std", "make_inverse_problem",
    "subsample_class", "make_long_tailed",
]


def _randn64(*shape, generator):
    """Standard normals drawn in float64.

    PyTorch's float32 ``randn`` takes a vectorized code path on CPUs with AVX2 or AVX-512 and gives different
    numbers there; its float64 path is the same scalar code on every CPU. The regression makers below draw and
    compute in float64 and round once to float32 at the end, so a last-bit difference in a float64 ``sin`` or
    ``exp`` between math libraries almost never reaches the float32 data (``tests/test_data_stable.py``).
    """
    return torch.randn(*shape, generator=generator, dtype=torch.float64)


def _check_n(n, name="n"):
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name} must be a positive int, got {n!r}")
    return n


def make_regression(n: int = 200, noise: float = 0.1, seed: int = 0, device=None):
    r"""1-D regression with real-valued targets: :math:`y = \sin(2x) + x/2 + \varepsilon`.

    ``x`` uniform on [-3, 3], :math:`\varepsilon \sim \mathcal N(0, \text{noise}^2)`.
    Shapes: ``x`` (n, 1), ``y`` (n, 1), float32 (computed in float64, the same on every CPU).

    Example:
        >>> x, y = make_regression(5)
        >>> x.shape, y.shape
        (torch.Size([5, 1]), torch.Size([5, 1]))
    """
    _check_n(n)
    g = generator(seed)
    x = torch.rand(n, 1, generator=g) * 6 - 3        # exact: uniform draws and an affine map in float32
    x64 = x.double()
    y = torch.sin(2 * x64) + 0.5 * x64 + noise * _randn64(n, 1, generator=g)
    return x.to(device), y.float().to(device)


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
    x = torch.rand(n, 1, generator=g) * 4 - 2        # exact: uniform draws and an affine map in float32
    frac = (0.5 + 0.6 * torch.sin(1.5 * x.double()) + 0.03 * _randn64(n, 1, generator=g)).clamp(0, 1)
    return x.to(device), (low + (high - low) * frac).float().to(device)


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
    w = _randn64(in_features, 1, generator=g)
    x = _randn64(n, in_features, generator=g)
    y = torch.nn.functional.softplus(x @ w) + 0.1
    return x.float().to(device), y.float().to(device)


def make_lognormal_regression(n: int = 512, in_features: int = 8, noise: float = 0.3, seed: int = 0,
                              task_seed: int = 0, device=None):
    r"""Positive targets with multiplicative noise: :math:`\log y = 0.5 + x\cdot w + \varepsilon`.

    :math:`x \sim \mathcal N(0, I_d)`, :math:`w` a random unit vector (so
    :math:`x\cdot w \sim \mathcal N(0, 1)`) and
    :math:`\varepsilon \sim \mathcal N(0, \text{noise}^2)`, so :math:`y` given
    :math:`x` is log-normal: its median is :math:`e^{0.5 + x\cdot w}` and its mean
    :math:`e^{0.5 + x\cdot w + \text{noise}^2/2}`. The targets span orders of
    magnitude and their errors are relative. The weights :math:`w` come from
    ``task_seed`` and the samples from ``seed``: sets drawn with different
    ``seed`` (train / test) share one rule.

    Raises ``ValueError`` for a bad ``n``, ``in_features`` or ``noise`` and
    ``TypeError`` for a bad seed.

    Shapes: ``x`` (n, in_features), ``y`` (n, 1), float32; every ``y`` > 0.

    Example:
        >>> x, y = make_lognormal_regression(6)
        >>> x.shape, y.shape, bool((y > 0).all())
        (torch.Size([6, 8]), torch.Size([6, 1]), True)
    """
    _check_n(n)
    _check_n(in_features, "in_features")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise < math.inf:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    # w has its own stream: torch keeps 32 bits of a seed, and the offset 2**31 keeps w's stream apart from the
    # samples' for every seed below 2**31, so w never repeats the samples' random numbers.
    task = torch.Generator().manual_seed((2 ** 31 + _check_seed(task_seed)) % 2 ** 32)
    w = _randn64(in_features, 1, generator=task)
    w = w / w.norm()
    g = generator(seed)
    x = _randn64(n, in_features, generator=g)
    log_y = 0.5 + x @ w + noise * _randn64(n, 1, generator=g)
    return x.float().to(device), torch.exp(log_y).float().to(device)


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


def subsample_class(x: torch.Tensor, y: torch.Tensor, label: float, fraction: float, seed: int = 0):
    r"""Keep every example except those of class ``label``, of which only a random ``fraction`` survives.

    Of the :math:`n_\text{label}` examples with ``y == label``,
    :math:`\operatorname{round}(\text{fraction}\cdot n_\text{label})` (at least one) are drawn
    uniformly without replacement from ``torch.Generator(seed)``; all other examples are kept.
    The kept examples stay in their original order. A uniform draw, unlike a stride over the indices
    (``index % 16 == 1``), does not rely on the order in which the data set stores its labels.
    This is how to build an imbalanced training set from a balanced one.

    Shapes: ``x`` (N, ...), ``y`` (N,) or (N, 1); returns ``(x_kept, y_kept)`` on their device.

    Example:
        >>> x, y = make_binary(8)                      # 4 of each class
        >>> x_few, y_few = subsample_class(x, y, label=1.0, fraction=0.5)
        >>> int((y_few == 1).sum()), int((y_few == 0).sum())
        (2, 4)
    """
    check_tensor(x, "x", min_dim=1)
    check_tensor(y, "y", min_dim=1)
    if y.dim() > 2 or (y.dim() == 2 and y.shape[1] != 1):
        raise ValueError(f"y must have shape (N,) or (N, 1), got {tuple(y.shape)}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same number of examples, got {x.shape[0]} and {y.shape[0]}")
    label = check_number(label, "label")
    fraction = check_number(fraction, "fraction")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    in_class = (y.reshape(-1) == label).cpu()
    members = torch.nonzero(in_class).reshape(-1)
    if len(members) == 0:
        raise ValueError(f"label={label:g} does not occur in y")
    n_keep = max(1, round(fraction * len(members)))
    chosen = members[torch.randperm(len(members), generator=generator(seed))[:n_keep]]
    keep = ~in_class
    keep[chosen] = True
    return x[keep.to(x.device)], y[keep.to(y.device)]


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


# ---------------------------------------------------------------- outputs with structure

__all__ += ["count_rate", "make_counts", "make_ordinal", "angle_direction", "make_angles", "make_selection"]  # chapter "Outputs with structure"

from course_pkg._validation import check_tensor  # noqa: E402  (imported here to keep this section self-contained)


def count_rate(x: torch.Tensor) -> torch.Tensor:
    r"""The true Poisson rate of :func:`make_counts`, :math:`\lambda(x) = \exp(1 + 1.5x + 0.4\sin 3x)`.

    Shape: any; same shape out.

    Example:
        >>> count_rate(torch.tensor([0.0]))
        tensor([2.7183])
    """
    check_tensor(x, "x", floating=True)
    return torch.exp(1.0 + 1.5 * x + 0.4 * torch.sin(3 * x))


def make_counts(n: int = 300, seed: int = 0, device=None, return_rate: bool = False):
    r"""1-D count data: :math:`y \sim \mathrm{Poisson}(\lambda(x))` with :math:`\log\lambda(x) = 1 + 1.5x + 0.4\sin 3x`.

    ``x`` uniform on [-2, 2], so the rate runs from about 0.15 to about 49:
    mostly zeros and ones on the left, counts in the tens on the right.
    Shapes: ``x`` (n, 1), ``y`` (n, 1) float32 holding whole numbers >= 0
    (ready for :func:`course_pkg.losses.poisson_nll`); with
    ``return_rate=True`` also the true rate :math:`\lambda(x)` (n, 1).

    Example:
        >>> x, y, rate = make_counts(6, return_rate=True)
        >>> bool((y >= 0).all() and (y == y.round()).all()), bool((rate > 0).all())
        (True, True)
    """
    _check_n(n)
    g = generator(seed)
    x = torch.rand(n, 1, generator=g) * 4 - 2
    rate = count_rate(x)
    y = torch.poisson(rate, generator=g)
    out = (x.to(device), y.to(device))
    return out + (rate.to(device),) if return_rate else out


def make_ordinal(n: int = 200, num_classes: int = 7, noise: float = 0.5, seed: int = 0, device=None):
    r"""Ordinal labels 0..K-1 cut from a noisy latent score at unevenly spaced thresholds.

    :math:`x \sim \mathcal N(0, I_2)`, latent score
    :math:`s = x_1 + \tfrac12 x_2^2 - \tfrac12 + \varepsilon` with
    :math:`\varepsilon \sim \mathcal N(0, \text{noise}^2)`, and
    :math:`y = \#\{k : s > c_k\}` for the K-1 increasing cut points
    :math:`c_k = t_k^3/4 + t_k/2`, :math:`t` evenly spaced on [-1.5, 2]. The
    labels are ordered (a larger score gives a larger label) but not evenly
    spaced in the score: the gap between neighbouring cut points varies
    from about 0.4 to about 1.8 for K = 7.

    Shapes: ``x`` (n, 2) float32, ``y`` (n,) int64 in 0..num_classes-1.

    Example:
        >>> x, y = make_ordinal(500, num_classes=5)
        >>> x.shape, int(y.min()), int(y.max())
        (torch.Size([500, 2]), 0, 4)
    """
    _check_n(n)
    _check_n(num_classes, "num_classes")
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2 for ordinal labels, got {num_classes}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    g = generator(seed)
    x = torch.randn(n, 2, generator=g)
    score = x[:, 0] + 0.5 * x[:, 1] ** 2 - 0.5 + noise * torch.randn(n, generator=g)
    t = torch.linspace(-1.5, 2.0, num_classes - 1)
    cuts = t ** 3 / 4 + t / 2
    y = (score.unsqueeze(1) > cuts).sum(dim=1)
    return x.to(device), y.to(device)


def angle_direction(x: torch.Tensor) -> torch.Tensor:
    r"""The true mean direction of :func:`make_angles`, :math:`\mu(x) = \mathrm{wrap}(2.5x + 1.2)` in :math:`(-\pi, \pi]`.

    Shape: any; same shape out.

    Example:
        >>> angle_direction(torch.tensor([0.0, 1.0]))
        tensor([ 1.2000, -2.5832])
    """
    check_tensor(x, "x", floating=True)
    raw = 2.5 * x + 1.2
    mu = torch.atan2(torch.sin(raw), torch.cos(raw))
    return torch.where(mu == -math.pi, torch.full_like(mu, math.pi), mu)


def make_angles(n: int = 300, seed: int = 0, device=None, return_concentration: bool = False):
    r"""Angles (radians) that depend smoothly on a 1-D input and wrap around at :math:`\pm\pi`.

    ``x`` uniform on [-1, 1]; the angle is :math:`\theta = \mathrm{wrap}(2.5x + 1.2 + \varepsilon)`
    with von Mises noise :math:`\varepsilon \sim \mathrm{VM}(0, \kappa(x))`,
    :math:`\kappa(x) = 1/s(x)^2` for the spread :math:`s(x) = 0.1 + 0.15\,(x + 1)` (0.1 to 0.4
    radians), and :math:`\mathrm{wrap}` mapping into :math:`(-\pi, \pi]`. The
    direction :math:`2.5x + 1.2` (:func:`angle_direction`, wrapped) passes :math:`\pi` near :math:`x = 0.78`,
    so the targets jump from near :math:`+\pi` to near :math:`-\pi` there, although the
    direction itself moves smoothly. The noise is drawn by
    ``torch.distributions.VonMises`` under a forked, seeded global generator
    (the global random state is left untouched).

    Shapes: ``x`` (n, 1) float32, ``theta`` (n,) float32; with
    ``return_concentration=True`` also :math:`\kappa(x)` (n,).

    Example:
        >>> x, theta = make_angles(100)
        >>> bool((theta > -3.1416).all() and (theta <= 3.1416).all())
        True
    """
    _check_n(n)
    g = generator(seed)
    x = torch.rand(n, 1, generator=g) * 2 - 1
    spread = 0.1 + 0.15 * (x[:, 0] + 1)
    kappa = 1 / spread ** 2
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        noise = torch.distributions.VonMises(torch.zeros(n), kappa).sample()
    raw = 2.5 * x[:, 0] + 1.2 + noise
    theta = torch.atan2(torch.sin(raw), torch.cos(raw))
    theta = torch.where(theta == -math.pi, torch.full_like(theta, math.pi), theta)  # (-pi, pi]
    out = (x.to(device), theta.to(device))
    return out + (kappa.to(device),) if return_concentration else out


def make_selection(n: int = 400, items: int = 8, seed: int = 0, device=None, return_relevant: bool = False):
    r"""Sets of items where the target averages the values of the few *relevant* items.

    Each sample holds ``items`` items with three features
    :math:`f \sim \mathcal N(0, I_3)` and a value :math:`v \sim \mathcal N(0, 1)`.
    An item is relevant when :math:`f_1 > 0.8` (probability about 0.21; a sample
    with none gets its item with the largest :math:`f_1`), and the target is
    the mean value of the relevant items, :math:`y = \sum_i r_i v_i / \sum_i r_i`.
    A model must learn which items to attend to: weights that are exactly
    uniform on the relevant items and exactly 0 elsewhere give a perfect fit.

    Shapes: ``x`` (n, items, 4) float32 with the features first and the value
    last; ``y`` (n, 1); with ``return_relevant=True`` also the relevance mask
    (n, items) bool.

    Example:
        >>> x, y, relevant = make_selection(5, return_relevant=True)
        >>> x.shape, y.shape, bool(relevant.any(dim=1).all())
        (torch.Size([5, 8, 4]), torch.Size([5, 1]), True)
    """
    _check_n(n)
    _check_n(items, "items")
    g = generator(seed)
    features = torch.randn(n, items, 3, generator=g)
    values = torch.randn(n, items, generator=g)
    relevant = features[..., 0] > 0.8
    none = ~relevant.any(dim=1)
    relevant[none, features[none, :, 0].argmax(dim=1)] = True
    y = (values * relevant).sum(dim=1, keepdim=True) / relevant.sum(dim=1, keepdim=True)
    x = torch.cat([features, values.unsqueeze(-1)], dim=-1)
    out = (x.to(device), y.to(device))
    return out + (relevant.to(device),) if return_relevant else out


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

    Shapes: ``x`` (n, 1), ``y`` (n, 1), float32 (computed in float64, the same on every CPU). with ``return_std=True`` also
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

    Shapes: ``x`` (n, 1), ``y`` (n, 1), float32 (computed in float64, the same on every CPU).

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


def make_long_tailed(n: int = 1200, num_classes: int = 5, imbalance: float = 50.0, noise: float = 0.6,
                     balanced: bool = False, seed: int = 0, device=None):
    r"""Multi-class data with a long-tailed class distribution, or the balanced version of the same task.

    Class :math:`j = 0, \dots, C-1` has prior
    :math:`\pi_j \propto \rho^{-j/(C-1)}` with :math:`\rho` = ``imbalance``:
    class 0 is the most frequent, class :math:`C-1` the rarest, and
    :math:`\pi_0 / \pi_{C-1} = \rho`. The set holds exactly
    :math:`\max(1, \mathrm{round}(n\pi_j))` examples of class :math:`j`
    (with ``balanced=True``: ``n // C`` of every class, the balanced test set
    of the same task). Inputs are 2-D Gaussians around class means on the
    unit circle, :math:`x = (\cos\frac{2\pi j}{C}, \sin\frac{2\pi j}{C}) + \text{noise}\cdot\varepsilon`,
    :math:`\varepsilon \sim \mathcal N(0, I_2)`; neighbouring classes
    overlap, so the best decision depends on the class priors. With one
    shared isotropic noise the Bayes classifier is linear in :math:`x`, and
    :math:`\log\pi_j` enters it only through the bias of class :math:`j`.

    Shapes: ``x`` (M, 2) float32, ``y`` (M,) int64 sorted by class, with
    :math:`M = \sum_j \max(1, \mathrm{round}(n\pi_j))` close to ``n``.

    Example:
        >>> x, y = make_long_tailed(1200)
        >>> torch.bincount(y).tolist()
        [754, 284, 107, 40, 15]
        >>> torch.bincount(make_long_tailed(1000, balanced=True)[1]).tolist()
        [200, 200, 200, 200, 200]
    """
    _check_n(n)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    if isinstance(imbalance, bool) or not isinstance(imbalance, (int, float)) or not 1.0 <= imbalance < math.inf:
        raise ValueError(f"imbalance must be a finite number >= 1 (most frequent / rarest class), got {imbalance!r}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0.0 <= noise < math.inf:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    if not isinstance(balanced, bool):
        raise TypeError(f"balanced must be a bool, got {type(balanced).__name__}")
    if balanced:
        if n < num_classes:
            raise ValueError(f"n must be at least num_classes = {num_classes} for a balanced set, got {n}")
        counts = torch.full((num_classes,), n // num_classes, dtype=torch.int64)
    else:
        prior = float(imbalance) ** (-torch.arange(num_classes, dtype=torch.float64) / (num_classes - 1))
        counts = torch.round(n * prior / prior.sum()).long().clamp(min=1)
    g = generator(seed)
    y = torch.repeat_interleave(torch.arange(num_classes), counts)
    angle = 2 * math.pi * torch.arange(num_classes) / num_classes
    means = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    x = means[y] + noise * torch.randn(len(y), 2, generator=g)
    return x.to(device), y.to(device)
