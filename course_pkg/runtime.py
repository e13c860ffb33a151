"""Where code runs and how it is made repeatable: a device helper and a seeding helper."""
from __future__ import annotations

import random

import torch


__all__ = ["get_device", "seed_everything", "generator"]


def get_device(prefer: str | None = None) -> torch.device:
    """Return the device to use: CUDA when available, else CPU.

    ``prefer`` may force ``"cpu"`` or ``"cuda"``; asking for CUDA where there is
    none raises ``RuntimeError`` rather than silently running on the CPU.

    Example:
        >>> get_device("cpu")
        device(type='cpu')
    """
    if prefer is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if prefer not in ("cpu", "cuda"):
        raise ValueError(f"prefer must be None, 'cpu' or 'cuda', got {prefer!r}")
    if prefer == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("prefer='cuda' but torch.cuda.is_available() is False")
    return torch.device(prefer)


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise TypeError(f"seed must be a non-negative int, got {seed!r}")
    return seed


def seed_everything(seed: int = 0) -> int:
    """Seed Python's, PyTorch's (CPU and all GPUs) random generators; return the seed.

    Example:
        >>> seed_everything(0)
        0
    """
    _check_seed(seed)
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return seed


def generator(seed: int = 0) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed``: local randomness that touches no global state.

    Example:
        >>> torch.randn(2, generator=generator(0)).shape
        torch.Size([2])
    """
    return torch.Generator().manual_seed(_check_seed(seed))
