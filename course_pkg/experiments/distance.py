"""Chapter 8's experiments: embeddings trained with a triplet loss, with and without L2 normalization.

Every function takes a ``seed`` that sets the data, the triplets and the initial weights, so that the chapter shows
``seed=0`` and ``tests/claims/test_distance.py`` re-runs the same code with other seeds. Data and networks are
float64: the chapter prints accuracies and thresholds, and float32 training drifts by more than a printed digit
between CPUs (vectorized and scalar ``tanh``/``exp`` kernels, other libm versions).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from course_pkg import embeddings
from course_pkg.losses import contrastive_loss, triplet_loss
from course_pkg.metrics import paired_bootstrap
from course_pkg.models import MLP
from course_pkg.runtime import generator
from course_pkg.training import History, train
from course_pkg.transforms import l2_normalize

__all__ = ["spiral", "EmbeddingTask", "make_task", "loss_under_scaling", "fit_embedding", "embed",
           "TrainedRun", "train_run", "normalization_experiment", "threshold_transfer", "contrastive_split"]


def spiral(n: int, num_classes: int, noise: float = 0.2, seed: int = 0, device=None):
    r"""A ``num_classes``-armed spiral in 2-D, like :func:`course_pkg.data.make_multiclass`, in float64.

    The radius is uniform on [0.1, 1], the angle of class :math:`k` is :math:`2\pi k/C + 3r + \text{noise}\cdot
    \varepsilon`. Everything is drawn and computed in float64 (the float32 ``randn`` of PyTorch takes another code
    path on AVX2/AVX-512 CPUs and gives other numbers), so the data are the same on every CPU up to the last bit of
    float64, far below anything the chapter prints.

    Shapes: ``x`` (n, 2) float64, ``y`` (n,) int64.

    Example:
        >>> x, y = spiral(6, num_classes=3)
        >>> x.dtype, y.tolist()
        (torch.float64, [0, 1, 2, 0, 1, 2])
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    g = generator(seed)
    label = torch.arange(n) % num_classes
    radius = torch.rand(n, generator=g, dtype=torch.float64) * 0.9 + 0.1
    angle = label * (2 * math.pi / num_classes) + radius * 3.0 + noise * torch.randn(n, generator=g,
                                                                                      dtype=torch.float64)
    x = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    return x.to(device), label.to(device)


@dataclass
class EmbeddingTask:
    """Training, validation and test spirals (4 identities) with the triplets each is scored on."""

    x: torch.Tensor
    y: torch.Tensor
    triplets: torch.Tensor          # (800, 3) training triplets
    pairs: torch.Tensor             # (1600, 2): each training triplet's (anchor, positive) and (anchor, negative)
    same_pair: torch.Tensor         # (1600,) 1.0 for the first 800 pairs, 0.0 for the rest
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    test_triplets: torch.Tensor     # (2000, 3)
    seed: int = 0


def make_task(seed: int = 0, device=None) -> EmbeddingTask:
    """The data of chapter 8's experiments: 200 training points, 200 validation and 400 test points, 4 identities.

    Example:
        >>> task = make_task(0)
        >>> task.x.shape, task.triplets.shape, task.pairs.shape, task.x_test.shape
        (torch.Size([200, 2]), torch.Size([800, 3]), torch.Size([1600, 2]), torch.Size([400, 2]))
    """
    x, y = spiral(200, 4, seed=3 * seed, device=device)
    x_val, y_val = spiral(200, 4, seed=3 * seed + 1, device=device)
    x_test, y_test = spiral(400, 4, seed=3 * seed + 2, device=device)
    triplets = embeddings.sample_triplets(y, 800, seed=seed).to(device)
    pairs = torch.cat([triplets[:, [0, 1]], triplets[:, [0, 2]]])
    same_pair = torch.cat([torch.ones(800, dtype=torch.float64), torch.zeros(800, dtype=torch.float64)]).to(device)
    test_triplets = embeddings.sample_triplets(y_test, 2000, seed=seed + 1).to(device)
    return EmbeddingTask(x, y, triplets, pairs, same_pair, x_val, y_val, x_test, y_test, test_triplets, seed)


def _triplet_objective(task: EmbeddingTask, z: torch.Tensor, normalize: bool, margin: float) -> torch.Tensor:
    if normalize:
        z = l2_normalize(z)
    a, p, n = z[task.triplets[:, 0]], z[task.triplets[:, 1]], z[task.triplets[:, 2]]
    return triplet_loss(a, p, n, margin=margin, squared=True)


def _contrastive_objective(task: EmbeddingTask, z: torch.Tensor, normalize: bool, margin: float) -> torch.Tensor:
    if normalize:
        z = l2_normalize(z)
    return contrastive_loss(z[task.pairs[:, 0]], z[task.pairs[:, 1]], task.same_pair, margin=margin)


def _network(seed: int, device=None) -> MLP:
    """The embedding network of every run: 2 inputs, two hidden layers of 32 tanh units, a 2-D embedding."""
    return MLP(2, 2, hidden=(32, 32), seed=seed).double().to(device)


def loss_under_scaling(seed: int = 0, scales=(0.01, 0.1, 1.0, 3.0, 10.0, 100.0), margin: float = 1.0,
                       device=None) -> dict:
    r"""Both losses of :math:`c\,\mathbf z` for the embeddings of an untrained network, with and without normalization.

    Claim: scaling changes no ordering (the triplet accuracy is the same at every :math:`c`) and leaves the losses
    on normalized embeddings unchanged, while the raw losses move: shrinking sends the triplet loss to the margin and
    the contrastive loss to :math:`m^2` times the fraction of different-identity pairs (one half), and growing the
    embeddings tenfold lowers both raw losses below their value at :math:`c = 1`.

    Returns:
        ``{"accuracy": a, "mean_length": mean ||z||, "rows": [(c, triplet raw, triplet normalized,
        contrastive raw, contrastive normalized, triplet accuracy of c z), ...]}``.
    """
    task = make_task(seed, device)
    with torch.no_grad():
        z0 = _network(seed, device)(task.x)
        rows = [(c,
                 _triplet_objective(task, c * z0, False, margin).item(),
                 _triplet_objective(task, c * z0, True, margin).item(),
                 _contrastive_objective(task, c * z0, False, margin).item(),
                 _contrastive_objective(task, c * z0, True, margin).item(),
                 embeddings.triplet_accuracy(c * z0, task.triplets).item()) for c in scales]
    return {"accuracy": embeddings.triplet_accuracy(z0, task.triplets).item(),
            "mean_length": z0.norm(dim=1).mean().item(), "rows": rows}


def fit_embedding(task: EmbeddingTask, normalize: bool, steps: int, margin: float = 1.0, lr: float = 0.01):
    """Train a fresh embedding network (initialised from ``task.seed``) with the squared-distance triplet loss, Adam.

    Returns ``(model, history)``.
    """
    model = _network(task.seed, task.x.device)
    history = train(model, lambda o, _y: _triplet_objective(task, o, normalize, margin), task.x, task.y,
                    steps=steps, lr=lr)
    return model, history


def embed(model: torch.nn.Module, inputs: torch.Tensor, normalize: bool) -> torch.Tensor:
    """The embeddings the loss sees: the network's output, normalized if the loss normalizes it."""
    with torch.no_grad():
        z = model(inputs)
    return l2_normalize(z) if normalize else z


@dataclass
class TrainedRun:
    """One trained embedding network and what the chapter reports about it."""

    name: str
    model: torch.nn.Module
    history: History
    normalize: bool
    margin: float
    mean_length: float              # mean ||z|| of the training embeddings the loss sees
    test_correct: torch.Tensor      # (2000,) bool: test triplet ordered correctly by the embeddings the loss sees
    raw_test_correct: torch.Tensor  # the same by the raw outputs (equal to test_correct without normalization)
    extra: dict = field(default_factory=dict)

    @property
    def test_accuracy(self) -> float:
        return self.test_correct.double().mean().item()

    @property
    def raw_test_accuracy(self) -> float:
        return self.raw_test_correct.double().mean().item()

    def late_loss(self) -> float:
        """The largest training loss over the last quarter of the run (below 0.01: it has flattened)."""
        return max(self.history.losses[-(len(self.history.losses) // 4):])


def _ordered(z: torch.Tensor, triplets: torch.Tensor) -> torch.Tensor:
    a, p, n = z[triplets[:, 0]], z[triplets[:, 1]], z[triplets[:, 2]]
    return embeddings.euclidean_distance(a, p, squared=True) < embeddings.euclidean_distance(a, n, squared=True)


def train_run(task: EmbeddingTask, name: str, normalize: bool, steps: int, margin: float) -> TrainedRun:
    """Fit one network and score it on the test triplets (by its normalized and by its raw outputs)."""
    model, history = fit_embedding(task, normalize, steps, margin)
    return TrainedRun(name, model, history, normalize, margin,
                      mean_length=embed(model, task.x, normalize).norm(dim=1).mean().item(),
                      test_correct=_ordered(embed(model, task.x_test, normalize), task.test_triplets),
                      raw_test_correct=_ordered(embed(model, task.x_test, False), task.test_triplets))


# (name, normalize, margin, steps): enough steps for every run's loss to stay below 0.01 over its last quarter
RUNS = (("no norm., margin 1", False, 1.0, 400), ("normalized, margin 1", True, 1.0, 1600),
        ("no norm., margin 0.1", False, 0.1, 300), ("no norm., margin 10", False, 10.0, 400),
        ("normalized, margin 0.5", True, 0.5, 1600))


def normalization_experiment(seed: int = 0, device=None) -> dict:
    """Train the five embedding networks of chapter 8, section 6, on the data of ``seed``.

    Claims (checked over seeds by ``tests/claims/test_distance.py``): every run's training loss flattens below 0.01;
    every run orders at least 95% of the test triplets correctly; without normalization the mean embedding length
    grows with the margin (the margin only sets the scale); the normalized margin-1 network orders more test
    triplets correctly by its normalized embeddings than by its raw outputs.

    Returns ``{"task": EmbeddingTask, "runs": {name: TrainedRun}}``.
    """
    task = make_task(seed, device)
    runs = {name: train_run(task, name, normalize, steps, margin) for name, normalize, margin, steps in RUNS}
    return {"task": task, "runs": runs}


def threshold_transfer(task: EmbeddingTask, runs: dict) -> dict:
    r"""Verification thresholds: fitted on the validation pairs of each run, applied to its test pairs.

    Each run's threshold is the best balanced accuracy cut on its *validation* pairs; it is then scored on the test
    pairs, and so is the threshold of the margin-1 run of the same kind (normalized or not).

    Claim: without normalization the fitted thresholds grow with the margin and the margin-1 threshold loses
    accuracy on the other runs (a paired McNemar test on the test pairs); on the sphere the two fitted thresholds are
    close and exchanging them changes the balanced test accuracy by less than two percentage points.

    Returns ``{name: {"threshold", "accuracy", "transferred", "reference", "cost", "correct", "correct_transferred",
    "d", "same", "max_distance"}}``: ``cost`` is a paired bootstrap of accuracy minus transferred accuracy
    (:func:`course_pkg.metrics.paired_bootstrap` on per-pair scores whose mean is the balanced accuracy);
    ``d``, ``same``, ``correct*`` are (P,) tensors, one entry per test pair.
    """
    fitted, out = {}, {}
    for name, run in runs.items():
        d_val, same_val = embeddings.pair_distances(embed(run.model, task.x_val, run.normalize), task.y_val)
        fitted[name] = embeddings.best_threshold(d_val, same_val)[0]
    for name, run in runs.items():
        reference = "normalized, margin 1" if run.normalize else "no norm., margin 1"
        d, same = embeddings.pair_distances(embed(run.model, task.x_test, run.normalize), task.y_test)
        correct, correct_transferred = (d < fitted[name]) == same, (d < fitted[reference]) == same
        # Per-pair scores whose mean is the balanced accuracy: each pair counts 1 / (2 x the size of its kind).
        weight = torch.where(same, 0.5 / same.sum(), 0.5 / (~same).sum()).double() * len(d)
        cost = paired_bootstrap(weight * correct.double(), weight * correct_transferred.double(),
                                resamples=200, seed=task.seed)
        out[name] = {"threshold": fitted[name], "reference": reference,
                     "accuracy": embeddings.verification_accuracy(d, same, fitted[name]),
                     "transferred": embeddings.verification_accuracy(d, same, fitted[reference]),
                     "cost": cost, "correct": correct, "correct_transferred": correct_transferred,
                     "d": d, "same": same, "max_distance": d.max().item()}
    return out


def contrastive_split(task: EmbeddingTask, run: TrainedRun, margin: float = 1.0) -> dict:
    """The triplet and the contrastive loss (margin 1) of a trained network, the contrastive loss split by pair kind.

    Claim: an unnormalized network trained with the triplet loss down to 0 still has a positive contrastive loss,
    and all of it comes from same-identity pairs (no different-identity pair is closer than the margin).
    """
    with torch.no_grad():
        z = run.model(task.x)
        d = embeddings.euclidean_distance(z[task.pairs[:, 0]], z[task.pairs[:, 1]])
    same, n = task.same_pair, len(task.pairs)
    return {"triplet": _triplet_objective(task, z, False, margin).item(),
            "contrastive": _contrastive_objective(task, z, False, margin).item(),
            "same_part": ((same * d ** 2).sum() / n).item(),
            "different_part": (((1 - same) * (margin - d).clamp(min=0) ** 2).sum() / n).item(),
            "different_closer": int(((1 - same) * (d < margin)).sum())}


# ---------------------------------------------------------------- what the chapter prints

# Training with a hinge is chaotic: a last-bit difference (another CPU's tanh, another BLAS) flips a triplet in or
# out of the margin at some step, and from there the run takes another path, as a new seed would. The chapter
# therefore prints statements that hold for every seed, in words and coarse bins, not the digits of one run;
# tests/claims/test_distance.py checks that other seeds print the same lines.

LENGTH_EDGES = (0.5, 1.25, 2.5, 5.0)


def at_least(fraction: float, step: int = 5) -> str:
    """A fraction as a percentage rounded down to a multiple of ``step``: ``at_least(0.987)`` is ``'at least 95%'``."""
    return f"at least {step * math.floor(100 * fraction / step)}%"


def length_bin(value: float, edges=LENGTH_EDGES) -> str:
    """The bin of a mean embedding length: ``length_bin(1.6)`` is ``'between 1.25 and 2.5'``."""
    if abs(value - 1.0) < 1e-6:
        return "1 (unit vectors)"
    for low, high in zip((0.0,) + tuple(edges), tuple(edges) + (math.inf,)):
        if low <= value < high:
            return f"between {low:g} and {high:g}" if high < math.inf else f"above {low:g}"
    raise ValueError(f"value must be a finite length, got {value}")


def report_run(run: TrainedRun) -> str:
    """Convergence, mean length of the embeddings the loss sees, and test accuracy of one run, as printed lines."""
    quarter = len(run.history.losses) // 4
    late = "below 0.05" if run.late_loss() < 0.05 else f"{run.late_loss():.2f}"
    text = (f"{run.name}, {len(run.history.losses)} steps: training loss over the last {quarter} steps {late}\n"
            f"  mean ||z|| seen by the loss {length_bin(run.mean_length)}; "
            f"test triplets ordered correctly: {at_least(run.test_accuracy)}")
    if run.normalize:
        text += f" (by the raw outputs, which the loss never sees: {at_least(run.raw_test_accuracy, 10)})"
    return text


def threshold_bin(t: float) -> str:
    """The bin of a distance threshold: below 1, 1 to 2 or above 2."""
    return "below 1" if t < 1.0 else ("1 to 2" if t < 2.0 else "above 2")


def threshold_report(transfer: dict) -> str:
    """The table of fitted and exchanged thresholds, as printed lines.

    Accuracies are printed against the bounds the chapter states (at least 90%; below 70% or 90% when exchanged) and
    the cost of the exchange (a paired bootstrap interval) as above 10 or below 2 points.
    """
    lines = [f"{'run':24s} {'fitted t':>10s} {'test accuracy':>14s} {'with the margin-1 t':>20s} {'cost (points)':>14s}"]
    for name, r in transfer.items():
        if name == r["reference"]:
            cost = "-"
        else:
            cost = "above 10" if r["cost"]["low"] > 0.10 else ("below 2" if r["cost"]["high"] < 0.02 else "2 to 10")
        t = r["transferred"]
        transferred = "at least 90%" if t >= 0.9 else ("below 70%" if t < 0.7 else ("below 90%" if t < 0.9 else ""))
        lines.append(f"{name:24s} {threshold_bin(r['threshold']):>10s} {at_least(r['accuracy'], 10):>14s} "
                     f"{transferred:>20s} {cost:>14s}")
    return "\n".join(lines)


def cosine_softmax_bounds(seed: int = 0, scales=(1.0, 4.0, 16.0), num_classes: int = 4, dim: int = 3,
                          steps: int = 300) -> list:
    r"""Optimize free class weights and embeddings (one per class) for a softmax over scaled cosines, float64, Adam.

    Claim: at scale :math:`s` the loss never goes below Wang et al.'s simplex bound
    :math:`\log(1 + (C-1)e^{-sC/(C-1)})` (which lies above the simple bound :math:`\log(1 + (C-1)e^{-2s})`); for
    :math:`s = 1` and :math:`s = 4` the optimizer comes within 3% of the simplex bound, and at :math:`s = 1` even that
    arrangement gives the correct class a probability below 0.6; at :math:`s = 16` the loss after 300 steps is still
    far above its bound.

    Returns:
        ``[(s, loss reached, smallest p(correct), simplex bound, simple bound), ...]``.
    """
    from course_pkg.losses import cosine_cross_entropy
    from course_pkg.training import Adam

    rows = []
    for s in scales:
        g = generator(seed)
        class_weights = torch.randn(num_classes, dim, generator=g, dtype=torch.float64).requires_grad_(True)
        class_embeddings = torch.randn(num_classes, dim, generator=g, dtype=torch.float64).requires_grad_(True)
        target = torch.arange(num_classes)
        optimizer = Adam([class_weights, class_embeddings], lr=0.1)
        for _ in range(steps):
            loss = cosine_cross_entropy(class_embeddings, class_weights, target, scale=s)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            loss = cosine_cross_entropy(class_embeddings, class_weights, target, scale=s).item()
            logits = s * l2_normalize(class_embeddings) @ l2_normalize(class_weights).T
            p_correct = torch.softmax(logits, dim=1).diagonal().min().item()
        c = num_classes
        rows.append((s, loss, p_correct, math.log(1 + (c - 1) * math.exp(-s * c / (c - 1))),
                     math.log(1 + (c - 1) * math.exp(-2 * s))))
    return rows
