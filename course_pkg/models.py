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


# ---------------------------------------------------------------- outputs with structure

__all__ += ["CoralHead", "AttentionPool"]  # chapter "Outputs with structure"


class CoralHead(nn.Module):
    r"""CORAL's output layer: K-1 threshold logits from one shared score, :math:`z_k = s + b_k`.

    Put it after a network with *one* raw output :math:`s(\mathbf x)` (the
    shared weight vector of Cao, Mirjalili & Raschka 2020 is that network's
    last layer); each threshold :math:`k = 0, \dots, K-2` adds its own bias,
    and :math:`\sigma(z_k)` models :math:`P(y > k)`. Because all thresholds
    share :math:`s`, the order of the :math:`z_k` is the order of the biases,
    the same for every input: with :math:`b_0 \ge b_1 \ge \dots` the predicted
    :math:`P(y > k)` decrease in :math:`k` everywhere (rank consistency). The
    biases start evenly spaced and decreasing, from 1 down to :math:`1/(K-1)`.
    Train with :func:`course_pkg.losses.coral_loss`, predict with
    :func:`course_pkg.inference.predict_ordinal`.

    Shapes: input (N, 1) -> logits (N, K-1).

    Example:
        >>> head = CoralHead(num_classes=4)
        >>> head(torch.zeros(2, 1)).shape
        torch.Size([2, 3])
    """

    def __init__(self, num_classes: int):
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
        k = num_classes - 1
        self.bias = nn.Parameter(torch.arange(k, 0, -1, dtype=torch.float32) / k)

    def forward(self, score: torch.Tensor) -> torch.Tensor:
        if not isinstance(score, torch.Tensor):
            raise TypeError(f"score must be a torch.Tensor, got {type(score).__name__}")
        if score.dim() != 2 or score.shape[1] != 1:
            raise ValueError(f"score must have shape (N, 1), one shared score per input, got {tuple(score.shape)}")
        return score + self.bias


class AttentionPool(nn.Module):
    r"""Weighted average of a set's item values, with weights from a normalizer of learned scores.

    For a sample of M items with features :math:`\mathbf f_i` and value
    :math:`v_i`, a shared MLP scores each item, :math:`o_i = f_\theta(\mathbf f_i)`,
    the normalizer maps the M scores onto the simplex,
    :math:`\mathbf w = \text{normalize}(\mathbf o)` (``softmax`` or
    ``sparsemax`` from :mod:`course_pkg.transforms`), and the output is
    :math:`\hat y = \sum_i w_i v_i`. :meth:`weights` returns :math:`\mathbf w`.

    Args:
        in_features: number of item features (the input's last dimension holds
            these features followed by the value, so it has ``in_features + 1`` entries).
        normalize: callable mapping scores (N, M) to weights (N, M) along the last dimension.
        hidden: hidden layer sizes of the scoring MLP.
        seed: initialisation seed.

    Shapes: input (N, M, in_features + 1) -> output (N, 1).

    Example:
        >>> from course_pkg.transforms import softmax
        >>> pool = AttentionPool(3, softmax)
        >>> pool(torch.zeros(2, 5, 4)).shape, pool.weights(torch.zeros(2, 5, 4)).sum(dim=1)
        (torch.Size([2, 1]), tensor([1., 1.], grad_fn=<SumBackward1>))
    """

    def __init__(self, in_features: int, normalize, hidden=(16,), seed: int = 0):
        super().__init__()
        if not callable(normalize):
            raise TypeError(f"normalize must be callable, e.g. transforms.softmax, got {type(normalize).__name__}")
        self.score = MLP(in_features, 1, hidden=hidden, seed=seed)
        self.normalize = normalize

    def _check(self, x):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        d = self.score.net[0].in_features
        if x.dim() != 3 or x.shape[2] != d + 1:
            raise ValueError(f"x must have shape (N, M, {d + 1}): {d} features and a value per item, "
                             f"got {tuple(x.shape)}")

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """The attention weights, shape (N, M), each row on the simplex."""
        self._check(x)
        n, m, d = x.shape
        scores = self.score(x[..., :-1].reshape(n * m, d - 1)).reshape(n, m)
        return self.normalize(scores, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.weights(x) * x[..., -1]).sum(dim=1, keepdim=True)
