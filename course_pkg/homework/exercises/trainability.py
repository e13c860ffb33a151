"""Checks for chapter 2, Trainability through transformations."""
import torch

from course_pkg.estimators import soft_threshold, straight_through_threshold
from course_pkg.homework.checking import Feedback, case_generator, check_function
from course_pkg.homework.registry import exercise


def _require_function(answer):
    if not callable(answer):
        raise Feedback(f"expected a function, got {type(answer).__name__}")


def _require_graph(answer, *args):
    """Fail early, with the chapter's diagnosis, when the answer's output carries no gradient."""
    o = args[0].clone().requires_grad_(True)
    got = answer(o, *args[1:])
    if isinstance(got, torch.Tensor) and got.is_floating_point() and not got.requires_grad:
        raise Feedback("the result is detached from the graph: a comparison such as o > at returns booleans, "
                       "which carry no gradient (converting them to float does not bring it back)")


@exercise("trainability.ste_threshold", reference=straight_through_threshold, answer="ste_threshold",
          time_limit=5, forbidden=("course_pkg",))
def _(answer):
    """ste_threshold(o): hard 0/1 step (o > 0) forward, sigmoid'(o) backward, dtype kept, finite at ±1000."""
    _require_function(answer)
    g = case_generator(21)
    # Values exactly at the threshold get their own case, so the feedback can say where the step is wrong.
    at_zero = torch.tensor([0.0, -0.0])
    got = answer(at_zero.clone().requires_grad_(True))
    if isinstance(got, torch.Tensor) and got.shape == at_zero.shape and bool((got.detach() == 1).any()):
        raise Feedback("on inputs exactly 0: the step must be strict (o > 0), not o >= 0")
    _require_graph(answer, torch.randn(4, generator=g))
    cases = [
        ("random float32 outputs of shape (5, 3)", (torch.randn(5, 3, generator=g) * 3,)),
        ("outputs ±1000 and 0", (torch.tensor([-1000.0, -30.0, 0.0, 1e-6, 30.0, 1000.0]),)),
        ("float64 outputs", (torch.randn(7, generator=g, dtype=torch.float64) * 5,)),
    ]
    return check_function(answer, straight_through_threshold, cases, atol=1e-6, rtol=1e-5, grad=True)


@exercise("trainability.prob_above", reference=soft_threshold, answer="prob_above", time_limit=5)
def _(answer):
    """prob_above(o, at, temperature) = sigmoid((o - at) / temperature), differentiable and stable."""
    _require_function(answer)
    g = case_generator(22)
    _require_graph(answer, torch.randn(4, generator=g), 0.0, 1.0)
    cases = [
        ("random float32 outputs, at=0, temperature=1", (torch.randn(4, 3, generator=g), 0.0, 1.0)),
        ("outputs ±1000, at=0.5, temperature=1", (torch.tensor([-1000.0, 0.0, 0.5, 1000.0]), 0.5, 1.0)),
        ("a small temperature 0.05, at=-1", (torch.randn(6, generator=g) - 1, -1.0, 0.05)),
        ("float64 outputs, at=2, temperature=3", (torch.randn(5, generator=g, dtype=torch.float64) * 4, 2.0, 3.0)),
    ]
    return check_function(answer, soft_threshold, cases, atol=1e-6, rtol=1e-5, grad=True)
