"""Checks for chapter 2, Trainability through transformations.

Besides comparing with the reference, the checks recognise a few typical mistakes and name them, where a student
would otherwise see only a mismatch or a raw ``RuntimeError``: changing the input in place, a straight-through
gradient with the wrong sign or cancelled to 0, and ``o - at / temperature`` (division binds first).
"""
import torch

from course_pkg.estimators import soft_threshold, straight_through_threshold
from course_pkg.homework.checking import Feedback, case_generator, check_function
from course_pkg.homework.registry import exercise


def _require_function(answer):
    if not callable(answer):
        raise Feedback(f"expected a function, got {type(answer).__name__}")


_IN_PLACE = ("your function changes its input in place (o[...] = ..., o += ..., or a method ending in _ such as "
             "o.clamp_()), which autograd cannot differentiate through and which would also overwrite the caller's "
             "tensor: build a new tensor instead (torch.where, (o > 0).to(o.dtype), o + ...)")


def _named_mistakes(answer):
    """``answer``, with the ``RuntimeError`` an in-place change of its input raises turned into feedback that says so."""
    if isinstance(answer, type):   # check_function's own message for a class
        return answer

    def call(*args):
        try:
            return answer(*args)
        except RuntimeError as err:
            text = str(err)
            if "in-place operation" in text or "modified by an inplace operation" in text:
                raise Feedback(_IN_PLACE) from None
            raise
    return call


def _close(got, expected) -> bool:
    return (isinstance(got, torch.Tensor) and got.shape == expected.shape
            and torch.allclose(got.detach().to(expected.dtype), expected, atol=1e-6, rtol=1e-5))


def _ste_gradient_mistakes(answer):
    """Right values but a straight-through gradient of the wrong sign, or one that cancels to 0: name the mistake."""
    o = torch.tensor([-2.0, -0.5, 0.5, 2.0], requires_grad=True)
    try:
        got = answer(o)
        (grad,) = torch.autograd.grad(got.sum(), o, allow_unused=True)
    except Feedback:
        raise
    except Exception:      # anything else is reported by the full comparison
        return
    slope = torch.sigmoid(o.detach()) * (1 - torch.sigmoid(o.detach()))
    if not _close(got, (o.detach() > 0).float()) or grad is None:
        return
    if _close(grad, -slope):
        raise Feedback("the values are right but the gradient has the wrong sign: the bracket must be "
                       "soft - soft.detach(), not soft.detach() - soft")
    if _close(grad, torch.zeros_like(slope)):
        raise Feedback("the values are right but the gradient is 0 everywhere: in soft - soft both terms are in the "
                       "graph and cancel; detach the second one, soft - soft.detach()")


def _prob_above_mistakes(answer):
    """Recognise ``o - at / temperature`` (precedence), a multiplied temperature, and an ignored argument."""
    o, at, temperature = torch.tensor([-1.5, -0.2, 0.4, 1.0, 2.5]), 0.5, 2.0
    try:
        got = answer(o.clone(), at, temperature)
    except Feedback:
        raise
    except Exception:      # reported by the full comparison
        return
    if _close(got, torch.sigmoid((o - at) / temperature)):
        return
    mistakes = [
        (torch.sigmoid(o - at / temperature), "it looks like o - at / temperature: division binds tighter than "
         "subtraction, so only at was divided; write (o - at) / temperature"),
        (torch.sigmoid((o - at) * temperature), "it looks like the temperature multiplies o - at: divide by it "
         "instead, so that a larger temperature gives a softer step"),
        (torch.sigmoid(o - at), "the temperature is ignored: divide o - at by it"),
        (torch.sigmoid(o / temperature), "at is ignored: the step must sit at o = at, so subtract it first"),
    ]
    for candidate, message in mistakes:
        if _close(got, candidate):
            raise Feedback(message)


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
    answer = _named_mistakes(answer)
    g = case_generator(21)
    # Values exactly at the threshold get their own case, so the feedback can say where the step is wrong.
    at_zero = torch.tensor([0.0, -0.0])
    got = answer(at_zero.clone().requires_grad_(True))
    if isinstance(got, torch.Tensor) and got.shape == at_zero.shape and bool((got.detach() == 1).any()):
        raise Feedback("on inputs exactly 0: the step must be strict (o > 0), not o >= 0")
    _require_graph(answer, torch.randn(4, generator=g))
    _ste_gradient_mistakes(answer)
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
    answer = _named_mistakes(answer)
    g = case_generator(22)
    _require_graph(answer, torch.randn(4, generator=g), 0.0, 1.0)
    _prob_above_mistakes(answer)
    cases = [
        ("random float32 outputs, at=0, temperature=1", (torch.randn(4, 3, generator=g), 0.0, 1.0)),
        ("outputs -1000, 0, 0.5 and 1000, at=0.5, temperature=1", (torch.tensor([-1000.0, 0.0, 0.5, 1000.0]), 0.5, 1.0)),
        # float64: at (o - at)/T ~ 10 a float32 sigmoid' (or tanh') keeps only ~3 digits, whichever correct
        # formula (sigmoid, 1 - sigmoid((at - o)/T), the tanh identity) a student writes; float64 keeps ~12.
        ("float64 outputs, a small temperature 0.05, at=-1",
         (torch.randn(6, generator=g, dtype=torch.float64) - 1, -1.0, 0.05)),
        ("float64 outputs, at=2, temperature=3", (torch.randn(5, generator=g, dtype=torch.float64) * 4, 2.0, 3.0)),
    ]
    return check_function(answer, soft_threshold, cases, atol=1e-6, rtol=1e-5, grad=True)
