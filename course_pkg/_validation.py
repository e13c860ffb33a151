"""One small input-validation helper, used by every public function.

Modelled on scikit-learn's ``check_array``: every message names the argument,
says what was expected and what was given, so a learner never has to read a
traceback from deep inside torch.
"""
from __future__ import annotations

import math
import numbers

import torch


def _describe(x) -> str:
    if isinstance(x, torch.Tensor):
        return f"a {str(x.dtype).replace('torch.', '')} tensor of shape {tuple(x.shape)}"
    return f"{type(x).__name__} {x!r}" if isinstance(x, (int, float, str, bool)) else type(x).__name__


def check_tensor(x, name: str, *, floating: bool = False, min_dim: int = 0):
    """Return ``x`` unchanged if it is a tensor of the expected kind, else raise.

    ``floating=True`` demands a floating-point dtype (integer and bool tensors
    are rejected with ``TypeError``); ``min_dim`` demands at least that many
    dimensions (``ValueError``).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {_describe(x)}")
    if floating and not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor (float16/bfloat16/float32/float64), got {_describe(x)}"
        )
    if x.dim() < min_dim:
        raise ValueError(f"{name} must have at least {min_dim} dimension(s), got {_describe(x)}")
    return x


def check_dim(x: torch.Tensor, dim, name: str) -> int:
    """Check that ``dim`` is an int that indexes a dimension of ``x``; return it normalized."""
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"{name} must be an int, got {_describe(dim)}")
    if x.dim() == 0 or not -x.dim() <= dim < x.dim():
        raise ValueError(f"{name}={dim} is out of range for a tensor with {x.dim()} dimension(s)")
    return dim % x.dim()


def check_same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Refuse silent broadcasting: (N, 1) against (N,) is a classic bug, not a feature."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def check_number(x, name: str, *, positive: bool = False) -> float:
    """Check that ``x`` is a finite real number (and > 0 if ``positive``); return it as float."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_describe(x)}")
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x}")
    if positive and x <= 0:
        raise ValueError(f"{name} must be > 0, got {x}")
    return x


def check_no_nan(x: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` if ``x`` holds a NaN (for functions whose answer NaN would make meaningless)."""
    if x.is_floating_point() and bool(torch.isnan(x).any()):
        raise ValueError(f"{name} contains NaN; expected finite or infinite values only")
