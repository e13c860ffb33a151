"""Checks for chapter 5, Binary classification."""
import math

import torch

from course_pkg.decisions import predict_labels
from course_pkg.homework.checking import KINK_SLOPES, Feedback, case_generator, check_function
from course_pkg.homework.registry import exercise
from course_pkg.losses import bce_with_logits
from course_pkg.transforms import sigmoid


def _bce_cases(seed: int):
    g = case_generator(seed)
    labels = (torch.rand(6, 4, generator=g) > 0.5).float()
    return [
        ("random float32 logits, 0/1 targets of shape (6, 4)", (torch.randn(6, 4, generator=g) * 3, labels)),
        ("a column of logits of shape (5, 1)", (torch.randn(5, 1, generator=g), (torch.arange(5.0) % 2).unsqueeze(1))),
        ("logits ±100 (confidently right and wrong)",
         (torch.tensor([100.0, -100.0, 100.0, -100.0]), torch.tensor([1.0, 0.0, 0.0, 1.0]))),
        ("logits ±1000", (torch.tensor([1000.0, -1000.0, 1000.0, -1000.0]), torch.tensor([0.0, 1.0, 1.0, 0.0]))),
        ("logits 20 and -20 (where a float32 sigmoid has already rounded)",
         (torch.tensor([20.0, -20.0]), torch.tensor([0.0, 1.0]))),
        ("soft targets in [0, 1]", (torch.randn(8, generator=g) * 5, torch.rand(8, generator=g))),
        ("a single zero logit", (torch.zeros(1), torch.ones(1))),
    ]


def _float64_cases(seed: int):
    g = case_generator(seed)
    z = torch.randn(10, generator=g, dtype=torch.float64) * 30
    y = (torch.rand(10, generator=g, dtype=torch.float64) > 0.5).double()
    return [("float64 logits up to about ±90", (z, y)),
            ("float64 logits ±1000", (torch.tensor([1000.0, -1000.0], dtype=torch.float64),
                                      torch.tensor([0.0, 1.0], dtype=torch.float64))),
            # float32 stores 1000 + 1/3 only to about 2e-5, twice the tolerance: a float32 detour fails here.
            ("float64 logits ±(1000 + 1/3), confidently wrong",
             (torch.tensor([1000 + 1 / 3, -1000 - 1 / 3], dtype=torch.float64),
              torch.tensor([0.0, 1.0], dtype=torch.float64)))]


def _must_refuse_mismatch(answer):
    """The exercise text asks for a ValueError on mismatched shapes; an assert (AssertionError) is not one."""
    logits, target = torch.zeros(4, 1), torch.zeros(4)
    try:
        answer(logits, target)
    except ValueError:
        return
    except AssertionError:
        raise Feedback("mismatched shapes raise an AssertionError; raise a ValueError as the exercise asks "
                       "(an assert is for bugs in your own code and disappears under python -O)") from None
    except Exception as err:  # noqa: BLE001  (any other refusal is named, not accepted)
        raise Feedback(f"mismatched shapes raise {type(err).__name__}; raise a ValueError as the exercise asks") \
            from None
    raise Feedback("logits of shape (4, 1) with target of shape (4,) must raise a ValueError, not broadcast "
                   "to a (4, 4) table of every pair")


def _slope_at_zero(answer):
    """Name a formula built on clamp and |z| (PyTorch's own stable one): right value at the logit 0, wrong slope."""
    z, y = torch.zeros(1, requires_grad=True), torch.ones(1)
    try:
        got = answer(z, y)
        if not (isinstance(got, torch.Tensor) and got.numel() == 1 and got.requires_grad):
            return
        (grad,) = torch.autograd.grad(got.sum(), z)
    except Exception:  # noqa: BLE001  the full check below reports errors and wrong values
        return
    value, slope = got.detach().double().item(), grad.double().item()
    if abs(value - math.log(2)) < 1e-5 and math.isfinite(slope) and abs(slope + 0.5) > 1e-3:
        raise Feedback(f"at the logit 0 with target 1 the gradient is {slope:.3g}, not sigmoid(0) - 1 = -0.5: "
                       f"{KINK_SLOPES}; write softplus(z) as torch.logaddexp(torch.zeros_like(z), z)")


def _check_bce(answer, seed: int, refuse_mismatch: bool = True):
    if not callable(answer):
        raise Feedback(f"expected a function, got {type(answer).__name__}")
    z = torch.tensor([3.0, -2.0, 0.5])
    y = torch.tensor([1.0, 0.0, 1.0])
    got = answer(z, y)
    if isinstance(got, torch.Tensor) and got.shape == (3,):
        raise Feedback("the result has one entry per example; return the mean over all entries (a scalar)")
    if isinstance(got, torch.Tensor) and got.shape == () and got.dtype == z.dtype:
        if torch.isclose(got, bce_with_logits(sigmoid(z), y), atol=1e-6) and not torch.isclose(
                got, bce_with_logits(z, y), atol=1e-6):
            raise Feedback("it looks like a sigmoid is applied before a loss that applies its own: pass raw logits")
        if torch.isclose(got, 3 * bce_with_logits(z, y), atol=1e-5) and not torch.isclose(
                got, bce_with_logits(z, y), atol=1e-5):
            raise Feedback("the value is the sum over examples; use mean reduction")
    _slope_at_zero(answer)
    check_function(answer, bce_with_logits, _bce_cases(seed), atol=1e-5, rtol=1e-5, grad=True)
    # float64 at 1e-8: F.softplus switches to the identity above 20 (error e^-20 = 2e-9 per entry, in value and
    # gradient), a correct formulation that a tolerance of 1e-10 failed on some seeds; a float32 detour
    # (relative error ~1e-7) still fails.
    check_function(answer, bce_with_logits, _float64_cases(seed + 1), atol=1e-8, rtol=1e-8, grad=True)
    if refuse_mismatch:
        _must_refuse_mismatch(answer)
    return "value and gradient match on float32 and float64 inputs, including logits ±1000"


@exercise("binary.bce_with_logits", reference=bce_with_logits, answer="my_bce_with_logits", time_limit=10,
          forbidden=("course_pkg", "torch.nn.functional.binary_cross_entropy_with_logits",
                     "torch.binary_cross_entropy_with_logits", "torch.nn.BCEWithLogitsLoss"))
def _(answer):
    """my_bce_with_logits(logits, target): mean BCE on raw logits, stable at ±1000, float64 too."""
    return _check_bce(answer, 51)


@exercise("binary.fixed_loss", reference=bce_with_logits, answer="fixed_loss", time_limit=10)
def _(answer):
    """fixed_loss(logits, y): the training loss without the sigmoid-then-BCELoss bug."""
    if not callable(answer):
        raise Feedback(f"expected a function, got {type(answer).__name__}")
    z = torch.tensor([20.0, -100.0, 1.0], requires_grad=True)
    y = torch.tensor([0.0, 1.0, 1.0])
    got = answer(z, y)
    if not isinstance(got, torch.Tensor) or got.shape != ():
        raise Feedback("return one scalar tensor, the mean loss over the batch")
    if not got.requires_grad:
        raise Feedback("the loss is detached from the graph: no gradient would reach the model")
    # Name the usual mistakes by their value on these logits, before the general comparison.
    zd = z.detach()
    if got.is_floating_point() and got.dtype == zd.dtype:
        value = got.detach().double()
        candidates = {
            "a sigmoid is still applied before a loss on probabilities (BCELoss(sigmoid(z), y)); pass the raw "
            "logits to a loss that applies the sigmoid itself": torch.nn.BCELoss()(sigmoid(zd), y),
            "a sigmoid is applied before a loss that applies its own: pass raw logits": bce_with_logits(sigmoid(zd), y),
            "the targets seem flipped (the loss of 1 - y): check which label the logit stands for":
                bce_with_logits(zd, 1 - y),
        }
        right = bce_with_logits(zd, y).double()
        for message, wrong in candidates.items():
            if bool(torch.isclose(value, wrong.double(), rtol=1e-4, atol=1e-6)) and not bool(
                    torch.isclose(value, right, rtol=1e-4, atol=1e-6)):
                raise Feedback(message)
    (grad,) = torch.autograd.grad(got, z)
    if not bool(torch.isfinite(grad).all()) or bool((grad[:2].abs() < 1e-3).any()):
        raise Feedback("confidently wrong logits (20 with y = 0, -100 with y = 1) still get (almost) no gradient: "
                       "the loss saturates there; compute it from the raw logits")
    # The exercise does not ask fixed_loss to refuse mismatched shapes (its inputs have the same shape).
    return _check_bce(answer, 52, refuse_mismatch=False)


_EDGE_LABEL = "the float32 logit 0.1 with threshold sigma(0.1), where the cut itself rounds to that logit"


def _label_cases(seed: int):
    g = case_generator(seed)
    return [
        ("random logits, threshold 0.5", (torch.randn(50, generator=g) * 4, 0.5)),
        ("random logits of shape (10, 1), threshold 0.8", (torch.randn(10, 1, generator=g) * 3, 0.8)),
        ("random logits, threshold 0.05", (torch.randn(40, generator=g) * 4, 0.05)),
        ("logits ±1000, threshold 0.3", (torch.tensor([1000.0, -1000.0, 2.0, -2.0]), 0.3)),
        ("float64 logits, threshold 0.99", (torch.randn(30, generator=g, dtype=torch.float64) * 8, 0.99)),
        ("float32 logits 15 to 25 with threshold 1 - 1e-9 (a float32 sigmoid is exactly 1 above 16.6)",
         (torch.tensor([15.0, 17.0, 18.0, 19.0, 20.0, 21.0, 22.0, 25.0]), 1 - 1e-9)),
        # sigma(float32(0.1)) > sigma(0.1) = t, but the cut log(t / (1 - t)) rounds to float32(0.1) itself.
        (_EDGE_LABEL, (torch.tensor([0.1, -0.1, 0.0999]), 1 / (1 + math.exp(-0.1)))),
    ]


@exercise("binary.predict_labels", reference=predict_labels, answer="my_predict_labels", time_limit=10,
          forbidden=("course_pkg",))
def _(answer):
    """predict_labels(logits, threshold_prob): 0/1 labels for sigma(z) > t, right even where sigma rounds to 1."""
    if not callable(answer):
        raise Feedback(f"expected a function, got {type(answer).__name__}")
    for label, (z, t) in _label_cases(53):
        got = answer(z.clone(), t)
        expected = predict_labels(z, t)
        if not isinstance(got, torch.Tensor):
            raise Feedback(f"on {label}: expected a torch.Tensor, got {type(got).__name__}")
        if got.shape != expected.shape:
            raise Feedback(f"on {label}: wrong shape {tuple(got.shape)}; keep the shape of the logits")
        if got.is_complex() or not bool(((got == 0) | (got == 1)).all()):
            raise Feedback(f"on {label}: the result must hold only 0 and 1 (labels, not probabilities)")
        wrong = int((got.detach().cpu().double() != expected.cpu().double()).sum())
        if wrong and label == _EDGE_LABEL:
            raise Feedback(f"on {label}: {wrong} of {z.numel()} labels are wrong; comparing a float32 tensor "
                           "with a Python float rounds the cut to float32 first: compare in float64")
        if wrong:
            raise Feedback(f"on {label}: {wrong} of {z.numel()} labels are wrong; compare the logit with "
                           "log(t / (1 - t)) instead of rounding through a sigmoid")
    return "right labels at every threshold, including where a float32 sigmoid has rounded to 1"
