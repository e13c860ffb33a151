"""Checks of chapter 3's exercises: the reference passes, wrong variants fail without revealing the answer."""
import torch

from course_pkg.homework import Status, check_quietly
from course_pkg.transforms import scale_to_range


def scale_ok(o, low, high):
    return low + (high - low) * torch.sigmoid(o)   # course_pkg.transforms is forbidden by the exercise


def test_scale_to_range_reference_and_wrong_variants():
    assert check_quietly("regression.scale_to_range", scale_ok).status is Status.PASSED
    reference = check_quietly("regression.scale_to_range", scale_to_range)   # to_range = scale_to_range
    assert reference.status is Status.FLAGGED and "scale_to_range" in reference.message, reference
    # The book's solution: -|o| written with torch.where has slope -1 at o = 0 on every torch version.
    def where_form(o, lo, hi):
        e = torch.exp(torch.where(o >= 0, -o, o))
        return lo + (hi - lo) * torch.where(o >= 0, 1 / (1 + e), e / (1 + e))
    assert check_quietly("regression.scale_to_range", where_form).status is Status.PASSED
    naive = check_quietly("regression.scale_to_range", lambda o, lo, hi: lo + (hi - lo) / (1 + torch.exp(-o)))
    assert naive.status is Status.FAILED and "NaN" in naive.message
    kink = check_quietly("regression.scale_to_range",
                         lambda o, lo, hi: lo + (hi - lo) * torch.where(o >= 0, 1 / (1 + torch.exp(-o.abs())),
                                                                          torch.exp(-o.abs()) / (1 + torch.exp(-o.abs()))))
    assert kink.status is Status.FAILED and "gradient" in kink.message
    wrong_dtype = check_quietly("regression.scale_to_range", lambda o, lo, hi: scale_ok(o, lo, hi).float())
    assert wrong_dtype.status is Status.FAILED and "dtype" in wrong_dtype.message


def test_fixed_mse_reference_and_broadcast_bug():
    ok = check_quietly("regression.fixed_mse", lambda p, t: ((p.reshape(-1) - t) ** 2).mean())
    assert ok.status is Status.PASSED
    bug = check_quietly("regression.fixed_mse", lambda p, t: ((p - t) ** 2).mean())
    assert bug.status is Status.FAILED and "(4, 1)" in bug.message
    raising = check_quietly("regression.fixed_mse", lambda p, t: 1 / 0)
    assert raising.status is Status.ERROR and "ZeroDivisionError" in raising.message
    assert check_quietly("regression.fixed_mse", None).status is Status.NOT_ATTEMPTED


def test_scale_to_range_names_the_lost_slope_at_zero():
    kink = check_quietly("regression.scale_to_range",
                         lambda o, lo, hi: lo + (hi - lo) * torch.where(o >= 0, 1 / (1 + torch.exp(-o.abs())),
                                                                          torch.exp(-o.abs()) / (1 + torch.exp(-o.abs()))))
    assert kink.status is Status.FAILED and "o = 0" in kink.message and "torch.where" in kink.message
    # a formula that is wrong everywhere is not blamed on the slope at 0
    off = check_quietly("regression.scale_to_range", lambda o, lo, hi: scale_ok(o, lo, hi) + 1)
    assert off.status is Status.FAILED and "o = 0" not in off.message


def test_fixed_mse_names_a_sum_and_the_broadcast():
    summed = check_quietly("regression.fixed_mse", lambda p, t: ((p.reshape(-1) - t) ** 2).sum())
    assert summed.status is Status.FAILED and "sum of the squared errors" in summed.message
    broadcast = check_quietly("regression.fixed_mse", lambda p, t: ((p - t) ** 2).mean())
    assert broadcast.status is Status.FAILED and "(4, 4) table" in broadcast.message
    halved = check_quietly("regression.fixed_mse", lambda p, t: ((p.reshape(-1) - t) ** 2).mean() / 2)
    assert halved.status is Status.FAILED and "sum" not in halved.message and "table" not in halved.message
