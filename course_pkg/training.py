"""A plain, seeded training loop that records its loss history."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from course_pkg._validation import check_number, check_tensor
from course_pkg.runtime import generator

__all__ = ["train", "History", "NonFiniteLossError"]


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


_OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}


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
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{value:.4g}")
    if bar is not None:
        bar.close()
    model.eval()
    return history
