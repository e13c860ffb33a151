"""Tests for the chapter-8 exercise checks: the reference passes, typical mistakes do not."""
import re

import pytest
import torch
import torch.nn.functional as F

from course_pkg.homework import Status, check_quietly


def good_l2_normalize(x, dim=-1, eps=1e-12):
    eps = max(eps, torch.finfo(x.dtype).tiny)  # 1e-12 rounds to 0 in float16
    return x / torch.linalg.vector_norm(x, dim=dim, keepdim=True).clamp(min=eps)


def solution_l2_normalize(x, dim=-1, eps=1e-12):
    """The chapter's model solution."""
    norm = torch.linalg.vector_norm(x, dim=dim, keepdim=True)
    eps = max(eps, torch.finfo(x.dtype).tiny)
    return x / torch.where(norm >= eps, norm, eps)


def unguarded_l2_normalize(x, dim=-1, eps=1e-12):
    """The chapter's old model solution: right in float32 and float64, NaN for a float16 zero row."""
    norm = torch.linalg.vector_norm(x, dim=dim, keepdim=True)
    return x / torch.where(norm >= eps, norm, eps)


def good_triplet_loss(anchor, positive, negative, margin):
    d_ap = torch.linalg.vector_norm(anchor - positive, dim=1)
    d_an = torch.linalg.vector_norm(anchor - negative, dim=1)
    return torch.relu(d_ap - d_an + margin).mean()


def no_numbers(message):
    """Feedback may show the student's own value, tolerances, counts, shapes; never a reference value."""
    stripped = re.sub(r"yours is \S+|atol=\S+|rtol=\S+|1e-\d+|eps=\S+", "", message)
    return not re.search(r"\d\.\d", stripped)


@pytest.mark.parametrize("answer", [
    good_l2_normalize,
    solution_l2_normalize,
])
def test_l2_normalize_correct_answers_pass(answer):
    result = check_quietly("distance.l2_normalize", answer)
    assert result.status is Status.PASSED, result.message


def test_l2_normalize_with_the_forbidden_f_normalize_is_flagged():
    answer = lambda x, dim=-1, eps=1e-12: F.normalize(x, dim=dim, eps=max(eps, torch.finfo(x.dtype).tiny))  # noqa: E731
    result = check_quietly("distance.l2_normalize", answer)
    assert result.status is Status.FLAGGED and "torch.nn.functional.normalize" in result.message, result


@pytest.mark.parametrize("answer, status", [
    (None, Status.NOT_ATTEMPTED),
    (..., Status.NOT_ATTEMPTED),
    (lambda x, dim=-1, eps=1e-12: (_ for _ in ()).throw(NotImplementedError()), Status.NOT_ATTEMPTED),
    # the seed's version: no eps, NaN on a zero vector
    (lambda x, dim=-1, eps=1e-12: x / torch.linalg.norm(x, dim=dim, keepdim=True), Status.FAILED),
    # sqrt of the sum of squares: right values, NaN gradient at the zero vector
    (lambda x, dim=-1, eps=1e-12: x / torch.sqrt((x ** 2).sum(dim, keepdim=True)).clamp(min=eps), Status.FAILED),
    # eps ignored
    (lambda x, dim=-1, eps=1e-12: x / torch.linalg.vector_norm(x, dim=dim, keepdim=True).clamp(min=1e-12),
     Status.FAILED),
    # always along dim 1
    (lambda x, dim=-1, eps=1e-12: x / torch.linalg.vector_norm(x, dim=1, keepdim=True).clamp(min=eps),
     Status.FAILED),
    # without keepdim the division broadcasts wrongly (or raises)
    (lambda x, dim=-1, eps=1e-12: x / torch.linalg.vector_norm(x, dim=dim).clamp(min=eps), (Status.FAILED, Status.ERROR)),
    # wrong dtype
    (lambda x, dim=-1, eps=1e-12: good_l2_normalize(x.float(), dim, eps), Status.FAILED),
    # detached from the graph
    (lambda x, dim=-1, eps=1e-12: good_l2_normalize(x, dim, eps).detach(), Status.FAILED),
    # off by a little
    (lambda x, dim=-1, eps=1e-12: 1.001 * good_l2_normalize(x, dim, eps), Status.FAILED),
    (lambda x, dim=-1, eps=1e-12: 1 / 0, Status.ERROR),
])
def test_l2_normalize_mistakes(answer, status):
    result = check_quietly("distance.l2_normalize", answer)
    allowed = status if isinstance(status, tuple) else (status,)
    assert result.status in allowed, result
    assert no_numbers(result.message), result.message


@pytest.mark.parametrize("answer", [unguarded_l2_normalize,
                                    lambda x, dim=-1, eps=1e-12: F.normalize(x, dim=dim, eps=eps)])
def test_l2_normalize_float16_zero_row_is_named(answer):
    # Both pass every float32/float64 case and give NaN for a float16 zero row (1e-12 rounds to 0 in float16).
    zero16 = torch.zeros(1, 2, dtype=torch.float16)
    assert bool(torch.isnan(answer(zero16)).all())
    result = check_quietly("distance.l2_normalize", answer)
    assert result.status is Status.FAILED, result
    assert "float16" in result.message and "finfo" in result.message, result.message
    assert no_numbers(result.message), result.message


def test_l2_normalize_float16_dtype_is_named():
    # computes float16 input in float32 and returns float32; right everywhere else
    promoted = lambda x, dim=-1, eps=1e-12: good_l2_normalize(  # noqa: E731
        x.float() if x.dtype == torch.float16 else x, dim, eps)
    result = check_quietly("distance.l2_normalize", promoted)
    assert result.status is Status.FAILED and "dtype" in result.message, result.message


def test_triplet_loss_correct_answer_passes():
    result = check_quietly("distance.triplet_loss", good_triplet_loss)
    assert result.status is Status.PASSED, result.message


@pytest.mark.parametrize("answer, status", [
    (None, Status.NOT_ATTEMPTED),
    # squared distances
    (lambda a, p, n, m: torch.clamp(((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + m, min=0).mean(), Status.FAILED),
    # sqrt of sums: NaN gradient when a positive coincides with its anchor
    (lambda a, p, n, m: torch.clamp(((a - p) ** 2).sum(1).sqrt() - ((a - n) ** 2).sum(1).sqrt() + m, min=0).mean(),
     Status.FAILED),
    # torch's built-in adds eps=1e-6 inside the norm
    (lambda a, p, n, m: F.triplet_margin_loss(a, p, n, margin=m), Status.FAILED),
    # sum instead of mean
    (lambda a, p, n, m: good_triplet_loss(a, p, n, m) * a.shape[0], Status.FAILED),
    # no hinge
    (lambda a, p, n, m: ((a - p).norm(dim=1) - (a - n).norm(dim=1) + m).mean(), Status.FAILED),
    # positive and negative swapped
    (lambda a, p, n, m: good_triplet_loss(a, n, p, m), Status.FAILED),
    # per-triplet losses, not the mean
    (lambda a, p, n, m: torch.clamp((a - p).norm(dim=1) - (a - n).norm(dim=1) + m, min=0), Status.FAILED),
    (lambda a, p, n, m: "0.5", Status.FAILED),
])
def test_triplet_loss_mistakes(answer, status):
    result = check_quietly("distance.triplet_loss", answer)
    assert result.status is status, result
    assert no_numbers(result.message), result.message


def test_triplet_flipped_margin_is_not_told_squared_distances():
    flipped = lambda a, p, n, m: torch.clamp(  # noqa: E731
        (a - p).norm(dim=1) - (a - n).norm(dim=1) - m, min=0).mean()
    result = check_quietly("distance.triplet_loss", flipped)
    assert result.status is Status.FAILED and "squared" not in result.message and "margin" in result.message
    squared = lambda a, p, n, m: torch.clamp(  # noqa: E731
        ((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + m, min=0).mean()
    assert "squared" in check_quietly("distance.triplet_loss", squared).message


def test_l2_normalize_in_place_keepdim_and_global_norm_are_named():
    def in_place(x, dim=-1, eps=1e-12):
        x /= torch.linalg.vector_norm(x, dim=dim, keepdim=True).clamp(min=max(eps, torch.finfo(x.dtype).tiny))
        return x
    result = check_quietly("distance.l2_normalize", in_place)
    assert result.status is Status.FAILED and "in place" in result.message, result.message
    no_keepdim = lambda x, dim=-1, eps=1e-12: x / torch.linalg.vector_norm(x, dim=dim).clamp(min=eps)  # noqa: E731
    result = check_quietly("distance.l2_normalize", no_keepdim)
    assert result.status is Status.FAILED and "keepdim" in result.message, result.message
    global_norm = lambda x, dim=-1, eps=1e-12: x / torch.linalg.vector_norm(x).clamp(min=eps)  # noqa: E731
    result = check_quietly("distance.l2_normalize", global_norm)
    assert result.status is Status.FAILED and "each vector" in result.message, result.message
    assert no_numbers(result.message), result.message


def test_triplet_sum_instead_of_mean_is_named():
    result = check_quietly("distance.triplet_loss", lambda a, p, n, m: good_triplet_loss(a, p, n, m) * a.shape[0])
    assert result.status is Status.FAILED and "sum over the triplets" in result.message, result.message
    assert no_numbers(result.message), result.message


def test_an_added_eps_is_named_before_any_case_compares_numbers():
    for added in (lambda x, dim=-1, eps=1e-12: x / (x.norm(dim=-1, keepdim=True) + eps),
                  lambda x, dim=-1, eps=1e-12: x / (torch.linalg.vector_norm(x, dim=dim, keepdim=True) + eps)):
        result = check_quietly("distance.l2_normalize", added)
        assert result.status is Status.FAILED and result.message.startswith("the length is ||x|| + eps"), result
