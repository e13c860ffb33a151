"""Checks for chapter 3, Regression."""
import torch

from course_pkg.homework.checking import KINK_SLOPES, Feedback, case_generator, check_function
from course_pkg.homework.registry import exercise
from course_pkg.losses import mse
from course_pkg.transforms import scale_to_range


def _slope_at_zero(answer):
    """Name the usual slip at o = 0: -|o| (or a clamp) whose autograd slope there is 0, not (high - low) / 4."""
    o = torch.zeros(1, requires_grad=True)
    try:
        out = answer(o, -1.0, 1.0)
        if not (isinstance(out, torch.Tensor) and out.shape == (1,) and out.requires_grad):
            return
        (grad,) = torch.autograd.grad(out.sum(), o)
    except Exception:  # noqa: BLE001  the full check below reports errors and wrong values
        return
    if torch.isfinite(grad).all() and abs(grad.item()) < 1e-4 and abs(out.item()) < 1e-4:
        raise Feedback(f"at o = 0 the gradient is {grad.item():.3g}, not (high - low)/4 = 0.5 (low = -1, high = 1): "
                       f"{KINK_SLOPES}; pick each branch's input with torch.where")


@exercise("regression.scale_to_range", reference=scale_to_range, answer="to_range", time_limit=5,
          forbidden=("course_pkg.transforms",))
def _(answer):
    """to_range(o, low, high) = low + (high - low) * sigmoid(o), stable at |o| = 1000."""
    if callable(answer):
        _slope_at_zero(answer)
    g = case_generator(31)
    cases = [
        ("standard-normal logits, range [10, 100]", (torch.randn(5, 3, generator=g), 10.0, 100.0)),
        ("logits -1000, 0 and 1000", (torch.tensor([-1000.0, 0.0, 1000.0]), -1.0, 1.0)),
        ("float64 logits", (torch.randn(7, generator=g, dtype=torch.float64) * 20, 0.0, 5.0)),
    ]
    return check_function(answer, scale_to_range, cases, atol=1e-5, rtol=1e-5, grad=True)


def _fixed_mse_ref(pred, target):
    return mse(pred.reshape(-1), target)


def _name_the_reduction(answer):
    """A sum instead of a mean, or the (N, N) broadcast, gets a name instead of a bare number."""
    pred, target = torch.tensor([[1.0], [2.0], [4.0], [0.0]]), torch.tensor([0.0, 2.0, 1.0, 1.0])
    try:
        got = answer(pred.clone(), target.clone())
    except Exception:  # noqa: BLE001  the full check below reports it
        return
    if not (isinstance(got, torch.Tensor) and got.numel() == 1):
        return
    value, right = got.detach().double().item(), _fixed_mse_ref(pred, target).item()
    if abs(value - right) < 1e-5:
        return
    if abs(value - 4 * right) < 1e-4:
        raise Feedback("the value is the sum of the squared errors over the samples, N times too large: "
                       "take their mean")
    if abs(value - ((pred - target) ** 2).mean().item()) < 1e-5:
        raise Feedback("for pred of shape (4, 1) and target of shape (4,) the value is the mean over a (4, 4) table "
                       "of every prediction against every target: make the shapes agree before subtracting")


@exercise("regression.fixed_mse", reference=_fixed_mse_ref, answer="fixed_mse", time_limit=5)
def _(answer):
    """fixed_mse(pred, target): MSE of predictions of shape (N, 1) against targets of shape (N,), no broadcasting."""
    if callable(answer):
        _name_the_reduction(answer)
    g = case_generator(32)
    cases = []
    for n in (1, 5, 64):
        pred, target = torch.randn(n, 1, generator=g), torch.randn(n, generator=g) * 3
        cases.append((f"pred of shape ({n}, 1) and target of shape ({n},)", (pred, target)))
    cases.append(("float64 inputs of 7 samples",
                  (torch.randn(7, 1, generator=g, dtype=torch.float64), torch.randn(7, generator=g, dtype=torch.float64))))
    return check_function(answer, _fixed_mse_ref, cases, atol=1e-6, rtol=1e-6, grad=True)
