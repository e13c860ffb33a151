"""A small multilayer perceptron that returns raw outputs: no transformation inside."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["MLP"]

_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}


class MLP(nn.Module):
    r"""Fully connected network :math:`o = W_L\,\phi(\dots\phi(W_1 x + b_1)\dots) + b_L`.

    The last layer is linear: the model emits raw values / logits, and the
    output transformation belongs in the loss (training) or after the model
    (inference). Weights are initialised from ``seed`` without touching the
    global random state.

    Args:
        in_features: input size.
        out_features: number of raw outputs (1 for regression / binary, C for C classes).
        hidden: sizes of the hidden layers.
        activation: ``"tanh"``, ``"relu"`` or ``"gelu"`` (hidden layers only).
        seed: initialisation seed.

    Shapes: input (N, in_features) -> output (N, out_features).

    Example:
        >>> MLP(2, 3, hidden=(16,))(torch.zeros(4, 2)).shape
        torch.Size([4, 3])
    """

    def __init__(self, in_features: int, out_features: int, hidden=(32,), activation: str = "tanh", seed: int = 0):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        hidden = tuple(hidden)
        if not all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hidden):
            raise ValueError(f"hidden must be a sequence of positive ints, got {hidden!r}")
        sizes = (in_features, *hidden, out_features)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            layers = []
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
                layers.append(nn.Linear(a, b))
                if i < len(sizes) - 2:
                    layers.append(_ACTIVATIONS[activation]())
        self.net = nn.Sequential(*layers)

    @property
    def head(self) -> nn.Linear:
        """The last linear layer, whose outputs are the raw values o."""
        return self.net[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 2 or x.shape[1] != self.net[0].in_features:
            raise ValueError(f"x must have shape (N, {self.net[0].in_features}), got {tuple(x.shape)}")
        return self.net(x)
