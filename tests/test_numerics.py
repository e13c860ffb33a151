"""Tests for course_pkg.numerics.float_boundary."""
import math

import pytest
import torch

from course_pkg.numerics import float_boundary
from course_pkg.transforms import softplus


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_exp_overflow_matches_log_of_largest_float(dtype):
    b = float_boundary(lambda o: torch.isinf(torch.exp(o)), true_at=1e4, false_at=0.0, dtype=dtype)
    assert abs(b - math.log(torch.finfo(dtype).max)) < 1e-5 * abs(b)
    t = torch.tensor(b, dtype=dtype)
    below = torch.nextafter(t, torch.tensor(0.0, dtype=dtype))
    assert torch.isinf(torch.exp(t)) and torch.isfinite(torch.exp(below))


@pytest.mark.parametrize("dtype, lo, hi", [(torch.float32, -104.0, -102.0), (torch.float64, -746.0, -743.0)])
def test_softplus_reaches_zero_and_neighbour_does_not(dtype, lo, hi):
    b = float_boundary(lambda o: softplus(o) == 0, true_at=-2000.0, false_at=0.0, dtype=dtype)
    assert lo < b < hi
    t = torch.tensor(b, dtype=dtype)
    assert softplus(t).item() == 0.0
    assert softplus(torch.nextafter(t, torch.tensor(0.0, dtype=dtype))).item() > 0.0


def test_exact_boundary_and_either_bracket_order():
    assert float_boundary(lambda o: o >= 2.5, 10.0, 0.0, dtype=torch.float64) == 2.5
    assert float_boundary(lambda o: o <= -1.0, -10.0, 5.0, dtype=torch.float64) == -1.0
    # the answer is a dtype number: the float32 neighbours of 0.1 bracket the switch
    b = float_boundary(lambda o: o >= 0.1, 1.0, 0.0, dtype=torch.float32)
    assert b == torch.tensor(0.1, dtype=torch.float32).item()


def test_float16_and_bfloat16():
    # bfloat16 numbers near 88 are 0.5 apart, so the boundary is only that precise
    for dtype, tol in ((torch.float16, 0.01), (torch.bfloat16, 0.5)):
        b = float_boundary(lambda o: torch.isinf(torch.exp(o.float()).to(dtype)), 100.0, 0.0, dtype=dtype)
        assert abs(b - math.log(torch.finfo(dtype).max)) <= tol


@pytest.mark.parametrize("kwargs, error", [
    ({"predicate": "not callable"}, TypeError),
    ({"dtype": torch.int64}, TypeError),
    ({"true_at": float("nan")}, ValueError),
    ({"true_at": "1"}, TypeError),
    ({"false_at": 1e300}, ValueError),       # not finite in float32
    ({"true_at": 3.0, "false_at": 3.0}, ValueError),
    ({"true_at": 0.0, "false_at": 10.0}, ValueError),   # predicate fails at true_at
    ({"max_steps": 0}, ValueError),
])
def test_bad_inputs(kwargs, error):
    args = {"predicate": lambda o: o >= 2.5, "true_at": 10.0, "false_at": 0.0, "dtype": torch.float32}
    args.update(kwargs)
    with pytest.raises(error):
        float_boundary(**args)


def test_predicate_true_at_both_ends_is_refused():
    with pytest.raises(ValueError, match="false_at"):
        float_boundary(lambda o: True, 1.0, 0.0)


def test_gives_up_after_max_steps():
    with pytest.raises(RuntimeError, match="max_steps"):
        float_boundary(lambda o: o >= 2.5, 10.0, 0.0, dtype=torch.float64, max_steps=3)
