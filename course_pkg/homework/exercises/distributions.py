"""Checks for the chapter Predicting distributions (Gaussian NLL, pinball loss, mixture density NLL).

Every case builds its tensors with an explicit dtype (never the default dtype) from
:func:`~course_pkg.homework.checking.case_generator` (the notebook's fixed streams, fresh ones for every
grading run), the references come from ``course_pkg.losses``, and the feedback names the case and the kind
of mistake, never the expected value. Each check is judged outside the student's kernel (plan, probe,
judge: :mod:`course_pkg.homework.replay`), which also fails any answer that modifies an input in place.
"""
import math

import torch

from course_pkg.homework.checking import Feedback, case_generator, check_function, compare_tensors, describe_type
from course_pkg.homework.registry import exercise
from course_pkg.losses import gaussian_nll, mdn_nll, pinball_loss

F32, F64 = torch.float32, torch.float64


def _require_function(answer) -> None:
    if not callable(answer) or isinstance(answer, type):
        raise Feedback(f"expected a function, got {describe_type(answer)}")


def _compare_gradients(answer, reference, args, wrt, names, label, *, atol, rtol, hint="") -> None:
    """Compare the gradients of ``answer(*args)`` and ``reference(*args)`` with respect to the arguments ``wrt``."""
    def leaves():
        return [a.detach().clone().requires_grad_(i in wrt) if isinstance(a, torch.Tensor) else a
                for i, a in enumerate(args)]

    args_r, args_a = leaves(), leaves()
    expected = reference(*args_r)
    got = answer(*args_a)
    if not isinstance(got, torch.Tensor) or not got.requires_grad:
        raise Feedback(f"on {label}: the result is detached from the graph (no gradient flows back); avoid"
                       " .detach(), .item(), NumPy and torch.tensor(...) on intermediate results")
    grads_r = torch.autograd.grad(expected, [args_r[i] for i in wrt])
    try:
        grads_a = torch.autograd.grad(got, [args_a[i] for i in wrt], allow_unused=True)
    except RuntimeError as err:
        raise Feedback(f"on {label}: backpropagating through your result failed ({str(err)[:120]})") from None
    for i, g_a, g_r in zip(wrt, grads_a, grads_r):
        if g_a is None:
            raise Feedback(f"on {label}: the result does not depend on `{names[i]}` (no gradient reaches it)")
        compare_tensors(g_a, g_r, what=f"gradient with respect to `{names[i]}` on {label}{hint}",
                        atol=atol, rtol=rtol)


def _diagnose(answer, label, args, mistakes) -> None:
    """Name a known mistake when the answer's value equals that mistake's value on this case.

    ``mistakes`` maps a hint to a function computing what that mistake returns; the hint says what went wrong,
    never what the right value is. Each mistake's value differs from the reference on the case used.
    """
    got = answer(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args])
    if not isinstance(got, torch.Tensor) or got.shape != () or not bool(torch.isfinite(got)):
        return
    for hint, mistake in mistakes.items():
        if torch.isclose(got.detach().double(), mistake(*args).detach().double(), rtol=1e-5, atol=1e-6):
            raise Feedback(f"on {label}: {hint}")


# ---------------------------------------------------------------- distributions.gaussian_nll

def _gaussian_cases():
    g = case_generator(101)

    def case(n, dtype, scale=1.0):
        mean = torch.randn(n, 1, generator=g, dtype=dtype) * scale
        var = torch.rand(n, 1, generator=g, dtype=dtype) * 2 + 0.05
        target = torch.randn(n, 1, generator=g, dtype=dtype) * scale
        return mean, var, target

    tiny = (torch.tensor([0.0, 0.3, -0.2, 1.0, 0.5], dtype=F64),
            torch.tensor([0.0, 1e-9, 1e-7, 1e-5, 0.5], dtype=F64),
            torch.tensor([0.0, 0.3005, -0.1, 1.001, 0.0], dtype=F64))
    values32 = [
        ("random float32 inputs of shape (16, 1)", case(16, F32)),
        ("large residuals (targets 10 times further out)", case(8, F32, scale=10.0)),
        ("a 2-D batch of shape (4, 3)", tuple(t.reshape(4, 3) for t in case(12, F32))),
    ]
    values64 = [("random float64 inputs", case(20, F64)),
                ("variances 0, 1e-9, 1e-7 (below eps = 1e-6, clamped), 1e-5 and 0.5 (float64)", tiny)]
    var_grad = [("random float64 inputs", case(10, F64)), ("variances below eps = 1e-6 (float64)", tiny)]
    return values32, values64, var_grad


def _gaussian_terms(m, v, t):
    """The two terms of the Gaussian NLL, log v and (y - mu)^2 / v, with v clamped at 1e-6 (value only)."""
    v = v + (v.clamp(min=1e-6) - v).detach()
    return torch.log(v), (t - m) ** 2 / v


GAUSSIAN_MISTAKES = {
    "your loss is twice the Gaussian NLL: both terms carry a factor 1/2":
        lambda m, v, t: 2 * gaussian_nll(m, v, t),
    "the squared term needs its factor 1/2 too: 0.5*(log v + (y - mu)^2 / v)":
        lambda m, v, t: (0.5 * _gaussian_terms(m, v, t)[0] + _gaussian_terms(m, v, t)[1]).mean(),
    "the log term needs its factor 1/2 too: 0.5*(log v + (y - mu)^2 / v)":
        lambda m, v, t: (_gaussian_terms(m, v, t)[0] + 0.5 * _gaussian_terms(m, v, t)[1]).mean(),
    "drop the constant log(2 pi)/2: the exercise asks for the loss without it":
        lambda m, v, t: gaussian_nll(m, v, t, full=True),
    "`var` is already the variance sigma^2, do not square it": lambda m, v, t: gaussian_nll(m, v ** 2, t),
    "`var` is the variance sigma^2: the loss has log(var), not log(sqrt(var))":
        lambda m, v, t: (0.5 * (0.5 * _gaussian_terms(m, v, t)[0] + _gaussian_terms(m, v, t)[1])).mean(),
    "you summed the entries; return their mean": lambda m, v, t: gaussian_nll(m, v, t, reduction="sum"),
}

# Tried on the case with variances below the floor: a different floor.
GAUSSIAN_FLOOR_MISTAKES = {
    f"clamp the variance at eps = 1e-6 (PyTorch's default), not {eps:g}": (lambda e: lambda m, v, t: gaussian_nll(
        m, v, t, eps=e))(eps)
    for eps in (1e-12, 1e-8, 1e-7, 1e-5, 1e-4, 1e-3)
}


def _require_finite_at_zero_variance(answer, label, args) -> None:
    got = answer(*[a.clone() for a in args])
    if isinstance(got, torch.Tensor) and got.is_floating_point() and not bool(torch.isfinite(got).all()):
        raise Feedback(f"on {label}: your loss is not finite; clamp the variance at eps = 1e-6 before it enters "
                       "both the log and the division")


def _diagnose_float32_floor(answer, label, args) -> None:
    """Name a floor written as a float32 constant, such as ``torch.maximum(var, torch.tensor(1e-6))``, in a float64 loss.

    ``torch.tensor(1e-6)`` is float32 (the default dtype), where 1e-6 rounds to 9.99999997e-07; a 0-dim tensor does
    not change the dtype of the result, so the loss comes out in float64 but with that floor, off in its 8th digit
    wherever a variance is clamped. The answer is named only when it misses the reference and hits that floor.
    """
    eps32 = float(torch.tensor(1e-6, dtype=F32))
    got = answer(*[a.clone() for a in args])
    if not isinstance(got, torch.Tensor) or got.shape != () or got.dtype != F64:
        return
    got, expected, with_eps32 = got.detach(), gaussian_nll(*args), gaussian_nll(*args, eps=eps32)
    if not torch.isclose(got, expected, rtol=1e-10, atol=0) and torch.isclose(got, with_eps32, rtol=1e-12, atol=0):
        raise Feedback(f"on {label}: your floor is a float32 constant: torch.tensor(1e-6) is float32 (1e-6 "
                       "rounds to 9.99999997e-07), which shows in a float64 loss; use the input's dtype, "
                       "torch.tensor(1e-6, dtype=var.dtype), or var.clamp(min=1e-6)")


@exercise("distributions.gaussian_nll", reference=gaussian_nll, answer="my_gaussian_nll", time_limit=10,
          forbidden=("course_pkg", "torch.nn.functional.gaussian_nll_loss", "torch.nn.GaussianNLLLoss"))
def _(answer):
    """my_gaussian_nll(mean, var, target): mean of 0.5*(log v + (y - mu)^2 / v), v = max(var, 1e-6), value-only clamp."""
    _require_function(answer)
    values32, values64, var_grad = _gaussian_cases()
    names = ("mean", "var", "target")
    _diagnose(answer, *values32[0], GAUSSIAN_MISTAKES)
    _require_finite_at_zero_variance(answer, *values64[1])
    _diagnose(answer, *values64[1], GAUSSIAN_FLOOR_MISTAKES)
    _diagnose_float32_floor(answer, *values64[1])
    check_function(answer, gaussian_nll, values32, atol=1e-5, rtol=1e-5, grad=True)
    check_function(answer, gaussian_nll, values64, atol=1e-10, rtol=1e-10, grad=True)
    for label, args in var_grad:
        _compare_gradients(answer, gaussian_nll, args, (1,), names, label, atol=1e-10, rtol=1e-10,
                           hint=" (clamp only the value: where var < eps the gradient must still reach var)")
    n_cases = len(values32) + len(values64)
    return f"matches the reference on {n_cases} input sets, values and gradients (mean and var)"


# ---------------------------------------------------------------- distributions.pinball_loss

def _pinball_cases():
    """(cases whose gradients are compared, cases compared by value only)."""
    g = case_generator(102)

    def case(n, levels, dtype, scale=1.0):
        pred = torch.randn(n, len(levels), generator=g, dtype=dtype)
        target = torch.randn(n, generator=g, dtype=dtype) * scale
        return pred, target, tuple(levels)

    same = torch.randn(6, generator=g, dtype=F32)
    with_gradients = [
        ("pred (8, 3), levels [0.1, 0.5, 0.8], float32", case(8, (0.1, 0.5, 0.8), F32)),
        ("levels [0.05, 0.95] and large residuals (an under-prediction costs q per unit, an over-prediction 1 - q)",
         case(10, (0.05, 0.95), F32, scale=5.0)),
        ("pred (4, 4) with N = K, levels [0.2, 0.4, 0.6, 0.8] (target has shape (N,): line it up with the rows)",
         case(4, (0.2, 0.4, 0.6, 0.8), F32)),
        ("a single level [0.3], pred (5, 1), float64", case(5, (0.3,), F64)),
        ("levels (0.25, 0.75), float64", case(7, (0.25, 0.75), F64)),
    ]
    # e = 0 exactly: the loss has a kink there, so only the value (0) is compared.
    value_only = [("every prediction equal to its target (the loss is 0)",
                   (same.repeat(2, 1).T.contiguous(), same, (0.1, 0.9)))]
    return with_gradients, value_only


def _residuals(p, t, q):
    return t.unsqueeze(1) - p, torch.tensor(q, dtype=p.dtype)


PINBALL_MISTAKES = {
    "under- and over-predictions are charged the wrong way round: with e = target - pred, e > 0 costs q*e and"
    " e < 0 costs (q - 1)*e": lambda p, t, q: pinball_loss(p, t, tuple(1 - level for level in q)),
    "the two sides cost differently: an under-prediction costs q per unit, an over-prediction 1 - q, not q":
        lambda p, t, q: (_residuals(p, t, q)[1] * _residuals(p, t, q)[0].abs()).mean(),
    "the second branch is (q - 1)*e, which is positive for an over-prediction (e < 0); (1 - q)*e is negative there":
        lambda p, t, q: torch.maximum(_residuals(p, t, q)[1] * _residuals(p, t, q)[0],
                                      (1 - _residuals(p, t, q)[1]) * _residuals(p, t, q)[0]).mean(),
    "column k of pred goes with quantiles[k]: keep the levels in the order given":
        lambda p, t, q: pinball_loss(p, t, tuple(q)[::-1]),
    "the pinball loss is linear in the residual e (not squared)":
        lambda p, t, q: (_residuals(p, t, q)[1] * _residuals(p, t, q)[0] ** 2).mean(),
    "you sum over the levels; average over both N and K": lambda p, t, q: pinball_loss(p, t, q) * p.shape[1],
    "you summed; return the mean over N and K": lambda p, t, q: pinball_loss(p, t, q) * p.numel(),
}


@exercise("distributions.pinball_loss", reference=pinball_loss, answer="my_pinball", time_limit=10,
          forbidden=("course_pkg",))
def _(answer):
    """my_pinball(pred, target, quantiles): mean over N and K of max(q*e, (q - 1)*e), e = target - pred."""
    _require_function(answer)
    with_gradients, value_only = _pinball_cases()
    _diagnose(answer, *with_gradients[0], PINBALL_MISTAKES)
    for label, args in with_gradients:
        # float64: 1e-6, not tighter. Levels made with torch.tensor(quantiles) are float32 (0.3 becomes
        # 0.30000001); against float64 predictions the result is float64, correct to about 1e-8 times the mean
        # residual, which a tolerance of 1e-8 failed on about one grading seed in sixty. Every real mistake is
        # off by far more.
        tol = 1e-5 if args[0].dtype == F32 else 1e-6
        check_function(answer, pinball_loss, [(label, args)], atol=tol, rtol=tol, grad=True)
    check_function(answer, pinball_loss, value_only, atol=1e-6)
    n_cases = len(with_gradients) + len(value_only)
    return f"matches the reference on {n_cases} input sets, values and gradients"


# ---------------------------------------------------------------- distributions.mdn_nll

def _mdn_cases():
    """(label, args, (atol, rtol)) for each case: far-off targets in float32 get a relative tolerance that
    allows for rounding at losses in the thousands."""
    g = case_generator(103)

    def case(n, k, dtype, logit_scale=1.0):
        logits = torch.randn(n, k, generator=g, dtype=dtype) * logit_scale
        mu = torch.randn(n, k, generator=g, dtype=dtype)
        sigma = torch.rand(n, k, generator=g, dtype=dtype) + 0.2
        target = torch.randn(n, generator=g, dtype=dtype)
        return logits, mu, sigma, target

    far = (torch.tensor([[0.5, -0.5]], dtype=F32), torch.tensor([[-60.0, 60.0]], dtype=F32),
           torch.ones(1, 2, dtype=F32), torch.zeros(1, dtype=F32))
    far_narrow = (torch.zeros(2, 3, dtype=F32), torch.tensor([[0.3, 0.4, 0.5], [0.2, 0.5, -0.5]], dtype=F32),
                  torch.full((2, 3), 0.01, dtype=F32), torch.tensor([-0.2, 0.0], dtype=F32))
    tight32, tight64, loose32 = (1e-5, 1e-5), (1e-10, 1e-10), (1e-3, 1e-3)
    return [
        ("random float32 inputs, N = 6, K = 3", case(6, 3, F32), tight32),
        ("N = K = 3 (target has shape (N,): line it up with the rows)", case(3, 3, F32), tight32),
        ("a single component, K = 1 (float64)", case(5, 1, F64), tight64),
        ("random float64 inputs, N = 7, K = 2", case(7, 2, F64), tight64),
        ("mixture logits of size 200 (float32): normalize the weights stably", case(4, 3, F32, 200.0), tight32),
        ("a target 60 standard deviations from every component (float32): stay in log space", far, loose32),
        ("narrow components (sigma = 0.01) missed by 20 to 70 widths (float32)", far_narrow, loose32),
    ]


def _mixture_nll(log_w, mu, sigma, target, log_scale_power=1.0):
    """-mean_n logsumexp_k(log_w + log N(y; mu, sigma^2)), with log_scale_power * log sigma as the normalizer."""
    z = (target.unsqueeze(1) - mu) / sigma
    log_n = -0.5 * z ** 2 - log_scale_power * torch.log(sigma) - 0.5 * math.log(2 * math.pi)
    return -torch.logsumexp(log_w + log_n, dim=1).mean()


MDN_MISTAKES = {
    "include the constant log(2 pi)/2: the loss is the full negative log-density":
        lambda a, m, s, t: mdn_nll(a, m, s, t) - 0.5 * math.log(2 * math.pi),
    "you summed over the batch; return the mean over N": lambda a, m, s, t: mdn_nll(a, m, s, t, reduction="sum"),
    "`sigma` is a standard deviation: the density divides by sigma_k and has sigma_k^2 in the exponent":
        lambda a, m, s, t: mdn_nll(a, m, s.sqrt(), t),
    "the normal density's factor is 1/(sigma_k sqrt(2 pi)): subtract log sigma_k, not log sigma_k^2":
        lambda a, m, s, t: _mixture_nll(torch.log_softmax(a, dim=1), m, s, t, log_scale_power=2.0),
    "`pi_logits` are logits: turn them into log-weights with log_softmax over the K components first":
        lambda a, m, s, t: _mixture_nll(a, m, s, t),
    "normalize the weights over the K components of each row (dim=1), not over the batch":
        lambda a, m, s, t: _mixture_nll(torch.log_softmax(a, dim=0), m, s, t),
}


@exercise("distributions.mdn_nll", reference=mdn_nll, answer="my_mdn_nll", time_limit=10,
          forbidden=("course_pkg", "torch.distributions"))
def _(answer):
    """my_mdn_nll(pi_logits, mu, sigma, target): mean over N of -log sum_k softmax(pi_logits)_k N(target; mu_k, sigma_k^2)."""
    _require_function(answer)
    cases = _mdn_cases()
    names = ("pi_logits", "mu", "sigma", "target")
    _diagnose(answer, *cases[0][:2], MDN_MISTAKES)
    for label, args, (atol, rtol) in cases:
        check_function(answer, mdn_nll, [(label, args)], atol=atol, rtol=rtol)
        _compare_gradients(answer, mdn_nll, args, (0, 1, 2), names, label, atol=atol, rtol=rtol)
    return f"matches the reference on {len(cases)} input sets, values and gradients (logits, means, scales)"
