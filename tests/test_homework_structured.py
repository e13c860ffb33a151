"""Tests for the checks of the chapter "Outputs with structure": references pass, plausible mistakes fail."""
import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_pkg.homework import Status, check_quietly
from course_pkg.inference import predict_angle
from course_pkg.losses import coral_loss
from course_pkg.transforms import sparsemax

IDS = ["structured.sparsemax", "structured.coral_loss", "structured.angle_from_head"]


def no_numbers(message):
    """Feedback may show the student's own value, tolerances, counts, shapes and indices, never a reference value."""
    stripped = re.sub(r"yours is \S+|atol=\S+|rtol=\S+", "", message)
    return not re.search(r"\d\.\d", stripped)


# ---------------------------------------------------------------- good answers

def good_sparsemax(o):
    z = o - o.amax(dim=-1, keepdim=True)
    zs = z.sort(dim=-1, descending=True).values
    cumsum = zs.cumsum(dim=-1)
    k = torch.arange(1, o.shape[-1] + 1, dtype=o.dtype)
    size = (1 + k * zs > cumsum).sum(dim=-1, keepdim=True)
    return (z - (cumsum.gather(-1, size - 1) - 1) / size.to(o.dtype)).clamp(min=0)


def good_coral_loss(logits, target):
    levels = (target.unsqueeze(1) > torch.arange(logits.shape[1])).to(logits.dtype)
    return (levels * F.softplus(-logits) + (1 - levels) * F.softplus(logits)).sum(dim=1).mean()


def coral_via_bce(logits, target):
    levels = (target.unsqueeze(1) > torch.arange(logits.shape[1])).to(logits.dtype)
    return F.binary_cross_entropy_with_logits(logits, levels, reduction="sum") / logits.shape[0]


@pytest.mark.parametrize("exercise_id, answer", [
    ("structured.sparsemax", good_sparsemax),
    ("structured.coral_loss", good_coral_loss),
    ("structured.coral_loss", coral_via_bce),
    ("structured.angle_from_head", lambda o: torch.atan2(o[:, 1], o[:, 0])),
    ("structured.angle_from_head", lambda o: torch.atan2(o[..., 1], o[..., 0])),
])
def test_reference_answers_pass(exercise_id, answer):
    result = check_quietly(exercise_id, answer)
    assert result.status is Status.PASSED, result.message


@pytest.mark.parametrize("exercise_id, answer", [
    ("structured.sparsemax", sparsemax), ("structured.coral_loss", coral_loss),
    ("structured.angle_from_head", predict_angle)])
def test_the_references_are_flagged(exercise_id, answer):
    assert check_quietly(exercise_id, answer).status is Status.FLAGGED


def test_checks_do_not_depend_on_the_default_dtype():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        assert check_quietly("structured.sparsemax", good_sparsemax).passed
        assert check_quietly("structured.coral_loss", good_coral_loss).passed
        assert check_quietly("structured.angle_from_head", lambda o: torch.atan2(o[:, 1], o[:, 0])).passed
        assert check_quietly("structured.sparsemax", sparsemax_unsorted).status is Status.FAILED
        assert check_quietly("structured.coral_loss", coral_variant(first_k=1)).status is Status.FAILED
    finally:
        torch.set_default_dtype(previous)


# ---------------------------------------------------------------- plausible wrong answers

def sparsemax_unsorted(o):
    z = o - o.amax(dim=-1, keepdim=True)
    cumsum = z.cumsum(dim=-1)
    k = torch.arange(1, o.shape[-1] + 1, dtype=o.dtype)
    size = (1 + k * z > cumsum).sum(dim=-1, keepdim=True).clamp(min=1)
    return (z - (cumsum.gather(-1, size - 1) - 1) / size.to(o.dtype)).clamp(min=0)


def sparsemax_variant(descending=True, k_from=1, size_shift=0):
    def f(o):
        z = o - o.amax(dim=-1, keepdim=True)
        zs = z.sort(dim=-1, descending=descending).values
        cumsum = zs.cumsum(dim=-1)
        k = torch.arange(k_from, o.shape[-1] + k_from, dtype=o.dtype)
        size = ((1 + k * zs > cumsum).sum(dim=-1, keepdim=True) + size_shift).clamp(1, o.shape[-1])
        return (z - (cumsum.gather(-1, size - 1) - 1) / size.to(o.dtype)).clamp(min=0)
    return f


def sparsemax_in_place(o):
    o -= o.amax(dim=-1, keepdim=True)  # changes the caller's tensor
    return good_sparsemax(o)


def sparsemax_relu_renormalized(o):
    q = (o - o.mean(dim=-1, keepdim=True)).clamp(min=0)
    return q / q.sum(dim=-1, keepdim=True)


def sparsemax_tau_without_minus_one(o):
    z = o - o.amax(dim=-1, keepdim=True)
    zs = z.sort(dim=-1, descending=True).values
    cumsum = zs.cumsum(dim=-1)
    k = torch.arange(1, o.shape[-1] + 1, dtype=o.dtype)
    size = (1 + k * zs > cumsum).sum(dim=-1, keepdim=True)
    return (z - cumsum.gather(-1, size - 1) / size.to(o.dtype)).clamp(min=0)


def sparsemax_numpy(o):
    return torch.from_numpy(good_sparsemax(o.detach()).numpy())


SPARSEMAX_WRONG = {
    "no sort": (sparsemax_unsorted, "sorted in decreasing order"),
    "ascending sort": (sparsemax_variant(descending=False), "decreasing"),
    "k from 0": (sparsemax_variant(k_from=0), "off by one"),
    "support one too large": (sparsemax_variant(size_shift=1), "off by one"),
    "support one too small": (sparsemax_variant(size_shift=-1), "off by one"),
    "softmax": (lambda o: torch.softmax(o, dim=-1), "softmax"),
    "in-place shift": (sparsemax_in_place, "in place"),
    "relu of centred logits, renormalized": (sparsemax_relu_renormalized, "not the projection"),
    "tau without the -1": (sparsemax_tau_without_minus_one, "sum to 1"),
    "float32 for float64 input": (lambda o: good_sparsemax(o).float(), "dtype"),
    "through NumPy (no gradient)": (sparsemax_numpy, "detached"),
    "max(o, 0) normalized": (lambda o: o.clamp(min=0) / o.clamp(min=0).sum(-1, keepdim=True).clamp(min=1e-12),
                             "not the projection"),
    "clamp to [0, 1] instead of the projection": (lambda o: o.clamp(0, 1), "sum to 1"),
}


@pytest.mark.parametrize("name", list(SPARSEMAX_WRONG))
def test_sparsemax_mistakes_fail_with_a_hint(name):
    answer, hint = SPARSEMAX_WRONG[name]
    result = check_quietly("structured.sparsemax", answer)
    assert result.status is Status.FAILED, (name, result)
    assert hint in result.message, (name, result.message)
    assert no_numbers(result.message), result.message


def coral_variant(first_k=0, compare=torch.gt, reduce="sum"):
    def f(logits, target):
        levels = compare(target.unsqueeze(1), torch.arange(first_k, first_k + logits.shape[1])).to(logits.dtype)
        bce = levels * F.softplus(-logits) + (1 - levels) * F.softplus(logits)
        return {"sum": lambda b: b.sum(dim=1).mean(), "mean": lambda b: b.mean(), "total": lambda b: b.sum()}[reduce](bce)
    return f


def coral_naive_log(logits, target):
    levels = (target.unsqueeze(1) > torch.arange(logits.shape[1])).to(logits.dtype)
    p = torch.sigmoid(logits)
    return -(levels * torch.log(p) + (1 - levels) * torch.log(1 - p)).sum(dim=1).mean()


def coral_in_place(logits, target):
    logits.clamp_(-50, 50)
    return good_coral_loss(logits, target)


def coral_as_classes(logits, target):
    return F.cross_entropy(logits, target.clamp(max=logits.shape[1] - 1))


def coral_one_hot_levels(logits, target):
    levels = (target.unsqueeze(1) == torch.arange(logits.shape[1])).to(logits.dtype)
    return (levels * F.softplus(-logits) + (1 - levels) * F.softplus(logits)).sum(dim=1).mean()


def coral_sigmoid_bce(logits, target):
    levels = (target.unsqueeze(1) > torch.arange(logits.shape[1])).to(logits.dtype)
    return F.binary_cross_entropy(torch.sigmoid(logits), levels, reduction="sum") / logits.shape[0]


CORAL_WRONG = {
    "labels 1..K (arange(1, K))": (coral_variant(first_k=1), "labels 1..K"),
    "levels y >= k": (coral_variant(compare=torch.ge), "strictly greater"),
    "levels reversed (y <= k)": (coral_variant(compare=torch.le), "reversed"),
    "mean over thresholds too": (coral_variant(reduce="mean"), "divides by K-1"),
    "sum over the batch": (coral_variant(reduce="total"), "average over the batch"),
    "log(sigmoid) unstable": (coral_naive_log, "not finite"),
    "in-place clamp of the logits": (coral_in_place, "in place"),
    "softmax cross-entropy": (coral_as_classes, ""),
    "one-hot levels": (coral_one_hot_levels, "cumulative"),
    "sigmoid then binary_cross_entropy": (coral_sigmoid_bce, "sigmoid probabilities"),
    "float32 for float64 input": (lambda z, y: good_coral_loss(z, y).float(), "dtype"),
    "detached": (lambda z, y: good_coral_loss(z.detach(), y), "detached"),
}


@pytest.mark.parametrize("name", list(CORAL_WRONG))
def test_coral_mistakes_fail_with_a_hint(name):
    answer, hint = CORAL_WRONG[name]
    result = check_quietly("structured.coral_loss", answer)
    assert result.status is Status.FAILED, (name, result)
    assert hint in result.message, (name, result.message)
    assert no_numbers(result.message), result.message


def angle_in_place_normalize(o):
    o /= o.norm(dim=1, keepdim=True)
    return torch.atan2(o[:, 1], o[:, 0])


ANGLE_WRONG = {
    "atan2 arguments swapped": (lambda o: torch.atan2(o[:, 0], o[:, 1]), "swapped"),
    "atan(s / c)": (lambda o: torch.atan(o[:, 1] / o[:, 0]), "two quadrants"),
    "acos of the normalized cosine": (lambda o: torch.acos(o[:, 0] / o.norm(dim=1)), "sign"),
    "degrees": (lambda o: torch.rad2deg(torch.atan2(o[:, 1], o[:, 0])), "degrees"),
    "range [0, 2 pi)": (lambda o: torch.atan2(o[:, 1], o[:, 0]) % (2 * math.pi), "[-pi, pi]"),
    "shape (N, 1)": (lambda o: torch.atan2(o[:, 1:], o[:, :1]), "shape"),
    "in-place normalization": (angle_in_place_normalize, "in place"),
    "float32 for float64 input": (lambda o: torch.atan2(o[:, 1], o[:, 0]).float(), "dtype"),
    "NumPy array": (lambda o: np.arctan2(o[:, 1].numpy(), o[:, 0].numpy()), "torch.Tensor"),
}


@pytest.mark.parametrize("name", list(ANGLE_WRONG))
def test_angle_mistakes_fail_with_a_hint(name):
    answer, hint = ANGLE_WRONG[name]
    result = check_quietly("structured.angle_from_head", answer)
    assert result.status is Status.FAILED, (name, result)
    assert hint in result.message, (name, result.message)
    assert no_numbers(result.message), result.message


# ---------------------------------------------------------------- unanswered, stubs, crashes

@pytest.mark.parametrize("exercise_id", IDS)
def test_unanswered_stub_and_crash(exercise_id):
    def stub(*args):
        raise NotImplementedError("replace this")

    def broken(*args):
        raise RuntimeError("boom")

    assert check_quietly(exercise_id, None).status is Status.NOT_ATTEMPTED
    assert check_quietly(exercise_id, ...).status is Status.NOT_ATTEMPTED
    assert check_quietly(exercise_id, stub).status is Status.NOT_ATTEMPTED
    result = check_quietly(exercise_id, broken)
    assert result.status is Status.ERROR and "RuntimeError" in result.message
    assert check_quietly(exercise_id, "sparsemax").status is Status.FAILED


# ---------------------------------------------------------------- shape mistakes, over 20 grading seeds

def _sm_parts(o, *, keep_max=True, keep_size=True, k_from=1, index_shift=0):
    z = o - o.amax(dim=-1, keepdim=keep_max)
    zs = z.sort(dim=-1, descending=True).values
    cs = zs.cumsum(dim=-1)
    k = torch.arange(k_from, o.shape[-1] + k_from, dtype=o.dtype)
    size = (1 + k * zs > cs).sum(dim=-1, keepdim=keep_size)
    return z, zs, cs, size, (cs.gather(-1, size - 1 + index_shift) - 1) / size.to(o.dtype)


def _sm_right(o):
    z, _, _, _, tau = _sm_parts(o)
    return (z - tau).clamp(min=0)


def _sm_row_loop(o):
    rows = o.reshape(-1, o.shape[-1])
    out = []
    for row in rows:
        zs = row.sort(descending=True).values
        cs = zs.cumsum(0)
        k = torch.arange(1, len(row) + 1, dtype=o.dtype)
        size = int((1 + k * zs > cs).sum())
        out.append((row - (cs[size - 1] - 1) / size).clamp(min=0))
    return torch.stack(out).reshape(o.shape)


def _sm_masked_sum(o):
    z = o - o.amax(dim=-1, keepdim=True)
    zs = z.sort(dim=-1, descending=True).values
    k = torch.arange(1, o.shape[-1] + 1, dtype=o.dtype)
    support = (1 + k * zs > zs.cumsum(dim=-1)).to(o.dtype)
    tau = ((zs * support).sum(dim=-1, keepdim=True) - 1) / support.sum(dim=-1, keepdim=True)
    return (z - tau).clamp(min=0)


def _sm_one_row_only(o):
    z = o - o.max()
    zs = z.sort(descending=True).values
    cs = zs.cumsum(0)
    size = (1 + torch.arange(1, len(o) + 1, dtype=o.dtype) * zs > cs).sum()
    return (z - (cs[size - 1] - 1) / size).clamp(min=0)


def _sm_index_not_gather(o):
    z, _, cs, size, _ = _sm_parts(o)
    return (z - (cs[:, size - 1] - 1) / size.to(o.dtype)).clamp(min=0)


def _coral_no_unsqueeze(logits, target):
    levels = (target > torch.arange(logits.shape[1])).to(logits.dtype)
    return (levels * F.softplus(-logits) + (1 - levels) * F.softplus(logits)).sum(dim=1).mean()


SPARSEMAX_RIGHT_VARIANTS = {"solution": _sm_right, "a loop over rows": _sm_row_loop, "masked sum": _sm_masked_sum}
SHAPE_MISTAKES = {
    "amax without keepdim": ("structured.sparsemax", lambda o: _sm_right_with(o, keep_max=False), "keepdim=True"),
    "support size without keepdim": ("structured.sparsemax", lambda o: _sm_right_with(o, keep_size=False),
                                     "count the support with .sum(dim=-1, keepdim=True)"),
    "a version for one row only": ("structured.sparsemax", _sm_one_row_only, "keepdim=True"),
    "cumsum[:, size - 1] instead of gather": ("structured.sparsemax", _sm_index_not_gather, "cumsum.gather(-1, size - 1)"),
    "k counted from 0": ("structured.sparsemax", lambda o: _sm_right_with(o, k_from=0), "k counts from 1"),
    "tau read at index |S|": ("structured.sparsemax", lambda o: _sm_right_with(o, index_shift=1), "index |S| - 1"),
    "CORAL levels without unsqueeze": ("structured.coral_loss", _coral_no_unsqueeze, "target.unsqueeze(1)"),
}


def _sm_right_with(o, **mistake):
    z, _, _, _, tau = _sm_parts(o, **mistake)
    return (z - tau).clamp(min=0)


def test_shape_mistakes_are_named_on_20_grading_seeds():
    """Three right sparsemax answers pass; each shape or counting mistake gets its own message, never a raw error."""
    from course_pkg.homework.checking import seed_scope
    for seed in range(1, 21):
        with seed_scope(seed):
            for name, answer in SPARSEMAX_RIGHT_VARIANTS.items():
                result = check_quietly("structured.sparsemax", answer)
                assert result.status is Status.PASSED, (seed, name, result.message)
            for name, (exercise_id, answer, hint) in SHAPE_MISTAKES.items():
                result = check_quietly(exercise_id, answer)
                assert result.status is Status.FAILED and hint in result.message, (seed, name, result.message)
                assert "your code raised" not in result.message, (seed, name, result.message)
