"""Checks for the chapter "Outputs with structure" (counts, ordinal labels, directions, sparsemax).

Each check draws its inputs from its own cases function (``case_generator``: the
notebook's streams in a notebook, a fresh seed on every grading run), with every
dtype explicit (nothing depends on ``torch.get_default_dtype()``), calls the
answer on a copy of each input and fails it if it changed that copy in place.
The references are :func:`course_pkg.transforms.sparsemax`,
:func:`course_pkg.losses.coral_loss` and :func:`course_pkg.inference.predict_angle`,
evaluated in float64 and cast back; the same functions are the ``reference=``
answers from which the grader records each check's plan, and the exercise texts
forbid ``course_pkg`` (the answers must not call these references). Before the plain comparison each check
compares the answer with the mistakes a student plausibly makes (sparsemax
without sorting, CORAL levels for labels 1..K, swapped atan2 arguments, ...)
and, on a match, names the mistake; no message shows an expected value.
"""
import math

import torch

from course_pkg.homework.checking import Feedback, case_generator, compare_tensors, describe_type
from course_pkg.homework.registry import exercise
from course_pkg.inference import predict_angle
from course_pkg.losses import coral_loss
from course_pkg.transforms import softplus, sparsemax

F32_TOL = {"atol": 1e-5, "rtol": 1e-5}
F64_TOL = {"atol": 1e-10, "rtol": 1e-10}


def _tol(dtype):
    return F64_TOL if dtype == torch.float64 else F32_TOL


def _call(answer, args, label, *, grad_arg=None):
    """Call ``answer`` on copies of ``args``; fail if it modified a copy in place. Returns (out, copies).

    With ``grad_arg`` the answer is called twice: first on plain copies (so an in-place change is caught and
    reported, rather than autograd refusing it on a leaf), then on fresh copies with that argument requiring grad.
    """
    copies = [a.detach().clone() if isinstance(a, torch.Tensor) else a for a in args]
    out = answer(*copies)
    for original, copy in zip(args, copies):
        if isinstance(original, torch.Tensor) and not torch.equal(copy, original):
            raise Feedback(f"on {label}: your function changes its input in place (e.g. `o -= ...` or a method "
                           "ending in `_`); compute on a new tensor instead")
    if grad_arg is None:
        return out, copies
    copies = [a.detach().clone() if isinstance(a, torch.Tensor) else a for a in args]
    copies[grad_arg].requires_grad_(True)
    try:
        return answer(*copies), copies
    except RuntimeError as err:
        if "in-place" in str(err):  # autograd refuses in-place changes of a leaf that requires grad
            raise Feedback(f"on {label}: your function changes its input in place (e.g. `o -= ...` or a method "
                           "ending in `_`), which autograd refuses; compute on a new tensor instead") from None
        raise


def _close(a, b, dtype) -> bool:
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.shape != b.shape or a.dtype != b.dtype:
        return False
    tol = _tol(dtype)
    return bool(torch.isclose(a.detach().double(), b.detach().double(), equal_nan=False, **tol).all())


def _diagnose(got, args, mistakes, dtype, label):
    """If ``got`` matches one of the known wrong variants (and not the reference), say which mistake it is."""
    for wrong, hint in mistakes:
        try:
            with torch.no_grad():
                candidate = wrong(*[a.detach() if isinstance(a, torch.Tensor) else a for a in args])
        except Exception:  # a variant that cannot run on these inputs says nothing
            continue
        if _close(got, candidate, dtype):
            raise Feedback(f"on {label}: {hint}")


def _gradient(out, inputs, weights, label):
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        raise Feedback(f"on {label}: the result is detached from the graph (no gradient flows back);"
                       " avoid .detach(), .item(), NumPy and torch.tensor(...) on intermediate results")
    try:
        (grad,) = torch.autograd.grad((out * weights).sum(), inputs, allow_unused=True)
    except RuntimeError as err:
        raise Feedback(f"on {label}: backpropagating through your result failed ({str(err)[:120]})") from None
    if grad is None:
        raise Feedback(f"on {label}: the result does not depend on the input (no gradient)")
    return grad


# ---------------------------------------------------------------- structured.sparsemax

def _sparsemax_ref(o):
    return sparsemax(o.double()).to(o.dtype)


def _sparsemax_unsorted(o):
    z = o - o.amax(dim=-1, keepdim=True)
    cumsum = z.cumsum(dim=-1)
    k = torch.arange(1, o.shape[-1] + 1, dtype=o.dtype)
    size = (1 + k * z > cumsum).sum(dim=-1, keepdim=True).clamp(min=1)
    return (z - (cumsum.gather(-1, size - 1) - 1) / size.to(o.dtype)).clamp(min=0)


def _sparsemax_with(o, *, descending=True, k_from=1, size_shift=0, index_shift=0):
    z = o - o.amax(dim=-1, keepdim=True)
    zs = z.sort(dim=-1, descending=descending).values
    cumsum = zs.cumsum(dim=-1)
    k = torch.arange(k_from, o.shape[-1] + k_from, dtype=o.dtype)
    size = ((1 + k * zs > cumsum).sum(dim=-1, keepdim=True) + size_shift).clamp(1, o.shape[-1])
    index = (size - 1 + index_shift).clamp(0, o.shape[-1] - 1)
    return (z - (cumsum.gather(-1, index) - 1) / size.to(o.dtype)).clamp(min=0)


SPARSEMAX_MISTAKES = [
    (_sparsemax_unsorted, "the logits must be sorted in decreasing order before the cumulative sum"),
    (lambda o: _sparsemax_with(o, descending=False), "sort in *decreasing* order (descending=True): the support "
     "holds the largest logits"),
    (lambda o: _sparsemax_with(o, k_from=0), "off by one: k counts from 1 in the support condition 1 + k z_(k) > sum_{j<=k} z_(j)"),
    (lambda o: _sparsemax_with(o, size_shift=1), "off by one in the support size: |S| is the number of positions "
     "where the condition holds, and tau uses the cumulative sum at position |S| (index |S| - 1)"),
    (lambda o: _sparsemax_with(o, size_shift=-1), "off by one in the support size: |S| is the number of positions "
     "where the condition holds, and tau uses the cumulative sum at position |S| (index |S| - 1)"),
    (lambda o: _sparsemax_with(o, index_shift=1), "off by one in the index: tau uses the sum of the |S| largest "
     "logits, which sits at index |S| - 1 of the cumulative sum (indices count from 0, k from 1)"),
    (lambda o: torch.softmax(o, dim=-1), "this is the softmax; sparsemax projects onto the simplex and has exact zeros"),
]


def _shape_hint(err: Exception) -> str | None:
    """Name the shape mistake behind a RuntimeError or IndexError raised by an answer, or None."""
    text = str(err)
    if "must match the size of tensor" in text:
        return ("a reduction dropped the last dimension and no longer lines up with o: reduce along dim=-1 "
                "with keepdim=True (o.amax(dim=-1, keepdim=True)), not over the whole tensor (o.max())")
    if "Index tensor must have the same number of dimensions" in text:
        return ("gather needs an index with as many dimensions as the tensor it reads: count the support with "
                ".sum(dim=-1, keepdim=True)")
    if isinstance(err, IndexError) or "too many indices" in text or "out of bounds" in text:
        return ("pick one entry per row with cumsum.gather(-1, size - 1); indexing such as cumsum[size - 1] or "
                "cumsum[:, size - 1] works for one shape only (and the latter takes every row's index in every row)")
    return None


def _call_or_name_the_shape_mistake(answer, args, label, *, grad_arg=None):
    """:func:`_call`, but a RuntimeError or IndexError from a shape mistake becomes a Feedback that names it.

    (The check may not call the answer again on other inputs to narrow it down: the grader replays a fixed plan
    of calls, recorded from the reference, so the diagnosis reads the error alone.)
    """
    try:
        return _call(answer, args, label, grad_arg=grad_arg)
    except (RuntimeError, IndexError) as err:
        hint = _shape_hint(err)
        if hint is None:
            raise
        where = f"it raises {type(err).__name__} on shape {tuple(args[0].shape)}"
        raise Feedback(f"on {label}: {where}; {hint}") from None


def _one_shift_per_row(p, o):
    """Is ``p - o`` the same number on every non-zero entry of each row (as for max(o - tau, 0))?"""
    p, o = p.double(), o.double()
    support = p > 0
    shift = torch.where(support, o - p, torch.nan)
    spread = (shift.nan_to_num(-torch.inf).amax(dim=-1) + shift.nan_to_num(torch.inf).amin(dim=-1).neg())
    spread = torch.where(support.any(dim=-1), spread, torch.zeros_like(spread))
    scale = 1 + o.abs().amax(dim=-1)
    return bool((spread <= 1e-4 * scale).all())


def sparsemax_cases(seed=101):
    """(label, logits, weights for the gradient) for structured.sparsemax, every dtype explicit."""
    g = case_generator(seed)

    def w(shape, dtype):
        return torch.randn(shape, generator=g, dtype=dtype)

    cases = []
    for label, o in [
        ("four float32 logits, two of them close", torch.tensor([2.0, 1.6, 1.0, -0.5], dtype=torch.float32)),
        ("random float32 logits of shape (8, 6)", torch.randn(8, 6, generator=g, dtype=torch.float32) * 2),
        ("random float64 logits of shape (5, 7)", torch.randn(5, 7, generator=g, dtype=torch.float64) * 3),
        ("a float64 batch of shape (2, 3, 5)", torch.randn(2, 3, 5, generator=g, dtype=torch.float64)),
        ("float32 logits of ±1000", torch.tensor([[1000.0, 999.5, -1000.0], [-1000.0, -1000.0, 1000.0]],
                                                 dtype=torch.float32)),
        ("equal logits (a 4-way tie)", torch.full((1, 4), 0.5, dtype=torch.float64)),
        ("one class per row, shape (3, 1)", torch.randn(3, 1, generator=g, dtype=torch.float32)),
    ]:
        cases.append((label, o, w(o.shape, o.dtype)))
    return cases


@exercise("structured.sparsemax", reference=sparsemax, answer="my_sparsemax", time_limit=10,
          forbidden=("course_pkg",))
def _(answer):
    """my_sparsemax(o): sparsemax along the last dimension, values and gradients, float32 and float64, ±1000."""
    if not callable(answer) or isinstance(answer, type):
        raise Feedback(f"expected a function, got {describe_type(answer)}")
    cases = sparsemax_cases()
    for label, o, weights in cases:
        got, (o_in,) = _call_or_name_the_shape_mistake(answer, (o,), label, grad_arg=0)
        expected = _sparsemax_ref(o)
        if isinstance(got, torch.Tensor) and got.shape != o.shape:
            raise Feedback(f"on {label}: the result has shape {tuple(got.shape)}, not the shape of o, {tuple(o.shape)}; "
                           "take one value per row with gather (cumsum.gather(-1, size - 1)) and keep reduced "
                           "dimensions with keepdim=True")
        if not _close(got, expected, o.dtype):
            if isinstance(got, torch.Tensor) and got.shape == o.shape and got.is_floating_point():
                sums = got.detach().double().sum(dim=-1)
                _diagnose(got, (o,), SPARSEMAX_MISTAKES, o.dtype, label)
                if bool((got.detach() < 0).any()):
                    raise Feedback(f"on {label}: some entries are negative; sparsemax clips at zero, max(o - tau, 0)")
                if not bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-4)):
                    raise Feedback(f"on {label}: the entries of a row do not sum to 1; check tau and the support size")
                if not _one_shift_per_row(got.detach(), o):
                    raise Feedback(f"on {label}: the non-zero entries of a row must be o_i - tau with one tau for "
                                   "the whole row (sparsemax subtracts a threshold and clips, max(o - tau, 0)); "
                                   "clipping and then dividing by the sum is not the projection onto the simplex")
            compare_tensors(got, expected, what=f"on {label}", **_tol(o.dtype))
        g_got = _gradient(got, o_in, weights, label)
        o_ref = o.detach().clone().requires_grad_(True)
        (g_exp,) = torch.autograd.grad((_sparsemax_ref(o_ref) * weights).sum(), o_ref)
        compare_tensors(g_got, g_exp, what=f"gradient on {label}", **_tol(o.dtype))
    return f"values and gradients match on {len(cases)} input sets, input left unchanged"


# ---------------------------------------------------------------- structured.coral_loss

def _coral_ref(logits, target):
    return coral_loss(logits.double(), target).to(logits.dtype)


def _coral_with(logits, target, *, first_k=0, compare=torch.gt, reduce="sum"):
    k = torch.arange(first_k, first_k + logits.shape[1])
    levels = compare(target.unsqueeze(1), k).to(logits.dtype)
    bce = levels * softplus(-logits) + (1 - levels) * softplus(logits)
    if reduce == "mean":
        return bce.mean()
    if reduce == "batch_sum":
        return bce.sum()
    return bce.sum(dim=1).mean()


def _coral_from_probabilities(logits, target):
    levels = (target.unsqueeze(1) > torch.arange(logits.shape[1])).to(logits.dtype)
    bce = torch.nn.functional.binary_cross_entropy(torch.sigmoid(logits), levels, reduction="none")
    return bce.sum(dim=1).mean()


CORAL_MISTAKES = [
    (lambda z, y: _coral_with(z, y, first_k=1), "the levels are shifted by one: these are the levels for labels "
     "1..K (as in the CORAL paper); here labels are 0..K-1 and level k is [y > k] for k = 0..K-2"),
    (lambda z, y: _coral_with(z, y, compare=torch.ge), "level k must be [y > k] (strictly greater), not [y >= k]"),
    (lambda z, y: _coral_with(z, y, reduce="mean"), "the loss sums the K-1 binary cross-entropies of a sample and "
     "averages over the batch only; .mean() over both divides by K-1 as well"),
    (lambda z, y: _coral_with(z, y, reduce="batch_sum"), "average over the batch (N), do not sum over it"),
    (lambda z, y: _coral_with(z, y, compare=torch.le), "the levels are reversed: column k is the logit of "
     "P(y > k), so its level is 1 when y > k (a large label has all levels 1)"),
    (lambda z, y: _coral_with(z, y, compare=torch.eq), "the levels are cumulative, [y > k] for every k = 0..K-2 "
     "(label 2 with K = 5 gives 1, 1, 0, 0), not a one-hot [y == k]"),
    (lambda z, y: _coral_from_probabilities(z, y), "the loss is computed from sigmoid probabilities, which round to "
     "exactly 0 or 1 at large |z| (and binary_cross_entropy clamps log 0 at -100); work on the logits: "
     "-log sigmoid(z) = softplus(-z), -log(1 - sigmoid(z)) = softplus(z), or binary_cross_entropy_with_logits"),
]


def coral_cases(seed=102):
    """(label, logits, target) for structured.coral_loss, every dtype explicit."""
    g = case_generator(seed)
    i64 = torch.int64
    return [
        ("random float32 logits (16, 4), labels 0..4",
         torch.randn(16, 4, generator=g, dtype=torch.float32) * 2, torch.randint(0, 5, (16,), generator=g, dtype=i64)),
        ("random float64 logits (10, 6), labels 0..6",
         torch.randn(10, 6, generator=g, dtype=torch.float64) * 3, torch.randint(0, 7, (10,), generator=g, dtype=i64)),
        ("every label 0..3 once, float64 logits (4, 3)",
         torch.randn(4, 3, generator=g, dtype=torch.float64), torch.tensor([0, 1, 2, 3], dtype=i64)),
        ("K = 2 (one threshold), float32", torch.randn(6, 1, generator=g, dtype=torch.float32),
         torch.tensor([0, 1, 1, 0, 1, 0], dtype=i64)),
        ("float32 logits of ±1000 (confidently right and wrong)",
         torch.tensor([[1000.0, -1000.0, -1000.0], [-1000.0, -1000.0, -1000.0], [1000.0, 1000.0, 1000.0]],
                      dtype=torch.float32), torch.tensor([1, 3, 0], dtype=i64)),
    ]


@exercise("structured.coral_loss", reference=coral_loss, answer="my_coral_loss", time_limit=10,
          forbidden=("course_pkg",))
def _(answer):
    """my_coral_loss(logits, target): mean over N of the sum over k of BCE(z_k, [y > k]), labels 0..K-1, stable."""
    if not callable(answer) or isinstance(answer, type):
        raise Feedback(f"expected a function, got {describe_type(answer)}")
    cases = coral_cases()
    for label, logits, target in cases:
        try:
            got, (z_in, _) = _call(answer, (logits, target), label, grad_arg=0)
        except RuntimeError as err:
            if "must match the size of tensor" not in str(err):
                raise
            raise Feedback(f"on {label}: it raises RuntimeError on logits {tuple(logits.shape)} and labels "
                           f"{tuple(target.shape)}; compare every label with every threshold: "
                           "target.unsqueeze(1) > torch.arange(K - 1) has shape (N, K-1), while target > k "
                           "with shapes (N,) and (K-1,) does not broadcast") from None
        expected = _coral_ref(logits, target)
        if isinstance(got, torch.Tensor) and got.dim() != 0:
            raise Feedback(f"on {label}: expected a scalar (0-dim) loss, got shape {tuple(got.shape)}")
        if not _close(got, expected, logits.dtype):
            if isinstance(got, torch.Tensor) and not bool(torch.isfinite(got.detach()).all()):
                raise Feedback(f"on {label}: the loss is not finite; compute -log sigmoid(z) as softplus(-z) and "
                               "-log(1 - sigmoid(z)) as softplus(z)")
            _diagnose(got, (logits, target), CORAL_MISTAKES, logits.dtype, label)
            compare_tensors(got, expected, what=f"on {label}", **_tol(logits.dtype))
        weight = torch.ones((), dtype=logits.dtype)
        g_got = _gradient(got, z_in, weight, label)
        z_ref = logits.detach().clone().requires_grad_(True)
        (g_exp,) = torch.autograd.grad(_coral_ref(z_ref, target), z_ref)
        if not bool(torch.isfinite(g_got).all()):
            raise Feedback(f"on {label}: the gradient is NaN or infinite; torch.where does not stop NaN gradients "
                           "from an unselected branch: use softplus, which is stable on both sides")
        compare_tensors(g_got, g_exp, what=f"gradient on {label}", **_tol(logits.dtype))
    return f"loss and gradient match on {len(cases)} input sets, inputs left unchanged"


# ---------------------------------------------------------------- structured.angle_from_head

def _angle_ref(o):
    return predict_angle(o.double()).to(o.dtype)


ANGLE_MISTAKES = [
    (lambda o: torch.atan2(o[:, 0], o[:, 1]), "the arguments of atan2 are swapped: atan2 takes the sine (column 1) "
     "first and the cosine (column 0) second"),
    (lambda o: torch.atan(o[:, 1] / o[:, 0]), "atan(s / c) only covers two quadrants: it cannot tell (c, s) from "
     "(-c, -s); atan2 uses both signs"),
    (lambda o: torch.acos(o[:, 0] / o.norm(dim=1)), "acos of the cosine loses the sign of the angle; atan2 uses "
     "the sine as well"),
    (lambda o: torch.rad2deg(torch.atan2(o[:, 1], o[:, 0])), "return radians, not degrees"),
    (lambda o: torch.atan2(o[:, 1], o[:, 0]) % (2 * math.pi), "the angles must lie in [-pi, pi], the range atan2 "
     "returns; do not shift them into [0, 2 pi)"),
]


def angle_cases(seed=103):
    """(label, raw head outputs (N, 2)) for structured.angle_from_head, every dtype explicit."""
    g = case_generator(seed)
    quadrants = torch.tensor([[1.0, 0.5], [-1.0, 0.5], [-1.0, -0.5], [1.0, -0.5], [0.0, 2.0], [0.0, -2.0]],
                             dtype=torch.float32)
    near_cut = torch.tensor([[-1.0, 1e-3], [-1.0, -1e-3], [-3.0, 0.2], [-3.0, -0.2]], dtype=torch.float64)
    return [
        ("one point in each quadrant and on the axes (float32)", quadrants),
        ("unnormalized outputs, scaled by 0.01 and by 100", torch.cat([quadrants * 0.01, quadrants * 100])),
        ("random float32 outputs of shape (12, 2)", torch.randn(12, 2, generator=g, dtype=torch.float32)),
        ("float64 outputs on both sides of the cut at ±pi", near_cut),
        ("random float64 outputs of shape (9, 2)", torch.randn(9, 2, generator=g, dtype=torch.float64) * 5),
    ]


@exercise("structured.angle_from_head", reference=predict_angle, answer="angle_from_head", time_limit=10,
          forbidden=("course_pkg",))
def _(answer):
    """angle_from_head(o): atan2(o[:, 1], o[:, 0]) for raw (cos, sin) outputs (N, 2), radians in [-pi, pi]."""
    if not callable(answer) or isinstance(answer, type):
        raise Feedback(f"expected a function, got {describe_type(answer)}")
    cases = angle_cases()
    for label, o in cases:
        got, _ = _call(answer, (o,), label)
        expected = _angle_ref(o)
        if isinstance(got, torch.Tensor) and got.shape != expected.shape:
            raise Feedback(f"on {label}: wrong shape {tuple(got.shape)}; one angle per row, shape (N,)")
        if not _close(got, expected, o.dtype):
            _diagnose(got, (o,), ANGLE_MISTAKES, o.dtype, label)
            compare_tensors(got, expected, what=f"on {label}", **_tol(o.dtype))
    return f"angles match in all four quadrants on {len(cases)} input sets, input left unchanged"
