"""Checks for chapter 8, Preparing outputs for distance-based losses."""
import torch

from course_pkg.embeddings import triplet_loss
from course_pkg.homework.checking import Feedback, case_generator, check_function, compare_tensors
from course_pkg.homework.registry import exercise
from course_pkg.transforms import l2_normalize


def _reference_triplet(anchor, positive, negative, margin):
    return triplet_loss(anchor, positive, negative, margin=margin)


@exercise("distance.l2_normalize", reference=l2_normalize, answer="my_l2_normalize", time_limit=5,
          forbidden=("torch.nn.functional.normalize", "course_pkg.transforms"))
def _(answer):
    """my_l2_normalize(x, dim=-1, eps=1e-12) = x / max(||x||, eps) along dim; zero vectors give 0, no NaN."""
    _name_common_mistakes(answer)
    _name_added_eps(answer)
    g = case_generator(81)
    with_zero = torch.randn(6, 4, generator=g)
    with_zero[[1, 4]] = 0.0
    cases = [
        ("random rows (float32)", (torch.randn(5, 3, generator=g),)),
        ("rows including zero vectors (float32)", (with_zero,)),
    ]
    check_function(answer, l2_normalize, cases, atol=1e-6, rtol=1e-5, grad=True)
    cases = [
        ("float64 rows including a zero vector", (torch.cat([torch.randn(3, 5, generator=g, dtype=torch.float64),
                                                           torch.zeros(1, 5, dtype=torch.float64)]),)),
        ("tiny and huge rows (float64)", (torch.tensor([[1e-5, -2e-5], [3e150, 4e150]], dtype=torch.float64),)),
    ]
    check_function(answer, l2_normalize, cases, atol=1e-10, rtol=1e-10, grad=True)
    dim_cases = [
        ("a (3, 4) tensor normalized along dim=0", (torch.randn(3, 4, generator=g), 0)),
        ("a (2, 3, 4) tensor normalized along dim=1 with a zero slice",
         (torch.cat([torch.randn(2, 3, 3, generator=g), torch.zeros(2, 3, 1)], dim=2), 1)),
        ("a 1-D vector", (torch.randn(7, generator=g, dtype=torch.float64), -1)),
    ]
    check_function(answer, l2_normalize, dim_cases, atol=1e-6, rtol=1e-5, grad=True)
    x = torch.tensor([[1e-3, 0.0]], dtype=torch.float64)
    got = answer(x, -1, 1.0)
    if not isinstance(got, torch.Tensor) or not torch.allclose(got, l2_normalize(x, -1, 1.0), rtol=1e-10, atol=0):
        raise Feedback("with eps=1.0, a vector shorter than eps must be divided by exactly eps: "
                       "use max(||x||, eps) (a clamp), not ||x|| or ||x|| + eps, and pass eps through")
    _check_float16(answer)
    return "matches the reference on 9 input sets, including zero vectors, float16, float64 and other dims"


def _name_common_mistakes(answer):
    """In-place edits of the input and a norm without keepdim, named before the value comparison hides them."""
    if not callable(answer):
        return
    x = torch.tensor([[3.0, 4.0, 0.0], [1.0, 2.0, 2.0]])
    given = x.clone()
    try:
        got = answer(given)
    except RuntimeError as err:
        if "must match the size of tensor" in str(err):
            raise Feedback("the division does not broadcast: the length computed along dim has lost that dimension; "
                           "compute it with keepdim=True so that every entry is divided by its own vector's "
                           "length") from None
        raise
    if not torch.equal(given, x):
        raise Feedback("your function changed its input in place (x /= ..., .div_() or an indexed assignment); return "
                       "a new tensor and leave x as it was")
    if isinstance(got, torch.Tensor) and got.shape == x.shape and not bool(torch.isnan(got).any()):
        lengths = torch.linalg.vector_norm(got.detach().double(), dim=-1)
        if torch.allclose(lengths, torch.ones(2, dtype=torch.float64), atol=1e-4):
            return
        if torch.allclose(got.detach().double().square().sum(), torch.tensor(1.0, dtype=torch.float64), atol=1e-4):
            raise Feedback("the whole tensor has length 1, not each vector: compute the norm along dim only "
                           "(torch.linalg.vector_norm(x, dim=dim, keepdim=True)), not over all entries")


def _name_added_eps(answer):
    """Name x / (||x|| + eps) at once (on float64 rows it differs only by eps, a bare number at 1e-10)."""
    x = torch.tensor([[1e-3, 0.0], [3.0, 4.0]], dtype=torch.float64)
    try:
        got = answer(x.clone(), -1, 1.0)
    except Exception:  # noqa: BLE001  the full check below reports it
        return
    added = x / (torch.linalg.vector_norm(x, dim=-1, keepdim=True) + 1.0)
    if (isinstance(got, torch.Tensor) and got.shape == x.shape and got.is_floating_point()
            and torch.allclose(got.detach().double(), added, rtol=1e-6, atol=0)):
        raise Feedback("the length is ||x|| + eps: with eps=1.0 the vector (3, 4) comes out with length 5/6, not 1; "
                       "divide by max(||x||, eps) (a clamp), which changes only vectors shorter than eps")


def _check_float16(answer):
    """float16 rows with a zero vector: finite values and gradients, float16 out, the reference's values.

    In float16 the default eps=1e-12 rounds to 0, so max(||x||, eps) is 0 again for a zero vector; the floor has to be
    at least the smallest normal float16 number (``torch.finfo(x.dtype).tiny``). Only the gradient of the non-zero rows
    is compared with the reference: at the zero vector any finite slope 1/floor is acceptable.
    """
    rows = torch.tensor([[3.0, 4.0], [0.0, 0.0], [0.5, -1.0]], dtype=torch.float16)
    x = rows.clone().requires_grad_(True)
    got = answer(x)
    if not isinstance(got, torch.Tensor):
        raise Feedback(f"on float16 rows: expected a tensor, got {type(got).__name__}")
    if got.dtype != torch.float16:
        raise Feedback(f"on float16 rows: the result has dtype {got.dtype}; keep the input's dtype (no .float() or "
                       "float32 constants that promote it)")
    if not bool(torch.isfinite(got).all()):
        raise Feedback("on float16 rows including a zero vector: the result is not finite. In float16 eps=1e-12 "
                       "rounds to 0, so max(||x||, eps) is 0 again: raise the floor to at least "
                       "torch.finfo(x.dtype).tiny, the smallest normal number of the dtype")
    compare_tensors(got.detach(), l2_normalize(rows), what="on float16 rows including a zero vector",
                    atol=2e-3, rtol=2e-3)
    if not got.requires_grad:
        raise Feedback("on float16 rows: the result is detached from the graph (no gradient flows back)")
    (grad,) = torch.autograd.grad(got.sum(), x, allow_unused=True)
    if grad is None or not bool(torch.isfinite(grad).all()):
        raise Feedback("on float16 rows including a zero vector: the gradient is not finite. In float16 eps=1e-12 "
                       "rounds to 0, so the zero row is divided by 0: raise the floor to at least "
                       "torch.finfo(x.dtype).tiny")
    ref_x = rows.clone().requires_grad_(True)
    (ref_grad,) = torch.autograd.grad(l2_normalize(ref_x).sum(), ref_x)
    keep = torch.tensor([0, 2])
    compare_tensors(grad[keep], ref_grad[keep], what="gradient of the non-zero float16 rows", atol=2e-3, rtol=1e-2)


@exercise("distance.triplet_loss", reference=_reference_triplet, answer="my_triplet_loss", time_limit=5,
          forbidden=("torch.nn.functional.triplet_margin_loss", "torch.nn.functional.pairwise_distance",
                     "torch.nn.TripletMarginLoss", "torch.nn.PairwiseDistance", "torch.triplet_margin_loss",
                     "torch.pairwise_distance", "course_pkg"))
def _(answer):
    """my_triplet_loss(anchor, positive, negative, margin): mean of max(0, ||a-p|| - ||a-n|| + margin)."""
    if callable(answer):
        # Two usual mistakes, named by their value on ||a - p|| = 3, ||a - n|| = 4, margin 8 (loss 7): squared
        # distances give 9 - 16 + 8 = 1, a margin with the wrong sign gives max(0, 3 - 4 - 8) = 0.
        a = torch.zeros(1, 2, dtype=torch.float64)
        p = torch.tensor([[3.0, 0.0]], dtype=torch.float64)
        n = torch.tensor([[0.0, 4.0]], dtype=torch.float64)
        got = answer(a, p, n, 8.0)
        if isinstance(got, torch.Tensor) and got.dim() == 0 and got.is_floating_point():
            value = float(got.detach())
            if abs(value - 1.0) < 1e-9:
                raise Feedback("use plain Euclidean distances ||a - p||, not squared ones")
            if abs(value) < 1e-12:
                raise Feedback("the loss is 0 where the hinge should be active: is the margin added with the "
                               "right sign (d(a, p) - d(a, n) + margin)?")
        # the sum over the triplets instead of the mean: two triplets with losses 7 and 1 give 8, not 4
        a2 = torch.zeros(2, 2, dtype=torch.float64)
        p2 = torch.tensor([[3.0, 0.0], [3.0, 0.0]], dtype=torch.float64)
        n2 = torch.tensor([[0.0, 4.0], [0.0, 10.0]], dtype=torch.float64)
        got = answer(a2, p2, n2, 8.0)
        if isinstance(got, torch.Tensor) and got.dim() == 0 and got.is_floating_point():
            if abs(float(got.detach()) - 8.0) < 1e-9:
                raise Feedback("your loss is the sum over the triplets, not the mean: divide by the number of "
                               "rows (.mean())")
    g = case_generator(82)
    a32 = torch.randn(8, 3, generator=g)
    a64 = torch.randn(10, 5, generator=g, dtype=torch.float64)
    coincide = torch.randn(4, 2, generator=g)
    cases = [
        ("random float32 triplets, margin 1",
         (a32, torch.randn(8, 3, generator=g), torch.randn(8, 3, generator=g), 1.0)),
        ("positives that coincide with their anchors",
         (coincide, coincide.clone(), coincide + torch.tensor([0.5, 0.0]), 1.0)),
        ("triplets that all clear the margin (loss 0)",
         (a32, a32 + 0.01, a32 + 10.0, 0.2)),
        ("margin 2",
         (a32, torch.randn(8, 3, generator=g), torch.randn(8, 3, generator=g), 2.0)),
    ]
    check_function(answer, _reference_triplet, cases, atol=1e-6, rtol=1e-5, grad=True)
    case64 = [("random float64 triplets, margin 0.5",
               (a64, a64 + 0.3 * torch.randn(10, 5, generator=g, dtype=torch.float64),
                torch.randn(10, 5, generator=g, dtype=torch.float64), 0.5))]
    check_function(answer, _reference_triplet, case64, atol=1e-10, rtol=1e-10, grad=True)
    return "matches the reference on 5 input sets"
