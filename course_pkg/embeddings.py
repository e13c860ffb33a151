"""Embeddings and distance-based losses, written from first principles.

An embedding network maps an input to a vector :math:`\\mathbf z = f_\\theta(\\mathbf x) \\in \\mathbb R^D`
whose *distances* carry the meaning: examples of the same identity should be
close, examples of different identities far apart. The losses here (triplet,
contrastive) only see distances, so they are usually preceded by the output
transformation :func:`course_pkg.transforms.l2_normalize`, which puts every
embedding on the unit sphere. For unit vectors
:math:`\\lVert \\mathbf a - \\mathbf b\\rVert^2 = 2 - 2\\cos(\\mathbf a, \\mathbf b)`.

Every function takes and returns ``torch.Tensor`` s, keeps dtype and device,
and has a finite gradient everywhere, including at zero distance.
"""
from __future__ import annotations

import torch

from course_pkg._validation import check_number, check_same_shape, check_tensor
from course_pkg.runtime import generator
from course_pkg.transforms import l2_normalize

__all__ = [
    "euclidean_distance", "pairwise_distances", "cosine_similarity", "cosine_distance",
    "triplet_loss", "contrastive_loss", "sample_triplets", "triplet_accuracy",
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


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                 margin: float = 1.0, squared: bool = False) -> torch.Tensor:
    r"""Triplet margin loss, :math:`\frac1N \sum_i \max(0,\ d(\mathbf a_i, \mathbf p_i) - d(\mathbf a_i, \mathbf n_i) + m)`.

    ``d`` is the Euclidean distance (squared with ``squared=True``, as in
    FaceNet). The loss is zero once every negative is at least ``margin``
    farther from its anchor than the positive. Without normalization the
    distances scale with the embeddings, so the margin has no fixed meaning;
    apply :func:`course_pkg.transforms.l2_normalize` first.
    With ``squared=False`` it equals ``torch.nn.functional.triplet_margin_loss(..., eps=0)``.

    Args:
        anchor, positive, negative: (N, D) with identical shapes, floating dtype.
        margin: a finite number >= 0.
        squared: use squared distances.

    Returns: the mean over the N triplets, a scalar.

    Example:
        >>> a = torch.tensor([[0.0, 0.0]]); p = torch.tensor([[1.0, 0.0]]); n = torch.tensor([[0.0, 1.5]])
        >>> triplet_loss(a, p, n, margin=1.0)
        tensor(0.5000)
    """
    for name, t in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        check_tensor(t, name, floating=True, min_dim=2)
    check_same_shape(anchor, positive, "anchor", "positive")
    check_same_shape(anchor, negative, "anchor", "negative")
    if anchor.dim() != 2:
        raise ValueError(f"anchor, positive and negative must have shape (N, D), got {tuple(anchor.shape)}")
    margin = check_number(margin, "margin")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    d_ap = euclidean_distance(anchor, positive, squared=squared)
    d_an = euclidean_distance(anchor, negative, squared=squared)
    return (d_ap - d_an + margin).clamp(min=0).mean()


def contrastive_loss(z1: torch.Tensor, z2: torch.Tensor, same: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    r"""Contrastive (pair) loss, :math:`\frac1N \sum_i s_i\, d_i^2 + (1 - s_i)\max(0,\ m - d_i)^2`.

    Here :math:`d_i = \lVert \mathbf z_{1,i} - \mathbf z_{2,i}\rVert_2`.

    Pairs of the same identity (:math:`s_i = 1`) are pulled together; pairs of
    different identities (:math:`s_i = 0`) are pushed apart until they are
    ``margin`` away (Hadsell, Chopra and LeCun, 2006).

    Args:
        z1, z2: (N, D) embeddings, identical shapes; same: (N,) with values in {0, 1}
            (bool or floating); margin: a finite number > 0.

    Returns: the mean over the N pairs, a scalar.

    Example:
        >>> z1 = torch.tensor([[0.0, 0.0], [0.0, 0.0]]); z2 = torch.tensor([[0.6, 0.8], [0.3, 0.4]])
        >>> contrastive_loss(z1, z2, torch.tensor([1.0, 0.0]), margin=1.0)
        tensor(0.6250)
    """
    check_tensor(z1, "z1", floating=True, min_dim=2)
    check_tensor(z2, "z2", floating=True, min_dim=2)
    check_same_shape(z1, z2, "z1", "z2")
    if z1.dim() != 2:
        raise ValueError(f"z1 and z2 must have shape (N, D), got {tuple(z1.shape)}")
    check_tensor(same, "same")
    if same.shape != z1.shape[:1]:
        raise ValueError(f"same must have shape (N,) = {tuple(z1.shape[:1])}, got {tuple(same.shape)}")
    if not (same.dtype == torch.bool or same.is_floating_point()):
        raise TypeError(f"same must be a bool or floating tensor of 0/1 values, got dtype {same.dtype}")
    s = same.to(z1.dtype)
    if bool(((s != 0) & (s != 1)).any()):
        raise ValueError("same must contain only 0 and 1")
    margin = check_number(margin, "margin", positive=True)
    d = euclidean_distance(z1, z2)
    return (s * d ** 2 + (1 - s) * (margin - d).clamp(min=0) ** 2).mean()


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
