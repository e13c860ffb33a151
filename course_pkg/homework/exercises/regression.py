"""Checks for chapter 3, Regression."""
import torch

from course_pkg.homework.checking import case_generator, check_function
from course_pkg.homework.registry import exercise
from course_pkg.losses import mse
from course_pkg.transforms import scale_to_range


@exercise("regression.scale_to_range", reference=scale_to_range, answer="to_range", time_limit=5,
          forbidden=("course_pkg.transforms",))
def _(answer):
    """to_range(o, low, high) = low + (high - low) * sigmoid(o), stable at |o| = 1000."""
    g = case_generator(31)
    cases = [
        ("random logits in [10, 100]", (torch.randn(5, 3, generator=g), 10.0, 100.0)),
        ("logits ±1000", (torch.tensor([-1000.0, 0.0, 1000.0]), -1.0, 1.0)),
        ("float64 logits", (torch.randn(7, generator=g, dtype=torch.float64) * 20, 0.0, 5.0)),
    ]
    return check_function(answer, scale_to_range, cases, atol=1e-5, rtol=1e-5, grad=True)


def _fixed_mse_ref(pred, target):
    return mse(pred.reshape(-1), target)


@exercise("regression.fixed_mse", reference=_fixed_mse_ref, answer="fixed_mse", time_limit=5)
def _(answer):
    """fixed_mse(pred, target): MSE of predictions of shape (N, 1) against targets of shape (N,), no broadcasting."""
    g = case_generator(32)
    cases = []
    for n in (1, 5, 64):
        pred, target = torch.randn(n, 1, generator=g), torch.randn(n, generator=g) * 3
        cases.append((f"pred of shape ({n}, 1) and target of shape ({n},)", (pred, target)))
    cases.append(("float64 inputs of 7 samples",
                  (torch.randn(7, 1, generator=g, dtype=torch.float64), torch.randn(7, generator=g, dtype=torch.float64))))
    return check_function(answer, _fixed_mse_ref, cases, atol=1e-6, rtol=1e-6, grad=True)
