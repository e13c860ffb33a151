"""Embeddings and distance-based losses, written from first principles.

An embedding network maps an input to a vector :math:`\\mathbf z = f_\\theta(\\mathbf x) \\in \\mathbb R^D`
whose *distances* carry the meaning: examples of the same identity should be
close, examples of different identities far apart. This module holds the
distances, triplet sampling and the measures of an embedding (triplet
accuracy, pair verification with a distance threshold). The losses that
compare distances (:func:`course_pkg.losses.triplet_loss`,
:func:`course_pkg.losses.contrastive_loss`) live in :mod:`course_pkg.losses`
and are usually preceded by the output transformation
:func:`course_pkg.transforms.l2_normalize`, which puts every embedding on the
unit sphere. For unit vectors
:math:`\\lVert \\mathbf a - \\mathbf b\\rVert^2 = 2 - 2\\cos(\\mathbf a, \\mathbf b)`.

Every function takes and returns ``torch.Tensor`` s, keeps dtype and device,
and has a finite gradient everywhere, including at zero distance.
"""
from __future__ import annotations

import torch

from course_pkg._validation import check_same_shape, check_tensor
# The losses moved to course_pkg.losses; re-exported here so that older imports keep working.
from course_pkg.losses import contrastive_loss, triplet_loss  # noqa: F401
from course_pkg.runtime import generator
from course_pkg.transforms import l2_normalize

__all__ = [
    "euclidean_distance", "pairwise_distances", "cosine_similarity", "cosine_distance",
    "sample_triplets", "triplet_accuracy", "pair_distances", "verification_accuracy", "best_threshold",
]


def _safe_sqrt(d2: torch.Tensor) -> torch.Tensor:
    """sqrt with gradient 0 (not inf, hence not NaN after the chain rule) at exactly 0."""
    positive = d2 > 0
    ones = torch.ones_like(d2)
    return torch.where(positive, torch.sqrt(torch.where(positive, d2, ones)), torch.zeros_like(d2))


def _check_vectors(x, name: str) -> torch.Tensor:
    return check_tensor(x, name, floating=True, min_dim=1)


def euclidean_distance(a: torch.Tensor, b: torch.Tensor, squared: bool = False) -> torch.Tensor:
    r"""Row-wise Euclidean distance, :math:`d(\mathbf a, \mathbf b) = \lVert \mathbf a - \mathbf b\rVert_2`.

    Computed as :math:`\sqrt{\sum_k (a_k - b_k)^2}` over the last dimension (no
    cancellation error). At zero distance the gradient is taken as 0 instead of
    the :math:`\infty \cdot 0 = \text{NaN}` a plain ``sqrt`` would give.

    Args:
        a, b: tensors of identical shape (..., D), floating dtype.
        squared: return :math:`\lVert \mathbf a - \mathbf b\rVert_2^2` instead.

    Shape: ``a.shape[:-1]``.

    Example:
        >>> euclidean_distance(torch.tensor([[0.0, 0.0], [1.0, 1.0]]), torch.tensor([[3.0, 4.0], [1.0, 1.0]]))
        tensor([5., 0.])
    """
    _check_vectors(a, "a")
    _check_vectors(b, "b")
    check_same_shape(a, b, "a", "b")
    d2 = ((a - b) ** 2).sum(dim=-1)
    return d2 if squared else _safe_sqrt(d2)


def pairwise_distances(a: torch.Tensor, b: torch.Tensor | None = None, squared: bool = False) -> torch.Tensor:
    r"""All distances between rows, :math:`D_{ij} = \lVert \mathbf a_i - \mathbf b_j\rVert_2`.

    ``b`` defaults to ``a`` (the diagonal is then exactly 0). Uses a (N, M, D)
    intermediate, so it is meant for the small batches of this book.

    Args:
        a: (N, D); b: (M, D) or None; squared: return squared distances.

    Shape: (N, M).

    Example:
        >>> pairwise_distances(torch.tensor([[0.0, 0.0], [3.0, 4.0]]))
        tensor([[0., 5.],
                [5., 0.]])
    """
    check_tensor(a, "a", floating=True, min_dim=2)
    b = a if b is None else check_tensor(b, "b", floating=True, min_dim=2)
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have shapes (N, D) and (M, D), got {tuple(a.shape)} and {tuple(b.shape)}")
    d2 = ((a.unsqueeze(1) - b.unsqueeze(0)) ** 2).sum(dim=-1)
    return d2 if squared else _safe_sqrt(d2)


def cosine_similarity(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    r"""Row-wise cosine similarity, :math:`\cos(\mathbf a, \mathbf b) = \hat{\mathbf a}^\top \hat{\mathbf b}`.

    Here :math:`\hat{\mathbf v} = \mathbf v / \max(\lVert \mathbf v\rVert, \varepsilon)`
    (:func:`course_pkg.transforms.l2_normalize`).

    A zero vector has similarity 0 with everything. Values lie in [-1, 1].

    Args:
        a, b: identical shapes (..., D), floating dtype; eps: > 0.

    Shape: ``a.shape[:-1]``.

    Example:
        >>> cosine_similarity(torch.tensor([[1.0, 0.0], [2.0, 0.0]]), torch.tensor([[0.0, 5.0], [3.0, 0.0]]))
        tensor([0., 1.])
    """
    _check_vectors(a, "a")
    _check_vectors(b, "b")
    check_same_shape(a, b, "a", "b")
    return (l2_normalize(a, eps=eps) * l2_normalize(b, eps=eps)).sum(dim=-1)


def cosine_distance(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    r"""Row-wise cosine distance, :math:`1 - \cos(\mathbf a, \mathbf b) \in [0, 2]`.

    For unit vectors it is half the squared Euclidean distance:
    :math:`\lVert \mathbf a - \mathbf b\rVert^2 = 2 - 2\cos(\mathbf a, \mathbf b)`.
    It ignores the vectors' lengths entirely.

    Args:
        a, b: identical shapes (..., D), floating dtype; eps: > 0.

    Shape: ``a.shape[:-1]``.

    Example:
        >>> cosine_distance(torch.tensor([[1.0, 0.0]]), torch.tensor([[-4.0, 0.0]]))
        tensor([2.])
    """
    return 1 - cosine_similarity(a, b, eps=eps)


def sample_triplets(labels: torch.Tensor, n_triplets: int, seed: int = 0) -> torch.Tensor:
    r"""Draw random (anchor, positive, negative) index triplets from integer labels.

    For each triplet the anchor is uniform over the samples, the positive is a
    *different* sample with the anchor's label and the negative a sample with
    another label. Drawn from a generator seeded with ``seed`` (on the CPU),
    so the same seed gives the same triplets on every device.

    Args:
        labels: (N,) int64 class (identity) labels; at least two classes, and
            every class that can be an anchor needs at least two samples.
        n_triplets: number of triplets, a positive int.

    Returns: an int64 tensor of shape (n_triplets, 3) on ``labels``' device.

    Example:
        >>> t = sample_triplets(torch.tensor([0, 0, 1, 1]), 5)
        >>> t.shape
        torch.Size([5, 3])
    """
    check_tensor(labels, "labels", min_dim=1)
    if labels.dim() != 1 or labels.dtype != torch.int64:
        raise ValueError(f"labels must be a 1-D int64 tensor, got {labels.dtype} of shape {tuple(labels.shape)}")
    if isinstance(n_triplets, bool) or not isinstance(n_triplets, int) or n_triplets < 1:
        raise ValueError(f"n_triplets must be a positive int, got {n_triplets!r}")
    lab = labels.cpu()
    classes, counts = lab.unique(return_counts=True)
    if len(classes) < 2:
        raise ValueError("labels must contain at least two classes")
    if bool((counts < 2).any()):
        raise ValueError("every class needs at least two samples to form a positive pair")
    g = generator(seed)
    n = len(lab)
    anchor = torch.randint(n, (n_triplets,), generator=g)
    same = lab[anchor].unsqueeze(1) == lab.unsqueeze(0)          # (T, N)
    same_not_self = same.clone()
    same_not_self[torch.arange(n_triplets), anchor] = False
    # Choose uniformly among allowed indices: random scores, masked, argmax.
    pos = torch.where(same_not_self, torch.rand(n_triplets, n, generator=g), torch.tensor(-1.0)).argmax(dim=1)
    neg = torch.where(~same, torch.rand(n_triplets, n, generator=g), torch.tensor(-1.0)).argmax(dim=1)
    return torch.stack([anchor, pos, neg], dim=1).to(labels.device)


def triplet_accuracy(z: torch.Tensor, triplets: torch.Tensor) -> torch.Tensor:
    r"""Fraction of triplets the embedding orders correctly, :math:`d(\mathbf z_a, \mathbf z_p) < d(\mathbf z_a, \mathbf z_n)`.

    Unlike the loss it does not depend on the embeddings' scale: multiplying
    every embedding by :math:`c > 0` leaves it unchanged, so it compares
    normalized and unnormalized models fairly.

    Args:
        z: (N, D) embeddings; triplets: (T, 3) int64 indices into ``z``.

    Returns: a scalar in [0, 1] with ``z``'s dtype.

    Example:
        >>> z = torch.tensor([[0.0], [1.0], [5.0]])
        >>> triplet_accuracy(z, torch.tensor([[0, 1, 2], [0, 2, 1]]))
        tensor(0.5000)
    """
    check_tensor(z, "z", floating=True, min_dim=2)
    check_tensor(triplets, "triplets", min_dim=2)
    if z.dim() != 2:
        raise ValueError(f"z must have shape (N, D), got {tuple(z.shape)}")
    if triplets.dim() != 2 or triplets.shape[1] != 3 or triplets.dtype != torch.int64:
        raise ValueError(f"triplets must be an int64 tensor of shape (T, 3), got {triplets.dtype} {tuple(triplets.shape)}")
    a, p, n = z[triplets[:, 0]], z[triplets[:, 1]], z[triplets[:, 2]]
    with torch.no_grad():
        return (euclidean_distance(a, p, squared=True) < euclidean_distance(a, n, squared=True)).to(z.dtype).mean()


def pair_distances(z: torch.Tensor, labels: torch.Tensor) -> tuple:
    r"""Distances of all pairs :math:`i < j` of rows of ``z``, and whether each pair shares a label.

    Args:
        z: (N, D) embeddings, floating dtype; labels: (N,) int64 identities.

    Returns: ``(d, same)``, both of shape (N(N-1)/2,): the distances
    :math:`\lVert \mathbf z_i - \mathbf z_j\rVert_2` and a bool tensor.

    Example:
        >>> d, same = pair_distances(torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]]), torch.tensor([0, 0, 1]))
        >>> d, same
        (tensor([5.0000, 1.0000, 4.2426]), tensor([ True, False, False]))
    """
    check_tensor(z, "z", floating=True, min_dim=2)
    check_tensor(labels, "labels", min_dim=1)
    if z.dim() != 2:
        raise ValueError(f"z must have shape (N, D), got {tuple(z.shape)}")
    if labels.dim() != 1 or labels.dtype != torch.int64 or labels.shape[0] != z.shape[0]:
        raise ValueError(f"labels must be an int64 tensor of shape ({z.shape[0]},), got {labels.dtype} "
                         f"of shape {tuple(labels.shape)}")
    i, j = torch.triu_indices(z.shape[0], z.shape[0], offset=1, device=z.device)
    return euclidean_distance(z[i], z[j]), labels[i] == labels[j]


def _check_pairs(d, same) -> None:
    check_tensor(d, "d", floating=True, min_dim=1)
    check_tensor(same, "same", min_dim=1)
    if d.dim() != 1 or same.dtype != torch.bool or same.shape != d.shape:
        raise ValueError(f"d must be 1-D and same a bool tensor of the same shape, got {tuple(d.shape)} and "
                         f"{same.dtype} of shape {tuple(same.shape)}")
    if not bool(same.any()) or bool(same.all()):
        raise ValueError("same must contain both same-identity (True) and different-identity (False) pairs")


def verification_accuracy(d: torch.Tensor, same: torch.Tensor, threshold: float) -> float:
    r"""Balanced accuracy of the rule "same identity if :math:`d < t`".

    :math:`\tfrac12\big(P(d < t \mid \text{same}) + P(d \ge t \mid \text{different})\big)`:
    the mean of the two per-class accuracies, so that the (usually far more
    numerous) different-identity pairs do not dominate. 0.5 is chance.

    Args:
        d: (P,) pair distances; same: (P,) bool, both kinds present; threshold: a number.

    Example:
        >>> d, same = torch.tensor([0.1, 0.5, 2.0, 3.0]), torch.tensor([True, True, False, True])
        >>> round(verification_accuracy(d, same, 1.0), 4)  # 2 of 3 same pairs below 1, the different pair above
        0.8333
    """
    _check_pairs(d, same)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise TypeError(f"threshold must be a real number, got {type(threshold).__name__}")
    below = d < threshold
    return 0.5 * (below[same].to(d.dtype).mean() + (~below[~same]).to(d.dtype).mean()).item()


def best_threshold(d: torch.Tensor, same: torch.Tensor) -> tuple:
    r"""The distance threshold with the highest :func:`verification_accuracy`, and that accuracy.

    Every cut between two consecutive distinct sorted distances is tried
    (one sort and a cumulative sum); the threshold returned is the midpoint
    of the cut, the first one if several tie.

    Args:
        d: (P,) pair distances; same: (P,) bool, both kinds present.

    Returns: ``(threshold, accuracy)`` as floats.

    Example:
        >>> best_threshold(torch.tensor([0.1, 0.5, 2.0, 3.0]), torch.tensor([True, True, False, False]))
        (1.25, 1.0)
    """
    _check_pairs(d, same)
    order = d.argsort()
    ds, s = d[order].double(), same[order].double()
    n_same, n_diff = s.sum(), (1 - s).sum()
    tp = torch.cat([s.new_zeros(1), s.cumsum(0)])            # same pairs below a cut after k pairs
    k = torch.arange(len(ds) + 1, dtype=torch.float64, device=d.device)
    balanced = 0.5 * (tp / n_same + (n_diff - (k - tp)) / n_diff)
    realizable = torch.ones_like(balanced, dtype=torch.bool)
    realizable[1:-1] = ds[1:] > ds[:-1]                      # no cut between equal distances
    balanced[~realizable] = -1.0
    best = int(balanced.argmax())
    if best == 0:
        t = ds[0]
    elif best == len(ds):
        t = ds[-1] + 1
    else:
        t = (ds[best - 1] + ds[best]) / 2
    return float(t), float(balanced[best])
