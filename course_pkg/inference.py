"""Inference: turning a trained model's raw outputs into the answer a task needs.

During training the output transformation lives in the loss
(``cross_entropy`` applies log-softmax, ``bce_with_logits`` applies the
sigmoid). At prediction time nothing applies it for us, so this module does,
in one place:

==============  ==================  ===========================================
task            model output o      prediction
==============  ==================  ===========================================
regression      raw values          values = o
positive        raw values          values = softplus(o) (or exp(o))
binary          one logit           probs = sigmoid(o), labels = [o > logit(t)]
multiclass      C logits            probs = softmax(o), labels = argmax(o)
multilabel      one logit per label probs = sigmoid(o), labels = [o > logit(t)]
embedding       raw vector          values = o / ||o||
count           log-rate o          rate = exp(o) (``predict_positive``, exp)
ordinal         K-1 threshold       label = number of k with z_k > 0
                logits z_k
angle           (c, s) pair         angle = atan2(s, c) in [-pi, pi]
==============  ==================  ===========================================

The ``predict_*`` functions work on raw outputs (pure tensor functions);
:func:`predict` and :class:`Predictor` run a model under ``torch.no_grad()``
in eval mode on the model's device and apply the right one.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from course_pkg._validation import check_no_nan, check_number, check_tensor
from course_pkg.decisions import predict_labels
from course_pkg.transforms import argmax, l2_normalize, sigmoid, softmax, softplus

__all__ = [
    "TASKS", "Prediction", "Predictor", "predict",
    "predict_regression", "predict_positive", "predict_binary",
    "predict_multiclass", "predict_multilabel", "predict_embedding",
]

TASKS = ("regression", "positive", "binary", "multiclass", "multilabel", "embedding")
_LINKS = ("softplus", "exp")


def _check_threshold(threshold) -> float:
    t = check_number(threshold, "threshold")
    if not 0.0 < t < 1.0:
        raise ValueError(f"threshold must be a probability strictly between 0 and 1, got {t}")
    return t


def _labels_from_logits(logits: torch.Tensor, threshold: float) -> torch.Tensor:
    # Decided in logit space (see course_pkg.decisions): no sigmoid rounding involved.
    return predict_labels(logits, threshold).long()


# ---------------------------------------------------------------- pure functions on raw outputs

def predict_regression(o: torch.Tensor) -> torch.Tensor:
    r"""Regression prediction: the raw output itself, :math:`\hat y = o` (identity).

    Shape: any; returns a detached tensor of the same shape, dtype and device.

    Example:
        >>> predict_regression(torch.tensor([[-1.5], [2.0]]))
        tensor([[-1.5000],
                [ 2.0000]])
    """
    check_tensor(o, "o", floating=True)
    return o.detach()


def predict_positive(o: torch.Tensor, link: str = "softplus") -> torch.Tensor:
    r"""Positive prediction :math:`\hat y = \mathrm{softplus}(o)` or :math:`\hat y = e^{o}`.

    Use the link the model was trained with: ``"softplus"`` if the loss saw
    ``softplus(o)``; ``"exp"`` if the loss took ``o`` as a log-mean (for
    example ``PoissonNLLLoss(log_input=True)``). Shape: any; same shape out.

    Example:
        >>> predict_positive(torch.tensor([0.0, 2.0]), link="exp")
        tensor([1.0000, 7.3891])
    """
    check_tensor(o, "o", floating=True)
    if link not in _LINKS:
        raise ValueError(f"link must be one of {list(_LINKS)}, got {link!r}")
    o = o.detach()
    return softplus(o) if link == "softplus" else torch.exp(o)


def predict_binary(logits: torch.Tensor, threshold: float = 0.5):
    r"""Binary prediction from logits: :math:`p = \sigma(o)` and label :math:`[p > t]`.

    The label is computed as :math:`[o > \log\frac{t}{1-t}]`, so the default
    ``threshold=0.5`` thresholds the logit at 0. Labels are int64 in {0, 1}.

    Shapes: ``logits`` any shape, typically (N,) or (N, 1); ``probs`` and
    ``labels`` have the same shape.

    Returns:
        ``(probs, labels)``.

    Example:
        >>> probs, labels = predict_binary(torch.tensor([-2.0, 0.0, 3.0]))
        >>> probs
        tensor([0.1192, 0.5000, 0.9526])
        >>> labels
        tensor([0, 0, 1])
    """
    check_tensor(logits, "logits", floating=True)
    t = _check_threshold(threshold)
    logits = logits.detach()
    return sigmoid(logits), _labels_from_logits(logits, t)


def predict_multiclass(logits: torch.Tensor):
    r"""Multi-class prediction: :math:`p = \mathrm{softmax}(o)` over the last dimension, label :math:`\arg\max_c o_c`.

    Softmax is taken over the *class* dimension (the last one), never over the
    batch. Ties go to the first maximal index. The label is the argmax of the
    logits (softmax is monotone, so it equals the argmax of ``probs`` except
    where rounding makes distinct logits give equal probabilities).

    Shapes: ``logits`` (..., C), typically (N, C); ``probs`` (..., C); ``labels`` (...) int64.

    Returns:
        ``(probs, labels)``.

    Example:
        >>> probs, labels = predict_multiclass(torch.tensor([[2.0, 0.0, 0.0], [0.0, 1000.0, 0.0]]))
        >>> probs
        tensor([[0.7870, 0.1065, 0.1065],
                [0.0000, 1.0000, 0.0000]])
        >>> labels
        tensor([0, 1])
    """
    check_tensor(logits, "logits", floating=True, min_dim=1)
    logits = logits.detach()
    return softmax(logits, dim=-1), argmax(logits, dim=-1)


def predict_multilabel(logits: torch.Tensor, threshold: float = 0.5):
    r"""Multi-label prediction: an independent sigmoid per label, :math:`p_k = \sigma(o_k)`, labels :math:`[p_k > t]`.

    Each label is its own binary decision, so the probabilities of one sample
    need not sum to 1. Shapes: ``logits`` (N, K); ``probs`` (N, K); ``labels`` (N, K) int64.

    Returns:
        ``(probs, labels)``.

    Example:
        >>> probs, labels = predict_multilabel(torch.tensor([[3.0, 3.0, -3.0]]))
        >>> labels
        tensor([[1, 1, 0]])
    """
    check_tensor(logits, "logits", floating=True, min_dim=2)
    return predict_binary(logits, threshold)


def predict_embedding(o: torch.Tensor) -> torch.Tensor:
    r"""Embedding prediction: unit-length rows, :math:`\hat e = o / \max(\lVert o\rVert_2, \varepsilon)`.

    A zero vector stays zero (never NaN). Shapes: ``o`` (N, D) -> (N, D).

    Example:
        >>> predict_embedding(torch.tensor([[3.0, 4.0]]))
        tensor([[0.6000, 0.8000]])
    """
    check_tensor(o, "o", floating=True, min_dim=2)
    return l2_normalize(o.detach(), dim=-1)


# ---------------------------------------------------------------- outputs with structure

__all__ += ["predict_ordinal", "predict_angle"]  # chapter "Outputs with structure"


def predict_ordinal(logits: torch.Tensor) -> torch.Tensor:
    r"""Ordinal label from K-1 threshold logits: :math:`\hat y = \sum_{k=0}^{K-2} [z_k > 0]`.

    Column :math:`k` is the logit of :math:`P(y > k)` (as in
    :func:`course_pkg.losses.coral_loss`), so the prediction counts the
    thresholds the input passes with probability above one half; labels are
    0..K-1, int64. With rank-consistent logits (decreasing in :math:`k`, as a
    CORAL head gives once its biases are ordered) the passed thresholds are
    exactly the first :math:`\hat y`. Raises ``ValueError`` on NaN.

    Shapes: ``logits`` (..., K-1), typically (N, K-1); returns (...) int64.

    Example:
        >>> predict_ordinal(torch.tensor([[3.0, 0.5, -2.0], [-1.0, -2.0, -3.0]]))
        tensor([2, 0])
    """
    check_tensor(logits, "logits", floating=True, min_dim=1)
    check_no_nan(logits, "logits")
    return (logits.detach() > 0).sum(dim=-1)


def predict_angle(o: torch.Tensor) -> torch.Tensor:
    r"""Angle from a (cos, sin) head: :math:`\hat\theta = \operatorname{atan2}(o_1, o_0)`, in radians.

    The last dimension holds the two raw outputs, read as an unnormalized
    direction :math:`(c, s)`; ``atan2(s, c)`` (sine first) finds the angle of
    that direction in all four quadrants, in :math:`[-\pi, \pi]`, and does not
    need :math:`(c, s)` normalized (scaling it by a positive number changes
    nothing). At :math:`(0, 0)` there is no direction; atan2 returns 0 there.

    Shapes: ``o`` (..., 2), typically (N, 2); returns (...).

    Example:
        >>> predict_angle(torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]]))
        tensor([0.0000, 1.5708, 3.1416])
    """
    check_tensor(o, "o", floating=True, min_dim=1)
    if o.shape[-1] != 2:
        raise ValueError(f"o must have shape (..., 2) holding (cos, sin), got {tuple(o.shape)}")
    o = o.detach()
    return torch.atan2(o[..., 1], o[..., 0])


# ---------------------------------------------------------------- running a model

@dataclass(frozen=True)
class Prediction:
    """What :func:`predict` returns.

    ``values`` is set for regression, positive and embedding tasks;
    ``probs`` and ``labels`` for binary, multiclass and multilabel tasks;
    ``raw`` always holds the model's raw outputs (detached).
    """

    task: str
    raw: torch.Tensor
    values: torch.Tensor | None = None
    probs: torch.Tensor | None = None
    labels: torch.Tensor | None = None


def _check_task(task) -> str:
    if task not in TASKS:
        raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}")
    return task


def _model_device(model: torch.nn.Module):
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return None


def _module_modes(model: torch.nn.Module) -> list:
    """Each submodule's own train/eval flag (``model.train(flag)`` would reset them all to one value)."""
    return [(module, module.training) for module in model.modules()]


def _restore_modes(modes: list) -> None:
    """Put back every module's flag saved by :func:`_module_modes`, e.g. a frozen batch norm inside a training model."""
    for module, training in modes:
        module.training = training


def _from_raw(raw: torch.Tensor, task: str, threshold: float, link: str) -> Prediction:
    if task == "regression":
        return Prediction(task, raw, values=predict_regression(raw))
    if task == "positive":
        return Prediction(task, raw, values=predict_positive(raw, link))
    if task == "embedding":
        return Prediction(task, raw, values=predict_embedding(raw))
    if task == "multiclass":
        probs, labels = predict_multiclass(raw)
    elif task == "multilabel":
        probs, labels = predict_multilabel(raw, threshold)
    else:
        probs, labels = predict_binary(raw, threshold)
    return Prediction(task, raw, probs=probs, labels=labels)


def predict(model: torch.nn.Module, x: torch.Tensor, task: str, *, threshold: float = 0.5,
            link: str = "softplus") -> Prediction:
    r"""Run ``model`` on ``x`` for inference and apply the task's output transformation.

    The model runs in eval mode (dropout off, batch-norm running statistics)
    under ``torch.no_grad()``; afterwards every submodule gets back its own
    previous train/eval mode (so a batch-norm layer frozen in eval mode inside
    a model in train mode stays frozen). ``x`` is moved to the model's device, so the same call works on
    CPU and CUDA; the results stay on that device.

    Args:
        model: a ``torch.nn.Module`` that returns raw outputs (logits / values).
        x: a batch of inputs, shape (N, ...).
        task: one of ``"regression"``, ``"positive"``, ``"binary"``,
            ``"multiclass"``, ``"multilabel"``, ``"embedding"``.
        threshold: probability cut for ``"binary"`` / ``"multilabel"`` labels, in (0, 1).
        link: ``"softplus"`` or ``"exp"``, for ``"positive"``.

    Returns:
        A :class:`Prediction`.

    Example:
        >>> from course_pkg.models import MLP
        >>> out = predict(MLP(2, 3), torch.zeros(4, 2), "multiclass")
        >>> out.probs.shape, out.labels.shape
        (torch.Size([4, 3]), torch.Size([4]))
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_tensor(x, "x", min_dim=1)
    _check_task(task)
    _check_threshold(threshold)
    if link not in _LINKS:
        raise ValueError(f"link must be one of {list(_LINKS)}, got {link!r}")
    device = _model_device(model)
    if device is not None:
        x = x.to(device)
    modes = _module_modes(model)
    model.eval()
    try:
        with torch.no_grad():
            raw = model(x)
    finally:
        _restore_modes(modes)
    if not isinstance(raw, torch.Tensor) or not raw.is_floating_point():
        raise TypeError(f"model must return a floating-point tensor of raw outputs, got {type(raw).__name__}")
    return _from_raw(raw, task, threshold, link)


class Predictor:
    """A model bound to its task: ``Predictor(model, "multiclass")(x)`` is ``predict(model, x, "multiclass")``.

    Keeps the task (and ``threshold`` / ``link``) next to the model, so
    inference code cannot forget which transformation the model needs.

    Example:
        >>> from course_pkg.models import MLP
        >>> clf = Predictor(MLP(2, 1), "binary")
        >>> clf(torch.zeros(5, 2)).labels.shape
        torch.Size([5, 1])
    """

    def __init__(self, model: torch.nn.Module, task: str, *, threshold: float = 0.5, link: str = "softplus"):
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.task = _check_task(task)
        self.threshold = _check_threshold(threshold)
        if link not in _LINKS:
            raise ValueError(f"link must be one of {list(_LINKS)}, got {link!r}")
        self.link = link

    def __call__(self, x: torch.Tensor) -> Prediction:
        return predict(self.model, x, self.task, threshold=self.threshold, link=self.link)

    def __repr__(self) -> str:
        return f"Predictor(task={self.task!r}, model={type(self.model).__name__})"
