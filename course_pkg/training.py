"""A plain, seeded training loop that records its loss history, and the two optimizers it uses.

SGD and Adam are written out here (a few lines each, the update rule visible)
rather than taken from ``torch.optim``: they compute the same updates, and a
notebook that trains does not pay ``torch.optim``'s one-off import cost.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from course_pkg._validation import check_number, check_tensor
from course_pkg.runtime import generator

__all__ = ["train", "History", "NonFiniteLossError", "SGD", "Adam"]


class NonFiniteLossError(FloatingPointError):
    """Raised when the loss becomes NaN or infinite; the message names the step."""


@dataclass
class History:
    """Loss after each step (``losses[k]`` is the loss *before* update k+1 was applied)."""

    losses: list = field(default_factory=list)

    @property
    def final(self) -> float:
        """The last recorded loss (computed before the last update: evaluate the model again for the true final value)."""
        return self.losses[-1]

    def __len__(self) -> int:
        return len(self.losses)


class SGD:
    r"""Plain gradient descent, :math:`\theta \leftarrow \theta - \eta\, \nabla_\theta \mathcal L`.

    Same update as ``torch.optim.SGD(params, lr)`` (no momentum, no weight decay).

    Example:
        >>> w = torch.tensor([1.0], requires_grad=True)
        >>> (2 * w).sum().backward(); SGD([w], lr=0.1).step(); w
        tensor([0.8000], requires_grad=True)
    """

    def __init__(self, params, lr: float):
        self.params = [p for p in params if p.requires_grad]
        self.lr = check_number(lr, "lr", positive=True)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for p in self.params:
            if p.grad is not None:
                p.sub_(self.lr * p.grad)


class Adam:
    r"""Adam (Kingma & Ba, 2015): gradient steps scaled by running moment estimates.

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \quad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \quad
        \theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,
                    \frac{m_t}{\sqrt{v_t / (1-\beta_2^t)} + \epsilon}

    Same update as ``torch.optim.Adam(params, lr)`` with its defaults
    (betas 0.9 / 0.999, eps 1e-8, no weight decay).

    Example:
        >>> w = torch.tensor([1.0], requires_grad=True)
        >>> (2 * w).sum().backward(); Adam([w], lr=0.1).step(); w
        tensor([0.9000], requires_grad=True)
    """

    def __init__(self, params, lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params = [p for p in params if p.requires_grad]
        self.lr = check_number(lr, "lr", positive=True)
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.t = 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        correction1 = 1 - self.beta1 ** self.t
        correction2 = 1 - self.beta2 ** self.t
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            m.mul_(self.beta1).add_(p.grad, alpha=1 - self.beta1)
            v.mul_(self.beta2).addcmul_(p.grad, p.grad, value=1 - self.beta2)
            denom = (v.sqrt() / math.sqrt(correction2)).add_(self.eps)
            p.addcdiv_(m, denom, value=-self.lr / correction1)


_OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def train(model, loss_fn, x, y, *, steps: int = 500, lr: float = 0.01, optimizer: str = "adam",
          batch_size: int | None = None, seed: int = 0, progress: bool = False) -> History:
    r"""Minimise ``loss_fn(model(x), y)`` with SGD or Adam; return the loss history.

    Each step: forward, loss, backward, update. ``loss_fn`` receives the
    model's *raw* outputs and the targets, so the output transformation lives
    in the loss. Full batch by default; with ``batch_size`` the mini-batches
    are drawn from a generator seeded with ``seed`` (same seed, same run).

    Raises :class:`NonFiniteLossError` naming the step if the loss becomes NaN
    or infinite. ``progress=True`` shows a tqdm bar.

    Shapes: ``x`` (N, ...) and ``y`` (N, ...) with the same N.

    Example:
        >>> from course_pkg.models import MLP
        >>> from course_pkg.losses import mse
        >>> x = torch.linspace(-1, 1, 8).unsqueeze(1)
        >>> h = train(MLP(1, 1), mse, x, 2 * x, steps=5)
        >>> len(h)
        5
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(outputs, targets), got {type(loss_fn).__name__}")
    check_tensor(x, "x", min_dim=1)
    check_tensor(y, "y", min_dim=1)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same number of samples, got {x.shape[0]} and {y.shape[0]}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    lr = check_number(lr, "lr", positive=True)
    if optimizer not in _OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(_OPTIMIZERS)}, got {optimizer!r}")
    n = x.shape[0]
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or not 1 <= batch_size <= n):
        raise ValueError(f"batch_size must be None or an int in 1..{n}, got {batch_size!r}")

    opt = _OPTIMIZERS[optimizer](model.parameters(), lr=lr)
    g = generator(seed)
    history = History()
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, desc="training")
    model.train()
    for step in range(1, steps + 1):
        if batch_size is None:
            xb, yb = x, y
        else:
            idx = torch.randperm(n, generator=g)[:batch_size].to(x.device)
            xb, yb = x[idx], y[idx]
        loss = loss_fn(model(xb), yb)
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
            raise TypeError(f"loss_fn must return a scalar tensor, got {loss!r:.80}")
        value = loss.item()
        if not math.isfinite(value):
            raise NonFiniteLossError(
                f"loss became {value} at step {step} of {steps}; check the learning rate and the "
                "output transformation (e.g. log of a probability that reached 0)"
            )
        history.losses.append(value)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{value:.4g}")
    if bar is not None:
        bar.close()
    model.eval()
    return history
