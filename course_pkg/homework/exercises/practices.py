"""Checks for chapter 7, Best practices."""
import torch

from course_pkg.homework.checking import Feedback, case_generator, check_function, compare_tensors
from course_pkg.homework.registry import exercise
from course_pkg.inference import predict_multiclass
from course_pkg.losses import cross_entropy


def _multiclass_cases():
    g = case_generator(71)
    return [
        ("random logits of shape (8, 5)", torch.randn(8, 5, generator=g)),
        ("logits ±1000 and 0", torch.tensor([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, 1000.0]])),
        ("tied logits", torch.tensor([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [0.0, 5.0, 1.0, 5.0]])),
        ("a batch of one sample", torch.randn(1, 4, generator=g) * 3),
        ("float64 logits", torch.randn(6, 7, generator=g, dtype=torch.float64) * 10),
    ]


@exercise("practices.predict_multiclass", reference=predict_multiclass, answer="predict_multiclass", time_limit=5,
          forbidden=("course_pkg",))
def _(answer):
    """predict_multiclass(logits) -> (probs, labels): softmax over the class dimension, argmax labels."""
    if not callable(answer):
        raise Feedback(f"expected a function, got {type(answer).__name__}")
    for label, logits in _multiclass_cases():
        given = logits.clone()
        out = _call_naming_broadcast_errors(answer, (given,), label)
        _check_unchanged(given, logits, "logits", label)
        if not isinstance(out, tuple) or len(out) != 2:
            raise Feedback(f"on {label}: return a tuple (probs, labels), got {type(out).__name__}")
        probs, labels = out
        exp_probs, exp_labels = predict_multiclass(logits)
        if not isinstance(probs, torch.Tensor):
            raise Feedback(f"on {label}: probs must be a torch.Tensor, got {type(probs).__name__}")
        if probs.shape == logits.shape and probs.dtype == logits.dtype and logits.shape[0] > 1:
            row_sums = probs.detach().double().sum(dim=-1)
            if not bool(torch.isnan(row_sums).any()) and not bool(
                    torch.allclose(row_sums, torch.ones_like(row_sums), atol=1e-4)):
                raise Feedback(f"on {label}: the rows of probs do not sum to 1; normalize over the class "
                               "dimension (dim=-1), not over the batch")
        compare_tensors(probs, exp_probs, what=f"probs on {label}", atol=1e-6, rtol=1e-5)
        if not isinstance(labels, torch.Tensor):
            raise Feedback(f"on {label}: labels must be a torch.Tensor, got {type(labels).__name__}")
        if labels.shape != exp_labels.shape:
            raise Feedback(f"on {label}: labels have shape {tuple(labels.shape)}; expected one label per sample")
        if labels.dtype != torch.int64:
            raise Feedback(f"on {label}: labels must be int64 class indices, got {labels.dtype}")
        if not bool((labels.cpu() == exp_labels.cpu()).all()):
            if label == "tied logits":
                raise Feedback("on tied logits: a tie must go to the first maximal index, as torch.argmax does")
            raise Feedback(f"on {label}: some labels are not the index of the largest logit")
    return "probabilities and labels match on 5 input sets (including ±1000 and ties)"


def _loss_cases():
    g = case_generator(72)
    return [
        ("random logits (16, 4)", (torch.randn(16, 4, generator=g), torch.randint(0, 4, (16,), generator=g))),
        ("confident logits ±200", (torch.tensor([[200.0, -200.0, 0.0], [0.0, 0.0, 200.0]]), torch.tensor([1, 2]))),
        ("a batch of one sample", (torch.randn(1, 5, generator=g), torch.tensor([3]))),
        ("float64 logits", (torch.randn(9, 6, generator=g, dtype=torch.float64) * 5,
                            torch.randint(0, 6, (9,), generator=g))),
    ]


def _call_naming_broadcast_errors(answer, args, label):
    """Call the answer; a shape error from broadcasting becomes feedback that names the usual cause."""
    try:
        return answer(*args)
    except RuntimeError as err:
        if "must match the size of tensor" in str(err):
            raise Feedback(f"on {label}: two tensors do not broadcast ({str(err).splitlines()[0]}); a sum, max or "
                           "logsumexp over the class dimension needs keepdim=True to divide or subtract row by "
                           "row") from None
        raise


def _check_unchanged(given, original, name, label):
    if isinstance(given, torch.Tensor) and not torch.equal(given, original):
        raise Feedback(f"on {label}: your function changed its input {name} in place (an in-place operation such as "
                       "-=, .sub_() or an indexed assignment); compute on a new tensor instead")


def _name_loss_mistake(value, logits, target, label):
    """Name two usual mistakes by the value they give: the sum instead of the mean, and softmax before the loss."""
    with torch.no_grad():
        reference = float(cross_entropy(logits, target))
        n = logits.shape[0]
        if n > 1 and abs(value - n * reference) <= 1e-4 * max(1.0, abs(n * reference)) \
                and abs(value - reference) > 1e-4 * max(1.0, abs(reference)):
            raise Feedback(f"on {label}: your loss is the sum over the batch, not the mean; divide by the number of "
                           "samples (reduction='mean', the default of F.cross_entropy)")
        double = float(cross_entropy(torch.softmax(logits, dim=-1), target))
        if abs(value - double) <= 1e-5 * max(1.0, abs(double)) and abs(value - reference) > 1e-4:
            raise Feedback(f"on {label}: your loss applies a softmax before a loss that applies log-softmax itself "
                           "(softmax twice); pass the raw logits to the cross-entropy")


@exercise("practices.loss_fn", reference=cross_entropy, answer="loss_fn", time_limit=5)
def _(answer):
    """loss_fn(logits, y): mean cross-entropy on raw logits, stable, with the right gradient."""
    if not callable(answer):
        raise Feedback(f"expected a function, got {type(answer).__name__}")
    for label, (logits, target) in _loss_cases():
        given = logits.clone()
        got = _call_naming_broadcast_errors(answer, (given, target.clone()), label)
        _check_unchanged(given, logits, "logits", label)
        if isinstance(got, torch.Tensor) and got.dim() != 0:
            raise Feedback(f"on {label}: the loss must be a scalar (the mean over the batch), "
                           f"got shape {tuple(got.shape)}")
        if isinstance(got, torch.Tensor) and got.is_floating_point() and float(got.detach()) < 0:
            raise Feedback(f"on {label}: the loss is negative; NLL needs log-probabilities, not probabilities")
        if isinstance(got, torch.Tensor) and got.is_floating_point() and got.dim() == 0:
            _name_loss_mistake(float(got.detach()), logits, target, label)
            if got.dtype != logits.dtype:
                raise Feedback(f"on {label}: the loss has dtype {got.dtype} for {logits.dtype} logits; keep the "
                               "logits' dtype (no .float(), no float32 constants that change it)")
    return check_function(answer, cross_entropy, _loss_cases(), atol=1e-5, rtol=1e-5, grad=True)
