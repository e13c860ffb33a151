import re

import pytest
import torch

from course_pkg.homework import Status, check_quietly


def ste_reference(o):
    hard = (o > 0).to(o.dtype)
    soft = torch.sigmoid(o)
    return hard + (soft - soft.detach())


def prob_above_reference(o, at=0.0, temperature=1.0):
    return torch.sigmoid((o - at) / temperature)


def _no_numbers_leaked(message):
    # The feedback may name tolerances, counts and the student's own values, never the reference's values.
    assert "tensor([" not in message
    assert not re.search(r"(expected|reference|should be|correct)\s*(is|=|:)?\s*-?\d", message), message


def test_ste_reference_passes():
    result = check_quietly("trainability.ste_threshold", ste_reference)
    assert result.status is Status.PASSED, result


def _naive_sigmoid_ste(o):
    hard = (o > 0).to(o.dtype)
    soft = 1 / (1 + torch.exp(-o))
    return hard + (soft - soft.detach())


@pytest.mark.parametrize("answer, status, fragment", [
    (None, Status.NOT_ATTEMPTED, "no answer"),
    (lambda o: (_ for _ in ()).throw(NotImplementedError()), Status.NOT_ATTEMPTED, "stub"),
    (lambda o: (o > 0).to(o.dtype), Status.FAILED, "detached"),
    (lambda o: torch.sigmoid(o), Status.FAILED, "differ"),
    (lambda o: ste_reference(o).float(), Status.FAILED, "dtype"),
    (lambda o: ste_reference(o).reshape(-1, 1), Status.FAILED, "shape"),
    (lambda o: (o >= 0).to(o.dtype) + (torch.sigmoid(o) - torch.sigmoid(o).detach()), Status.FAILED, "strict"),
    (lambda o: (o > 0).to(o.dtype) + 0.5 * (torch.sigmoid(o) - torch.sigmoid(o).detach()), Status.FAILED,
     "gradient"),
    (_naive_sigmoid_ste, Status.FAILED, "NaN"),
    (lambda o: undefined_name, Status.ERROR, "NameError"),  # noqa: F821
    ("not a function", Status.FAILED, "expected a function"),
])
def test_ste_wrong_answers(answer, status, fragment):
    result = check_quietly("trainability.ste_threshold", answer)
    assert result.status is status, result
    assert fragment in result.message, result
    _no_numbers_leaked(result.message)


def test_prob_above_reference_passes():
    result = check_quietly("trainability.prob_above", prob_above_reference)
    assert result.status is Status.PASSED, result


@pytest.mark.parametrize("answer, status, fragment", [
    (None, Status.NOT_ATTEMPTED, "no answer"),
    (lambda o, at=0.0, temperature=1.0: (o > at).float(), Status.FAILED, ""),
    (lambda o, at=0.0, temperature=1.0: (o > at).to(o.dtype), Status.FAILED, "detached"),
    (lambda o, at=0.0, temperature=1.0: torch.sigmoid(o - at), Status.FAILED, "temperature"),
    (lambda o, at=0.0, temperature=1.0: torch.sigmoid((o - at) / temperature).float(), Status.FAILED, "dtype"),
    (lambda o, at=0.0, temperature=1.0: 1 / (1 + torch.exp(-(o - at) / temperature)), Status.FAILED, "NaN"),
    (lambda o, at=0.0, temperature=1.0: torch.sigmoid((o + at) / temperature), Status.FAILED, "differ"),
    (lambda o: torch.sigmoid(o), Status.ERROR, "TypeError"),
])
def test_prob_above_wrong_answers(answer, status, fragment):
    result = check_quietly("trainability.prob_above", answer)
    assert result.status is status, result
    assert fragment in result.message, result
    _no_numbers_leaked(result.message)


def _in_place_ste(o):
    o[o <= 0] = 0.0          # edits the caller's tensor
    return o


def _flipped_ste(o):
    hard = (o > 0).to(o.dtype)
    soft = torch.sigmoid(o)
    return hard + (soft.detach() - soft)


def _cancelled_ste(o):
    hard = (o > 0).to(o.dtype)
    soft = torch.sigmoid(o)
    return hard + (soft - soft)


@pytest.mark.parametrize("answer, fragment", [
    (_in_place_ste, "in place"),
    (lambda o: torch.sigmoid_(o), "in place"),
    (_flipped_ste, "wrong sign"),
    (_cancelled_ste, "cancel"),
])
def test_ste_typical_mistakes_are_named(answer, fragment):
    result = check_quietly("trainability.ste_threshold", answer)
    assert result.status is Status.FAILED, result
    assert fragment in result.message, result
    _no_numbers_leaked(result.message)


@pytest.mark.parametrize("answer, fragment", [
    (lambda o, at=0.0, temperature=1.0: torch.sigmoid(o - at / temperature), "binds tighter"),
    (lambda o, at=0.0, temperature=1.0: torch.sigmoid((o - at) * temperature), "divide by it"),
    (lambda o, at=0.0, temperature=1.0: torch.sigmoid(o - at), "temperature is ignored"),
    (lambda o, at=0.0, temperature=1.0: torch.sigmoid(o / temperature), "at is ignored"),
    (lambda o, at=0.0, temperature=1.0: o.sub_(at).div_(temperature).sigmoid_(), "in place"),
])
def test_prob_above_typical_mistakes_are_named(answer, fragment):
    result = check_quietly("trainability.prob_above", answer)
    assert result.status is Status.FAILED, result
    assert fragment in result.message, result
    _no_numbers_leaked(result.message)
