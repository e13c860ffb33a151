"""Chapter 2's experiments: what a transformation and a loss let a small classifier learn.

Every experiment trains the same two-moons classifier (``MLP(2, 1, hidden=(16, 16))``, full batch, 200
training points) and scores it on 1000 held-out points drawn from the same distribution. Data and
initialisation both come from ``seed``, so a claims test can re-run an experiment over several seeds.

The conclusions the chapter draws, each checked over seeds in ``tests/claims/test_trainability.py``:

- :func:`confident_start`: from a start that is confidently wrong for half the labels (output bias
  shifted by +10), sigmoid + squared error stays at chance under plain gradient descent while
  cross-entropy on logits recovers; under Adam both recover, because Adam rescales the tiny gradient.
  From +20 the squared error's gradient is exactly 0 in float32 and not even Adam moves it.
- :func:`output_transformations`: a hard threshold in the loss cannot be trained (``backward`` raises),
  ``round`` trains nothing (every gradient is exactly 0), while the sigmoid, the straight-through
  estimator and cross-entropy on logits all learn; after 200 steps the straight-through model is less
  accurate on held-out data than cross-entropy on logits, and its training loss goes up on many steps.
"""
from __future__ import annotations

import torch

from course_pkg._validation import check_number
from course_pkg.data import make_binary
from course_pkg.estimators import straight_through_threshold
from course_pkg.losses import bce_with_logits, mse
from course_pkg.models import MLP
from course_pkg.training import train
from course_pkg.transforms import sigmoid, threshold

# No ``__all__``: the experiments are the book's, not part of the package's API (tests/test_bad_input.py lists the
# API's functions); each still rejects bad input with an error that names the argument.

#: The two losses of the confidently-wrong experiment, on the raw output ``o``.
LOSSES = {
    "sigmoid + MSE": lambda o, t: mse(sigmoid(o), t),
    "BCE with logits": bce_with_logits,
}

#: The output transformations of section 5, each followed by squared error (cross-entropy as the reference).
TRANSFORMATIONS = {
    "threshold(o) + MSE": lambda o, t: mse(threshold(o), t),
    "round(σ(o)) + MSE": lambda o, t: mse(torch.round(sigmoid(o)), t),
    "σ(o) + MSE": lambda o, t: mse(sigmoid(o), t),
    "straight-through + MSE": lambda o, t: mse(straight_through_threshold(o), t),
    "BCE with logits": bce_with_logits,
}


def moons(seed: int = 0, device=None):
    """The chapter's data: 200 training and 1000 held-out two-moons points (noise 0.2) for one ``seed``.

    Returns ``(x, y, x_test, y_test)`` with shapes (200, 2), (200, 1), (1000, 2), (1000, 1); the held-out
    points come from the generator seeded with ``1000 + seed``, so they never repeat the training points.

    Example:
        >>> x, y, x_test, y_test = moons(0)
        >>> tuple(x.shape), tuple(y_test.shape), int(y.sum())
        ((200, 2), (1000, 1), 100)
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    x, y = make_binary(n=200, noise=0.2, seed=seed, device=device)
    x_test, y_test = make_binary(n=1000, noise=0.2, seed=1000 + seed, device=device)
    return x, y, x_test, y_test


def _fit(loss_fn, seed: int, *, shift: float, steps: int, lr: float, optimizer: str, device=None) -> dict:
    """Train one classifier with ``loss_fn`` on :func:`moons` data and describe the run (see callers)."""
    shift = check_number(shift, "shift")
    x, y, x_test, y_test = moons(seed, device)
    model = MLP(2, 1, hidden=(16, 16), seed=seed).to(device)
    with torch.no_grad():
        model.head.bias += shift
        start = model(x)
    before = [p.detach().clone() for p in model.parameters()]
    history = train(model, loss_fn, x, y, steps=steps, lr=lr, optimizer=optimizer)
    with torch.no_grad():
        final_loss = loss_fn(model(x), y).item()
        train_correct = (threshold(model(x)) == y).squeeze(1)
        test_correct = (threshold(model(x_test)) == y_test).squeeze(1)
    losses = history.losses
    return {
        "start_logits": (start.min().item(), start.max().item()),
        "losses": losses,
        "final_loss": final_loss,
        "rises": sum(later > earlier for earlier, later in zip(losses, losses[1:])),
        "moved": max((p.detach() - q).abs().max().item() for p, q in zip(model.parameters(), before)),
        "train_accuracy": train_correct.float().mean().item(),
        "test_correct": test_correct.cpu(),
        "test_accuracy": test_correct.float().mean().item(),
    }


def confident_start(loss: str, optimizer: str, *, shift: float = 10.0, seed: int = 0, steps: int = 200,
                    device=None) -> dict:
    r"""Train from a confidently wrong start: the output bias is shifted by ``shift`` before training.

    With ``shift = 10`` every training logit starts near 10, so every example is predicted as class 1
    with near certainty and the half labelled 0 are confidently wrong. For them sigmoid + squared error
    passes back :math:`2\sigma(z)\,\sigma'(z) \approx 9 \times 10^{-5}`, cross-entropy on the logit
    :math:`\sigma(z) \approx 1`.

    Claim: with plain gradient descent (``"sgd"``, learning rate 0.5) sigmoid + squared error is still at
    chance after 200 steps while cross-entropy recovers; with Adam (learning rate 0.01), which divides each
    step by the gradient's running size, both recover within 200 steps. From ``shift = 20`` every logit
    is past 16.64, where :math:`\sigma(z)` is exactly 1 in float32: the squared error's gradient is then
    exactly 0 and not even Adam moves a parameter, while cross-entropy still recovers.

    Args:
        loss: a key of :data:`LOSSES`, ``"sigmoid + MSE"`` or ``"BCE with logits"``.
        optimizer: ``"sgd"`` (learning rate 0.5) or ``"adam"`` (learning rate 0.01).
        shift: added to the output bias before training. seed: data and initialisation.
        steps: full-batch training steps.

    Returns:
        a dict with ``start_logits`` (min, max), ``losses`` (one per step), ``final_loss`` (after the last
        update), ``rises`` (steps on which the loss went up), ``moved`` (largest parameter change),
        ``train_accuracy``, ``test_accuracy`` and ``test_correct`` (a bool tensor, one entry per held-out
        point, for a paired test).

    Example:
        >>> run = confident_start("sigmoid + MSE", "adam", shift=20.0, steps=3)
        >>> run["start_logits"][0] > 16.64, run["moved"]
        (True, 0.0)
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    lrs = {"sgd": 0.5, "adam": 0.01}
    if optimizer not in lrs:
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    return _fit(LOSSES[loss], seed, shift=shift, steps=steps, lr=lrs[optimizer], optimizer=optimizer,
                device=device)


def output_transformations(seed: int = 0, steps: int = 200, device=None) -> dict:
    r"""Train the same classifier with each loss of :data:`TRANSFORMATIONS` (Adam, learning rate 0.01).

    Claim: the hard threshold cannot be trained at all (its ``backward`` raises, reported as the
    ``RuntimeError``'s first line in place of a run); ``round`` runs but never moves a parameter (every
    gradient is exactly 0); the sigmoid, the straight-through estimator and cross-entropy on logits all
    learn. After 200 steps the straight-through model is less accurate on held-out data than
    cross-entropy on logits (a paired, McNemar test) and its training loss goes up on a large share of
    the steps, while the smooth losses rarely go up.

    Returns:
        a dict name -> the run's dict (as :func:`confident_start`) or the error message (a ``str``).

    Example:
        >>> runs = output_transformations(steps=2)
        >>> runs["threshold(o) + MSE"]
        'element 0 of tensors does not require grad and does not have a grad_fn'
        >>> runs["round(σ(o)) + MSE"]["moved"]
        0.0
    """
    runs = {}
    for name, loss_fn in TRANSFORMATIONS.items():
        try:
            runs[name] = _fit(loss_fn, seed, shift=0.0, steps=steps, lr=0.01, optimizer="adam", device=device)
        except RuntimeError as err:
            runs[name] = str(err).splitlines()[0]
    return runs
