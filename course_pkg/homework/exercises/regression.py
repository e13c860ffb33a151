"""Checks for chapter 3, Regression."""
import torch

from course_pkg.homework.checking import check_function
from course_pkg.homework.registry import exercise
from course_pkg.runtime import generator
from course_pkg.transforms import scale_to_range


@exercise("regression.scale_to_range", time_limit=5)
def _(answer):
    """to_range(o, low, high) = low + (high - low) * sigmoid(o), stable at |o| = 1000."""
    g = generator(31)
    cases = [
        ("random logits in [10, 100]", (torch.randn(5, 3, generator=g), 10.0, 100.0)),
        ("logits ±1000", (torch.tensor([-1000.0, 0.0, 1000.0]), -1.0, 1.0)),
        ("float64 logits", (torch.randn(7, generator=g, dtype=torch.float64) * 20, 0.0, 5.0)),
    ]
    return check_function(answer, scale_to_range, cases, atol=1e-5, rtol=1e-5, grad=True)
