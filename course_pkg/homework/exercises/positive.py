"""Checks for chapter 4, Positive-only regression.

``positive.softplus`` demands a from-scratch softplus that is exact in both
float32 (tolerance 1e-6) and float64 (relative 1e-12, so that values such as
softplus(-30) ~ 1e-13 must be right to the last digits, not just "close to
0"), with gradient sigmoid(o) everywhere, including at the kink-prone o = 0.
``positive.positive_head`` checks the fixed regression head: softplus values
and gradients in float32, finite at o = 1000 and alive (non-zero gradient) for
negative o. Its text allows any correct method, so the gradient is compared
away from the kink o = 0 only (values are compared there too): the compact
``o.clamp(min=0) + log1p(exp(-|o|))`` and ``relu(o) + ...`` give a one-sided
gradient (1 or 0 instead of 1/2) at exactly 0, which the head exercise does not
ask about (``positive.softplus`` does). References come from
``course_pkg.transforms.softplus``, evaluated in float64 and cast back.
"""
import torch

from course_pkg.homework.checking import Feedback, case_generator, check_function, compare_tensors
from course_pkg.homework.registry import exercise
from course_pkg.transforms import softplus

F32_TOL = {"atol": 1e-6, "rtol": 1e-6}
F64_TOL = {"atol": 1e-300, "rtol": 1e-12}


def _softplus_ref(o):
    return softplus(o.double()).to(o.dtype)


def _probe(answer, o, label):
    """Call the answer on ``o`` (requires grad) and return (value, gradient), with one-line feedback on misuse."""
    o = o.detach().clone().requires_grad_(True)
    out = answer(o)
    if not isinstance(out, torch.Tensor):
        raise Feedback(f"on {label}: expected a torch.Tensor, got {type(out).__name__}")
    if out.shape != o.shape:
        raise Feedback(f"on {label}: wrong shape {tuple(out.shape)}; the head works element-wise")
    if not out.requires_grad:
        raise Feedback(f"on {label}: the result is detached from the graph (no gradient flows back)")
    (grad,) = torch.autograd.grad(out.sum(), o, allow_unused=True)
    if grad is None:
        raise Feedback(f"on {label}: the result does not depend on the input (no gradient)")
    return out.detach(), grad


def _hint(message: str, float64: bool) -> str:
    if message.startswith("gradient") and "NaN" in message:
        return " (torch.where does not stop NaN gradients from the unselected branch: clamp its input)"
    if float64 and "differ from the reference" in message:
        return (" (float64 asks for relative accuracy 1e-12: no linear switch above a threshold,"
                " no log(1 + tiny) that rounds to 0)")
    return ""


@exercise("positive.softplus", reference=softplus, answer="my_softplus", time_limit=5,
          forbidden=("torch.nn.functional.softplus", "torch.nn.Softplus", "course_pkg.transforms"))
def _(answer):
    """my_softplus(o) = log(1 + exp(o)), exact at ±1000 and at -30 in float64, gradient sigmoid(o) incl. at 0."""
    if not callable(answer):
        raise Feedback(f"expected a function, got {type(answer).__name__}")
    g = case_generator(41)
    f32 = [
        ("o = 0 (value and gradient at the kink of max(o, 0))", (torch.zeros(3),)),
        ("random float32 raw outputs", (torch.randn(4, 5, generator=g) * 4,)),
        ("float32 raw outputs ±100 and ±1000", (torch.tensor([-1000.0, -100.0, 100.0, 1000.0]),)),
    ]
    f64 = [
        ("float64 o = 0", (torch.zeros(2, dtype=torch.float64),)),
        ("float64 raw outputs ±1000", (torch.tensor([-1000.0, 1000.0], dtype=torch.float64),)),
        ("float64 raw outputs far below 0 (o = -30, -40, -700)",
         (torch.tensor([-30.0, -40.0, -700.0], dtype=torch.float64),)),
        ("float64 raw outputs between 15 and 40",
         (torch.linspace(15.0, 40.0, 11, dtype=torch.float64),)),
        ("random float64 raw outputs", (torch.randn(6, 3, generator=g, dtype=torch.float64) * 10,)),
    ]
    for cases, tol in ((f32, F32_TOL), (f64, F64_TOL)):
        try:
            check_function(answer, _softplus_ref, cases, grad=True, **tol)
        except Feedback as fb:
            raise Feedback(f"{fb}{_hint(str(fb), tol is F64_TOL)}") from None
    return f"values and gradients match in float32 and float64 on {len(f32) + len(f64)} input sets"


@exercise("positive.positive_head", reference=softplus, answer="positive_head", time_limit=5)
def _(answer):
    """positive_head(o): softplus(o) for any float32 o, finite at o = 1000, with gradient sigmoid(o) (never dead)."""
    if not callable(answer):
        raise Feedback(f"expected a function, got {type(answer).__name__}")
    # Targeted diagnoses first: the two bugs of the exercise.
    _, grad = _probe(answer, torch.tensor([-3.0, -1.0, -0.5]), "negative raw outputs")
    if bool((grad == 0).all()):
        raise Feedback("on negative raw outputs the gradient is exactly 0: this head dies like ReLU")
    value, grad = _probe(answer, torch.tensor([50.0, 100.0, 1000.0]), "large raw outputs (50, 100, 1000)")
    if not bool(torch.isfinite(value).all()):
        raise Feedback("on large raw outputs (50, 100, 1000) the value overflows to inf or NaN: exp(o) is evaluated unguarded")
    if not bool(torch.isfinite(grad).all()):
        raise Feedback("on large raw outputs (50, 100, 1000) the gradient is inf or NaN; "
                       "beware: torch.where does not stop NaN gradients from the unselected branch")
    g = case_generator(42)
    at_zero = torch.zeros(2)
    compare_tensors(answer(at_zero.clone()), _softplus_ref(at_zero), what="on o = 0", atol=1e-5, rtol=1e-5)
    random = torch.randn(16, 1, generator=g) * 3
    random[random == 0] = 0.5  # the gradient is compared away from the kink at exactly 0
    cases = [
        ("random raw outputs of shape (16, 1)", (random,)),
        ("raw outputs ±100 and ±1000", (torch.tensor([-1000.0, -100.0, 100.0, 1000.0]),)),
        ("raw outputs from -20 to 20 (0 excluded)", (torch.linspace(-20.0, 20.0, 40),)),
    ]
    check_function(answer, _softplus_ref, cases, grad=True, atol=1e-5, rtol=1e-5)
    return f"a positive head that neither dies nor overflows: matches on {len(cases) + 3} input sets"
