"""Checks for chapter 9, Going further.

``further.gaussian_nll`` compares values and the gradients with respect to the
mean and to the variance, including variances below the clamp eps = 1e-6,
where the exercise asks for the identity gradient (a plain clamp gives 0
there). ``further.ece`` compares at atol 1e-7 and rtol 1e-6: the ECE is a
statistic, and the common per-bin loop that counts in float32 (``.float()``)
is off by about 1e-9 on float64 inputs, which the exercise does not forbid.
"""
import torch

from course_pkg.calibration import expected_calibration_error
from course_pkg.gumbel import straight_through
from course_pkg.heteroscedastic import gaussian_nll
from course_pkg.homework.checking import Feedback, case_generator, check_function, compare_tensors
from course_pkg.homework.registry import exercise
from course_pkg.transforms import softmax, softplus


@exercise("further.gaussian_nll", reference=gaussian_nll, answer="my_gaussian_nll", time_limit=10,
          forbidden=("torch.nn.functional.gaussian_nll_loss", "torch.nn.GaussianNLLLoss",
                     "course_pkg.heteroscedastic"))
def _(answer):
    """my_gaussian_nll(mean, var, target): mean of 0.5*(log v + (y - mu)^2 / v), v = max(var, 1e-6)."""
    g = case_generator(91)

    def case(n, dtype, scale=1.0):
        mean = torch.randn(n, 1, generator=g, dtype=dtype) * scale
        var = softplus(torch.randn(n, 1, generator=g, dtype=dtype)) + 0.05
        target = torch.randn(n, 1, generator=g, dtype=dtype) * scale
        return mean, var, target

    cases32 = [
        ("random float32 inputs", case(16, torch.float32)),
        ("large residuals (targets 100x the variance)", case(8, torch.float32, scale=10.0)),
        ("variances 0 and 1e-9 (clamped at eps = 1e-6)",
         (torch.tensor([0.0, 0.1, 0.0]), torch.tensor([0.0, 1e-9, 1e-9]), torch.tensor([0.0, 0.1005, 0.001]))),
        ("a 2-D batch of shape (4, 3)", tuple(t.reshape(4, 3) for t in case(12, torch.float32))),
    ]
    check_function(answer, gaussian_nll, cases32, atol=1e-5, rtol=1e-5, grad=True)
    cases64 = [("random float64 inputs", case(20, torch.float64))]
    check_function(answer, gaussian_nll, cases64, atol=1e-10, rtol=1e-10, grad=True)
    # The variance head is trained through this loss: its gradient must be right too.
    mean, var, target = case(10, torch.float64)
    v_got = var.clone().requires_grad_(True)
    v_exp = var.clone().requires_grad_(True)
    got = answer(mean, v_got, target)
    if not isinstance(got, torch.Tensor) or not got.requires_grad:
        raise Feedback("the loss does not depend on var through autograd (no gradient reaches the variance)")
    (g_got,) = torch.autograd.grad(got, v_got, allow_unused=True)
    (g_exp,) = torch.autograd.grad(gaussian_nll(mean, v_exp, target), v_exp)
    if g_got is None:
        raise Feedback("the loss does not depend on var (no gradient reaches the variance)")
    compare_tensors(g_got, g_exp, what="gradient with respect to var (float64)", atol=1e-10, rtol=1e-10)
    # Variances at and below the clamp: the value is clamped, the gradient must still reach var.
    small = (torch.tensor([0.0, 1e-9, 1e-7, 5e-7, 0.3, 2.0], dtype=torch.float64),)
    mean = torch.randn(6, generator=g, dtype=torch.float64) * 1e-3
    target = torch.randn(6, generator=g, dtype=torch.float64) * 1e-3
    v_got = small[0].clone().requires_grad_(True)
    v_exp = small[0].clone().requires_grad_(True)
    got = answer(mean, v_got, target)
    if not isinstance(got, torch.Tensor) or not got.requires_grad:
        raise Feedback("the loss does not depend on var through autograd (no gradient reaches the variance)")
    (g_got,) = torch.autograd.grad(got, v_got, allow_unused=True)
    (g_exp,) = torch.autograd.grad(gaussian_nll(mean, v_exp, target), v_exp)
    if g_got is None:
        raise Feedback("the loss does not depend on var (no gradient reaches the variance)")
    if g_got.shape == g_exp.shape and bool((g_got[:4] == 0).all()):
        raise Feedback("variances below eps = 1e-6 get a zero gradient: a plain clamp blocks it; clamp the value "
                       "only (var + (clamped - var).detach())")
    compare_tensors(g_got, g_exp, what="gradient with respect to var at variances 0 to 2 (eps = 1e-6)",
                    atol=1e-8, rtol=1e-8)
    return "matches the reference, values and gradients, on 7 input sets"


@exercise("further.ece", reference=expected_calibration_error, answer="my_ece", time_limit=10,
          forbidden=("course_pkg.calibration",))
def _(answer):
    """my_ece(probs, labels, n_bins): equal-width bins (b/M, (b+1)/M] on the max probability."""
    g = case_generator(92)
    logits = torch.randn(200, 4, generator=g, dtype=torch.float64) * 3
    labels = torch.randint(0, 4, (200,), generator=g)
    exact = torch.tensor([[0.5, 0.5], [0.75, 0.25], [1.0, 0.0], [0.25, 0.75], [0.5, 0.5], [0.0, 1.0]],
                         dtype=torch.float64)
    one_hot = torch.eye(3, dtype=torch.float64)[torch.tensor([0, 2, 1, 1])]
    cases = [
        ("random float64 probabilities, 10 bins", (softmax(logits), labels, 10)),
        ("random float64 probabilities, 1 bin", (softmax(logits), labels, 1)),
        ("float32 probabilities, 15 bins", (softmax(logits.float()), labels, 15)),
        ("confidences exactly on bin edges (0.5, 0.75, 1.0) with 4 bins",
         (exact, torch.tensor([0, 0, 1, 1, 1, 1]), 4)),
        ("one-hot probabilities, all correct", (one_hot, torch.tensor([0, 2, 1, 1]), 5)),
        ("a single sample", (softmax(logits[:1]), labels[:1], 10)),
    ]
    if not callable(answer):
        raise Feedback(f"expected a function, got {type(answer).__name__}")
    for label, (p, y, m) in cases:
        got = answer(p.clone(), y.clone(), m)
        expected = expected_calibration_error(p, y, m)
        if isinstance(got, float):
            raise Feedback(f"on {label}: return a 0-dim tensor (e.g. torch.stack / .sum()), not a Python float")
        compare_tensors(got, expected, what=f"on {label}", atol=1e-6 if p.dtype == torch.float32 else 1e-7,
                        rtol=1e-5 if p.dtype == torch.float32 else 1e-6)
    return f"matches the reference on {len(cases)} input sets"


@exercise("further.straight_through", reference=straight_through, answer="st_one_hot", time_limit=10,
          forbidden=("course_pkg.gumbel",))
def _(answer):
    """st_one_hot(probs): exactly one-hot forward (first index on ties), identity gradient to probs."""
    g = case_generator(93)
    cases = [
        ("random float32 probabilities (8, 5)", softmax(torch.randn(8, 5, generator=g))),
        ("random float64 probabilities (6, 3)", softmax(torch.randn(6, 3, generator=g, dtype=torch.float64))),
        ("a tie [0.4, 0.4, 0.2]", torch.tensor([[0.4, 0.4, 0.2]])),
        ("a 3-D batch (2, 3, 4)", softmax(torch.randn(2, 3, 4, generator=g))),
    ]
    if not callable(answer):
        raise Feedback(f"expected a function, got {type(answer).__name__}")
    for label, probs in cases:
        p_got = probs.clone().requires_grad_(True)
        p_exp = probs.clone().requires_grad_(True)
        got = answer(p_got)
        expected = straight_through(p_exp)
        compare_tensors(got, expected, what=f"forward value on {label}", atol=1e-6)
        if not got.requires_grad:
            raise Feedback(f"on {label}: the output is detached from probs, so no gradient flows back")
        w = torch.randn(probs.shape, generator=g, dtype=probs.dtype)
        (g_got,) = torch.autograd.grad((got * w).sum(), p_got, allow_unused=True)
        (g_exp,) = torch.autograd.grad((expected * w).sum(), p_exp)
        if g_got is None:
            raise Feedback(f"on {label}: the output does not depend on probs (no gradient)")
        compare_tensors(g_got, g_exp, what=f"gradient on {label} (should pass straight through)", atol=1e-6)
    return f"one-hot forward and straight-through gradient on {len(cases)} input sets"
