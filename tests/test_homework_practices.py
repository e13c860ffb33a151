"""Tests for the chapter 7 checks: the reference passes, typical mistakes fail without revealing answers."""
import torch
import torch.nn.functional as F

from course_pkg.homework import Status, check_quietly
from course_pkg.inference import predict_multiclass


def _no_numbers(message):
    # feedback may name sizes and tolerances, but never probabilities or losses
    assert "0." not in message.replace("atol=", ""), message


def test_predict_multiclass_reference_passes():
    assert check_quietly("practices.predict_multiclass", predict_multiclass).status is Status.FLAGGED  # course_pkg


def test_predict_multiclass_torch_solution_passes():
    def answer(logits):
        return torch.softmax(logits, dim=-1), torch.argmax(logits, dim=-1)
    assert check_quietly("practices.predict_multiclass", answer).status is Status.PASSED


def test_predict_multiclass_wrong_dim():
    def answer(logits):
        return torch.softmax(logits, dim=0), torch.argmax(logits, dim=-1)
    res = check_quietly("practices.predict_multiclass", answer)
    assert res.status is Status.FAILED and "sum to 1" in res.message
    _no_numbers(res.message)


def test_predict_multiclass_naive_softmax_overflows():
    def answer(logits):
        e = torch.exp(logits)
        return e / e.sum(-1, keepdim=True), logits.argmax(-1)
    res = check_quietly("practices.predict_multiclass", answer)
    assert res.status is Status.FAILED and "NaN" in res.message


def test_predict_multiclass_wrong_label_dtype_and_shape():
    res = check_quietly("practices.predict_multiclass",
                        lambda z: (torch.softmax(z, -1), torch.argmax(z, -1).int()))
    assert res.status is Status.FAILED and "int64" in res.message
    res = check_quietly("practices.predict_multiclass",
                        lambda z: (torch.softmax(z, -1), torch.argmax(z, -1, keepdim=True)))
    assert res.status is Status.FAILED and "shape" in res.message


def test_predict_multiclass_last_tie():
    def answer(logits):
        flipped = logits.flip(-1)
        return torch.softmax(logits, -1), logits.shape[-1] - 1 - flipped.argmax(-1)
    res = check_quietly("practices.predict_multiclass", answer)
    assert res.status is Status.FAILED and "first maximal index" in res.message


def test_predict_multiclass_not_attempted_and_raising():
    assert check_quietly("practices.predict_multiclass", None).status is Status.NOT_ATTEMPTED
    res = check_quietly("practices.predict_multiclass", lambda z: z.nonexistent())
    assert res.status is Status.ERROR
    res = check_quietly("practices.predict_multiclass", lambda z: torch.softmax(z, -1))
    assert res.status is Status.FAILED and "tuple" in res.message


def test_loss_fn_reference_and_builtin_pass():
    assert check_quietly("practices.loss_fn", F.cross_entropy).status is Status.PASSED

    def via_log_softmax(logits, y):
        return F.nll_loss(torch.log_softmax(logits, dim=1), y)
    assert check_quietly("practices.loss_fn", via_log_softmax).status is Status.PASSED


def test_loss_fn_the_buggy_pipeline_fails():
    def buggy(logits, y):
        return F.nll_loss(torch.softmax(logits, dim=0), y)
    res = check_quietly("practices.loss_fn", buggy)
    assert res.status is Status.FAILED and "negative" in res.message
    _no_numbers(res.message)


def test_loss_fn_double_softmax_fails():
    def double(logits, y):
        return F.cross_entropy(torch.softmax(logits, dim=1), y)
    res = check_quietly("practices.loss_fn", double)
    assert res.status is Status.FAILED and "softmax twice" in res.message
    _no_numbers(res.message)


def test_loss_fn_naive_log_of_softmax_overflows():
    def naive(logits, y):
        return F.nll_loss(torch.log(torch.softmax(logits, dim=1)), y)
    res = check_quietly("practices.loss_fn", naive)
    assert res.status is Status.FAILED and ("inf" in res.message or "NaN" in res.message)


def test_loss_fn_unreduced_and_detached():
    res = check_quietly("practices.loss_fn", lambda z, y: F.cross_entropy(z, y, reduction="none"))
    assert res.status is Status.FAILED and "scalar" in res.message
    res = check_quietly("practices.loss_fn", lambda z, y: F.cross_entropy(z.detach(), y))
    assert res.status is Status.FAILED and "detached" in res.message
    assert check_quietly("practices.loss_fn", ...).status is Status.NOT_ATTEMPTED


def test_predict_multiclass_in_place_edit_is_named():
    def answer(logits):
        logits -= logits.amax(dim=-1, keepdim=True)       # shifts the caller's tensor
        return torch.softmax(logits, dim=-1), torch.argmax(logits, dim=-1)
    res = check_quietly("practices.predict_multiclass", answer)
    assert res.status is Status.FAILED and "in place" in res.message, res.message
    _no_numbers(res.message)


def test_predict_multiclass_missing_keepdim_is_named():
    def answer(logits):
        shifted = logits - logits.amax(dim=-1)             # (N, C) - (N,): broadcasts wrongly or not at all
        e = torch.exp(shifted)
        return e / e.sum(dim=-1), torch.argmax(logits, dim=-1)
    res = check_quietly("practices.predict_multiclass", answer)
    assert res.status is Status.FAILED and "keepdim" in res.message, res.message


def test_loss_fn_sum_instead_of_mean_is_named():
    res = check_quietly("practices.loss_fn", lambda z, y: F.cross_entropy(z, y, reduction="sum"))
    assert res.status is Status.FAILED and "sum over the batch" in res.message, res.message
    _no_numbers(res.message)


def test_loss_fn_dtype_and_in_place_are_named():
    res = check_quietly("practices.loss_fn", lambda z, y: F.cross_entropy(z.float(), y))
    assert res.status is Status.FAILED and "dtype" in res.message, res.message

    def shifts_in_place(z, y):
        z -= z.amax(dim=-1, keepdim=True)
        return F.cross_entropy(z, y)
    res = check_quietly("practices.loss_fn", shifts_in_place)
    assert res.status is Status.FAILED and "in place" in res.message, res.message
