"""Checks for chapter 6, Multi-class classification.

Each check runs two groups of inputs: float32 (moderate logits, plus gaps of
1000 chosen so the exact answer is representable) at tolerance 1e-5, and
float64 (logits of size up to ±300, other dims) at 1e-10. The references are
evaluated in float64 and cast back, so they are never less accurate than a
correct answer.
"""
import torch

from course_pkg.homework.checking import Feedback, case_generator, check_function
from course_pkg.homework.registry import exercise
from course_pkg.losses import cross_entropy
from course_pkg.transforms import log_softmax, softmax

F32_TOL = {"atol": 1e-5, "rtol": 1e-5}
F64_TOL = {"atol": 1e-10, "rtol": 1e-10}


def _log_softmax_ref(o, dim=-1):
    return log_softmax(o.double(), dim=dim).to(o.dtype)


def _cross_entropy_ref(logits, target):
    return cross_entropy(logits.double(), target).to(logits.dtype)


def _run(answer, reference, groups):
    for cases, tol in groups:
        check_function(answer, reference, cases, grad=True, **tol)
    return f"matches the reference on {sum(len(c) for c, _ in groups)} input sets, values and gradients"


@exercise("multiclass.log_softmax", reference=_log_softmax_ref, answer="my_log_softmax", time_limit=5,
          forbidden=("course_pkg", "torch.log_softmax", "torch.logsumexp", "torch.nn.functional.log_softmax",
                     "torch.special.log_softmax", "torch.special.logsumexp", "torch.nn.LogSoftmax", ".log_softmax",
                     ".logsumexp"))
def _(answer):
    """my_log_softmax(o, dim=-1) = o - logsumexp(o, dim), stable at logit gaps of 1000, any dim, with gradient."""
    g = case_generator(61)
    f32 = [
        ("random logits of shape (6, 4)", (torch.randn(6, 4, generator=g), -1)),
        ("logits with a gap of 1000 (rows [0, 1000, -5] and [1000, 0, -1000])",
         (torch.tensor([[0.0, 1000.0, -5.0], [1000.0, 0.0, -1000.0]]), -1)),
        # A shift by one maximum of the whole tensor (not per row) sends the first row to -inf.
        ("rows whose maxima differ by 1000", (torch.tensor([[0.0, 1.0], [1000.0, 0.0]]), -1)),
        ("rows of equal logits -1000", (torch.full((2, 5), -1000.0), -1)),
    ]
    f64 = [
        ("float64 logits with dim=0", (torch.randn(5, 3, generator=g, dtype=torch.float64) * 50, 0)),
        ("a float64 3-D tensor with dim=1", (torch.randn(2, 4, 3, generator=g, dtype=torch.float64) * 300, 1)),
    ]
    return _run(answer, _log_softmax_ref, [(f32, F32_TOL), (f64, F64_TOL)])


def _class_cases(g):
    f32 = [
        ("random logits (8, 5) with class-index targets",
         (torch.randn(8, 5, generator=g) * 3, torch.randint(0, 5, (8,), generator=g))),
        ("logits with a gap of 1000 (rows [0, 1000], [1000, 0], [-1000, 1000])",
         (torch.tensor([[0.0, 1000.0], [1000.0, 0.0], [-1000.0, 1000.0]]), torch.tensor([0, 0, 1]))),
        ("rows whose maxima differ by 1000", (torch.tensor([[0.0, 1.0], [1000.0, 0.0]]), torch.tensor([1, 0]))),
        ("all-zero logits", (torch.zeros(4, 10), torch.tensor([0, 3, 9, 3]))),
        ("a single sample", (torch.randn(1, 7, generator=g), torch.tensor([6]))),
    ]
    f64 = [
        ("float64 logits of size ±300",
         (torch.randn(6, 3, generator=g, dtype=torch.float64) * 300, torch.randint(0, 3, (6,), generator=g))),
    ]
    return [(f32, F32_TOL), (f64, F64_TOL)]


def _check_scalar_loss(answer):
    """The answer must accept int64 class indices and return a 0-dim tensor, the mean over the batch (a sum is named)."""
    if not callable(answer):
        raise Feedback(f"expected a function, got {type(answer).__name__}")
    logits = torch.tensor([[1.0, -2.0, 0.5, 3.0], [0.0, 0.0, 1.0, -1.0], [2.0, 1.0, 0.0, -3.0]])
    target = torch.tensor([0, 1, 3])
    out = answer(logits.clone(), target.clone())
    if not isinstance(out, torch.Tensor):
        raise Feedback(f"expected a torch.Tensor, got {type(out).__name__}")
    if out.dim() != 0:
        raise Feedback(f"expected a scalar (0-dim) loss, got shape {tuple(out.shape)}; take the mean over the batch")
    if out.is_floating_point():
        mean = cross_entropy(logits.double(), target)
        value = out.detach().double()
        if bool(torch.isclose(value, len(target) * mean, rtol=1e-4)):
            raise Feedback("the loss is the sum over the batch (N times the mean); return the mean over the batch")
        every = -log_softmax(logits.double(), dim=1)[:, target].mean()
        if bool(torch.isclose(value, every, rtol=1e-4)) and not bool(torch.isclose(value, mean, rtol=1e-4)):
            raise Feedback("lp[:, target] takes every sample's target in every row (an (N, N) table); pick one entry "
                           "per row with lp.gather(1, target.unsqueeze(1)) or lp[torch.arange(N), target]")


@exercise("multiclass.cross_entropy", reference=_cross_entropy_ref, answer="my_cross_entropy", time_limit=5,
          forbidden=("course_pkg", "torch.nn.functional.cross_entropy", "torch.nn.CrossEntropyLoss"))
def _(answer):
    """my_cross_entropy(logits, target): mean of -log softmax(logits)[n, target[n]], int64 targets, stable."""
    _check_scalar_loss(answer)
    return _run(answer, _cross_entropy_ref, _class_cases(case_generator(62)))


@exercise("multiclass.fixed_loss", reference=_cross_entropy_ref, answer="fixed_loss", time_limit=5)
def _(answer):
    """fixed_loss(logits, target): cross-entropy on the raw logits, with no softmax in front."""
    _check_scalar_loss(answer)
    g = case_generator(63)
    z = torch.randn(16, 4, generator=g) * 4
    y = torch.randint(0, 4, (16,), generator=g)
    got = answer(z, y)
    double = cross_entropy(softmax(z), y)
    if got.is_floating_point() and bool(torch.isclose(got.detach().double(), double.double(), atol=1e-6)):
        raise Feedback("the loss still applies softmax before cross-entropy; the loss must take the raw logits")
    return _run(answer, _cross_entropy_ref, _class_cases(g))
